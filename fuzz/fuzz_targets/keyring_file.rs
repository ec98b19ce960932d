//! The keyring file (`sessionwarden-keyring/1` JSON).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::keyring_file(data);
});
