-- When the invoice PDF went to the collection account with its claim (null: not yet). PDFs
-- cost one e-conomic call each, so they are fetched within the budget, not with the claims.
ALTER TABLE claims ADD COLUMN document_at TIMESTAMPTZ;
CREATE INDEX claims_without_document ON claims (installation_id, invoice_number) WHERE document_at IS NULL;
