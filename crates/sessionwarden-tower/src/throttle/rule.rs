//! The rules, their limits and modes, and the documented defaults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sessionwarden_core::store::Rate;

/// What a rule does when its limit is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing is counted.
    Off,
    /// Counted, and a `throttled` security event (`action: monitored`) is recorded when the
    /// limit is passed; nothing is refused. For sizing limits on real traffic first.
    Monitor,
    /// Counted, and past the limit the request is refused with 429 and `Retry-After` (and
    /// the event recorded, `action: refused`).
    #[default]
    Enforce,
}

impl Mode {
    /// `off`, `monitor` or `enforce`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Monitor => "monitor",
            Self::Enforce => "enforce",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = LimitParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(Self::Off),
            "monitor" => Ok(Self::Monitor),
            "enforce" => Ok(Self::Enforce),
            _ => Err(LimitParseError::new(s, "expected off, monitor or enforce")),
        }
    }
}

/// Which rule an event or a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RuleKind {
    /// Forged, unknown or expired session cookies from one client (id guessing), keyed by
    /// the client's IP prefix.
    SessionIdGuessing,
    /// New sessions created by one client (a flood that would fill the store), keyed by
    /// the client's IP prefix.
    SessionFlood,
    /// Login attempts from one client, keyed by the client's IP prefix.
    LoginPerClient,
    /// Login attempts for one user name, whichever client sends them.
    LoginPerUser,
}

impl RuleKind {
    /// A stable snake_case name (`session_id_guessing`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionIdGuessing => "session_id_guessing",
            Self::SessionFlood => "session_flood",
            Self::LoginPerClient => "login_per_client",
            Self::LoginPerUser => "login_per_user",
        }
    }

    /// The short tag the rule's state is kept under in a shared store.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::SessionIdGuessing => "guess",
            Self::SessionFlood => "new",
            Self::LoginPerClient => "login-c",
            Self::LoginPerUser => "login-u",
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule did when its limit was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ThrottleAction {
    /// Refused with 429 (mode `enforce`).
    Refused,
    /// Only recorded (mode `monitor`).
    Monitored,
}

/// A limit: at most `count` events per `period`, all of which may come at once (GCRA with a
/// burst of `count`, one more every `period / count`), then, once it is passed, every event
/// refused for the `block` window (or, without one, until the rate allows again).
///
/// Written `N/PERIOD[,block=DURATION]`: `20/min`, `10/min,block=5m`, `100/10m`, `5/s`; the
/// period is `s`, `min`, `h` or a duration (`30s`, `10m`), the block window a duration.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use std::time::Duration;
/// use sessionwarden::throttle::Limit;
/// let limit: Limit = "10/min,block=5m".parse()?;
/// assert_eq!(limit, Limit::per(10, Duration::from_secs(60)).with_block(Duration::from_secs(300)));
/// assert_eq!(limit.to_string(), "10/60s,block=300s");
/// assert!("0/min".parse::<Limit>().is_err());
/// # Ok::<(), sessionwarden::throttle::LimitParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    count: u32,
    period: Duration,
    block: Duration,
}

/// The longest period or block window a limit accepts: a day. Longer state is no longer a
/// rate limit but a ban, which belongs to account administration.
pub const MAX_LIMIT_PERIOD: Duration = Duration::from_secs(24 * 3600);

impl Limit {
    /// `count` events per `period`, no block window.
    ///
    /// # Panics
    /// If `count` is zero or `period` is shorter than a millisecond per event or longer than
    /// [`MAX_LIMIT_PERIOD`]. Use [`Limit::try_per`] to handle that.
    #[must_use]
    pub fn per(count: u32, period: Duration) -> Self {
        Self::try_per(count, period).expect("a limit of at least one event per period of at most a day")
    }

    /// [`Limit::per`], or an error for a limit that cannot be kept.
    ///
    /// # Errors
    /// [`LimitParseError`] if `count` is zero, an event's interval (`period / count`) is
    /// under a millisecond, or `period` is longer than [`MAX_LIMIT_PERIOD`].
    pub fn try_per(count: u32, period: Duration) -> Result<Self, LimitParseError> {
        let text = || format!("{count}/{}s", period.as_secs_f64());
        if count == 0 {
            return Err(LimitParseError::new(&text(), "a limit allows at least one event"));
        }
        if period / count < Duration::from_millis(1) {
            return Err(LimitParseError::new(&text(), "more than one event per millisecond is no limit"));
        }
        if period > MAX_LIMIT_PERIOD {
            return Err(LimitParseError::new(&text(), "the period is longer than a day"));
        }
        Ok(Self { count, period, block: Duration::ZERO })
    }

