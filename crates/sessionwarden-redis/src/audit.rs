//! [`AuditLog`] for [`RedisStore`]: one sorted set, shared by every node on the Redis.
//!
//! # Layout
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `<prefix>{audit}:log` | sorted set | score: the record's time (Unix seconds); member: `<seq>:<json>`, `<seq>` 16 hex digits from the counter below, `<json>` the [`AuditEntry`] as JSON |
//! | `<prefix>{audit}:seq` | string | the append counter |
//!
//! Both keys share the hash tag `{audit}`, so each operation is one script on one slot: on a
//! cluster the whole log lives on one node (audit volume is small next to session traffic).
//! Members of one score sort by their `<seq>`, so `query` returns records newest first and,
//! within one second, the last appended first.
//!
//! # Bounds and expiry
//!
//! - Each `append` trims the log to its newest [`AUDIT_MAX_ENTRIES`] records (by time), so it
//!   never grows past that however fast records come; `purge` removes older ones on demand.
//! - Both keys get a TTL of [`AUDIT_TTL`] from every append: a log nobody writes to for that
//!   long goes away by itself.
//! - `query` walks the log newest first inside one script, matching `kind` and `user` with
//!   Redis's `cjson`, and stops at `limit` matches or the end of the `since`/`until` window:
//!   its cost is bounded by the window's size (at most [`AUDIT_MAX_ENTRIES`]). Records that do
//!   not decode are skipped, as session listings skip undecodable records.
//!
//! Records never hold session ids or secrets (see [`AuditEntry`]), so nothing here is
//! sensitive beyond user names and handles.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use sessionwarden_core::StoreError;
use sessionwarden_core::Timestamp;
use sessionwarden_core::store::{AuditEntry, AuditLog, AuditQuery};

use crate::store::{RedisStore, step};

/// How many records the Redis audit log keeps; each append drops the oldest beyond it.
pub const AUDIT_MAX_ENTRIES: usize = 100_000;

/// How long the Redis audit log lives after its last append.
pub const AUDIT_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// Length of `<seq>:` at the start of a member.
const SEQ_LEN: usize = 17;

/// KEYS: log, counter. ARGV: time, json, max entries, ttl seconds.
const APPEND: &str = r"
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], ARGV[1], string.format('%016x', seq) .. ':' .. ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[3])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
";

/// KEYS: log. ARGV: max score, min score, limit, has_kind, kind, has_user, user.
/// Returns the matching members, newest first.
const QUERY: &str = r"
local out = {}
local limit = tonumber(ARGV[3])
local filtered = ARGV[4] == '1' or ARGV[6] == '1'
local offset = 0
while #out < limit do
  local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', offset, 512)
  if #page == 0 then break end
  offset = offset + #page
  for _, m in ipairs(page) do
    local keep = true
    if filtered then
      local ok, e = pcall(cjson.decode, string.sub(m, 18))
      keep = ok and type(e) == 'table'
        and (ARGV[4] ~= '1' or e.kind == ARGV[5])
        and (ARGV[6] ~= '1' or e.user == ARGV[7])
    end
    if keep then
      out[#out + 1] = m
      if #out >= limit then break end
    end
  end
end
return out
";

/// KEYS: log. ARGV: exclusive max score, batch. Removes the oldest first.
const PURGE: &str = r"
local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for i = 1, #m, 1000 do
  redis.call('ZREM', KEYS[1], unpack(m, i, math.min(i + 999, #m)))
end
return #m
";

static SCRIPTS: std::sync::LazyLock<[Script; 3]> =
    std::sync::LazyLock::new(|| [Script::new(APPEND), Script::new(QUERY), Script::new(PURGE)]);

impl RedisStore {
    fn audit_key(&self, what: &str) -> String {
        format!("{}{{audit}}:{what}", self.prefix())
    }

    /// `append`, keeping the newest `max` records.
    async fn append_bounded(&self, entry: &AuditEntry, max: usize) -> Result<(), StoreError> {
        let json = serde_json::to_string(entry).map_err(|e| StoreError::unavailable("audit_append", e))?;
        let mut inv = SCRIPTS[0].key(self.audit_key("log"));
        inv.key(self.audit_key("seq")).arg(entry.at.unix()).arg(json).arg(max).arg(AUDIT_TTL.as_secs());
        let mut conn = self.conn.clone();
        let _: i64 = step("audit_append", inv.invoke_async(&mut conn)).await?;
        Ok(())
    }
}

fn bound(t: Option<Timestamp>, exclusive: bool, none: &str) -> String {
    match t {
        Some(t) if exclusive => format!("({}", t.unix()),
        Some(t) => t.unix().to_string(),
        None => none.to_owned(),
    }
}

/// Audit records in one sorted set per prefix; see the [module docs](self) for the layout,
/// the bound ([`AUDIT_MAX_ENTRIES`]) and the TTL ([`AUDIT_TTL`]).
#[async_trait]
impl AuditLog for RedisStore {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.append_bounded(entry, AUDIT_MAX_ENTRIES).await
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = query.limit.min(AUDIT_MAX_ENTRIES);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut inv = SCRIPTS[1].key(self.audit_key("log"));
        inv.arg(bound(query.until, true, "+inf"))
            .arg(bound(query.since, false, "-inf"))
            .arg(limit)
            .arg(if query.kind.is_some() { "1" } else { "0" })
            .arg(query.kind.as_deref().unwrap_or(""))
            .arg(if query.user.is_some() { "1" } else { "0" })
            .arg(query.user.as_deref().unwrap_or(""));
        let mut conn = self.conn.clone();
        let members: Vec<Vec<u8>> = step("audit_query", inv.invoke_async(&mut conn)).await?;
        Ok(members
            .iter()
            .filter_map(|m| m.get(SEQ_LEN..))
            .filter_map(|json| serde_json::from_slice::<AuditEntry>(json).ok())
            .filter(|e| {
                query.kind.as_ref().is_none_or(|k| *k == e.kind)
                    && query.user.as_ref().is_none_or(|u| e.user.as_ref() == Some(u))
            })
            .collect())
    }

    async fn purge(&self, before: Timestamp, batch: usize) -> Result<u64, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        let mut inv = SCRIPTS[2].key(self.audit_key("log"));
        inv.arg(format!("({}", before.unix())).arg(batch.min(AUDIT_MAX_ENTRIES));
        let mut conn = self.conn.clone();
        let removed: u64 = step("audit_purge", inv.invoke_async(&mut conn)).await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The trim the bound relies on, with a bound small enough to reach: the oldest records
    /// (by time, not by appending) go, the newest `max` stay.
    #[tokio::test]
    async fn append_keeps_the_newest_records_only() {
        let url = sessionwarden_test::env::redis_url();
        let store = match RedisStore::connect(&url).await {
            Ok(store) => {
                store.with_prefix(format!("swtest:{}:trim:", sessionwarden_test::tokens::unique("p")))
            }
            Err(e) => return sessionwarden_test::env::service_missing("redis", &e.to_string()),
        };
        for at in [5, 1, 9, 3, 7, 2] {
            let entry = AuditEntry::new(Timestamp::from_unix(at), "trim");
            store.append_bounded(&entry, 4).await.unwrap();
        }
        let left = store.query(&AuditQuery::newest(100)).await.unwrap();
        let times: Vec<i64> = left.iter().map(|e| e.at.unix()).collect();
        assert_eq!(times, [9, 7, 5, 3]);
    }
}
