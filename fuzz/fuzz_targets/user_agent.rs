//! `User-Agent` summaries and hashes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::user_agent(data);
});
