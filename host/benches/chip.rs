//! Throughput of the embedded emulator through the whole protocol path. Each iteration is the backend's
//! `forward`: quantising weights, building the program, the link (in-process pair, ARQ), the emulator, decoding and
//! dissecting the answer. The static configuration is written once before timing, as in inference. Run with
//! `cargo bench -p bss2-host --bench chip`; the samples/s figure is criterion's element throughput.
//!
//! - `chip_inference`: the 4-30-3 Yin-Yang network (`yin_yang_chipready_W.yaml`, 20 input copies) on the `ideal`
//!   and `default` chips, 1000 test samples per iteration in batches of 200, sample windows of 7 model units (the
//!   reference's fast evaluation, 42 us per sample on a real chip) and of 30 units.
//! - `chip_mnist16`: the 256-246-10 network of `16x16_mnist_chip.yaml` (the chip's 256 logical neurons, 256
//!   external inputs of which about 42 % spike per image) at its initial weights on the real test images, 1000 per
//!   iteration in one batch (the config's evaluation batch), windows of 7 units, `ideal` and `default` chips. The
//!   MNIST files come from `$BSS2_MNIST_DIR`, else `../shared/data/mnist` next to the repository; without them the
//!   group is skipped.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bss2_firmware_sim::ChipProfile;
use bss2_firmware_sim::serve::ServerFaults;
use bss2_host::chip::{Chip, ChipBackend, ChipSettings};
use bss2_host::config::Config;
use bss2_host::data::{Split, mnist};
use bss2_host::model::Matrix;
use bss2_host::network::Network;
use bss2_host::train::evaluate::batch_inputs;
use bss2_host::train::session::Splits;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

/// Benchmarks `forward` over all `batches` for each (profile, window).
fn cases(group: &mut BenchmarkGroup<WallTime>, network: &Network, batches: &[Matrix], cases: &[(&str, f64)]) {
    for &(profile, window) in cases {
        let settings = ChipSettings { window, ..ChipSettings::default() };
        let emulator = Chip::embedded(ChipProfile::builtin(profile).expect("built in"), 1, &ServerFaults::default());
        let mut chip = ChipBackend::new(network, emulator, settings).expect("maps");
        chip.forward(network, &batches[0]).expect("configures");
        group.bench_function(format!("{profile}_window{window}"), |b| {
            b.iter(|| {
                for inputs in batches {
                    black_box(chip.forward(network, inputs).expect("runs"));
                }
            })
        });
    }
}

fn yin_yang(c: &mut Criterion) {
    let config = Config::load(&configs().join("yin_yang_chipready_W.yaml")).expect("config");
    let splits = Splits::build(&config).expect("data");
    let network = Network::new(&config.layout, 7);
    let indices: Vec<usize> = (0..1000).collect();
    let batches: Vec<_> = indices.chunks(200).map(|chunk| batch_inputs(&splits.test, chunk)).collect();
    let mut group = c.benchmark_group("chip_inference");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1000));
    cases(&mut group, &network, &batches, &[("ideal", 7.0), ("default", 7.0), ("default", 30.0)]);
    group.finish();
}

fn mnist16(c: &mut Criterion) {
    let dir = std::env::var_os(mnist::DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mnist"), PathBuf::from);
    mnist::set_data_dir(dir.clone());
    let config = match Config::load(&configs().join("16x16_mnist_chip.yaml")) {
        Ok(config) => config,
        Err(e) => {
            println!("chip_mnist16 skipped: no MNIST files in {} ({e})", dir.display());
            return;
        }
    };
    let seed = config.training.numpy_seed.unwrap_or(config.training.seed);
    let test = config.dataset.spec().build(Split::Test, seed).expect("MNIST test split");
    let network = Network::new(&config.layout, 7);
    let batch: Vec<usize> = (0..1000).collect();
    let batches = [batch_inputs(&test, &batch)];
    let window = 7.0;
    // The experiment's duration on the chip's clock: per program the quiet offset, then one window per sample.
    let settings = ChipSettings { window, ..ChipSettings::default() };
    let program_us = settings.offset_us + batch.len() as f64 * window * settings.scales.time_unit_us;
    println!("chip_mnist16: 10 000 test images take {:.3} s of emulated chip time", 10.0 * program_us * 1e-6);
    let mut group = c.benchmark_group("chip_mnist16");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(batch.len() as u64));
    cases(&mut group, &network, &batches, &[("ideal", window), ("default", window)]);
    group.finish();
}

criterion_group!(benches, yin_yang, mnist16);
criterion_main!(benches);
