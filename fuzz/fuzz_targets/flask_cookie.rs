//! Flask session cookies: signature, timestamp, base64, zlib, Python JSON, tag untagging.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_flask::__fuzzing::decode_cookie(data);
});