    /// Once the limit is passed, refuses every event for `block` (at most a day; longer is
    /// cut to a day).
    #[must_use]
    pub fn with_block(mut self, block: Duration) -> Self {
        self.block = block.min(MAX_LIMIT_PERIOD);
        self
    }

    /// Events allowed per period.
    #[must_use]
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The block window after the limit is passed (zero: none).
    #[must_use]
    pub fn block(&self) -> Duration {
        self.block
    }

    /// The GCRA rate: a burst of `count`, one more every `period / count`.
    #[must_use]
    pub fn rate(&self) -> Rate {
        Rate::per(self.count, self.period)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, humanish(self.period))?;
        if !self.block.is_zero() {
            write!(f, ",block={}", humanish(self.block))?;
        }
        Ok(())
    }
}

fn humanish(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

impl FromStr for Limit {
    type Err = LimitParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &'static str| LimitParseError::new(s, why);
        let mut parts = s.trim().split(',');
        let rate = parts.next().unwrap_or_default();
        let (count, period) = rate.split_once('/').ok_or_else(|| err("expected N/PERIOD, like 20/min"))?;
        let count: u32 = count.trim().parse().map_err(|_| err("the count is not a whole number"))?;
        let period = match period.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => {
                duration(other).ok_or_else(|| err("the period is not s, min, h or a duration like 10m"))?
            }
        };
        let mut limit = Self::try_per(count, period).map_err(|e| LimitParseError::new(s, e.why))?;
        for option in parts {
            let block = option
                .trim()
                .strip_prefix("block=")
                .ok_or_else(|| err("the only option is block=DURATION"))?;
            let block = duration(block.trim()).ok_or_else(|| err("block= takes a duration like 5m"))?;
            if block > MAX_LIMIT_PERIOD {
                return Err(err("the block window is longer than a day"));
            }
            limit = limit.with_block(block);
        }
        Ok(limit)
    }
}

/// `500ms`, `30s`, `10m`, `2h` or a bare number of seconds.
fn duration(s: &str) -> Option<Duration> {
    let (digits, unit_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (s, 1000)
    };
    let n: u64 = digits.trim().parse().ok()?;
    Some(Duration::from_millis(n.checked_mul(unit_ms)?))
}

/// A limit or mode that does not parse or cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a rate limit: {why}")]
pub struct LimitParseError {
    text: String,
    why: &'static str,
}

impl LimitParseError {
    fn new(text: &str, why: &'static str) -> Self {
        // Bounded: the text comes from a command line or the environment.
        Self { text: text.chars().take(64).collect(), why }
    }
}

/// One rule's limit and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The limit.
    pub limit: Limit,
    /// What passing it does.
    pub mode: Mode,
}

impl Rule {
    /// `limit`, enforced.
    #[must_use]
    pub fn enforce(limit: Limit) -> Self {
        Self { limit, mode: Mode::Enforce }
    }

    /// The rule counts (its mode is not [`Mode::Off`]).
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.mode != Mode::Off
    }
}

/// Every rule of a [`super::Throttle`], with the documented defaults (see the
/// [module docs](super) for why each is what it is):
///
/// | rule | default | keyed by |
/// |---|---|---|
/// | `id_guessing` | `20/min,block=15m` | client prefix |
/// | `new_sessions` | `60/min` | client prefix |
/// | `login_per_client` | `10/min,block=5m` | client prefix |
/// | `login_per_user` | `5/min` | user name |
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::throttle::{Mode, ThrottleConfig};
/// let mut config = ThrottleConfig::default().with_mode(Mode::Monitor);
/// config.login_per_user.limit = "3/min".parse()?;
/// assert_eq!(config.id_guessing.limit.to_string(), "20/60s,block=900s");
/// # Ok::<(), sessionwarden::throttle::LimitParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Forged, unknown or expired session cookies per client.
    pub id_guessing: Rule,
    /// New sessions per client.
    pub new_sessions: Rule,
    /// Login attempts per client.
    pub login_per_client: Rule,
    /// Login attempts per user name.
    pub login_per_user: Rule,
}

/// The default of [`ThrottleConfig::id_guessing`]: 20 bad session cookies a minute, then 15
/// minutes blocked.
pub const DEFAULT_ID_GUESSING: &str = "20/min,block=15m";
/// The default of [`ThrottleConfig::new_sessions`]: 60 new sessions a minute.
pub const DEFAULT_NEW_SESSIONS: &str = "60/min";
/// The default of [`ThrottleConfig::login_per_client`]: 10 login attempts a minute, then 5
/// minutes blocked.
pub const DEFAULT_LOGIN_PER_CLIENT: &str = "10/min,block=5m";
/// The default of [`ThrottleConfig::login_per_user`]: 5 login attempts a minute, no block.
pub const DEFAULT_LOGIN_PER_USER: &str = "5/min";

