//! Flask-Session Redis records (MessagePack, JSON, pickle sniffing) and signed sids.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sessionwarden_flask::__fuzzing::decode_redis_record(data);
});
