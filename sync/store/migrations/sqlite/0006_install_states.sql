-- The state of an install begun at /install/economic: e-conomic echoes no state parameter, so
-- the flow is bound to a signed cookie holding this nonce, and the callback marks the nonce
-- used once, which turns a replayed callback away. Rows older than a day are purged whenever a
-- new install starts, so the table stays small.
CREATE TABLE install_states (
    nonce TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX install_states_created ON install_states (created_at);
