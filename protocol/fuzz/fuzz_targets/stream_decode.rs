//! `cargo fuzz run -s none stream_decode` (from protocol/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bss2_protocol::fuzzing::stream_decode(data));
