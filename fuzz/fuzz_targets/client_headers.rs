//! Forwarding headers behind trusted proxies (`X-Forwarded-For`, RFC 7239 `Forwarded`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::client_headers(data);
});
