//! CSRF tokens (masked HMAC, v1).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::csrf_token(data);
});
