//! sessionwarden's own cookie envelope.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessionwarden::__fuzzing::open_cookie(data));
