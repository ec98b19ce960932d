//! What a `User-Agent` says about the client: browser family, major version, OS family.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ua_parser::{os, user_agent};

/// The longest `User-Agent` prefix that is parsed, in bytes. Real ones are a few hundred
/// bytes; the rest of a longer one is ignored (it still counts in [`UserAgentHash`]).
pub const MAX_USER_AGENT_LEN: usize = 1024;

/// The longest browser or OS family kept, in characters. Families come from the rules'
/// replacements or from a captured part of the user agent, which a client controls.
const MAX_FAMILY_LEN: usize = 64;

/// The browser and OS rules of uap-core (the `ua-parser` project's shared data, Apache-2.0;
/// the file records the release), browser and OS parsers only, converted to JSON by
/// `scripts/uap-regexes.py`. Refresh it when uap-core publishes new rules.
const UAP_RULES: &str = include_str!("uap-regexes.json");

/// A coarse description of the client device: browser family, browser major version, OS
/// family, from the `User-Agent`.
///
/// "Same device" means the same browser family on the same OS family: a version bump (Chrome
/// 120 → 121) is not a change, Chrome → Firefox or Windows → macOS is. A family the rules do
/// not recognise is `None`; two unrecognised agents compare as the same device, so compare
/// [`UserAgentHash`]es too when that matters.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::DeviceSummary;
///
/// let chrome_120 = DeviceSummary::from_user_agent(
///     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
/// );
/// assert_eq!(chrome_120.browser(), Some("Chrome"));
/// assert_eq!(chrome_120.browser_major(), Some(120));
/// assert_eq!(chrome_120.os(), Some("Windows"));
///
/// let chrome_121 = DeviceSummary::from_user_agent(
///     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
/// );
/// assert!(chrome_120.same_device(&chrome_121));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct DeviceSummary {
    #[serde(default)]
    browser: Option<String>,
    #[serde(default)]
    browser_major: Option<u32>,
    #[serde(default)]
    os: Option<String>,
}

impl DeviceSummary {
    /// A summary from its parts (for tests and stores that keep them in columns). Families
    /// longer than 64 characters are cut; empty ones are `None`.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let d = DeviceSummary::new(Some("Firefox"), Some(121), Some("Linux"));
    /// assert_eq!(d.browser(), Some("Firefox"));
    /// assert_eq!(DeviceSummary::new(Some(""), None, None).browser(), None);
    /// ```
    #[must_use]
    pub fn new(browser: Option<&str>, browser_major: Option<u32>, os: Option<&str>) -> Self {
        Self { browser: browser.and_then(family), browser_major, os: os.and_then(family) }
    }

    /// Parses a `User-Agent` value (bytes, since header values need not be UTF-8). At most
    /// [`MAX_USER_AGENT_LEN`] bytes are read; invalid UTF-8 is replaced. Never fails: an
    /// agent the rules do not know gives `None` fields.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let curl = DeviceSummary::from_user_agent("curl/8.5.0");
    /// assert_eq!(curl.browser(), Some("curl"));
    /// assert_eq!(DeviceSummary::from_user_agent(b"\xff\xfe garbage"), DeviceSummary::default());
    /// ```
    #[must_use]
    pub fn from_user_agent(user_agent: impl AsRef<[u8]>) -> Self {
        let bytes = user_agent.as_ref();
        let bytes = &bytes[..bytes.len().min(MAX_USER_AGENT_LEN)];
        let text = String::from_utf8_lossy(bytes);
        let Some(rules) = rules() else { return Self::default() };
        let browser = rules.browser.extract(&text);
        let os = rules.os.extract(&text);
        Self {
            browser: browser.as_ref().and_then(|b| known(&b.family)),
            browser_major: browser.as_ref().and_then(|b| b.major).and_then(|m| m.parse().ok()),
            os: os.as_ref().and_then(|o| known(&o.os)),
        }
    }

    /// The browser family (`Chrome`, `Firefox`, `Mobile Safari`, `Edge`, `curl`, …), `None`
    /// when not recognised.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// assert_eq!(DeviceSummary::from_user_agent(ua).browser(), Some("Firefox"));
    /// ```
    #[must_use]
    pub fn browser(&self) -> Option<&str> {
        self.browser.as_deref()
    }

    /// The browser's major version, when it is a number.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// assert_eq!(DeviceSummary::from_user_agent(ua).browser_major(), Some(121));
    /// ```
    #[must_use]
    pub fn browser_major(&self) -> Option<u32> {
        self.browser_major
    }

    /// The OS family (`Windows`, `Mac OS X`, `iOS`, `Android`, `Linux`, …), `None` when not
    /// recognised.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// assert_eq!(DeviceSummary::from_user_agent(ua).os(), Some("Linux"));
    /// ```
    #[must_use]
    pub fn os(&self) -> Option<&str> {
        self.os.as_deref()
    }

