//! Entry points for the cargo-fuzz targets in `fuzz/` (STYLE.md item 14). Not part of the
//! public API: no stability promise, hidden from the docs.
//!
//! Each function takes the fuzzer's bytes, feeds them to one parser of untrusted input, and
//! panics if an invariant breaks: beyond "does not panic", what opened must re-seal and
//! re-open to the same value, and what was rejected must yield nothing. Each returns whether
//! the input was accepted, so the seed corpus (see `seeds`) can be checked to hold valid
//! samples and hostile ones.
//!
//! All of them use one fixed keyring (`keys`): key 3 signs, key 2 verifies, key 1 is
//! retired, and "now" is `NOW`.

use std::time::Duration;

use crate::codec::{IdCodec as _, RecordCodec as _, SealedIds, SealedRecords};
use crate::config::Expiry;
use crate::envelope::{Envelope, Mode, Rejection};
use crate::id::{SessionHandle, SessionId, StoreKey};
use crate::keyring::{Key, KeyId, KeySet, KeyState, KeyringFile};
use crate::record::Record;
use crate::time::Timestamp;

/// The time every target opens at.
pub const NOW: Timestamp = Timestamp::from_unix(1_750_000_000);

/// How old an envelope may be in [`open_cookie`].
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);

/// A fixed, non-trivial secret for key `kid` (derived, so no two keys share one).
fn secret(kid: u32, salt: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in s.iter_mut().enumerate() {
        // invariant: i < 32, so the cast is lossless
        *b = (i as u8).wrapping_mul(37) ^ (kid as u8).wrapping_mul(101) ^ salt;
    }
    s
}

fn key_set(salt: u8) -> KeySet {
    let at = Timestamp::from_unix(1_700_000_000);
    let keys = vec![
        Key::new(KeyId::new(3), KeyState::Primary, at, &secret(3, salt)).expect("fixed 32-byte secret"),
        Key::new(KeyId::new(2), KeyState::Verify, at, &secret(2, salt)).expect("fixed 32-byte secret"),
    ];
    KeySet::new(keys, vec![KeyId::new(1)]).expect("one primary")
}

/// The keyring the targets open with: 3 primary, 2 verify-only, 1 retired.
pub fn keys() -> &'static KeySet {
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| key_set(0))
}

/// The same key ids with other secrets: nothing sealed by [`keys`] may open under it.
fn impostor_keys() -> &'static KeySet {
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| key_set(0x5a))
}

/// The key set after the verify-only key 2 is retired as well.
fn rotated_keys() -> &'static KeySet {
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let at = Timestamp::from_unix(1_700_000_000);
        let primary = Key::new(KeyId::new(3), KeyState::Primary, at, &secret(3, 0)).expect("fixed secret");
        KeySet::new(vec![primary], vec![KeyId::new(1), KeyId::new(2)]).expect("one primary")
    })
}

/// The key that must sign a given envelope text, if the header names one. Used only for
/// assertions about the forms that did open.
fn kid_of(value: &str) -> Option<u32> {
    value.get(3..)?.split('.').next()?.parse().ok()
}

