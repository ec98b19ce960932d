//! Session-id cookies of the server-side stores, hex store keys, admin session handles.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_tower::__fuzzing::session_id(data);
});
