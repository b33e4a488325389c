//! Replays the committed fuzz corpus (`protocol/fuzz/corpus/<target>/`) through the fuzz targets' entry points,
//! so CI checks them without cargo-fuzz; plus a few thousand random inputs per target.

use std::path::Path;

use bss2_protocol::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        run(&data);
        count += 1;
    }
    assert!(count > 0, "empty corpus for {target}");
    // Random inputs of many sizes, seeded.
    let mut state = 0x1234_5678_9ABC_DEF0u64;
    for len in 0..3000 {
        let data: Vec<u8> = (0..len % 400)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        run(&data);
    }
}

#[test]
fn stream_decode_corpus() {
    replay("stream_decode", fuzzing::stream_decode);
}

#[test]
fn frame_decode_corpus() {
    replay("frame_decode", fuzzing::frame_decode);
}

#[test]
fn arq_receive_corpus() {
    replay("arq_receive", fuzzing::arq_receive);
}
