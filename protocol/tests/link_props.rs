//! Property tests of the link framing: datagrams and byte-stream frames round-trip (also when the stream arrives
//! in arbitrary pieces), every datagram the decoder accepts re-encodes to exactly its bytes, and damage to a byte
//! stream costs at most the damaged frame and its successor.

use bss2_protocol::link::frame::{MAX_PDU_WORDS, PTYPE_UT};
use bss2_protocol::link::{Datagram, Frame, StreamDeframer, encode_stream_frame};
use proptest::prelude::*;

fn datagram() -> impl Strategy<Value = Datagram> {
    let frame = (any::<u32>(), any::<u32>(), prop_oneof![Just(PTYPE_UT), any::<u16>()], 0..=MAX_PDU_WORDS)
        .prop_flat_map(|(ack, seq, ptype, len)| {
            proptest::collection::vec(any::<u64>(), len).prop_map(move |words| Frame { ack, seq, ptype, words })
        });
    prop_oneof![1 => any::<u32>().prop_map(Datagram::Ack), 4 => frame.prop_map(Datagram::Frame)]
}

/// Small datagrams, so that a stream holds many of them.
fn small_datagram() -> impl Strategy<Value = Datagram> {
    let frame = (any::<u32>(), 0u32..256, proptest::collection::vec(any::<u64>(), 0..6))
        .prop_map(|(ack, seq, words)| Frame { ack, seq, ptype: PTYPE_UT, words });
    prop_oneof![any::<u32>().prop_map(Datagram::Ack), frame.prop_map(Datagram::Frame)]
}

/// Byte strings near valid datagrams (encodings with a byte changed, cut or appended) and plain random bytes.
fn datagram_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let mutated = (datagram(), any::<prop::sample::Index>(), any::<u8>(), 0u8..4).prop_map(|(d, at, byte, how)| {
        let mut bytes = d.encode();
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.truncate(i),
            2 => bytes.push(byte),
            _ => {}
        }
        bytes
    });
    prop_oneof![mutated, proptest::collection::vec(any::<u8>(), 0..40)]
}

fn framed(datagrams: &[Datagram]) -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut ends = Vec::new();
    for d in datagrams {
        encode_stream_frame(d, &mut bytes);
        ends.push(bytes.len());
    }
    (bytes, ends)
}

/// Deframes `bytes` pushed in pieces cut at the given (sorted, deduplicated) offsets.
fn deframe_in_pieces(
    bytes: &[u8],
    cuts: &[prop::sample::Index],
) -> Vec<Result<Datagram, bss2_protocol::link::FrameError>> {
    let mut offsets: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    offsets.extend([0, bytes.len()]);
    offsets.sort_unstable();
    offsets.dedup();
    let mut deframer = StreamDeframer::new();
    offsets.windows(2).flat_map(|w| deframer.push(&bytes[w[0]..w[1]])).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn datagrams_round_trip(d in datagram()) {
        let bytes = d.encode();
        prop_assert_eq!(bytes.len(), match &d { Datagram::Ack(_) => 4, Datagram::Frame(f) => 12 + 8 * f.words.len() });
        prop_assert_eq!(Datagram::decode(&bytes), Ok(d));
    }

    #[test]
    fn accepted_datagrams_re_encode_exactly(bytes in datagram_like_bytes()) {
        if let Ok(d) = Datagram::decode(&bytes) {
            prop_assert_eq!(d.encode(), bytes);
        }
    }

    #[test]
    fn stream_frames_round_trip_in_any_pieces(
        datagrams in proptest::collection::vec(datagram(), 0..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let (bytes, _) = framed(&datagrams);
        let got = deframe_in_pieces(&bytes, &cuts);
        prop_assert_eq!(got, datagrams.into_iter().map(Ok).collect::<Vec<_>>());
    }

    /// A flipped bit or a lost byte in frame k loses at most frames k and k+1 (the terminator of k may be the
    /// damaged byte, merging the two); everything else decodes, and nothing is delivered that was not sent.
    #[test]
    fn stream_damage_is_contained(
        datagrams in proptest::collection::vec(small_datagram(), 1..20),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        lose in any::<bool>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let (mut bytes, ends) = framed(&datagrams);
        let position = at.index(bytes.len());
        let damaged = ends.iter().position(|&end| position < end).unwrap();
        if lose {
            bytes.remove(position);
        } else {
            bytes[position] ^= 1 << bit;
        }
        let got: Vec<Datagram> = deframe_in_pieces(&bytes, &cuts).into_iter().filter_map(Result::ok).collect();
        let expected: Vec<&Datagram> =
            datagrams.iter().enumerate().filter(|&(i, _)| i != damaged && i != damaged + 1).map(|(_, d)| d).collect();
        // `got` is a subsequence of `datagrams` that contains every undamaged frame.
        let mut sent = datagrams.iter();
        for d in &got {
            prop_assert!(sent.any(|s| s == d), "{d:?} was not sent, or not in this order");
        }
        for d in expected {
            prop_assert!(got.contains(d), "undamaged {d:?} was lost");
        }
    }
}
