//! `cargo fuzz run -s none arq_receive` (from protocol/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bss2_protocol::fuzzing::arq_receive(data));
