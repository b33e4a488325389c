//! Entry points for the fuzz targets in `protocol/fuzz/` and for the test that replays their corpus
//! (`tests/fuzz_corpus.rs`). Each must return normally on any input: no panic, no unbounded allocation.

use crate::link::{Arq, ArqConfig, Datagram, StreamDeframer};
use crate::stream::{decode_from_fpga, decode_to_fpga, encode_from_fpga, encode_to_fpga};

fn words(data: &[u8]) -> Vec<u64> {
    data.chunks_exact(8).map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
}

/// Decodes the bytes as word streams of both directions; whatever is accepted must re-encode exactly.
pub fn stream_decode(data: &[u8]) {
    let words = words(data);
    if let Ok(items) = decode_to_fpga(&words) {
        assert_eq!(encode_to_fpga(&items), words);
    }
    if let Ok(items) = decode_from_fpga(&words) {
        assert_eq!(encode_from_fpga(&items), words);
    }
}

/// Decodes the bytes as one UDP datagram and as a byte stream of framed datagrams.
pub fn frame_decode(data: &[u8]) {
    if let Ok(d) = Datagram::decode(data) {
        assert_eq!(d.encode(), data);
    }
    let mut deframer = StreamDeframer::new();
    for chunk in data.chunks(7) {
        let _ = deframer.push(chunk);
    }
}

/// Feeds the bytes to an ARQ endpoint as a sequence of datagrams (2-byte length prefix each) at advancing
/// times, polling it in between.
pub fn arq_receive(data: &[u8]) {
    let mut arq = Arq::new(ArqConfig { max_transmissions: 50, ..ArqConfig::default() });
    let _ = arq.send(&[1, 2, 3]);
    let (mut rest, mut now) = (data, 0u64);
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 1600;
        let body = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        if let Ok(d) = Datagram::decode(body) {
            arq.receive(d, now);
        }
        while arq.poll_transmit(now).is_some() {}
        while arq.poll_deliver().is_some() {}
        now += 300;
    }
}
