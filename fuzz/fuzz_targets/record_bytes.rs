//! Stored session records (`Record::from_bytes`) and their expiry arithmetic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::record_bytes(data);
});
