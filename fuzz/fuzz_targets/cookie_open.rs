//! sessionwarden's own cookie envelope (signed and encrypted), and whole-record cookies.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::open_cookie(data);
});