/// The session cookie envelope: opens the bytes as a cookie called `session`, and checks a
/// seal/open round trip of the bytes themselves in both modes.
///
/// Invariants: an envelope that opens does not open under another name, nor under other
/// secrets with the same key ids, nor (when key 2 sealed it) once key 2 is retired; its
/// payload re-seals under the primary and re-opens to the same bytes; `needs_reseal` is set
/// exactly when a non-primary key sealed it.
pub fn open_cookie(data: &[u8]) -> bool {
    let keys = keys();
    // Round trip: any bytes seal and open again, in both modes, unless too large to seal.
    for mode in [Mode::Signed, Mode::Encrypted] {
        match Envelope::seal(keys, "session", data, NOW, mode) {
            Ok(sealed) => {
                let opened =
                    Envelope::open(keys, "session", &sealed, NOW, Some(MAX_AGE)).expect("a fresh seal opens");
                assert_eq!(opened.payload, data, "open(seal(x)) == x");
                assert!(!opened.needs_reseal);
                assert_eq!(opened.kid.get(), 3);
            }
            Err(crate::Error::CookieTooLarge { size, limit }) => assert!(size > limit),
            Err(e) => panic!("seal failed: {e}"),
        }
    }

    let Ok(text) = std::str::from_utf8(data) else { return false };
    let Ok(opened) = Envelope::open(keys, "session", text, NOW, Some(MAX_AGE)) else {
        // A rejected value must not open as a record either.
        assert!(SealedRecords(Mode::Signed).open(keys, "session", text, NOW, &Expiry::default()).is_err());
        return false;
    };
    assert_eq!(Some(opened.kid.get()), kid_of(text), "the header's key id is the one that opened it");
    assert_eq!(opened.needs_reseal, opened.kid.get() != 3);
    assert!(opened.issued.unix() <= NOW.unix() + 60, "not from the future beyond skew");
    assert!(
        Envelope::open(keys, "sessiom", text, NOW, Some(MAX_AGE)).is_err(),
        "the MAC binds the cookie name"
    );
    assert_eq!(
        Envelope::open(impostor_keys(), "session", text, NOW, Some(MAX_AGE)).err(),
        Some(Rejection::BadMac),
        "other secrets under the same key ids forge nothing"
    );
    if opened.kid.get() == 2 {
        assert_eq!(
            Envelope::open(rotated_keys(), "session", text, NOW, Some(MAX_AGE)).err(),
            Some(Rejection::RetiredKey)
        );
    }
    let mode = if text.starts_with("e1.") { Mode::Encrypted } else { Mode::Signed };
    let resealed = Envelope::seal(keys, "session", &opened.payload, NOW, mode).expect("what fit fits again");
    let reopened = Envelope::open(keys, "session", &resealed, NOW, Some(MAX_AGE)).expect("re-seal opens");
    assert_eq!(reopened.payload, opened.payload);

    // What opens as a record (the cookie store's payload) re-seals to the same record.
    if let Ok(record) = SealedRecords(mode).open(keys, "session", text, NOW, &Expiry::default()) {
        let sealed = SealedRecords(mode).seal(keys, "session", &record.value, NOW).expect("re-seal");
        let again =
            SealedRecords(mode).open(keys, "session", &sealed, NOW, &Expiry::default()).expect("opens");
        assert!(again.value == record.value, "a record cookie round-trips");
    }
    true
}

/// Session-id cookies (the server-side stores' [`SealedIds`]), store keys in hex and admin
/// session handles.
///
/// Invariants: a rejected cookie yields no id; an id that opens is 32 bytes, re-seals and
/// re-opens to the same id and store key, and does not open under another name or other
/// secrets; hex store keys and handles re-serialise to what was parsed.
pub fn session_id(data: &[u8]) -> bool {
    let keys = keys();
    let expiry = Expiry::default();
    match SessionId::from_bytes(data) {
        Some(id) => {
            assert_eq!(id.expose_bytes().as_slice(), data);
            let sealed = SealedIds.seal(keys, "id", &id, NOW).expect("an id always fits");
            let opened = SealedIds.open(keys, "id", &sealed, NOW, &expiry).expect("a fresh id opens");
            assert!(opened.value == id);
            assert!(opened.value.store_key() == id.store_key());
        }
        None => assert_ne!(data.len(), crate::SESSION_ID_LEN),
    }

    let Ok(text) = std::str::from_utf8(data) else { return false };
    if let Some(key) = StoreKey::from_hex(text) {
        assert_eq!(key.to_hex(), text.to_ascii_lowercase());
        assert!(StoreKey::from_hex(&key.to_hex()) == Some(key));
        assert!(key.handle().matches(&key));
    }
    if let Some(handle) = SessionHandle::parse(text) {
        assert_eq!(handle.as_str(), text);
        assert_eq!(SessionHandle::parse(handle.as_str()).as_ref(), Some(&handle));
    }
    let Ok(opened) = SealedIds.open(keys, "id", text, NOW, &expiry) else { return false };
    let id = opened.value;
    assert_eq!(opened.resealed_from, (kid_of(text) != Some(3)).then(|| kid_of(text)).flatten());
    assert!(SealedIds.open(keys, "other", text, NOW, &expiry).is_err(), "the MAC binds the name");
    assert!(SealedIds.open(impostor_keys(), "id", text, NOW, &expiry).is_err(), "no forgery");
    let resealed = SealedIds.seal(keys, "id", &id, NOW).expect("an id always fits");
    let again = SealedIds.open(keys, "id", &resealed, NOW, &expiry).expect("re-seal opens");
    assert!(again.value == id);
    true
}

