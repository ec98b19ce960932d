//! Parsing a `User-Agent` into a [`DeviceSummary`] with the uap-core rules.

use std::sync::OnceLock;

use serde::Deserialize;
use ua_parser::{os, user_agent};

use crate::client::DeviceSummary;
use sessionwarden_core::client::device::family;

/// The longest `User-Agent` prefix that is parsed, in bytes. Real ones are a few hundred
/// bytes; the rest of a longer one is ignored (it still counts in
/// [`UserAgentHash`](crate::client::UserAgentHash)).
pub const MAX_USER_AGENT_LEN: usize = 1024;

/// The browser and OS rules of uap-core (the `ua-parser` project's shared data, Apache-2.0;
/// the file records the release), browser and OS parsers only, converted to JSON by
/// `scripts/uap-regexes.py`. Refresh it when uap-core publishes new rules.
const UAP_RULES: &str = include_str!("uap-regexes.json");

/// Parses a `User-Agent` value (bytes, since header values need not be UTF-8). At most
/// [`MAX_USER_AGENT_LEN`] bytes are read; invalid UTF-8 is replaced. Never fails: an
/// agent the rules do not know gives `None` fields.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// let curl = sessionwarden::client::device_summary("curl/8.5.0");
/// assert_eq!(curl.browser(), Some("curl"));
/// assert_eq!(sessionwarden::client::device_summary(b"\xff\xfe garbage"), sessionwarden::client::DeviceSummary::default());
/// ```
#[must_use]
pub fn device_summary(user_agent: impl AsRef<[u8]>) -> DeviceSummary {
    let bytes = user_agent.as_ref();
    let bytes = &bytes[..bytes.len().min(MAX_USER_AGENT_LEN)];
    let text = String::from_utf8_lossy(bytes);
    let Some(rules) = rules() else { return DeviceSummary::default() };
    let browser = rules.browser.extract(&text);
    let os = rules.os.extract(&text);
    DeviceSummary::new(
        browser.as_ref().and_then(|b| known(&b.family)).as_deref(),
        browser.as_ref().and_then(|b| b.major).and_then(|m| m.parse().ok()),
        os.as_ref().and_then(|o| known(&o.os)).as_deref(),
    )
}

/// Compiles the parsing rules now rather than on the first request that needs them
/// (a few hundred regular expressions; done once per process).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// sessionwarden::client::preload_device_rules();
/// ```
pub fn preload_device_rules() {
    let _ = rules();
}

/// A family the rules found, bounded; uap-core's catch-all `Other` means "not recognised".
fn known(name: &str) -> Option<String> {
    if name == "Other" { None } else { family(name) }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::UserAgentHash;

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
            let d = device_summary(&c.ua);
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
            let (a, b) = (device_summary(a), device_summary(b));
            assert_eq!(a.same_device(&b), same, "{name}");
            assert_eq!(b.same_device(&a), same, "{name} (reversed)");
        }
    }

    #[test]
    fn only_the_first_bytes_are_parsed() {
        // The browser token sits past the limit: it is not seen.
        let padded = format!("{}{}", "x".repeat(MAX_USER_AGENT_LEN), " Firefox/121.0");
        assert_eq!(device_summary(&padded).browser(), None);
        // A cut through a multi-byte character is replaced, not a panic.
        let cut = format!("{}é Firefox/121.0", "x".repeat(MAX_USER_AGENT_LEN - 1));
        assert_eq!(device_summary(&cut).browser(), None);
    }

    #[test]
    fn hash_matches_the_existing_summary() {
        // SHA-256("curl/8.5.0")[..8] and SHA-256("")[..8], as session.rs computes them.
        assert_eq!(UserAgentHash::of("curl/8.5.0").to_string(), "07d1d539047ef019");
        assert_eq!(UserAgentHash::of(b"").to_string(), "e3b0c44298fc1c14");
        assert_ne!(UserAgentHash::of(CHROME_WIN_120), UserAgentHash::of(CHROME_WIN_121));
    }

    #[test]
    fn serde_round_trips() {
        let d = device_summary(SAFARI_IOS);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"browser":"Mobile Safari","browser_major":17,"os":"iOS"}"#);
        assert_eq!(serde_json::from_str::<DeviceSummary>(&json).unwrap(), d);
        assert_eq!(serde_json::from_str::<DeviceSummary>("{}").unwrap(), DeviceSummary::default());
    }
}
