-- sessionwarden SQL schema, version 1 (PostgreSQL).
--
-- The migration version is a timestamp unique to sessionwarden so that it cannot collide with
-- an application's own sqlx migrations recorded in the same `_sqlx_migrations` table.
--
-- store_key is SHA-256 of the session id (never the id itself). Times are whole seconds since
-- the Unix epoch, like `sessionwarden::Timestamp`. `data` holds `Record::to_bytes` (versioned
-- JSON); the other columns mirror the record's metadata so that expiry, listing and revocation
-- work without decoding it. expires_at = min(idle_deadline, absolute_deadline), NULL = never.
CREATE TABLE IF NOT EXISTS sessionwarden_sessions (
    store_key         BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(store_key) = 32),
    data              BYTEA  NOT NULL,
    version           BIGINT NOT NULL,
    created           BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL,
    idle_deadline     BIGINT,
    absolute_deadline BIGINT,
    expires_at        BIGINT,
    user_id           TEXT,
    ip_prefix         TEXT,
    ua_hash           TEXT
);

CREATE INDEX IF NOT EXISTS sessionwarden_sessions_expires_at
    ON sessionwarden_sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE INDEX IF NOT EXISTS sessionwarden_sessions_user_id
    ON sessionwarden_sessions (user_id) WHERE user_id IS NOT NULL;
