-- Onboarding (DESIGN.md, journey step 2). The collection webhook endpoint's signing secret,
-- encrypted like the other secrets of an installation (the endpoint's id is in the settings
-- JSON). And the link flow's states: "link an existing collection account" sends the browser
-- to the platform with a random state and a PKCE challenge; the state is kept here (hashed),
-- with the code verifier (encrypted) and the onboarding choices to continue with, and is used
-- up once by /install/collection/callback, so a forged or replayed callback is turned away.
ALTER TABLE installations ADD COLUMN collection_webhook_secret TEXT;

CREATE TABLE link_states (
    state_hash TEXT PRIMARY KEY,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    code_verifier TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    actor TEXT NOT NULL,
    choices JSON NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX link_states_created ON link_states (created_at);
