-- sessionwarden SQL schema, version 2 (postgres): JWT refresh tokens and access-token revocations
-- (sessionwarden-jwt's RefreshStore and Revocations).
--
-- A refresh token is stored only as SHA-256 of its 32 raw bytes (never the token), so a dump
-- refreshes nothing. Times are whole seconds since the Unix epoch; every check uses the
-- caller's clock, never the database's. Booleans are 0/1 integers so both backends share the
-- same statements.
CREATE TABLE IF NOT EXISTS sessionwarden_refresh_families (
    id         TEXT    NOT NULL PRIMARY KEY,
    sub        TEXT    NOT NULL,
    sid        TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS sessionwarden_refresh_families_sub ON sessionwarden_refresh_families (sub);
CREATE INDEX IF NOT EXISTS sessionwarden_refresh_families_sid ON sessionwarden_refresh_families (sid);
CREATE INDEX IF NOT EXISTS sessionwarden_refresh_families_expires_at ON sessionwarden_refresh_families (expires_at);

-- successor/rotated_at are NULL while the token is unused; set once, atomically, by rotation.
CREATE TABLE IF NOT EXISTS sessionwarden_refresh_tokens (
    hash       BYTEA NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    family     TEXT    NOT NULL REFERENCES sessionwarden_refresh_families (id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    successor  BYTEA CHECK (successor IS NULL OR length(successor) = 32),
    rotated_at BIGINT
);

CREATE INDEX IF NOT EXISTS sessionwarden_refresh_tokens_family ON sessionwarden_refresh_tokens (family);

-- The denylist: kind 'jti' and 'sid' entries hold until `until`; kind 'user' holds a per-user
-- cutoff (tokens with iat < until are refused) and is kept.
CREATE TABLE IF NOT EXISTS sessionwarden_revocations (
    kind  TEXT    NOT NULL CHECK (kind IN ('jti', 'sid', 'user')),
    value TEXT    NOT NULL,
    until BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);
