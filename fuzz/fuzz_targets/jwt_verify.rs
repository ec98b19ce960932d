//! JWT header and claims verification.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_jwt::__fuzzing::verify_token(data);
});
