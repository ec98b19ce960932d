-- sessionwarden SQL schema, version 6: keyrings shared by a fleet, and the leases that let one
-- server at a time rotate them. A keyring row is a versioned document whose secrets are wrapped
-- under a key-encryption key the database never sees; every swap checks and bumps `version`.
-- Lease expiry is the callers' clock (Unix seconds), never the database's.
CREATE TABLE sessionwarden_keyrings (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    document BLOB NOT NULL
);
CREATE TABLE sessionwarden_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