/// The keyring file (`sessionwarden-keyring/1` JSON).
///
/// Invariants: a file that parses yields a key set; written back out it parses again to the
/// same entries and the same key set (what one seals, the other opens).
pub fn keyring_file(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let path = std::path::Path::new("<fuzz>");
    let Ok(file) = KeyringFile::parse(text, path) else { return false };
    let set = file.key_set().expect("a parsed file has a key set");
    let json = file.to_json().expect("a parsed file serialises");
    let again = KeyringFile::parse(std::str::from_utf8(&json).expect("JSON is UTF-8"), path)
        .expect("what was written parses");
    let entries = |f: &KeyringFile| -> Vec<(u32, KeyState, Timestamp)> {
        f.entries().iter().map(|e| (e.kid().get(), e.state(), e.created())).collect()
    };
    assert_eq!(entries(&file), entries(&again));
    let set_again = again.key_set().expect("key set");
    assert_eq!(set.primary().id(), set_again.primary().id());
    let sealed = Envelope::seal(&set, "k", b"probe", NOW, Mode::Signed).expect("small seal");
    let opened = Envelope::open(&set_again, "k", &sealed, NOW, None).expect("same keys");
    assert_eq!(opened.payload, b"probe");
    true
}

/// A stored record ([`Record::from_bytes`], what every server-side store reads back).
///
/// Invariants: a record that decodes re-encodes and decodes to an equal record; its expiry
/// arithmetic (`expires_at`, `is_expired`, `ttl`, `touch`) never panics, even at the ends of
/// the timestamp range, and `ttl` is positive exactly when the record has not expired.
pub fn record_bytes(data: &[u8]) -> bool {
    let Ok(record) = Record::from_bytes(data) else { return false };
    let bytes = record.to_bytes().expect("a decoded record encodes");
    let again = Record::from_bytes(&bytes).expect("what was encoded decodes");
    assert!(again == record, "from_bytes(to_bytes(r)) == r");
    assert_eq!(again.to_bytes().expect("encodes"), bytes, "the encoding is stable");
    for now in [NOW, Timestamp::from_unix(i64::MIN), Timestamp::from_unix(i64::MAX), record.created] {
        let ttl = record.ttl(now);
        if let Some(ttl) = ttl {
            assert_eq!(ttl > Duration::ZERO, !record.is_expired(now), "ttl agrees with is_expired");
        } else {
            assert!(!record.is_expired(now));
        }
        let mut touched = record.clone();
        let expiry = Expiry::default().with_idle_timeout(Some(Duration::MAX)).with_absolute_timeout(None);
        touched.touch(now, &expiry);
        assert!(touched.idle_deadline.is_some_and(|d| d >= now), "a touched deadline is not before now");
    }
    true
}

