//! `cargo fuzz run -s none frame_decode` (from protocol/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bss2_protocol::fuzzing::frame_decode(data));
