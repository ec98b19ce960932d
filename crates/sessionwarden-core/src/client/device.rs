//! What a `User-Agent` says about the client, as a record keeps it: browser family, major
//! version, OS family ([`DeviceSummary`]), and the exact-string fingerprint
//! ([`UserAgentHash`]). Parsing a `User-Agent` into a summary is the session layer's job
//! (`sessionwarden::client::device_summary`), so this crate carries no parser rules.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest browser or OS family kept, in characters. Families come from the rules'
/// replacements or from a captured part of the user agent, which a client controls.
pub const MAX_FAMILY_LEN: usize = 64;

/// A coarse description of the client device: browser family, browser major version, OS
/// family, from the `User-Agent`.
///
/// "Same device" means the same browser family on the same OS family: a version bump (Chrome
/// 120 → 121) is not a change, Chrome → Firefox or Windows → macOS is. A family the rules do
/// not recognise is `None`; two unrecognised agents compare as the same device, so compare
/// [`UserAgentHash`]es too when that matters.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::client::DeviceSummary;
///
/// let chrome_120 = DeviceSummary::new(Some("Chrome"), Some(120), Some("Windows"));
/// let chrome_121 = DeviceSummary::new(Some("Chrome"), Some(121), Some("Windows"));
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
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let d = DeviceSummary::new(Some("Firefox"), Some(121), Some("Linux"));
    /// assert_eq!(d.browser(), Some("Firefox"));
    /// assert_eq!(DeviceSummary::new(Some(""), None, None).browser(), None);
    /// ```
    #[must_use]
    pub fn new(browser: Option<&str>, browser_major: Option<u32>, os: Option<&str>) -> Self {
        Self { browser: browser.and_then(family), browser_major, os: os.and_then(family) }
    }

    /// The browser family (`Chrome`, `Firefox`, `Mobile Safari`, `Edge`, `curl`, …), `None`
    /// when not recognised.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// assert_eq!(DeviceSummary::new(Some("Firefox"), Some(121), Some("Linux")).browser(), Some("Firefox"));
    /// ```
    #[must_use]
    pub fn browser(&self) -> Option<&str> {
        self.browser.as_deref()
    }

    /// The browser's major version, when it is a number.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// assert_eq!(DeviceSummary::new(Some("Firefox"), Some(121), Some("Linux")).browser_major(), Some(121));
    /// ```
    #[must_use]
    pub fn browser_major(&self) -> Option<u32> {
        self.browser_major
    }

    /// The OS family (`Windows`, `Mac OS X`, `iOS`, `Android`, `Linux`, …), `None` when not
    /// recognised.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::DeviceSummary;
    /// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// assert_eq!(DeviceSummary::new(Some("Firefox"), Some(121), Some("Linux")).os(), Some("Linux"));
    /// ```
    #[must_use]
    pub fn os(&self) -> Option<&str> {
        self.os.as_deref()
    }

    /// Whether `other` is the same browser family on the same OS family (versions ignored).
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
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
}

/// A family name, trimmed and bounded; empty is `None`.
#[doc(hidden)]
#[must_use]
pub fn family(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty()).then(|| name.chars().take(MAX_FAMILY_LEN).collect())
}

/// The first 8 bytes of SHA-256 of a `User-Agent`, the finer-grained half of a client
/// summary: any change to the agent string (a version bump included) changes it.
///
/// Text and serde form: 16 lowercase hex digits, as records have always stored it.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
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
    /// # extern crate sessionwarden_core as sessionwarden;
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
    /// # extern crate sessionwarden_core as sessionwarden;
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
/// # extern crate sessionwarden_core as sessionwarden;
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

    #[test]
    fn families_are_bounded() {
        let d = DeviceSummary::new(Some(&"a".repeat(1000)), None, Some("  "));
        assert_eq!(d.browser().map(str::len), Some(MAX_FAMILY_LEN));
        assert_eq!(d.os(), None);
    }

    #[test]
    fn hash_matches_the_stored_form() {
        assert_eq!(UserAgentHash::of("curl/8.5.0").to_string(), "07d1d539047ef019");
        assert_eq!(UserAgentHash::of(b"").to_string(), "e3b0c44298fc1c14");
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
        let d = DeviceSummary::new(Some("Mobile Safari"), Some(17), Some("iOS"));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, r#"{"browser":"Mobile Safari","browser_major":17,"os":"iOS"}"#);
        assert_eq!(serde_json::from_str::<DeviceSummary>(&json).unwrap(), d);
        assert_eq!(serde_json::from_str::<DeviceSummary>("{}").unwrap(), DeviceSummary::default());
        let h = UserAgentHash::of("x");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<UserAgentHash>(&json).unwrap(), h);
    }
}
