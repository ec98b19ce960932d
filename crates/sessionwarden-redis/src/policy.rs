//! Session policy on Redis and Redis Cluster: the per-user session cap ([`UserSessionCap`])
//! and disabled accounts ([`AccountLocks`]).
//!
//! # The cap
//! A user's sessions are spread over the 256 record buckets (and so over cluster nodes), and a
//! script may only touch keys of one slot. The decision is therefore made atomically on a key
//! of its own: `<prefix>cap:{<sha256(user)>}`, a sorted set of the user's admitted sessions
//! (member: the record's hex key, score: its creation time), in the user's own slot. An
//! admission:
//!
//! 1. creates the logged-in record (the `create` script: never over a live record);
//! 2. drops members whose record is gone (ended, revoked, expired). A record never comes back
//!    once gone, and a member is only added after its record was written, so this needs no
//!    atomicity;
//! 3. runs one script on the sorted set that counts the others, refuses or picks the oldest
//!    to evict, and adds the new member — one step against every concurrent login of the
//!    user, on every node;
//! 4. deletes the records the script evicted and the replaced pre-login record, or, when
//!    refused, the record written in step 1.
//!
//! So after concurrent logins settle, exactly `max` sessions are left (evict-oldest) or no
//! more than `max` (refuse-new). In between, for the time of steps 3–4, a refused login's
//! record or an evicted session may still be listed or load once. Only sessions admitted
//! through the cap are counted: sessions created before the cap was configured, or given a
//! user by `set_user` alone, are not in the set until they end.
//!
//! # Disabled users
//! One hash, `<prefix>disabled_users` (field: user, value: Unix seconds since when), read on
//! every login.

use std::sync::LazyLock;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::{Script, Value};
use sessionwarden_core::store::{
    AccountLocks, Admission, DisabledUser, LimitPolicy, OnceKey, SessionLimit, UserSessionCap,
};
use sessionwarden_core::{Record, StoreError, StoreKey, Timestamp};

use crate::store::{RedisStore, step, unexpected};

/// The decision on the user's sorted set. KEYS: the set. ARGV: new hex, its score, max,
/// `refuse` or `evict`, the replaced hex (or `""`). Returns `{0}` (refused) or `{1, evicted
/// hex...}` (oldest first).
const ADMIT: &str = r"
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[1], ARGV[5]) end
redis.call('ZREM', KEYS[1], ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local max = tonumber(ARGV[3])
if ARGV[4] == 'refuse' and #members >= max then return {0} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local out = {1}
local excess = #members + 1 - max
local i = 1
while excess > 0 and i <= #members do
  redis.call('ZREM', KEYS[1], members[i])
  out[#out + 1] = members[i]
  excess = excess - 1
  i = i + 1
end
return out
";

static ADMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT));

impl RedisStore {
    /// The user's admitted-sessions set, in a slot of its own (the user name is hashed, so
    /// any name makes a valid hash tag).
    fn cap_key(&self, user: &str) -> String {
        let tag: String = OnceKey::derive("session_cap", user.as_bytes())
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}cap:{{{tag}}}", self.prefix())
    }

    fn disabled_key(&self) -> String {
        format!("{}disabled_users", self.prefix())
    }

    /// Whether the record under `hex` is stored and live at `now`.
    async fn live_hex(&self, hex: &str, now: Timestamp) -> Result<bool, StoreError> {
        let Some(key) = StoreKey::from_hex(hex) else { return Ok(false) };
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.record_key(&key)).arg("v").arg("e");
        let (v, e): (Option<String>, Option<i64>) = step("admit", cmd.query_async(&mut conn)).await?;
        Ok(v.is_some() && e.is_none_or(|e| e > now.unix()))
    }

    /// Step 2: forgets members whose record is gone.
    async fn prune_cap(&self, cap: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let members: Vec<String> =
            step("admit", redis::cmd("ZRANGE").arg(cap).arg(0).arg(-1).query_async(&mut conn)).await?;
        let live = try_join_all(members.iter().map(|m| self.live_hex(m, now))).await?;
        let dead: Vec<&String> = members.iter().zip(live).filter(|(_, l)| !l).map(|(m, _)| m).collect();
        if !dead.is_empty() {
            let _: i64 = step("admit", redis::cmd("ZREM").arg(cap).arg(&dead).query_async(&mut conn)).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl UserSessionCap for RedisStore {
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        const OP: &str = "admit";
        if !self.create_inner(OP, key, record).await? {
            return Ok(Admission::Taken);
        }
        let Some(user) = &record.user else {
            if let Some(old) = replaces {
                self.delete_inner(OP, old).await?;
            }
            return Ok(Admission::Admitted { evicted: Vec::new() });
        };
        let cap = self.cap_key(user);
        let decided = async {
            self.prune_cap(&cap, now).await?;
            let mut inv = ADMIT_SCRIPT.prepare_invoke();
            inv.key(&cap)
                .arg(key.to_hex())
                .arg(record.created.unix())
                .arg(limit.max())
                .arg(if limit.policy() == LimitPolicy::RefuseNew { "refuse" } else { "evict" })
                .arg(replaces.map(StoreKey::to_hex).unwrap_or_default());
            let mut conn = self.conn.clone();
            let reply: Value = step(OP, inv.invoke_async(&mut conn)).await?;
            Ok::<_, StoreError>(reply)
        }
        .await;
        let reply = match decided {
            Ok(reply) => reply,
            Err(e) => {
                // Undecided: the record must not stay uncounted. Best effort; the error wins.
                let _ = self.delete_inner(OP, key).await;
                return Err(e);
            }
        };
        let Value::Array(items) = reply else { return Err(unexpected(OP)) };
        let mut items = items.into_iter();
        match items.next() {
            Some(Value::Int(1)) => {}
            Some(Value::Int(0)) => {
                self.delete_inner(OP, key).await?;
                return Ok(Admission::Refused);
            }
            _ => return Err(unexpected(OP)),
        }
        let mut evicted = Vec::new();
        for item in items {
            let Value::BulkString(hex) = item else { return Err(unexpected(OP)) };
            let Some(old) = std::str::from_utf8(&hex).ok().and_then(StoreKey::from_hex) else {
                return Err(unexpected(OP));
            };
            self.delete_inner(OP, &old).await?;
            evicted.push(old.handle());
        }
        if let Some(old) = replaces {
            self.delete_inner(OP, old).await?;
        }
        Ok(Admission::Admitted { evicted })
    }
}

#[async_trait]
impl AccountLocks for RedisStore {
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HSETNX");
        cmd.arg(self.disabled_key()).arg(user).arg(now.unix());
        let set: i64 = step("disable_user", cmd.query_async(&mut conn)).await?;
        Ok(set == 1)
    }

    async fn enable(&self, user: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.disabled_key()).arg(user);
        let n: i64 = step("enable_user", cmd.query_async(&mut conn)).await?;
        Ok(n > 0)
    }

    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HEXISTS");
        cmd.arg(self.disabled_key()).arg(user);
        let n: i64 = step("is_disabled", cmd.query_async(&mut conn)).await?;
        Ok(n == 1)
    }

    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.disabled_key());
        let all: std::collections::BTreeMap<String, i64> =
            step("list_disabled", cmd.query_async(&mut conn)).await?;
        Ok(all.into_iter().map(|(u, t)| DisabledUser::new(u, Timestamp::from_unix(t))).collect())
    }
}
