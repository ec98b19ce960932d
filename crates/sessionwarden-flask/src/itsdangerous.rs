//! The parts of itsdangerous 2.2 that Flask, Flask-Session and Flask-WTF use.
//!
//! HMAC-SHA1 appears here only because these libraries use it; nothing else in sessionwarden
//! should. Decoding is stricter than itsdangerous: base64 must be canonical URL-safe without
//! padding (itsdangerous also takes `=` and `+/`, which Flask never writes).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha1::{Digest as _, Sha1};

use crate::{Error, SecretKey};

type HmacSha1 = Hmac<Sha1>;

/// Longest cookie or token accepted. Browsers store about 4 KiB per cookie.
pub(crate) const MAX_INPUT: usize = 4096;
/// Largest inflated payload accepted (zip-bomb guard).
pub(crate) const MAX_INFLATED: usize = 64 * 1024;
/// Length of an HMAC-SHA1 signature in b64url: 20 bytes -> 27 characters.
const SIG_B64_LEN: usize = 27;

/// A derived itsdangerous signing key, ready to MAC.
#[derive(Clone)]
pub(crate) struct SigningKey(HmacSha1);

impl SigningKey {
    /// itsdangerous `key_derivation="hmac"`: HMAC-SHA1(key = secret, msg = salt).
    pub(crate) fn derive_hmac(secret: &SecretKey, salt: &[u8]) -> Self {
        let derived = hmac_sha1(secret.as_bytes()).chain_update(salt).finalize().into_bytes();
        Self(hmac_sha1(&derived))
    }

    /// itsdangerous `key_derivation="django-concat"` (its default): SHA1(salt + "signer" + secret).
    pub(crate) fn derive_django_concat(secret: &SecretKey, salt: &[u8]) -> Self {
        let derived =
            Sha1::new().chain_update(salt).chain_update(b"signer").chain_update(secret.as_bytes()).finalize();
        Self(hmac_sha1(&derived))
    }

    /// The b64url signature of `value`.
    pub(crate) fn signature(&self, value: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.0.clone().chain_update(value).finalize().into_bytes())
    }

    /// Constant-time check of a decoded signature.
    fn verify(&self, value: &[u8], sig: &[u8]) -> bool {
        self.0.clone().chain_update(value).verify_slice(sig).is_ok()
    }
}

impl fmt::Debug for SigningKey {
    /// Leaves out the derived key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

fn hmac_sha1(key: &[u8]) -> HmacSha1 {
    // invariant: HMAC takes keys of any length, so this never fails.
    HmacSha1::new_from_slice(key).expect("hmac accepts any key length")
}

/// `Signer.unsign`: splits at the last `.`, tries each key in order, returns the signed part.
pub(crate) fn unsign<'a>(keys: &[SigningKey], signed: &'a str) -> Result<&'a str, Error> {
    unsign_with_index(keys, signed).map(|(value, _)| value)
}

/// [`unsign`], also returning the index in `keys` of the key that verified.
pub(crate) fn unsign_with_index<'a>(keys: &[SigningKey], signed: &'a str) -> Result<(&'a str, usize), Error> {
    let (value, sig) = signed.rsplit_once('.').ok_or(Error::Malformed { what: "no '.' separator" })?;
    if sig.len() != SIG_B64_LEN {
        return Err(Error::BadSignature);
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| Error::BadSignature)?;
    match keys.iter().position(|k| k.verify(value.as_bytes(), &sig)) {
        Some(index) => Ok((value, index)),
        None => Err(Error::BadSignature),
    }
}

/// `TimestampSigner.unsign` after the signature check: splits off and checks the timestamp.
///
/// `max_age = None` means no age limit (but a future timestamp is still refused only when a
/// limit is set, as in itsdangerous).
pub(crate) fn check_timestamp(value: &str, now: u64, max_age: Option<u64>) -> Result<&str, Error> {
    check_timestamp_at(value, now, max_age).map(|(payload, _)| payload)
}