impl Default for ThrottleConfig {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        Self {
            // A browser presents a stale cookie once after its session ends; 20 in a minute is
            // no browser. Guessing a 256-bit id is hopeless anyway: the block stops the load
            // and the noise, and the event tells someone is trying.
            id_guessing: Rule::enforce(Limit::per(20, minute).with_block(Duration::from_secs(900))),
            // A browser creates one session and keeps it; a NAT of a few dozen people starting
            // at once stays under 60. A loop of anonymous requests does not.
            new_sessions: Rule::enforce(Limit::per(60, minute)),
            // OWASP ASVS 2.2.1 (anti-automation): a burst of 10 covers a shared address's
            // people mistyping; past it a script is blocked for 5 minutes.
            login_per_client: Rule::enforce(Limit::per(10, minute).with_block(Duration::from_secs(300))),
            // 5 a minute, then one every 12 s: slow enough that guessing one account's
            // password is hopeless, and no block, so an attacker cannot lock the owner out
            // for longer than the rate itself (NIST SP 800-63B 5.2.2 caps failures without
            // making the limit a denial of service).
            login_per_user: Rule::enforce(Limit::per(5, minute)),
        }
    }
}

impl ThrottleConfig {
    /// Every rule in `mode` (the limits stay).
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        for rule in self.rules_mut() {
            rule.mode = mode;
        }
        self
    }

    /// Whether any rule counts.
    #[must_use]
    pub fn any_on(&self) -> bool {
        [self.id_guessing, self.new_sessions, self.login_per_client, self.login_per_user]
            .iter()
            .any(Rule::is_on)
    }

    /// The rule of `kind`.
    #[must_use]
    pub fn rule(&self, kind: RuleKind) -> Rule {
        match kind {
            RuleKind::SessionIdGuessing => self.id_guessing,
            RuleKind::SessionFlood => self.new_sessions,
            RuleKind::LoginPerClient => self.login_per_client,
            RuleKind::LoginPerUser => self.login_per_user,
        }
    }

    fn rules_mut(&mut self) -> [&mut Rule; 4] {
        [&mut self.id_guessing, &mut self.new_sessions, &mut self.login_per_client, &mut self.login_per_user]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_documented() {
        let min = Duration::from_secs(60);
        let cases: [(&str, Option<Limit>); 14] = [
            ("20/min", Some(Limit::per(20, min))),
            ("20/minute", Some(Limit::per(20, min))),
            (" 5/s ", Some(Limit::per(5, Duration::from_secs(1)))),
            ("100/10m", Some(Limit::per(100, Duration::from_secs(600)))),
            (
                "3/h,block=2h",
                Some(Limit::per(3, Duration::from_secs(3600)).with_block(Duration::from_secs(7200))),
            ),
            ("10/min, block=500ms", Some(Limit::per(10, min).with_block(Duration::from_millis(500)))),
            ("0/min", None),
            ("10", None),
            ("x/min", None),
            ("10/fortnight", None),
            ("10/2d", None),
            ("10/min,block=2d", None),
            ("10/min,burst=3", None),
            ("2000/s", None),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Limit>().ok(), want, "{text:?}");
        }
        for d in [DEFAULT_ID_GUESSING, DEFAULT_NEW_SESSIONS, DEFAULT_LOGIN_PER_CLIENT, DEFAULT_LOGIN_PER_USER]
        {
            let limit: Limit = d.parse().unwrap();
            assert_eq!(limit.to_string().parse::<Limit>().unwrap(), limit, "{d} round-trips");
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = ThrottleConfig::default();
        let pairs = [
            (c.id_guessing, DEFAULT_ID_GUESSING),
            (c.new_sessions, DEFAULT_NEW_SESSIONS),
            (c.login_per_client, DEFAULT_LOGIN_PER_CLIENT),
            (c.login_per_user, DEFAULT_LOGIN_PER_USER),
        ];
        for (rule, text) in pairs {
            assert_eq!(rule, Rule::enforce(text.parse().unwrap()), "{text}");
        }
        assert!(c.any_on());
        assert!(!c.with_mode(Mode::Off).any_on());
        assert_eq!("monitor".parse::<Mode>().unwrap(), Mode::Monitor);
        assert!("on".parse::<Mode>().is_err());
    }
}
