//! `Origin` parsing and the origin / `Sec-Fetch-Site` decision.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::csrf_origin(data);
});
