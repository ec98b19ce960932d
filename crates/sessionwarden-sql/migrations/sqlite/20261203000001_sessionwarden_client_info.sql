-- sessionwarden SQL schema, version 4: each session's client metadata (network prefix,
-- device summary, login time and method) as the JSON of sessionwarden's `ClientInfo`, so
-- listings show it without decoding session data. `ip_prefix` and `ua_hash` stay, written
-- from the same metadata, for rows and readers of earlier versions.
ALTER TABLE sessionwarden_sessions ADD COLUMN client_info TEXT;
