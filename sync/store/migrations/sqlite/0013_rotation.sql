-- Webhook secret rotation (issue 11, item 5). Each of an installation's two webhook secrets keeps
-- the one it replaced (encrypted, bound to its own column like the others) and when it was
-- replaced: the receivers accept the previous one for 24 hours after that, so deliveries already
-- under way (e-conomic's retries, legacy URLs not yet re-pasted, the collection platform's old
-- signatures) are not lost while the new secret takes over.
ALTER TABLE installations ADD COLUMN previous_webhook_secret TEXT;
ALTER TABLE installations ADD COLUMN webhook_secret_rotated_at TIMESTAMPTZ;
ALTER TABLE installations ADD COLUMN previous_collection_webhook_secret TEXT;
ALTER TABLE installations ADD COLUMN collection_webhook_secret_rotated_at TIMESTAMPTZ;