    /// Whether `other` is the same browser family on the same OS family (versions ignored).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let a = DeviceSummary::new(Some("Chrome"), Some(120), Some("Windows"));
    /// assert!(a.same_device(&DeviceSummary::new(Some("Chrome"), Some(121), Some("Windows"))));
    /// assert!(!a.same_device(&DeviceSummary::new(Some("Firefox"), Some(121), Some("Windows"))));
    /// assert!(!a.same_device(&DeviceSummary::new(Some("Chrome"), Some(120), Some("Mac OS X"))));
    /// ```
    #[must_use]
    pub fn same_device(&self, other: &Self) -> bool {
        self.browser == other.browser && self.os == other.os
    }

    /// Compiles the parsing rules now rather than on the first request that needs them
    /// (a few hundred regular expressions; done once per process).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// sessionwarden::client::DeviceSummary::preload();
    /// ```
    pub fn preload() {
        let _ = rules();
    }
}

/// A family the rules found, bounded; uap-core's catch-all `Other` means "not recognised".
fn known(family: &str) -> Option<String> {
    if family == "Other" { None } else { self::family(family) }
}

fn family(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty()).then(|| name.chars().take(MAX_FAMILY_LEN).collect())
}

struct Rules {
    browser: user_agent::Extractor<'static>,
    os: os::Extractor<'static>,
}

/// The subset of uap-core's `regexes.yaml` the summary needs.
#[derive(Deserialize)]
struct RuleData {
    user_agent_parsers: Vec<user_agent::Parser<'static>>,
    os_parsers: Vec<os::Parser<'static>>,
}

/// The compiled rules, built once. `None` only if the embedded rules do not compile, which
/// the `embedded_rules_compile` test rules out; the summary is then all-unknown, not a panic.
fn rules() -> Option<&'static Rules> {
    static RULES: OnceLock<Option<Rules>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            let built = build_rules();
            if let Err(reason) = &built {
                tracing::error!(target: "sessionwarden::client", %reason, "user agent rules do not compile");
            }
            built.ok()
        })
        .as_ref()
}

fn build_rules() -> Result<Rules, String> {
    let data: RuleData = serde_json::from_str(UAP_RULES).map_err(|e| e.to_string())?;
    let browser = user_agent::Builder::new()
        .push_all(data.user_agent_parsers)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let os = os::Builder::new()
        .push_all(data.os_parsers)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Rules { browser, os })
}

/// The first 8 bytes of SHA-256 of a `User-Agent`, the finer-grained half of a client
/// summary: any change to the agent string (a version bump included) changes it.
///
/// Text and serde form: 16 lowercase hex digits, as [`ClientSummary::user_agent_hash`]
/// already stores it.
///
/// [`ClientSummary::user_agent_hash`]: crate::ClientSummary::user_agent_hash
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::UserAgentHash;
/// let hash = UserAgentHash::of("curl/8.5.0");
/// assert_eq!(hash.to_string().len(), 16);
/// assert_eq!(hash.to_string().parse::<UserAgentHash>(), Ok(hash));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserAgentHash([u8; 8]);

impl UserAgentHash {
    /// The hash of the whole `User-Agent` value.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::UserAgentHash;
    /// assert_eq!(UserAgentHash::of("").to_string(), "e3b0c44298fc1c14");
    /// ```
    #[must_use]
    pub fn of(user_agent: impl AsRef<[u8]>) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(user_agent.as_ref());
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        Self(out)
    }

    /// The 8 bytes.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::UserAgentHash;
    /// assert_eq!(UserAgentHash::of("").as_bytes()[0], 0xe3);
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for UserAgentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for UserAgentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserAgentHash({self})")
    }
}

/// Text that is not 16 hex digits.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::UserAgentHash;
/// assert!("xyz".parse::<UserAgentHash>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a user agent hash: expected 16 hex digits")]
pub struct UserAgentHashError;

impl FromStr for UserAgentHash {
    type Err = UserAgentHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 16 {
            return Err(UserAgentHashError);
        }
        let mut out = [0u8; 8];
        for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hex = std::str::from_utf8(pair).map_err(|_| UserAgentHashError)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(UserAgentHashError);
            }
            *byte = u8::from_str_radix(hex, 16).map_err(|_| UserAgentHashError)?;
        }
        Ok(Self(out))
    }
}