/// [`check_timestamp`], also returning the signing time.
pub(crate) fn check_timestamp_at(value: &str, now: u64, max_age: Option<u64>) -> Result<(&str, u64), Error> {
    let (payload, ts) = value.rsplit_once('.').ok_or(Error::Malformed { what: "timestamp missing" })?;
    let raw = URL_SAFE_NO_PAD.decode(ts).map_err(|_| Error::Malformed { what: "timestamp is not base64" })?;
    // itsdangerous unpacks ">Q" after left-padding: up to 8 bytes, leading zeros allowed.
    if raw.is_empty() || raw.len() > 8 {
        return Err(Error::Malformed { what: "timestamp length" });
    }
    let signed_at = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if let Some(max_age) = max_age {
        if signed_at > now {
            return Err(Error::FromFuture { ahead: signed_at - now });
        }
        let age = now - signed_at;
        if age > max_age {
            return Err(Error::Expired { age, max_age });
        }
    }
    Ok((payload, signed_at))
}

/// b64url of the big-endian seconds with leading zero bytes removed (`int_to_bytes`).
pub(crate) fn encode_timestamp(now: u64) -> String {
    let bytes = now.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    URL_SAFE_NO_PAD.encode(&bytes[first..])
}

/// `URLSafeSerializerMixin.dump_payload`: zlib only if shorter by at least 2 bytes, then a
/// leading `.` marks it.
pub(crate) fn dump_payload(json: &[u8]) -> String {
    match deflate(json) {
        Some(c) if c.len() < json.len().saturating_sub(1) => {
            format!(".{}", URL_SAFE_NO_PAD.encode(c))
        }
        _ => URL_SAFE_NO_PAD.encode(json),
    }
}

/// `URLSafeSerializerMixin.load_payload`: base64, then inflate if it had the `.` marker,
/// never producing more than [`MAX_INFLATED`] bytes.
pub(crate) fn load_payload(payload: &str) -> Result<Vec<u8>, Error> {
    let (compressed, b64) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let raw = URL_SAFE_NO_PAD.decode(b64).map_err(|_| Error::Base64 { part: "payload" })?;
    if !compressed {
        return Ok(raw);
    }
    inflate(&raw)
}

thread_local! {
    /// One deflate state per thread (zlib level 6, Python's `zlib.compress` default), reset
    /// for each cookie: a fresh one allocates and zeroes a few hundred KiB.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::default(), true));
}

/// zlib-compresses `data` whole; `None` only if zlib reports an error.
fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    use flate2::{FlushCompress, Status};
    DEFLATE.with(|cell| {
        let mut z = cell.borrow_mut();
        z.reset();
        let mut out = Vec::with_capacity(data.len() + 64);
        loop {
            let (in_before, out_before) = (z.total_in(), z.total_out());
            let rest = data.get(usize::try_from(in_before).ok()?..)?;
            if z.compress_vec(rest, &mut out, FlushCompress::Finish).ok()? == Status::StreamEnd {
                return Some(out);
            }
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            } else if z.total_in() == in_before && z.total_out() == out_before {
                return None;
            }
        }
    })
}

thread_local! {
    /// One inflate state per thread, reset for each cookie: a fresh state (and the reader's
    /// buffer) cost more to allocate and zero than a small cookie costs to inflate.
    static INFLATE: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(true));
}

