//! Forwarding headers behind trusted proxies (`X-Forwarded-For`, RFC 7239 `Forwarded`) and
//! `User-Agent` summaries.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessionwarden::__fuzzing::client_headers(data));