/// CSRF tokens ([`crate::csrf::MaskedHmacTokens`], v1): verifies the bytes as a token for a
/// fixed session secret, and issues and verifies a token masked with the bytes.
///
/// Invariants: a token that verifies is canonical base64url of the token's length, is bound
/// to its session's secret (another secret rejects it) and to the keyring (other secrets
/// reject it); any token issued verifies, and one with any single character changed does not.
#[cfg(feature = "csrf")]
pub fn csrf_token(data: &[u8]) -> bool {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use crate::csrf::{MaskedHmacTokens, TOKEN_LEN, TokenScheme as _};
    const SECRET: [u8; 32] = [0x42; 32];
    let secret = serde_json::Value::String(URL_SAFE_NO_PAD.encode(SECRET));
    let other = serde_json::Value::String(URL_SAFE_NO_PAD.encode([0x43u8; 32]));
    let keys = keys();
    let max_age = crate::csrf::DEFAULT_MAX_AGE;

    // Issue with a mask taken from the input; it verifies, and no one-character edit does.
    let mut mask = [0u8; 45];
    for (m, d) in mask.iter_mut().zip(data) {
        *m = *d;
    }
    let secret_bytes = zeroize::Zeroizing::new(SECRET);
    let issued = crate::csrf::token::issue_masked(keys, &secret_bytes, NOW, &mask);
    assert!(MaskedHmacTokens.verify(keys, &secret, issued.as_str(), NOW, max_age).is_ok());
    if let Some(&at) = data.get(45) {
        let pos = usize::from(at) % TOKEN_LEN;
        let mut edited = issued.as_str().as_bytes().to_vec();
        edited[pos] = if edited[pos] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(edited).expect("ASCII");
        assert!(MaskedHmacTokens.verify(keys, &secret, &edited, NOW, max_age).is_err(), "an edited token");
    }

    // The input as a token. A session secret that is not one is refused, never a panic.
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let _ = MaskedHmacTokens.verify(keys, &serde_json::Value::String(text.to_owned()), text, NOW, max_age);
    if MaskedHmacTokens.verify(keys, &secret, text, NOW, max_age).is_err() {
        return false;
    }
    assert_eq!(text.len(), TOKEN_LEN);
    let decoded = URL_SAFE_NO_PAD.decode(text).expect("a verified token is base64url");
    assert_eq!(URL_SAFE_NO_PAD.encode(decoded), text, "a verified token is canonical");
    assert!(MaskedHmacTokens.verify(keys, &other, text, NOW, max_age).is_err(), "bound to its session");
    assert!(MaskedHmacTokens.verify(impostor_keys(), &secret, text, NOW, max_age).is_err(), "no forgery");
    true
}

/// `Origin` parsing and the origin / `Sec-Fetch-Site` decision. The first byte picks the
/// policy; the rest is header lines `Name: value` (one per `\n`).
///
/// Invariants: a parsed [`crate::csrf::Origin`] re-parses to itself; a request passes only if
/// it has at most one `Origin`; `Origin: null` never passes without fetch metadata; a
/// cross-site fetch passes only from a trusted origin; without fetch metadata an origin that
/// passes is the site's own or a trusted one.
#[cfg(feature = "csrf")]
pub fn csrf_origin(data: &[u8]) -> bool {
    use http::header::{HOST, ORIGIN};

    use crate::csrf::Origin;
    use crate::csrf::origin::OriginPolicy;
    let Some((&selector, rest)) = data.split_first() else { return false };
    if let Ok(text) = std::str::from_utf8(rest)
        && let Ok(origin) = Origin::parse(text)
    {
        assert_eq!(origin.as_str(), text.to_ascii_lowercase());
        assert_eq!(Origin::parse(origin.as_str()).as_ref(), Ok(&origin), "parse is idempotent");
    }
    let public = Origin::parse("https://app.example").expect("static origin");
    let trusted = Origin::parse("https://partner.example:8443").expect("static origin");
    let policy = OriginPolicy {
        public: (selector & 1 == 1).then(|| public.clone()),
        insecure_http: selector & 2 == 2,
        trusted: vec![trusted.clone()],
        strict: selector & 4 == 4,
    };
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(&line[..colon]), http::HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let uri: http::Uri = if selector & 8 == 8 { "https://app.example/form".parse() } else { "/form".parse() }
        .expect("static URI");
    let decision = policy.check(&headers, &uri);
    let Ok(()) = decision else { return false };

    let origins: Vec<&[u8]> = headers.get_all(ORIGIN).iter().map(http::HeaderValue::as_bytes).collect();
    assert!(origins.len() <= 1, "two Origin headers never pass");
    let origin = origins.first().copied();
    let is_trusted = origin == Some(trusted.as_str().as_bytes());
    match headers.get("sec-fetch-site").map(http::HeaderValue::as_bytes) {
        Some(b"same-origin" | b"none") => {}
        Some(_) => assert!(is_trusted, "a cross-site fetch passed from an untrusted origin"),
        None => match origin {
            None => assert!(!policy.strict, "strict mode passed a request with no origin"),
            Some(o) => {
                assert_ne!(o, b"null", "Origin: null passed");
                let own = match &policy.public {
                    Some(p) => p.as_str().as_bytes() == o,
                    None => {
                        let host = uri
                            .authority()
                            .map(|a| a.as_str().as_bytes().to_vec())
                            .or_else(|| headers.get(HOST).map(|h| h.as_bytes().to_vec()));
                        let scheme: &[u8] = if policy.insecure_http { b"http://" } else { b"https://" };
                        host.is_some_and(|h| [scheme, &h[..]].concat() == o)
                    }
                };
                assert!(own || is_trusted, "a foreign origin passed");
            }
        },
    }
    true
}

