//! Encoding and decoding spike-heavy from-FPGA streams and to-FPGA spike trains (messages/s and bytes/s).
//!
//! `cargo bench -p bss2-protocol --bench codec`

use std::hint::black_box;

use bss2_protocol::stream::{FromFpgaDecoder, FromFpgaEncoder, Item, decode_to_fpga, encode_to_fpga};
use bss2_protocol::{FromFpga, Pack, SpikeEvent, SpikeLabel, ToFpga};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const MESSAGES: usize = 100_000;

/// Recorded spikes as a chip returns them: mostly full packs of three, some smaller, a Sysdelta now and then.
fn spike_stream() -> Vec<FromFpga> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..MESSAGES)
        .map(|i| {
            let r = next();
            if i % 50 == 49 {
                return FromFpga::Sysdelta(r as u8);
            }
            let n = [3, 3, 3, 2, 1][(r % 5) as usize];
            let spikes: Vec<SpikeEvent> = (0..n)
                .map(|k| SpikeEvent::new((r >> (8 * k)) as u8, SpikeLabel((r >> (16 + 16 * k)) as u16)))
                .collect();
            FromFpga::Spikes(Pack::new(&spikes).expect("1 to 3 spikes"))
        })
        .collect()
}

fn from_fpga(c: &mut Criterion) {
    let messages = spike_stream();
    let mut encoder = FromFpgaEncoder::new();
    for m in &messages {
        encoder.message(m);
    }
    let words = encoder.finish();
    let mut group = c.benchmark_group("from_fpga_spikes");
    group.throughput(Throughput::Bytes(8 * words.len() as u64));
    group.bench_function("encode", |b| {
        b.iter(|| {
            let mut encoder = FromFpgaEncoder::new();
            for m in black_box(&messages) {
                encoder.message(m);
            }
            encoder.finish()
        })
    });
    let mut items: Vec<Item<FromFpga>> = Vec::with_capacity(MESSAGES);
    group.bench_function("decode", |b| {
        b.iter(|| {
            items.clear();
            let mut decoder = FromFpgaDecoder::new();
            decoder.push_into(black_box(&words), &mut items).expect("valid stream");
            items.len()
        })
    });
    group.finish();
    println!("from-FPGA stream: {MESSAGES} messages in {} words ({} bytes)", words.len(), 8 * words.len());
}

fn to_fpga(c: &mut Criterion) {
    let items: Vec<Item<ToFpga>> = (0..MESSAGES as u32)
        .map(|i| {
            Item::Message(if i % 2 == 0 {
                ToFpga::WaitUntil(i * 7)
            } else {
                ToFpga::SpikePack3([SpikeLabel(i as u16), SpikeLabel((i >> 3) as u16), SpikeLabel((i >> 5) as u16)])
            })
        })
        .collect();
    let words = encode_to_fpga(&items);
    let mut group = c.benchmark_group("to_fpga_spike_train");
    group.throughput(Throughput::Bytes(8 * words.len() as u64));
    group.bench_function("encode", |b| b.iter(|| encode_to_fpga(black_box(&items))));
    group.bench_function("decode", |b| b.iter(|| decode_to_fpga(black_box(&words)).expect("valid stream")));
    group.finish();
}

criterion_group!(benches, from_fpga, to_fpga);
criterion_main!(benches);
