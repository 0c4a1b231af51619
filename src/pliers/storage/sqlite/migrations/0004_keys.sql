-- API keys. Only a SHA-256 digest of each secret is stored; a key is revoked, never deleted, so
-- a row existing at all is what keeps authentication on.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scopes      TEXT NOT NULL,  -- a JSON array
    digest      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);