/// Forwarding headers behind trusted proxies (`X-Forwarded-For`, RFC 7239 `Forwarded`): the
/// header lines are the bytes after the first (one per `\n`); the first byte picks the header
/// sent, the header read and the peer.
///
/// Invariants: an untrusted peer is always the answer, whatever the headers say; a header
/// other than the configured one is never read; a problem always falls back to the peer; an
/// address taken from a header appears in it and is not a trusted proxy unless every hop was.
#[cfg(feature = "client")]
pub fn client_headers(data: &[u8]) -> bool {
    use crate::client::{AddrSource, ForwardingHeader, TrustedProxies, resolve_client_ip};
    let Some((&selector, rest)) = data.split_first() else { return false };
    let sent = if selector & 1 == 0 { "x-forwarded-for" } else { "forwarded" };
    let mut headers = http::HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(sent, value);
        }
    }
    let read = if selector & 2 == 0 { ForwardingHeader::XForwardedFor } else { ForwardingHeader::Forwarded };
    let trusted =
        TrustedProxies::new(["10.0.0.0/8", "2001:db8::/32"]).expect("static CIDRs").with_header(read);
    let peer: std::net::IpAddr = match (selector >> 2) & 3 {
        0 => [10, 0, 0, 1].into(),
        1 => std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
        2 => [203, 0, 113, 7].into(),
        _ => std::net::IpAddr::from([0x2001, 0xdb9, 0, 0, 0, 0, 0, 1]),
    };
    let got = resolve_client_ip(peer, &headers, &trusted);
    if !trusted.contains(peer) || read.name().as_str() != sent {
        assert_eq!(got.addr(), peer, "an untrusted peer, or an unread header, is the answer");
        assert_eq!(got.source(), AddrSource::Peer);
        return false;
    }
    if got.problem().is_some() {
        assert_eq!(got.addr(), peer);
        assert_eq!(got.source(), AddrSource::Peer);
        return false;
    }
    match got.source() {
        AddrSource::Peer => {
            assert_eq!(got.addr(), peer);
            false
        }
        AddrSource::Header(h) => {
            assert_eq!(h, read);
            let addr = got.addr();
            // An IPv4 client was written in the header as such (IPv6 has many spellings of
            // one address, and an IPv4-mapped one is shown as IPv4).
            let text = String::from_utf8_lossy(rest).to_ascii_lowercase();
            if addr.is_ipv4() && !text.contains("::ffff:") {
                assert!(text.contains(&addr.to_string()), "the client address comes from the header");
            }
            true
        }
    }
}

