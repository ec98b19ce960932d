//! The Lua scripts that keep a bucket's record and indexes consistent.
//!
//! Every script touches keys of one bucket only (they all carry the bucket's hash tag, so
//! they share a cluster slot) and so runs atomically on single nodes and clusters alike.
//! `ARGV[1]` is always the bucket's base (`<prefix>{<bb>}:`); `KEYS[1]` is a key of that
//! bucket, which routes the call to the right cluster node. The scripts derive the other
//! key names of the bucket from the base: Redis Cluster accepts that because they hash to
//! the same slot as `KEYS[1]`.

use std::sync::LazyLock;

use redis::Script;

/// Seconds of TTL a record gets at least, whatever its deadline says.
///
/// The TTL is only a backstop (expiry is decided in Rust from the record's deadlines), so
/// a deadline that is already past on the Redis clock, or only just ahead, must not make
/// Redis drop a record a caller with a different clock (or a test with a fixed `now`)
/// still reads. Documented in the crate docs under "TTLs".
pub(crate) const TTL_FLOOR_SECS: i64 = 60;

/// Deadlines further than this past the Redis clock get no TTL at all (they would overflow
/// `EXPIREAT`); sweeping still finds them through the bucket's expiry index.
const TTL_CEILING_SECS: i64 = 100 * 365 * 24 * 3600;

// Helpers shared by the scripts. `unlink` removes a record and every index entry naming
// it; `write` replaces a record and brings the indexes in line. Both expect `base` set.
const PRELUDE: &str = r"
local base = ARGV[1]
local function unlink(hex)
  local rk = base .. hex
  local existed = redis.call('DEL', rk)
  redis.call('ZREM', base .. 'expiry', hex)
  local hk = string.sub(hex, 1, 32)
  if redis.call('HGET', base .. 'handles', hk) == hex then
    redis.call('HDEL', base .. 'handles', hk)
  end
  local owner = redis.call('HGET', base .. 'owner', hex)
  if owner then
    redis.call('SREM', base .. 'user:' .. owner, hex)
    redis.call('HDEL', base .. 'owner', hex)
  end
  return existed
end
local function write(hex, version, bytes, exp, has_user, user)
  local rk = base .. hex
  local old = redis.call('HGET', base .. 'owner', hex)
  if old and (has_user ~= '1' or old ~= user) then
    redis.call('SREM', base .. 'user:' .. old, hex)
    redis.call('HDEL', base .. 'owner', hex)
  end
  redis.call('DEL', rk)
  if exp == '' then
    redis.call('HSET', rk, 'v', version, 'd', bytes)
    redis.call('ZADD', base .. 'expiry', '+inf', hex)
  else
    redis.call('HSET', rk, 'v', version, 'd', bytes, 'e', exp)
    redis.call('ZADD', base .. 'expiry', exp, hex)
    local now = tonumber(redis.call('TIME')[1])
    local e = tonumber(exp)
    if e > now + TTL_CEILING then
      -- no TTL: the deadline is beyond what EXPIREAT takes
    elseif e > now + TTL_FLOOR then
      redis.call('EXPIREAT', rk, exp)
    else
      redis.call('EXPIRE', rk, TTL_FLOOR)
    end
  end
  redis.call('HSET', base .. 'handles', string.sub(hex, 1, 32), hex)
  if has_user == '1' then
    redis.call('HSET', base .. 'owner', hex, user)
    redis.call('SADD', base .. 'user:' .. user, hex)
  end
end
";

/// `create`, and the insert step of `cycle`.
/// KEYS: record. ARGV: base, hex, now, version, bytes, exp, has_user, user.
/// Returns 1 if written, 0 if a live record is there.
const CREATE: &str = r"
local rk = KEYS[1]
if redis.call('EXISTS', rk) == 1 then
  local e = redis.call('HGET', rk, 'e')
  if e and tonumber(e) <= tonumber(ARGV[3]) then
    unlink(ARGV[2])
  else
    return 0
  end
