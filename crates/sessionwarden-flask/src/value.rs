//! The Rust model of a Flask session value.

use std::fmt;

use indexmap::IndexMap;

use crate::FlaskDateTime;

/// A session dict: string keys, insertion-ordered like a Python `dict`.
///
/// Order matters only for MessagePack output (Flask-Session keeps insertion order); the
/// cookie writer sorts keys like Flask does, and `==` ignores order.
pub type FlaskMap = IndexMap<String, FlaskValue>;

/// A value in a Flask session: JSON's types plus the Python types Flask's tagged JSON and
/// msgspec's MessagePack can carry.
///
/// ```
/// use sessionwarden_flask::{FlaskMap, FlaskValue};
/// let mut session = FlaskMap::new();
/// session.insert("user".into(), FlaskValue::from("admin"));
/// session.insert("_flashes".into(), FlaskValue::List(vec![FlaskValue::Tuple(vec![
///     "message".into(),
///     "Saved!".into(),
/// ])]));
/// assert_eq!(session["user"].as_str(), Some("admin"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FlaskValue {
    /// Python `None`, JSON `null`.
    Null,
    /// `True` / `False`.
    Bool(bool),
    /// An integer in the `i64` range.
    Int(i64),
    /// An integer outside the `i64` range (Python ints are unbounded).
    BigInt(BigInt),
    /// A Python float. `NaN`, `Infinity` and `-0.0` occur: Python's `json` writes and reads
    /// them.
    Float(f64),
    /// A text string.
    Str(String),
    /// A Python list.
    List(Vec<FlaskValue>),
    /// A Python tuple (Flask tag `" t"`). Flask's `_flashes` is a list of tuples. MessagePack
    /// has no tuples: Flask-Session reads them back as lists.
    Tuple(Vec<FlaskValue>),
    /// A Python dict with string keys.
    Dict(FlaskMap),
    /// Python `bytes` (Flask tag `" b"`, MessagePack bin).
    Bytes(Vec<u8>),
    /// `markupsafe.Markup`, HTML that is already safe (Flask tag `" m"`).
    Markup(String),
    /// `uuid.UUID` (Flask tag `" u"`).
    Uuid(Uuid),
    /// An aware datetime in UTC (Flask tag `" d"`, MessagePack timestamp extension).
    DateTime(FlaskDateTime),
}

impl FlaskValue {
    /// The string inside a [`FlaskValue::Str`].
    ///
    /// ```
    /// # use sessionwarden_flask::FlaskValue;
    /// assert_eq!(FlaskValue::from("x").as_str(), Some("x"));
    /// assert_eq!(FlaskValue::Int(1).as_str(), None);
    /// ```
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Parses a decimal integer (optional `-`, ASCII digits) into [`FlaskValue::Int`] or,
    /// outside the `i64` range, [`FlaskValue::BigInt`]. Leading zeros are accepted and dropped.
    ///
    /// Returns `None` for anything else, or for more than 4300 digits (CPython's limit for
    /// converting text to `int`).
    ///
    /// ```
    /// use sessionwarden_flask::FlaskValue;
    /// assert_eq!(FlaskValue::integer_from_decimal("-7"), Some(FlaskValue::Int(-7)));
    /// let big = FlaskValue::integer_from_decimal("18446744073709551616").unwrap();
    /// assert!(matches!(big, FlaskValue::BigInt(_)));
    /// ```
    #[must_use]
    pub fn integer_from_decimal(s: &str) -> Option<Self> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        if digits.is_empty() || digits.len() > MAX_INT_DIGITS || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        if let Ok(v) = s.parse::<i64>() {
            return Some(Self::Int(v));
        }
        let digits = digits.trim_start_matches('0');
        // An all-zero string parses as i64 above, so `digits` is non-empty here.
        let text = if neg { format!("-{digits}") } else { digits.to_owned() };
        Some(Self::BigInt(BigInt(text)))
    }
}

/// CPython refuses `int(text)` past 4300 digits (`sys.int_info.str_digits_check_threshold`).
pub(crate) const MAX_INT_DIGITS: usize = 4300;

impl From<&str> for FlaskValue {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for FlaskValue {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<i64> for FlaskValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<bool> for FlaskValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<f64> for FlaskValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<FlaskMap> for FlaskValue {
    fn from(v: FlaskMap) -> Self {
        Self::Dict(v)
    }
}

/// An integer outside the `i64` range, kept as canonical decimal text.
///
/// Build one with [`FlaskValue::integer_from_decimal`].
///
/// ```
/// use sessionwarden_flask::FlaskValue;
/// let FlaskValue::BigInt(b) = FlaskValue::integer_from_decimal("-0099999999999999999999").unwrap()
/// else { unreachable!() };
/// assert_eq!(b.as_decimal(), "-99999999999999999999");
/// assert_eq!(b.to_u64(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BigInt(
    // invariant: optional '-', then ASCII digits without leading zeros, value outside i64,
    // at most MAX_INT_DIGITS digits.
    String,
);

impl BigInt {
    /// The canonical decimal text.
    #[must_use]
    pub fn as_decimal(&self) -> &str {
        &self.0
    }

    /// The value as `u64`, if it fits (values between `i64::MAX` and `u64::MAX` do).
    ///
    /// ```
    /// # use sessionwarden_flask::FlaskValue;
    /// let FlaskValue::BigInt(b) = FlaskValue::integer_from_decimal("18446744073709551615").unwrap()
    /// else { unreachable!() };
    /// assert_eq!(b.to_u64(), Some(u64::MAX));
    /// ```
    #[must_use]
    pub fn to_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    pub(crate) fn from_u64(v: u64) -> FlaskValue {
        match i64::try_from(v) {
            Ok(i) => FlaskValue::Int(i),
            Err(_) => FlaskValue::BigInt(Self(v.to_string())),
        }
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A UUID, as Flask's `" u"` tag carries it.
///
/// ```
/// use sessionwarden_flask::Uuid;
/// let u = Uuid::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap();
/// assert_eq!(u.to_simple(), "3f2504e04f8911d39a0c0305e82c3301");
/// assert_eq!(u.to_string(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
/// assert_eq!(Uuid::parse("3F2504E04F8911D39A0C0305E82C3301"), Some(u));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uuid([u8; 16]);

impl Uuid {
    /// Wraps 16 raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex digits, or the hyphenated 8-4-4-4-12 form, in either case.
    ///
    /// Python's `uuid.UUID` also strips braces and `urn:uuid:`; Flask never writes those.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let hex: Vec<u8> = match b.len() {
            32 => b.to_vec(),
            36 if [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') => {
                b.iter().copied().filter(|&c| c != b'-').collect()
            }
            _ => return None,
        };
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            *o = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Self(out))
    }

    /// 32 lowercase hex digits, the form Flask's `" u"` tag writes (`uuid.hex`).
    #[must_use]
    pub fn to_simple(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The canonical hyphenated lowercase form, as Python's `str(uuid)`.
impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_simple();
        write!(f, "{}-{}-{}-{}-{}", &s[..8], &s[8..12], &s[12..16], &s[16..20], &s[20..])
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}
