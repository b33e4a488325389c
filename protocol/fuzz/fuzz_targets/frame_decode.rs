//! Run from protocol/fuzz (stable Rust, so no sanitizer: `-s none`; `cargo install cargo-fuzz --locked` first):
//!     cargo fuzz run -s none frame_decode -- -runs=10000
//! Give a scratch directory first to keep new inputs out of the committed seeds:
//!     cargo fuzz run -s none frame_decode /tmp/fuzz-frame_decode corpus/frame_decode -- -max_total_time=60
//! CI does not run cargo-fuzz: tests/fuzz_corpus.rs replays corpus/frame_decode/ through the same function.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bss2_protocol::fuzzing::frame_decode(data));
