-- API keys. Only a SHA-256 digest of each secret is stored; a key is revoked, never deleted, so
-- a row existing at all is what keeps authentication on.
CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    scopes      text[] NOT NULL,
    digest      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);