impl Serialize for UserAgentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UserAgentHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WIN_120: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const CHROME_WIN_121: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.85 Safari/537.36";
    const CHROME_MAC_120: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const FIREFOX_WIN: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
    const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

    #[test]
    fn embedded_rules_compile() {
        assert!(rules().is_some());
    }

    #[test]
    fn user_agent_table() {
        struct Case {
            name: &'static str,
            ua: Vec<u8>,
            browser: Option<&'static str>,
            major: Option<u32>,
            os: Option<&'static str>,
        }
        let case = |name, ua: &[u8], browser, major, os| Case { name, ua: ua.to_vec(), browser, major, os };
        let cases = [
            case("Chrome on Windows", CHROME_WIN_120.as_bytes(), Some("Chrome"), Some(120), Some("Windows")),
            case("Firefox on Windows", FIREFOX_WIN.as_bytes(), Some("Firefox"), Some(121), Some("Windows")),
            case("Safari on iOS", SAFARI_IOS.as_bytes(), Some("Mobile Safari"), Some(17), Some("iOS")),
            case("Edge on Windows", EDGE_WIN.as_bytes(), Some("Edge"), Some(120), Some("Windows")),
            case("Chrome on macOS", CHROME_MAC_120.as_bytes(), Some("Chrome"), Some(120), Some("Mac OS X")),
            case(
                "Chrome on Android",
                CHROME_ANDROID.as_bytes(),
                Some("Chrome Mobile"),
                Some(120),
                Some("Android"),
            ),
            case("curl", b"curl/8.5.0", Some("curl"), Some(8), None),
            case("empty", b"", None, None, None),
            case("garbage", b"\x00\xff<script>%%%", None, None, None),
            case("100 KB of garbage", "\u{1F4A9}x(;/".repeat(100 * 1024 / 8).as_bytes(), None, None, None),
        ];
        for c in cases {
            let d = DeviceSummary::from_user_agent(&c.ua);
            assert_eq!(d.browser(), c.browser, "{}: browser", c.name);
            assert_eq!(d.browser_major(), c.major, "{}: major", c.name);
            assert_eq!(d.os(), c.os, "{}: os", c.name);
        }
    }

    #[test]
    fn same_device_table() {
        let cases = [
            ("Chrome version bump", CHROME_WIN_120, CHROME_WIN_121, true),
            ("Chrome → Firefox", CHROME_WIN_120, FIREFOX_WIN, false),
            ("Chrome → Edge", CHROME_WIN_120, EDGE_WIN, false),
            ("Windows → macOS", CHROME_WIN_120, CHROME_MAC_120, false),
            ("desktop → phone", CHROME_WIN_120, CHROME_ANDROID, false),
            ("identical", SAFARI_IOS, SAFARI_IOS, true),
        ];
        for (name, a, b, same) in cases {
            let (a, b) = (DeviceSummary::from_user_agent(a), DeviceSummary::from_user_agent(b));
            assert_eq!(a.same_device(&b), same, "{name}");
            assert_eq!(b.same_device(&a), same, "{name} (reversed)");
        }
    }

    #[test]
    fn only_the_first_bytes_are_parsed() {
        // The browser token sits past the limit: it is not seen.
        let padded = format!("{}{}", "x".repeat(MAX_USER_AGENT_LEN), " Firefox/121.0");
        assert_eq!(DeviceSummary::from_user_agent(&padded).browser(), None);
        // A cut through a multi-byte character is replaced, not a panic.
        let cut = format!("{}é Firefox/121.0", "x".repeat(MAX_USER_AGENT_LEN - 1));
        assert_eq!(DeviceSummary::from_user_agent(&cut).browser(), None);
    }

    #[test]
    fn families_are_bounded() {
        let d = DeviceSummary::new(Some(&"a".repeat(1000)), None, Some("  "));
        assert_eq!(d.browser().map(str::len), Some(MAX_FAMILY_LEN));
        assert_eq!(d.os(), None);
    }

    #[test]
    fn hash_matches_the_existing_summary() {
        // SHA-256("curl/8.5.0")[..8] and SHA-256("")[..8], as session.rs computes them.
        assert_eq!(UserAgentHash::of("curl/8.5.0").to_string(), "07d1d539047ef019");
        assert_eq!(UserAgentHash::of(b"").to_string(), "e3b0c44298fc1c14");
        assert_ne!(UserAgentHash::of(CHROME_WIN_120), UserAgentHash::of(CHROME_WIN_121));
    }

    #[test]
    fn hash_text_table() {
        let cases = [
            ("lowercase", "e3b0c44298fc1c14", true),
            ("uppercase", "E3B0C44298FC1C14", true),
            ("short", "e3b0c4", false),
            ("long", "e3b0c44298fc1c1400", false),
            ("not hex", "g3b0c44298fc1c14", false),
            ("sign", "+3b0c44298fc1c14", false),
            ("multi-byte", "é3b0c44298fc1c1", false),
        ];
        for (name, text, ok) in cases {
            assert_eq!(text.parse::<UserAgentHash>().is_ok(), ok, "{name}");
        }
    }

    #[test]
    fn serde_round_trips() {
        let d = DeviceSummary::from_user_agent(SAFARI_IOS);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"browser":"Mobile Safari","browser_major":17,"os":"iOS"}"#);
        assert_eq!(serde_json::from_str::<DeviceSummary>(&json).unwrap(), d);
        assert_eq!(serde_json::from_str::<DeviceSummary>("{}").unwrap(), DeviceSummary::default());
        let h = UserAgentHash::of("x");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<UserAgentHash>(&json).unwrap(), h);
    }
}