end
write(ARGV[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
return 1
";

/// `save`. KEYS: record. ARGV: base, hex, now, expected, version, bytes, exp, has_user, user.
/// Returns 1 (saved), 0 (missing or expired at `now`) or the current bytes (conflict).
const SAVE: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'v', 'd', 'e')
if not cur[2] then return 0 end
if cur[3] and tonumber(cur[3]) <= tonumber(ARGV[3]) then return 0 end
if cur[1] ~= ARGV[4] then return cur[2] end
write(ARGV[2], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return 1
";

/// `delete`. KEYS: record. ARGV: base, hex. Returns 1 if a record was there.
const DELETE: &str = r"
return unlink(ARGV[2])
";

/// The second step of `cycle`: delete the old record if it is still the version copied.
/// KEYS: record. ARGV: base, hex, version.
/// Returns 1 (deleted), 0 (gone) or the current bytes (changed since the copy).
const TAKE: &str = r"
local cur = redis.call('HMGET', KEYS[1], 'v', 'd')
if not cur[2] then return 0 end
if cur[1] ~= ARGV[3] then return cur[2] end
unlink(ARGV[2])
return 1
";

/// `revoke`. KEYS: the bucket's handles hash. ARGV: base, handle hex (32 digits).
/// Returns 1 if a record was deleted.
const REVOKE_HANDLE: &str = r"
local hex = redis.call('HGET', KEYS[1], ARGV[2])
if not hex then return 0 end
return unlink(hex)
";

/// `revoke_user`, one bucket. KEYS: the bucket's set for the user. ARGV: base.
/// Returns how many records were deleted.
const REVOKE_USER: &str = r"
local n = 0
for _, hex in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + unlink(hex)
end
redis.call('DEL', KEYS[1])
return n
";

/// `list_user`, one bucket. KEYS: the bucket's set for the user. ARGV: base.
/// Returns a flat array hex, bytes, hex, bytes, ... of the records still present.
const LIST_USER: &str = r"
local out = {}
for _, hex in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local d = redis.call('HGET', base .. hex, 'd')
  if d then
    out[#out + 1] = hex
    out[#out + 1] = d
  end
end
return out
";

/// `list`, one bucket. KEYS: the bucket's expiry index. ARGV: base, now, limit.
/// Returns a flat array hex, bytes, ... of records whose deadline is after `now`.
const LIST: &str = r"
local out = {}
local hexes = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
for _, hex in ipairs(hexes) do
  local d = redis.call('HGET', base .. hex, 'd')
  if d then
    out[#out + 1] = hex
    out[#out + 1] = d
  end
end
return out
";

/// `list_page`, one bucket. KEYS: the bucket's expiry index. ARGV: base, now, after (hex, or
/// `""` for the bucket's start), limit.
/// Takes the members whose deadline is after `now` and whose hex sorts after `after`, in key
/// order, and reads up to `limit` of them. Returns `{more, last, out}`: `more` is 1 if members
/// past the ones read remain, `last` the last hex read (`""` if none), `out` the flat array
/// hex, bytes, ... of the records still present.
///
/// The bucket has no index in key order (the layout's sorted set is by deadline), so this
/// reads the bucket's live members and sorts them: O(m log m) for a bucket of m sessions,
/// about n/256 of the store. Hex is compared byte by byte, not with Lua's `<`, which follows
/// the server's collation locale.
const LIST_PAGE: &str = r"
local function before(a, b)
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return false
end
local after = ARGV[3]
local keep = {}
for _, hex in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')) do
  if after == '' or before(after, hex) then keep[#keep + 1] = hex end
end
table.sort(keep, before)
local limit = tonumber(ARGV[4])
local out = {}
local last = ''
local n = math.min(limit, #keep)
for i = 1, n do
  local hex = keep[i]
  last = hex
  local d = redis.call('HGET', base .. hex, 'd')
  if d then
    out[#out + 1] = hex
    out[#out + 1] = d
  end
end
local more = 0
if #keep > n then more = 1 end
return {more, last, out}
";

/// `delete_expired`, one bucket. KEYS: the bucket's expiry index. ARGV: base, now, limit.
/// Removes up to `limit` sessions whose deadline is at or before `now` (the record if Redis
/// has not evicted it yet, and its index entries either way). Returns how many.
const SWEEP: &str = r"
local hexes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, hex in ipairs(hexes) do
  unlink(hex)
end
return #hexes
";

/// Marks the start or the end of a revoke-all for one user (see the crate docs, "cycle").
/// KEYS: the user's revocation counters. ARGV: field (`s` or `f`), TTL seconds.
/// Returns nothing useful.
const MARK_REVOCATION: &str = r"
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
";

/// The scripts, each hashed once.
pub(crate) struct Scripts {
    pub(crate) create: Script,
    pub(crate) save: Script,
    pub(crate) delete: Script,
    pub(crate) take: Script,
    pub(crate) revoke_handle: Script,
    pub(crate) revoke_user: Script,
    pub(crate) list_user: Script,
    pub(crate) list: Script,
    pub(crate) list_page: Script,
    pub(crate) sweep: Script,
    pub(crate) mark_revocation: Script,
}

fn with_prelude(body: &str) -> Script {
    let prelude = PRELUDE
        .replace("TTL_FLOOR", &TTL_FLOOR_SECS.to_string())
        .replace("TTL_CEILING", &TTL_CEILING_SECS.to_string());
    Script::new(&format!("{prelude}\n{body}"))
}

pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create: with_prelude(CREATE),
    save: with_prelude(SAVE),
    delete: with_prelude(DELETE),
    take: with_prelude(TAKE),
    revoke_handle: with_prelude(REVOKE_HANDLE),
    revoke_user: with_prelude(REVOKE_USER),
    list_user: with_prelude(LIST_USER),
    list: with_prelude(LIST),
    list_page: with_prelude(LIST_PAGE),
    sweep: with_prelude(SWEEP),
    mark_revocation: Script::new(MARK_REVOCATION),
});