/// The `User-Agent` summariser and hash.
///
/// Invariants: summarising is deterministic, reads at most the documented prefix, and gives
/// families that are short and non-empty; the hash's text form parses back to it.
#[cfg(feature = "client")]
pub fn user_agent(data: &[u8]) -> bool {
    use crate::client::{DeviceSummary, UserAgentHash, device_summary};
    // Each summary runs a few hundred regular expressions: the repeat runs are rationed.
    let summary = device_summary(data);
    let max = crate::client::MAX_USER_AGENT_LEN;
    if data.len() > max {
        assert_eq!(summary, device_summary(&data[..max]), "only the prefix is read");
    } else if data.first().is_some_and(|b| b % 16 == 0) {
        assert_eq!(summary, device_summary(data), "deterministic");
    }
    for family in [summary.browser(), summary.os()].into_iter().flatten() {
        assert!(!family.is_empty() && family.chars().count() <= 64, "families are short and non-empty");
    }
    let rebuilt = DeviceSummary::new(summary.browser(), summary.browser_major(), summary.os());
    assert_eq!(rebuilt, summary, "a summary rebuilds from its parts");
    let hash = UserAgentHash::of(data);
    assert_eq!(hash.to_string().parse::<UserAgentHash>(), Ok(hash));
    summary.browser().is_some() || summary.os().is_some()
}

