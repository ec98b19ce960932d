-- sessionwarden SQL schema, version 3 (postgres): the store capabilities beyond sessions
-- (sessionwarden's AuditLog, RateLimitStore and OneTimeKeys).
--
-- Times are integers on the caller's clock, never the database's: audit times and one-time
-- key deadlines in Unix seconds, rate-limit state in Unix milliseconds.

-- Audit records. `entry` is the whole record as JSON; `occurred_at`, `kind` and `user_id`
-- repeat what queries filter on. `id` orders records of one second by appending.
CREATE TABLE IF NOT EXISTS sessionwarden_audit (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    user_id     TEXT,
    entry       TEXT    NOT NULL
);

CREATE INDEX IF NOT EXISTS sessionwarden_audit_occurred_at ON sessionwarden_audit (occurred_at, id);
CREATE INDEX IF NOT EXISTS sessionwarden_audit_kind ON sessionwarden_audit (kind, occurred_at, id);
CREATE INDEX IF NOT EXISTS sessionwarden_audit_user_id ON sessionwarden_audit (user_id, occurred_at, id);

-- GCRA state: the theoretical arrival time of each rate-limit key. A row whose `tat` is at
-- or before the caller's now means nothing more than a missing row, and may be deleted.
CREATE TABLE IF NOT EXISTS sessionwarden_rate_limits (
    name TEXT    NOT NULL PRIMARY KEY,
    tat  BIGINT  NOT NULL
);

CREATE INDEX IF NOT EXISTS sessionwarden_rate_limits_tat ON sessionwarden_rate_limits (tat);

-- One-time keys: SHA-256 of a namespace and a value (never the value), live while the
-- caller's now is before `expires_at`.
CREATE TABLE IF NOT EXISTS sessionwarden_once_keys (
    once_key   BYTEA   NOT NULL PRIMARY KEY CHECK (length(once_key) = 32),
    expires_at BIGINT  NOT NULL
);

CREATE INDEX IF NOT EXISTS sessionwarden_once_keys_expires_at ON sessionwarden_once_keys (expires_at);