/// Inflates a zlib stream into at most [`MAX_INFLATED`] bytes. Bytes after the end of the
/// stream are ignored, as Flask's `zlib.decompress` does not see them either (itsdangerous
/// only compresses whole payloads).
fn inflate(raw: &[u8]) -> Result<Vec<u8>, Error> {
    use flate2::{FlushDecompress, Status};
    const LIMIT: usize = MAX_INFLATED + 1;
    INFLATE.with(|cell| {
        let mut z = cell.borrow_mut();
        z.reset(true);
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4).clamp(256, LIMIT));
        loop {
            let (in_before, out_before) = (z.total_in(), z.total_out());
            let consumed = usize::try_from(in_before).map_err(|_| Error::Zlib)?;
            let rest = raw.get(consumed..).ok_or(Error::Zlib)?;
            let status =
                z.decompress_vec(rest, &mut out, FlushDecompress::Finish).map_err(|_| Error::Zlib)?;
            if out.len() > MAX_INFLATED {
                return Err(Error::TooLarge { limit: MAX_INFLATED });
            }
            if status == Status::StreamEnd {
                return Ok(out);
            }
            if out.len() == out.capacity() {
                // Out of room: grow, but never past the limit (+1 to see it exceeded).
                if out.capacity() >= LIMIT {
                    return Err(Error::TooLarge { limit: MAX_INFLATED });
                }
                out.reserve_exact(out.capacity().min(LIMIT - out.capacity()));
            } else if z.total_in() == in_before && z.total_out() == out_before {
                // Room to write, yet no progress: the stream is truncated.
                return Err(Error::Zlib);
            }
        }
    })
}

/// Refuses inputs longer than [`MAX_INPUT`] before any work is done.
pub(crate) fn check_len(input: &str) -> Result<(), Error> {
    if input.len() > MAX_INPUT {
        return Err(Error::TooLong { len: input.len(), max: MAX_INPUT });
    }
    if input.is_empty() {
        return Err(Error::Malformed { what: "empty input" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn deflate_matches_a_fresh_encoder_and_round_trips() {
        for data in [&b""[..], b"{}", &[b'x'; 5000], b"{\"user\":\"alice\",\"cart\":[1,2,3,4,5,6,7,8]}"] {
            // Twice: the reused state must give what a fresh encoder gives, every time.
            assert_eq!(deflate(data).unwrap(), zlib(data));
            assert_eq!(deflate(data).unwrap(), zlib(data));
            assert_eq!(inflate(&deflate(data).unwrap()).unwrap(), data);
        }
    }

    #[test]
    fn inflate_bounds_and_truncation() {
        // Exactly at the limit: accepted, whole.
        let at = vec![b'a'; MAX_INFLATED];
        assert_eq!(inflate(&zlib(&at)).unwrap(), at);
        // One byte over: refused, without producing more.
        let over = vec![b'a'; MAX_INFLATED + 1];
        assert!(matches!(inflate(&zlib(&over)), Err(Error::TooLarge { .. })));
        // A truncated stream is an error, not a loop or a partial payload.
        let whole = zlib(b"{\"user\":\"alice\",\"n\":[1,2,3]}");
        for cut in [0, 1, 2, whole.len() / 2, whole.len() - 1] {
            assert!(matches!(inflate(&whole[..cut]), Err(Error::Zlib)), "cut at {cut}");
        }
        // Garbage, then a good stream: the per-thread state is reset between calls.
        assert!(matches!(inflate(b"\x78\x9c\xff\xff\xff\xff"), Err(Error::Zlib)));
        assert_eq!(inflate(&whole).unwrap(), b"{\"user\":\"alice\",\"n\":[1,2,3]}");
    }

    #[test]
    fn timestamps_are_minimal_big_endian() {
        assert_eq!(encode_timestamp(1_767_225_600), "aVW5AA");
        assert_eq!(check_timestamp("x.aVW5AA", 1_767_225_600, Some(0)).unwrap(), "x");
        // Leading zero bytes are accepted, as itsdangerous does.
        assert_eq!(check_timestamp("x.AGlVuQA", 1_767_225_600, Some(0)).unwrap(), "x");
        assert!(check_timestamp("x.AAAAAAAAAAAA", 0, Some(0)).is_err());
    }

    #[test]
    fn zlib_trailing_garbage_and_bombs_are_refused() {
        let big = vec![b'a'; MAX_INFLATED + 10];
        let bomb = dump_payload(&big);
        assert!(bomb.starts_with('.'));
        assert_eq!(load_payload(&bomb), Err(Error::TooLarge { limit: MAX_INFLATED }));
        assert_eq!(load_payload(".AAAA"), Err(Error::Zlib));
    }
}