/// Seed inputs for every target above: `(target, file name, bytes)`. Names starting with
/// `valid-` must be accepted and `hostile-` ones rejected; `fuzz/corpus/<target>/` holds them
/// (written by the `fuzz_corpus` test when `SESSIONWARDEN_WRITE_FUZZ_CORPUS=1`).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let mut add =
        |target: &'static str, name: &str, bytes: Vec<u8>| out.push((target, name.to_owned(), bytes));
    let keys = keys();
    let old = Timestamp::from_unix(NOW.unix() - 3600);
    let seal_with = |set: &KeySet, name: &str, payload: &[u8], mode: Mode| {
        Envelope::seal(set, name, payload, old, mode).expect("seed seals").into_bytes()
    };
    // Key 2 sealing: a key set in which 2 is primary, with the fuzz keyring's secret for 2.
    let at = Timestamp::from_unix(1_700_000_000);
    let key2 = KeySet::new(
        vec![Key::new(KeyId::new(2), KeyState::Primary, at, &secret(2, 0)).expect("fixed secret")],
        Vec::new(),
    )
    .expect("one primary");
    let key1 = KeySet::new(
        vec![Key::new(KeyId::new(1), KeyState::Primary, at, &secret(1, 0)).expect("fixed secret")],
        Vec::new(),
    )
    .expect("one primary");

    // Envelope.
    let mut record = Record::new(old, &Expiry::default());
    record.data.insert("user".into(), serde_json::json!("admin"));
    record.data.insert("cart".into(), serde_json::json!([1, 2.5, {"sku": "x", "n": null}]));
    record.user = Some("admin".into());
    let record_json = serde_json::to_vec(&record).expect("record JSON");
    add("cookie_open", "valid-signed-record", seal_with(keys, "session", &record_json, Mode::Signed));
    add("cookie_open", "valid-encrypted-record", seal_with(keys, "session", &record_json, Mode::Encrypted));
    add("cookie_open", "valid-signed-by-verify-key", seal_with(&key2, "session", b"hello", Mode::Signed));
    add("cookie_open", "valid-encrypted-empty", seal_with(keys, "session", b"", Mode::Encrypted));
    add("cookie_open", "hostile-retired-key", seal_with(&key1, "session", b"hello", Mode::Signed));
    add("cookie_open", "hostile-other-name", seal_with(keys, "other", b"hello", Mode::Signed));
    let mut tampered = seal_with(keys, "session", b"hello", Mode::Signed);
    tampered[12] ^= 1;
    add("cookie_open", "hostile-tampered", tampered);
    add("cookie_open", "hostile-kid-overflow", b"s1.99999999999.1749996400.aGVsbG8.AAAA".to_vec());
    add(
        "cookie_open",
        "hostile-future",
        Envelope::seal(keys, "session", b"x", Timestamp::from_unix(NOW.unix() + 3600), Mode::Signed)
            .expect("seal")
            .into_bytes(),
    );
    add(
        "cookie_open",
        "hostile-expired",
        Envelope::seal(keys, "session", b"x", Timestamp::from_unix(0), Mode::Signed)
            .expect("seal")
            .into_bytes(),
    );
    add("cookie_open", "hostile-short-box", b"e1.3.1749996400.AAAA".to_vec());

    // Session ids.
    let id = SessionId::from_bytes(&[7u8; 32]).expect("32 bytes");
    add("session_id", "valid-sealed-id", SealedIds.seal(keys, "id", &id, old).expect("seal").into_bytes());
    add(
        "session_id",
        "valid-sealed-id-verify-key",
        SealedIds.seal(&key2, "id", &id, old).expect("seal").into_bytes(),
    );
    add("session_id", "hostile-raw-id", vec![7u8; 32]);
    add("session_id", "hostile-store-key-hex", id.store_key().to_hex().into_bytes());
    add("session_id", "hostile-handle", id.store_key().handle().as_str().as_bytes().to_vec());
    add("session_id", "hostile-short-payload", seal_with(keys, "id", &[7u8; 31], Mode::Signed));

    // Keyring file.
    let b64 = |kid: u32| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret(kid, 0))
    };
    let file = format!(
        r#"{{"format":"sessionwarden-keyring/1","keys":[{{"kid":1,"state":"retired","created":1,"secret":null}},{{"kid":2,"state":"verify","created":2,"secret":"{}"}},{{"kid":3,"state":"primary","created":3,"secret":"{}"}}]}}"#,
        b64(2),
        b64(3)
    );
    add("keyring_file", "valid-rotated", file.into_bytes());
    add(
        "keyring_file",
        "valid-generated",
        KeyringFile::generate(old).expect("generate").to_json().expect("json").to_vec(),
    );
    add("keyring_file", "hostile-two-primaries", format!(r#"{{"format":"sessionwarden-keyring/1","keys":[{{"kid":1,"state":"primary","created":1,"secret":"{}"}},{{"kid":2,"state":"primary","created":2,"secret":"{}"}}]}}"#, b64(1), b64(2)).into_bytes());
    add("keyring_file", "hostile-duplicate-kid", format!(r#"{{"format":"sessionwarden-keyring/1","keys":[{{"kid":1,"state":"primary","created":1,"secret":"{}"}},{{"kid":1,"state":"verify","created":2,"secret":"{}"}}]}}"#, b64(1), b64(2)).into_bytes());
    add("keyring_file", "hostile-weak-key", br#"{"format":"sessionwarden-keyring/1","keys":[{"kid":1,"state":"primary","created":1,"secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}"#.to_vec());
    add(
        "keyring_file",
        "hostile-wrong-format",
        br#"{"format":"sessionwarden-keyring/2","keys":[]}"#.to_vec(),
    );

    // Stored records.
    add("record_bytes", "valid-record", record.to_bytes().expect("bytes"));
    let mut extreme = Record::new(Timestamp::from_unix(i64::MAX), &Expiry::default());
    extreme.absolute_deadline = Some(Timestamp::from_unix(i64::MIN));
    extreme.version = u64::MAX;
    add("record_bytes", "valid-extreme-times", extreme.to_bytes().expect("bytes"));
    add("record_bytes", "hostile-version-2", br#"{"v":2,"record":{}}"#.to_vec());
    add("record_bytes", "hostile-deep", format!("{{\"v\":1,\"record\":{}}}", "[".repeat(200)).into_bytes());

    // CSRF tokens (the first 45 bytes are also the mask of the issued token).
    #[cfg(feature = "csrf")]
    {
        let secret = zeroize::Zeroizing::new([0x42u8; 32]);
        let old = Timestamp::from_unix(NOW.unix() - 600);
        let token = crate::csrf::token::issue_masked(keys, &secret, old, &[9u8; 45]);
        add("csrf_token", "valid-token", token.as_str().as_bytes().to_vec());
        let by2 = crate::csrf::token::issue_masked(&key2, &secret, old, &[0u8; 45]);
        add("csrf_token", "valid-token-verify-key", by2.as_str().as_bytes().to_vec());
        let other = zeroize::Zeroizing::new([0x43u8; 32]);
        add(
            "csrf_token",
            "hostile-other-session",
            crate::csrf::token::issue_masked(keys, &other, old, &[1u8; 45]).into_string().into_bytes(),
        );
        add(
            "csrf_token",
            "hostile-retired-key",
            crate::csrf::token::issue_masked(&key1, &secret, old, &[1u8; 45]).into_string().into_bytes(),
        );
        add(
            "csrf_token",
            "hostile-expired",
            crate::csrf::token::issue_masked(keys, &secret, Timestamp::from_unix(0), &[1u8; 45])
                .into_string()
                .into_bytes(),
        );

        add(
            "csrf_origin",
            "valid-same-origin-fetch",
            b"\x00Sec-Fetch-Site: same-origin\nOrigin: https://evil.example".to_vec(),
        );
        add(
            "csrf_origin",
            "valid-own-origin",
            b"\x00Origin: https://app.example\nHost: app.example".to_vec(),
        );
        add(
            "csrf_origin",
            "valid-trusted-cross-site",
            b"\x00Sec-Fetch-Site: cross-site\nOrigin: https://partner.example:8443".to_vec(),
        );
        add(
            "csrf_origin",
            "hostile-cross-site",
            b"\x00Sec-Fetch-Site: cross-site\nOrigin: https://evil.example".to_vec(),
        );
        add("csrf_origin", "hostile-null", b"\x00Origin: null\nHost: app.example".to_vec());
        add(
            "csrf_origin",
            "hostile-two-origins",
            b"\x00Origin: https://app.example\nOrigin: https://app.example\nHost: app.example".to_vec(),
        );
        add(
            "csrf_origin",
            "hostile-http-downgrade",
            b"\x00Origin: http://app.example\nHost: app.example".to_vec(),
        );
        add("csrf_origin", "hostile-strict-missing", b"\x04Host: app.example".to_vec());
    }

    #[cfg(feature = "client")]
    {
        add("client_headers", "valid-xff", b"\x001.1.1.1, 203.0.113.9, 10.0.0.5".to_vec());
        add(
            "client_headers",
            "valid-forwarded",
            b"\x03for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"".to_vec(),
        );
        add("client_headers", "valid-all-trusted", b"\x0010.0.0.9\n10.0.0.8".to_vec());
        add("client_headers", "hostile-untrusted-peer", b"\x081.1.1.1".to_vec());
        add("client_headers", "hostile-obfuscated", b"\x03for=_hidden, for=unknown".to_vec());
        add("client_headers", "hostile-garbage", b"\x00not an address".to_vec());
        add("client_headers", "hostile-many-hops", [&b"\x00"[..], &b"10.0.0.1,".repeat(100)].concat());

        add("user_agent", "valid-chrome", b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36".to_vec());
        add("user_agent", "valid-iphone", b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1".to_vec());
        add("user_agent", "valid-curl", b"curl/8.5.0".to_vec());
        add("user_agent", "hostile-not-utf8", b"\xff\xfe\x00garbage".to_vec());
        add("user_agent", "hostile-empty", Vec::new());
    }
    out
}

/// A target: its name and its entry point (returns whether the input was accepted).
pub type Target = (&'static str, fn(&[u8]) -> bool);

/// Every target of this crate by name, as the fuzz package and the corpus test call them.
pub fn targets() -> Vec<Target> {
    #[allow(unused_mut, reason = "extended only with the csrf or client feature")]
    let mut out: Vec<Target> = vec![
        ("cookie_open", open_cookie),
        ("session_id", session_id),
        ("keyring_file", keyring_file),
        ("record_bytes", record_bytes),
    ];
    #[cfg(feature = "csrf")]
    out.extend([("csrf_token", csrf_token as fn(&[u8]) -> bool), ("csrf_origin", csrf_origin)]);
    #[cfg(feature = "client")]
    out.extend([("client_headers", client_headers as fn(&[u8]) -> bool), ("user_agent", user_agent)]);
    out
}
