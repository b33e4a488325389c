//! Property tests of both word streams: every message and stream round-trips, and re-encoding whatever the
//! decoders accept gives back exactly the same words.

use bss2_protocol::stream::{Item, decode_from_fpga, decode_to_fpga, encode_from_fpga, encode_to_fpga};
use bss2_protocol::text::{format_from_fpga, format_to_fpga, parse_from_fpga, parse_to_fpga};
use bss2_protocol::{FromFpga, Loopback, MadcSample, Pack, SpikeEvent, SpikeLabel, ToFpga};
use proptest::prelude::*;

fn label() -> impl Strategy<Value = SpikeLabel> {
    any::<u16>().prop_map(SpikeLabel)
}

fn loopback() -> impl Strategy<Value = Loopback> {
    prop_oneof![Just(Loopback::Halt), Just(Loopback::Tick)]
}

fn to_fpga() -> impl Strategy<Value = ToFpga> {
    prop_oneof![
        Just(ToFpga::JtagInit),
        any::<u8>().prop_map(ToFpga::JtagScaler),
        (0u8..128).prop_map(ToFpga::JtagIns),
        (any::<bool>(), 3u8..=33, 0u64..(1 << 33)).prop_map(|(keep_response, num_bits, data)| ToFpga::JtagData {
            keep_response,
            num_bits,
            data
        }),
        Just(ToFpga::TimerSetup),
        any::<u32>().prop_map(ToFpga::WaitUntil),
        any::<bool>().prop_map(ToFpga::SystimeInit),
        (0u8..32).prop_map(ToFpga::Barrier),
        any::<bool>().prop_map(ToFpga::PollingOmnibusBlock),
        any::<bool>().prop_map(ToFpga::Reset),
        loopback().prop_map(ToFpga::Loopback),
        (any::<u32>(), 0u8..16, any::<bool>()).prop_map(|(address, byte_enables, is_read)| ToFpga::OmnibusAddress {
            address,
            byte_enables,
            is_read
        }),
        any::<u32>().prop_map(ToFpga::OmnibusData),
        label().prop_map(|a| ToFpga::SpikePack1([a])),
        (label(), label()).prop_map(|(a, b)| ToFpga::SpikePack2([a, b])),
        (label(), label(), label()).prop_map(|(a, b, c)| ToFpga::SpikePack3([a, b, c])),
    ]
}

fn from_fpga() -> impl Strategy<Value = FromFpga> {
    let spike = (any::<u8>(), label()).prop_map(|(timestamp, label)| SpikeEvent::new(timestamp, label));
    let sample = (any::<u8>(), 0u16..(1 << 14)).prop_map(|(timestamp, field)| MadcSample::new(timestamp, field));
    prop_oneof![
        (0u64..(1 << 33)).prop_map(FromFpga::JtagData),
        any::<u32>().prop_map(FromFpga::OmnibusData),
        loopback().prop_map(FromFpga::Loopback),
        any::<u8>().prop_map(FromFpga::HighspeedLinkNotification),
        (any::<u32>(), 0u8..128, 0u8..64).prop_map(|(instruction, stalls, reads_in_flight)| {
            FromFpga::TimeoutNotification { instruction, stalls, reads_in_flight }
        }),
        (0u64..(1 << 43)).prop_map(FromFpga::Systime),
        any::<u8>().prop_map(FromFpga::Sysdelta),
        proptest::collection::vec(sample, 1..=3).prop_map(|s| FromFpga::Madc(Pack::new(&s).unwrap())),
        proptest::collection::vec(spike, 1..=3).prop_map(|s| FromFpga::Spikes(Pack::new(&s).unwrap())),
    ]
}

/// A from-FPGA stream of messages with some flushes and filler words in between.
fn from_items() -> impl Strategy<Value = Vec<Item<FromFpga>>> {
    proptest::collection::vec((from_fpga(), 0u8..10), 0..40).prop_map(|entries| {
        let mut items = Vec::new();
        for (message, extra) in entries {
            items.push(Item::Message(message));
            match extra {
                0 => items.push(Item::Flush),
                1 => items.push(Item::Filler(0x8000_0000_0000_0000 | u64::from(message.header()))),
                _ => {}
            }
        }
        items
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn to_fpga_messages_round_trip(m in to_fpga()) {
        prop_assert_eq!(ToFpga::decode(m.encode()), Ok(m));
        let item = Item::Message(m);
        prop_assert_eq!(parse_to_fpga(&format_to_fpga(&item)), Ok(item));
    }

    #[test]
    fn from_fpga_streams_round_trip(items in from_items()) {
        let words = encode_from_fpga(&items);
        let decoded = decode_from_fpga(&words).unwrap();
        prop_assert_eq!(&encode_from_fpga(&decoded), &words);
        let messages = |v: &[Item<FromFpga>]| v.iter().filter(|i| matches!(i, Item::Message(_))).copied().collect::<Vec<_>>();
        prop_assert_eq!(messages(&decoded), messages(&items));
        for item in &decoded {
            prop_assert_eq!(parse_from_fpga(&format_from_fpga(item)), Ok(*item));
        }
    }

    /// Feeding the words in arbitrary pieces decodes the same items as feeding them at once.
    #[test]
    fn decoding_in_pieces_equals_decoding_at_once(items in from_items(), cuts in proptest::collection::vec(0usize..6, 0..30)) {
        let words = encode_from_fpga(&items);
        let whole = decode_from_fpga(&words).unwrap();
        let mut decoder = bss2_protocol::stream::FromFpgaDecoder::new();
        let (mut pieces, mut at) = (Vec::new(), 0);
        for cut in cuts {
            let end = (at + cut).min(words.len());
            pieces.extend(decoder.push(&words[at..end]).unwrap());
            at = end;
        }
        pieces.extend(decoder.push(&words[at..]).unwrap());
        decoder.finish().unwrap();
        prop_assert_eq!(pieces, whole);
    }

    /// Whatever word streams the decoders accept, they re-encode to the same words.
    #[test]
    fn accepted_word_streams_re_encode_exactly(words in proptest::collection::vec(any::<u64>(), 0..12)) {
        if let Ok(items) = decode_to_fpga(&words) {
            prop_assert_eq!(encode_to_fpga(&items), words.clone());
        }
        if let Ok(items) = decode_from_fpga(&words) {
            prop_assert_eq!(encode_from_fpga(&items), words);
        }
    }

    /// Valid streams with a few flipped bits: whatever is still accepted re-encodes exactly.
    #[test]
    fn near_valid_from_fpga_streams_re_encode_exactly(
        items in from_items(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u32..64), 0..3),
    ) {
        let mut words = encode_from_fpga(&items);
        for (index, bit) in flips {
            if !words.is_empty() {
                let i = index.index(words.len());
                words[i] ^= 1 << bit;
            }
        }
        if let Ok(decoded) = decode_from_fpga(&words) {
            prop_assert_eq!(encode_from_fpga(&decoded), words);
        }
    }
}
