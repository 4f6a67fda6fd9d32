-- name: create_installation
-- Create an installation for an agreement, or return the existing one's id (a reinstall keeps history).
INSERT INTO installations (agreement_number, installation_key, company_name, status, created_at, updated_at)
VALUES (:agreement_number, :installation_key, :company_name, :status, :now, :now)
ON CONFLICT (agreement_number) DO UPDATE SET company_name = excluded.company_name, updated_at = excluded.updated_at
RETURNING id

-- name: get_installation
-- One installation by id.
SELECT * FROM installations WHERE id = :id

-- name: get_installation_by_agreement
-- One installation by its e-conomic agreement number.
SELECT * FROM installations WHERE agreement_number = :agreement_number

-- name: get_installation_by_key
-- One installation by the key in its webhook URLs.
SELECT * FROM installations WHERE installation_key = :installation_key

-- name: list_installations
-- Every installation, oldest first.
SELECT * FROM installations ORDER BY id

-- name: set_installation_status
-- Change an installation's status (revoked, paused, …).
UPDATE installations SET status = :status, updated_at = :now,
       revoked_at = CASE WHEN :status = 'revoked' THEN :now ELSE revoked_at END
WHERE id = :id

-- name: activate_installation
-- Install an agreement: a new installation, or the existing one re-activated with its id, key and history.
INSERT INTO installations (agreement_number, installation_key, company_name, status, created_at, updated_at)
VALUES (:agreement_number, :installation_key, :company_name, 'active', :now, :now)
ON CONFLICT (agreement_number) DO UPDATE SET company_name = excluded.company_name, status = 'active',
       revoked_at = NULL, updated_at = excluded.updated_at
RETURNING id

-- name: set_economic_token
-- Store an installation's e-conomic grant token (encrypted).
UPDATE installations SET economic_token = :economic_token, updated_at = :now WHERE id = :id

-- name: get_economic_token
-- An installation's e-conomic grant token (encrypted), if any.
SELECT economic_token FROM installations WHERE id = :id

-- name: change_installation_status
-- Move an installation from :expected to :status (nothing when it is no longer in :expected); revoking stamps revoked_at.
UPDATE installations SET status = :status, updated_at = :now,
       revoked_at = CASE WHEN :status = 'revoked' THEN :now ELSE revoked_at END
WHERE id = :id AND status = :expected

-- name: save_installation_settings
-- Replace an installation's settings document (the writer merged it with what it read).
UPDATE installations SET settings = :settings, updated_at = :now WHERE id = :id
