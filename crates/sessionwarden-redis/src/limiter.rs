//! [`RateLimitStore`] for [`RedisStore`]: GCRA state every node of a fleet shares.
//!
//! # Layout
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `<prefix>lim:<key>` | string | the key's theoretical arrival time (TAT), Unix milliseconds |
//!
//! Each check is one Lua script on that one key, so it is atomic on a single node and on a
//! cluster alike (no hash tag needed; a `{…}` inside a caller's key only picks its slot), and
//! N nodes together allow what one node allows. The script computes exactly
//! [`gcra_step`]: the emission interval, the tolerance (interval × burst) and the event's
//! increment (interval × cost) are computed in Rust with the same saturating arithmetic and
//! passed in, the script adds and compares. Lua numbers are doubles, exact below 2^53; when
//! an argument is too large for that (a rate with an interval or tolerance beyond about
//! 35 000 years) the check falls back to reading the TAT, stepping in Rust and writing it back
//! with a compare-and-set script, retried a few times under contention.
//!
//! # Time and expiry
//!
//! `now_ms` is the caller's clock, not Redis's: decisions are only as consistent across a
//! fleet as its clocks, so keep nodes synchronised (NTP); a node whose clock runs ahead by
//! *d* lets each key through up to *d* early. Once `now_ms` reaches a key's TAT the key is
//! exactly as if it had never been seen. Its state gets a TTL of `TAT − now_ms` plus
//! [`TTL_MARGIN_MS`] (relative, so a Redis clock that differs from the callers' does not
//! shorten it; at most a century), after which Redis drops it: nothing needs purging.
//! A refused or zero-cost check writes nothing.

use async_trait::async_trait;
use redis::Script;
use sessionwarden_core::StoreError;
use sessionwarden_core::store::{Rate, RateDecision, RateLimitStore, gcra_step};

use crate::store::{RedisStore, step};

/// Arguments the script handles exactly (doubles are exact below 2^53; sums stay below it).
const EXACT: i64 = 1 << 50;

/// Milliseconds the state's TTL runs past the moment it stops mattering (`TAT − now_ms`): the
/// TTL runs on Redis's clock, the decisions on the callers', which may lag behind it.
pub const TTL_MARGIN_MS: i64 = 60_000;

/// The longest TTL limiter state gets (a century; Redis refuses more). State that would
/// outlive it is for rates no deployment uses.
const TTL_CEILING_MS: i64 = 100 * 365 * 24 * 3_600_000;

/// How often the compare-and-set fallback retries under contention before failing closed.
const CAS_ATTEMPTS: usize = 16;

/// KEYS: state. ARGV: now_ms, tolerance, increment, cost, the exact bound, TTL margin (ms).
/// Returns {allowed (1/0), retry_after_ms}, or {-1, 0} if the stored TAT is beyond the exact
/// bound (written by the fallback): then the caller takes the fallback too.
const CHECK: &str = r"
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat ~= nil and math.abs(tat) >= tonumber(ARGV[5]) then return {-1, 0} end
if tat == nil or tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[3])
local allow_at = new_tat - tonumber(ARGV[2])
if allow_at <= now then
  if ARGV[4] ~= '0' then
    redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', new_tat - now + tonumber(ARGV[6])))
  end
  return {1, 0}
end
return {0, allow_at - now}
";

/// KEYS: state. ARGV: expected TAT (`''` for none), new TAT, TTL ms. Returns 1 if it wrote.
const COMPARE_AND_SET: &str = r"
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

static SCRIPTS: std::sync::LazyLock<[Script; 2]> =
    std::sync::LazyLock::new(|| [Script::new(CHECK), Script::new(COMPARE_AND_SET)]);

/// The script's arguments, as [`gcra_step`] computes them: (tolerance, increment).
fn gcra_args(rate: Rate, cost: u32) -> (i64, i64) {
    let interval = i64::try_from(rate.interval.as_millis()).unwrap_or(i64::MAX).max(1);
    let tolerance = interval.saturating_mul(i64::from(rate.burst.max(1)));
    let increment = interval.saturating_mul(i64::from(cost.max(1)));
    (tolerance, increment)
}

impl RedisStore {
    fn limiter_key(&self, key: &str) -> String {
        format!("{}lim:{key}", self.prefix())
    }

    /// The exact fallback: read, step in Rust, compare-and-set.
    async fn check_in_rust(
        &self,
        key: &str,
        rate: Rate,
        cost: u32,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        const OP: &str = "rate_limit_check";
        let k = self.limiter_key(key);
        let mut conn = self.conn.clone();
        for _ in 0..CAS_ATTEMPTS {
            let raw: Option<String> = step(OP, redis::cmd("GET").arg(&k).query_async(&mut conn)).await?;
            let tat = raw.as_deref().and_then(|s| s.parse::<i64>().ok());
            let (decision, stored) = gcra_step(tat, now_ms, rate, cost);
            let Some(new_tat) = stored else { return Ok(decision) };
            let ttl = new_tat.saturating_sub(now_ms).saturating_add(TTL_MARGIN_MS).min(TTL_CEILING_MS);
            let mut inv = SCRIPTS[1].key(&k);
            inv.arg(raw.unwrap_or_default()).arg(new_tat).arg(ttl);
            let written: i64 = step(OP, inv.invoke_async(&mut conn)).await?;
            if written == 1 {
                return Ok(decision);
            }
        }
        Err(StoreError::unavailable(OP, "rate-limit state kept changing under a compare-and-set"))
    }
}

/// GCRA state under `<prefix>lim:<key>`, one script per check; see the
/// [module docs](self) for the layout, the clocks and the TTLs.
#[async_trait]
impl RateLimitStore for RedisStore {
    async fn check(&self, key: &str, rate: Rate, cost: u32, now_ms: i64) -> Result<RateDecision, StoreError> {
        let (tolerance, increment) = gcra_args(rate, cost);
        if now_ms.abs() >= EXACT || tolerance >= EXACT || increment >= EXACT {
            return self.check_in_rust(key, rate, cost, now_ms).await;
        }
        let mut inv = SCRIPTS[0].key(self.limiter_key(key));
        inv.arg(now_ms).arg(tolerance).arg(increment).arg(cost).arg(EXACT).arg(TTL_MARGIN_MS);
        let mut conn = self.conn.clone();
        let (allowed, retry_ms): (i64, i64) = step("rate_limit_check", inv.invoke_async(&mut conn)).await?;
        if allowed == -1 {
            return self.check_in_rust(key, rate, cost, now_ms).await;
        }
        Ok(RateDecision {
            allowed: allowed == 1,
            retry_after: std::time::Duration::from_millis(u64::try_from(retry_ms).unwrap_or(0)),
        })
    }
}
