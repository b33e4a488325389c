//! Throughput of the embedded emulator through the whole protocol path: the 4-30-3 Yin-Yang network
//! (`yin_yang_chipready_W.yaml`, 20 input copies) on the `ideal` and `default` chips, 1000 test samples per
//! iteration in batches of 200, sample windows of 7 model units (the reference's fast evaluation, 42 us per
//! sample on a real chip) and of 30 units. Each iteration is the backend's `forward`: quantising weights, building
//! the program, the link (in-process pair, ARQ), the emulator, decoding and dissecting the answer. The static
//! configuration is written once before timing, as in inference. Run with
//! `cargo bench -p bss2-host --bench chip`; the samples/s figure is criterion's element throughput.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use bss2_firmware_sim::ChipProfile;
use bss2_firmware_sim::serve::ServerFaults;
use bss2_host::chip::{Chip, ChipBackend, ChipSettings};
use bss2_host::config::Config;
use bss2_host::network::Network;
use bss2_host::train::evaluate::batch_inputs;
use bss2_host::train::session::Splits;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn throughput(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/yin_yang_chipready_W.yaml");
    let config = Config::load(&path).expect("config");
    let splits = Splits::build(&config).expect("data");
    let network = Network::new(&config.layout, 7);
    let indices: Vec<usize> = (0..1000).collect();
    let batches: Vec<_> = indices.chunks(200).map(|chunk| batch_inputs(&splits.test, chunk)).collect();
    let mut group = c.benchmark_group("chip_inference");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1000));
    for (profile, window) in [("ideal", 7.0), ("default", 7.0), ("default", 30.0)] {
        let settings = ChipSettings { window, ..ChipSettings::default() };
        let emulator = Chip::embedded(ChipProfile::builtin(profile).expect("built in"), 1, &ServerFaults::default());
        let mut chip = ChipBackend::new(&network, emulator, settings).expect("maps");
        chip.forward(&network, &batches[0]).expect("configures");
        group.bench_function(format!("{profile}_window{window}"), |b| {
            b.iter(|| {
                for inputs in &batches {
                    black_box(chip.forward(&network, inputs).expect("runs"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
