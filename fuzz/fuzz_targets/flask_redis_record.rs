//! Flask-Session Redis records: MessagePack (with the timestamp extension), JSON, pickle sniffing.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sessionwarden_flask::__fuzzing::decode_redis_record(data));
