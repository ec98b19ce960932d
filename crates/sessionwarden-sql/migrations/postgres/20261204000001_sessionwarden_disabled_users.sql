-- sessionwarden SQL schema, version 5: disabled accounts (OWASP ASVS 7.4.2), shared by every
-- server using the database. A row means the user's logins are refused; enabling deletes it.
-- The per-user session cap needs no table: it counts rows of sessionwarden_sessions by user_id.
CREATE TABLE sessionwarden_disabled_users (
    user_id TEXT PRIMARY KEY,
    disabled_at BIGINT NOT NULL
);
