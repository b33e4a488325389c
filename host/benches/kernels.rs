//! Benchmarks of the exact-model kernels `layer_forward` / `layer_backward`, and of a whole `Network` pass.
//!
//! Two workloads, both deterministic (seeded):
//! - yin-yang (ratio 2: tau_syn 1, tau_mem 2, g_leak 0.5, threshold 1), batch 150: the 4 -> 30 and 30 -> 3
//!   layers with `Shared` arrivals (no delays) and with `Offset` arrivals (synaptic delays). Inputs are the first
//!   150 samples of the yin-yang training set of `configs/yin_yang_H30_W.yaml`, weights N(0.5, 1) as that
//!   config initialises them, delays `sigmoid(N(0, 0.25^2))` as `yin_yang_H30_WS.yaml` does.
//! - 16x16 MNIST shape (ratio 1: tau 1, g_leak 1, threshold 1), batch 200: 256 -> 246 -> 10. Inputs are
//!   `0.15 + 1.85 u` with about 30% of them missing (+inf); the network is built from a YAML config (pattern
//!   data set with 10 classes) whose weight initialisation, N(0.03, 0.1^2), makes most neurons spike in the
//!   middle of the input window (about 95% of hidden and all output neurons; median times 1.4 and 1.6). The
//!   per-layer benchmarks use that network's weights and its hidden-layer output, so the two layer forwards do
//!   exactly the work of `network_forward`. The layer backwards get an error on every neuron; in
//!   `network_backward` the hidden layer gets the error propagated from the output layer.
//!
//! - Real MNIST inputs from the IDX files in `../shared/data/mnist` (skipped with a note if they are missing), in
//!   `REAL_BATCHES` batches of training images per iteration:
//!   - 16x16 MNIST as `16x16_mnist.yaml` trains it: batch 50, 256 -> 128 (weights N(1.5, 0.8^2)) -> bias spike
//!     at 0 -> 10 (N(0.5, 0.8^2)), ratio 1, threshold 1, `max_dw_norm` 0.2. Inputs `0.15 + (1 - p/255) 1.85`, a
//!     black pixel (p = 0) +inf: about 58% missing.
//!   - full MNIST as `mnist.yaml` trains it: batch 80, 784 -> 350 (N(0.05, 0.8^2)) -> 10 (N(0.15, 0.8^2)), forward
//!     by the Euler integrator (resolution 0.01, sim_time 3.5), exact backward at the integrator's times. Inputs
//!     `0.15 + (1 - p/256) 1.85`, never missing, mostly 2.0 (background).
//!
//! After each real-MNIST group the kernels are timed once more to print an estimate of one epoch's kernel time
//! (50 000 training samples forward and backward, 10 000 validation samples forward).
//!
//! Throughput is reported in samples (batch rows) per second. Run with
//! `cargo bench -p bss2-host --bench kernels` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use bss2_host::config::Config;
use bss2_host::data::mnist::{FILES, SIDE, downsample_16, find, read_images};
use bss2_host::model::integrator::integrate_forward;
use bss2_host::model::{Arrival, Matrix, NeuronParams, TauRatio, layer_backward, layer_forward};
use bss2_host::network::{ForwardOptions, Layer, Network};
use bss2_host::rng::{self, Purpose, Rng};
use bss2_host::train::evaluate::batch_inputs;
use bss2_host::train::session::Splits;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use rand::RngExt;

const SEED: u64 = 20_240_531;
const YY_BATCH: usize = 150;
const MNIST_BATCH: usize = 200;
const MNIST_INPUTS: usize = 256;
const MNIST_HIDDEN: usize = 246;
const MNIST_CLASSES: usize = 10;
/// Fraction of MNIST inputs that never spike (+inf).
const MNIST_MISSING: f64 = 0.3;

fn yin_yang_params() -> NeuronParams {
    NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, ratio: TauRatio::Two }
}

fn normal_matrix(rows: usize, cols: usize, mean: f64, std: f64, rng: &mut Rng) -> Matrix {
    let data = (0..rows * cols).map(|_| rng::normal(rng, mean, std)).collect();
    Matrix { rows, cols, data }
}

/// Synaptic delays as a `DelaySynaptic` layer with sigmoid positivity (scale 1) and N(0, 0.25^2) raw values has.
fn sigmoid_delays(rows: usize, cols: usize, rng: &mut Rng) -> Matrix {
    normal_matrix(rows, cols, 0.0, 0.25, rng).map(|x| 1.0 / (1.0 + (-x).exp()))
}

/// Fraction of finite entries.
fn finite_fraction(m: &Matrix) -> f64 {
    m.data.iter().filter(|t| t.is_finite()).count() as f64 / m.data.len().max(1) as f64
}

/// Median of the finite entries (NaN if there are none).
fn finite_median(m: &Matrix) -> f64 {
    let mut finite: Vec<f64> = m.data.iter().copied().filter(|t| t.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    finite.get(finite.len() / 2).copied().unwrap_or(f64::NAN)
}

/// An upstream error `dL/dT` with every entry nonzero, so that every spiking neuron's gradient is computed.
fn delta_for(out: &Matrix, rng: &mut Rng) -> Matrix {
    normal_matrix(out.rows, out.cols, 0.0, 0.1, rng)
}

fn bench_forward(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    p: &NeuronParams,
    weights: &Matrix,
    arrival: &Arrival,
) {
    group.bench_function(id, |b| {
        b.iter(|| layer_forward(black_box(p), black_box(weights), black_box(arrival), None));
    });
}

fn bench_backward(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    p: &NeuronParams,
    weights: &Matrix,
    arrival: &Arrival,
    out: &Matrix,
    delta: &Matrix,
) {
    // Check once outside the timing loop that the inputs give finite gradients.
    layer_backward(p, None, weights, arrival, out, delta).expect("finite gradients");
    group.bench_function(id, |b| {
        b.iter(|| {
            layer_backward(black_box(p), None, black_box(weights), black_box(arrival), black_box(out), black_box(delta))
        });
    });
}

fn yin_yang(c: &mut Criterion) {
    let config_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/yin_yang_H30_W.yaml");
    let config = Config::load(&config_path).expect("yin-yang config");
    let splits = Splits::build(&config).expect("yin-yang data");
    let indices: Vec<usize> = (0..YY_BATCH).collect();
    let inputs = batch_inputs(&splits.train, &indices);
    assert_eq!(inputs.cols, 4);

    let p = yin_yang_params();
    let mut rng = rng::stream(SEED, Purpose::Init, 1);
    let w1 = normal_matrix(4, 30, 0.5, 1.0, &mut rng);
    let w2 = normal_matrix(30, 3, 0.5, 1.0, &mut rng);
    let d1 = sigmoid_delays(4, 30, &mut rng);
    let d2 = sigmoid_delays(30, 3, &mut rng);

    let shared1 = Arrival::Shared(inputs.clone());
    let out1_shared = layer_forward(&p, &w1, &shared1, None);
    let shared2 = Arrival::Shared(out1_shared.clone());
    let out2_shared = layer_forward(&p, &w2, &shared2, None);

    let offset1 = Arrival::Offset { base: inputs, offset: d1 };
    let out1_offset = layer_forward(&p, &w1, &offset1, None);
    let offset2 = Arrival::Offset { base: out1_offset.clone(), offset: d2 };
    let out2_offset = layer_forward(&p, &w2, &offset2, None);

    for (name, out) in [
        ("shared 4x30", &out1_shared),
        ("shared 30x3", &out2_shared),
        ("offset 4x30", &out1_offset),
        ("offset 30x3", &out2_offset),
    ] {
        println!(
            "yin-yang {name}: finite outputs {:.1}% (median time {:.3})",
            100.0 * finite_fraction(out),
            finite_median(out)
        );
    }

    let delta1_shared = delta_for(&out1_shared, &mut rng);
    let delta2_shared = delta_for(&out2_shared, &mut rng);
    let delta1_offset = delta_for(&out1_offset, &mut rng);
    let delta2_offset = delta_for(&out2_offset, &mut rng);

    let mut group = c.benchmark_group("yin_yang_b150");
    group.throughput(Throughput::Elements(YY_BATCH as u64));
    bench_forward(&mut group, "forward_4x30_shared", &p, &w1, &shared1);
    bench_forward(&mut group, "forward_4x30_offset", &p, &w1, &offset1);
    bench_forward(&mut group, "forward_30x3_shared", &p, &w2, &shared2);
    bench_forward(&mut group, "forward_30x3_offset", &p, &w2, &offset2);
    bench_backward(&mut group, "backward_4x30_shared", &p, &w1, &shared1, &out1_shared, &delta1_shared);
    bench_backward(&mut group, "backward_4x30_offset", &p, &w1, &offset1, &out1_offset, &delta1_offset);
    bench_backward(&mut group, "backward_30x3_shared", &p, &w2, &shared2, &out2_shared, &delta2_shared);
    bench_backward(&mut group, "backward_30x3_offset", &p, &w2, &offset2, &out2_offset, &delta2_offset);
    group.finish();
}

/// The 16x16-MNIST network as a config: pattern data set with 10 (uniform-noise) classes, 256 inputs,
/// 246 hidden and 10 output neurons, ratio 1.
fn mnist_config() -> Config {
    let classes: String =
        (0..MNIST_CLASSES).map(|_| "  - {name: noise, type: uniform, low_bound: 0.15, high_bound: 2.0}\n").collect();
    let yaml = format!(
        "\
dataset_params:
  name: pattern
  classes:
{classes}default_neuron_params:
  g_leak: 1.0
  leak: 0.0
  max_dw_norm: null
  tau_mem: 1.0
  tau_syn: 1.0
  threshold: 1.0
network_layout:
  n_inputs: {MNIST_INPUTS}
  layers:
  - name: BroadcastLayer
  - name: NeuronLayer
    size: {MNIST_HIDDEN}
    max_num_missing_spikes: 0.5
    trainable: true
    weights_mean: 0.03
    weights_std: 0.1
  - name: BroadcastLayer
  - name: NeuronLayer
    size: {MNIST_CLASSES}
    max_num_missing_spikes: 0.0
    trainable: true
    weights_mean: 0.03
    weights_std: 0.1
training_params:
  batch_size: {MNIST_BATCH}
  batch_size_eval: {MNIST_BATCH}
  epoch_number: 1
  epoch_snapshots: []
  learning_rate: 0.005
  loss:
    type: TTFS
    xi: 0.2
  lr_scheduler:
    type: StepLR
    step_size: 20
    gamma: 0.95
  momentum: 0
  numpy_seed: 12345
  optimizer: adam
  resolution: 0.01
  sim_time: 4.0
  substrate: sim
  torch_seed: 2000
  training_noise: false
  use_forward_integrator: false
  weight_bumping_exp: true
  weight_bumping_targeted: true
  weight_bumping_value: 0.0005
"
    );
    Config::parse_str(&yaml).unwrap_or_else(|e| panic!("MNIST benchmark config: {e}\n{yaml}"))
}

/// `0.15 + 1.85 u` per input, with probability `MNIST_MISSING` replaced by +inf.
fn mnist_inputs(rng: &mut Rng) -> Matrix {
    let data = (0..MNIST_BATCH * MNIST_INPUTS)
        .map(|_| {
            let (missing, u): (f64, f64) = (rng.random(), rng.random());
            if missing < MNIST_MISSING { f64::INFINITY } else { 0.15 + 1.85 * u }
        })
        .collect();
    Matrix { rows: MNIST_BATCH, cols: MNIST_INPUTS, data }
}

fn neuron_layer(network: &Network, index: usize) -> (NeuronParams, Matrix) {
    match &network.layers[index] {
        Layer::Neuron(n) => (n.config.neuron.params, n.weights.clone()),
        other => panic!("layer {index} is a {}, not a NeuronLayer", other.name()),
    }
}

fn mnist(c: &mut Criterion) {
    let config = mnist_config();
    let network = Network::new(&config.layout, config.training.seed);
    let (p1, w1) = neuron_layer(&network, 1);
    let (p2, w2) = neuron_layer(&network, 3);
    assert_eq!((p1.ratio, w1.rows, w1.cols), (TauRatio::One, MNIST_INPUTS, MNIST_HIDDEN));
    assert_eq!((p2.ratio, w2.rows, w2.cols), (TauRatio::One, MNIST_HIDDEN, MNIST_CLASSES));

    let mut rng = rng::stream(SEED, Purpose::Init, 2);
    let inputs = mnist_inputs(&mut rng);
    let arrival1 = Arrival::Shared(inputs.clone());
    let hidden = layer_forward(&p1, &w1, &arrival1, None);
    let arrival2 = Arrival::Shared(hidden.clone());
    let output = layer_forward(&p2, &w2, &arrival2, None);
    let delta_hidden = delta_for(&hidden, &mut rng);
    let delta_output = delta_for(&output, &mut rng);

    // The network pass must do the same work as the two layers (no threshold noise, no rounding).
    let mut noise = rng::stream(SEED, Purpose::TrainingForward, 0);
    let record = network.forward(&inputs, &mut ForwardOptions { rounding: None, integrator: None, noise: &mut noise });
    assert_eq!(record.output(), &output, "network forward = layer forwards");
    network.backward(&record, &delta_output).expect("finite network gradients");
    let present = inputs.data.iter().filter(|t| t.is_finite()).count() as f64 / inputs.data.len() as f64;
    println!(
        "16x16-MNIST shape: inputs present {:.1}%; finite hidden outputs {:.1}% (median time {:.3}), \
         finite outputs {:.1}% (median time {:.3})",
        100.0 * present,
        100.0 * finite_fraction(&hidden),
        finite_median(&hidden),
        100.0 * finite_fraction(&output),
        finite_median(&output),
    );

    let mut group = c.benchmark_group("mnist16_b200");
    // Tens of milliseconds per iteration: fewer samples, one iteration each, to stay near 5 s per benchmark.
    group.sample_size(30);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(MNIST_BATCH as u64));
    bench_forward(&mut group, "forward_256x246", &p1, &w1, &arrival1);
    bench_forward(&mut group, "forward_246x10", &p2, &w2, &arrival2);
    bench_backward(&mut group, "backward_256x246", &p1, &w1, &arrival1, &hidden, &delta_hidden);
    bench_backward(&mut group, "backward_246x10", &p2, &w2, &arrival2, &output, &delta_output);
    group.bench_function("network_forward", |b| {
        b.iter(|| {
            network.forward(
                black_box(&inputs),
                &mut ForwardOptions { rounding: None, integrator: None, noise: &mut noise },
            )
        });
    });
    group.bench_function("network_backward", |b| {
        b.iter(|| network.backward(black_box(&record), black_box(&delta_output)));
    });
    group.finish();
}

/// The MNIST IDX files the tests use too.
const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/mnist");
/// Batches of real images per benchmark iteration, so that one iteration averages over different images.
const REAL_BATCHES: usize = 8;
/// Training and validation samples of one MNIST epoch.
const EPOCH_TRAIN: usize = 50_000;
const EPOCH_VALIDATION: usize = 10_000;
/// `max_dw_norm` of both MNIST configs.
const MAX_DW_NORM: f64 = 0.2;

/// tau_mem = tau_syn = 1, threshold 1: the neurons of both MNIST configs.
fn ratio_one_params() -> NeuronParams {
    NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, ratio: TauRatio::One }
}

/// The first `count` training images (28x28 bytes each), or None (with a note) without the files.
fn mnist_images(count: usize) -> Option<Vec<u8>> {
    let images = find(Path::new(MNIST_DIR), FILES[0]).and_then(|path| read_images(&path));
    match images {
        Ok(mut images) => {
            images.truncate(count * SIDE * SIDE);
            Some(images)
        }
        Err(e) => {
            println!("real-MNIST benchmarks skipped: {e}");
            None
        }
    }
}

/// 16x16 MNIST's input time of a pixel: `0.15 + (1 - p/255) 1.85`, a black pixel (p = 0) never spikes.
fn mnist16_time(pixel: u8) -> f64 {
    if pixel == 0 { f64::INFINITY } else { 0.15 + (1.0 - f64::from(pixel) / 255.0) * 1.85 }
}

/// Full MNIST's input time of a pixel: `0.15 + (1 - p/256) 1.85`, never missing.
fn mnist_time(pixel: u8) -> f64 {
    0.15 + (1.0 - f64::from(pixel) / 256.0) * 1.85
}

/// `[batch, 1 + n]`: `x` with a bias spike at time 0 appended to every row.
fn with_bias(x: &Matrix) -> Matrix {
    let data = x.data.chunks(x.cols).flat_map(|row| row.iter().copied().chain([0.0])).collect();
    Matrix { rows: x.rows, cols: x.cols + 1, data }
}

/// One neuron layer of a real network over `REAL_BATCHES` batches: its inputs, outputs and upstream errors.
struct RealLayer {
    name: String,
    p: NeuronParams,
    weights: Matrix,
    arrivals: Vec<Arrival>,
    outputs: Vec<Matrix>,
    deltas: Vec<Matrix>,
}

impl RealLayer {
    /// The layer on `inputs` (one matrix per batch); `forward` gives its output times.
    fn new(
        name: String,
        weights: Matrix,
        inputs: Vec<Matrix>,
        forward: impl Fn(&NeuronParams, &Matrix, &Arrival) -> Matrix,
        rng: &mut Rng,
    ) -> Self {
        let p = ratio_one_params();
        let arrivals: Vec<Arrival> = inputs.into_iter().map(Arrival::Shared).collect();
        let outputs: Vec<Matrix> = arrivals.iter().map(|a| forward(&p, &weights, a)).collect();
        let deltas = outputs.iter().map(|o| delta_for(o, rng)).collect();
        let all = Matrix { rows: 1, cols: 0, data: outputs.iter().flat_map(|o| o.data.iter().copied()).collect() };
        let present = arrivals
            .iter()
            .map(|a| match a {
                Arrival::Shared(x) => finite_fraction(x),
                _ => unreachable!("real layers have shared arrivals"),
            })
            .sum::<f64>()
            / arrivals.len() as f64;
        println!(
            "{name}: inputs present {:.1}%, finite outputs {:.1}% (median time {:.3})",
            100.0 * present,
            100.0 * finite_fraction(&all),
            finite_median(&all)
        );
        RealLayer { name, p, weights, arrivals, outputs, deltas }
    }

    /// The outputs, one matrix per batch.
    fn outputs(&self) -> Vec<Matrix> {
        self.outputs.clone()
    }

    fn forward_all(&self) -> Vec<Matrix> {
        self.arrivals.iter().map(|a| layer_forward(&self.p, &self.weights, a, None)).collect()
    }

    fn integrate_all(&self) -> Vec<Matrix> {
        self.arrivals.iter().map(|a| integrate_forward(&self.p, &self.weights, a, 0.01, 3.5)).collect()
    }

    fn backward_all(&self) -> Vec<Matrix> {
        let zip = self.arrivals.iter().zip(&self.outputs).zip(&self.deltas);
        zip.map(|((a, out), delta)| {
            layer_backward(&self.p, Some(MAX_DW_NORM), &self.weights, a, out, delta).expect("finite gradients").weights
        })
        .collect()
    }
}

/// Median wall time in seconds of `f` over a few runs (after one warm-up run).
fn median_seconds<T>(f: impl Fn() -> T) -> f64 {
    black_box(f());
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Prints one epoch's kernel time from the per-batch times of a training step's kernels (forward and backward)
/// and of a validation forward's, measured at `batch`.
fn print_epoch_estimate(what: &str, batch: usize, train: &[(&str, f64)], validation: &[(&str, f64)]) {
    let per_batch = |kernels: &[(&str, f64)]| kernels.iter().map(|(_, s)| s / REAL_BATCHES as f64).sum::<f64>();
    let list = |kernels: &[(&str, f64)]| {
        kernels.iter().map(|(n, s)| format!("{n} {:.2} ms", 1e3 * s / REAL_BATCHES as f64)).collect::<Vec<_>>()
    };
    let train_s = per_batch(train) * (EPOCH_TRAIN as f64 / batch as f64);
    let validation_s = per_batch(validation) * (EPOCH_VALIDATION as f64 / batch as f64);
    println!(
        "{what} epoch estimate (kernels only): training {EPOCH_TRAIN} samples at batch {batch} \
         [{}] {train_s:.2} s + validation {EPOCH_VALIDATION} forward {validation_s:.2} s = {:.2} s",
        list(train).join(", "),
        train_s + validation_s
    );
}

fn bench_real_layer(group: &mut BenchmarkGroup<'_, WallTime>, layer: &RealLayer, integrator: bool) {
    let name = &layer.name;
    if integrator {
        group.bench_function(format!("integrate_{name}"), |b| b.iter(|| layer.integrate_all()));
    } else {
        group.bench_function(format!("forward_{name}"), |b| b.iter(|| layer.forward_all()));
    }
    group.bench_function(format!("backward_{name}"), |b| b.iter(|| layer.backward_all()));
}

fn real_group<'a>(c: &'a mut Criterion, name: &str, batch: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((REAL_BATCHES * batch) as u64));
    group
}

fn mnist16_real(c: &mut Criterion) {
    const BATCH: usize = 50;
    let Some(images) = mnist_images(REAL_BATCHES * BATCH) else { return };
    let inputs: Vec<Matrix> = images
        .chunks(BATCH * SIDE * SIDE)
        .map(|batch| {
            let data = batch.chunks(SIDE * SIDE).flat_map(|image| downsample_16(image).map(mnist16_time)).collect();
            Matrix { rows: BATCH, cols: MNIST_INPUTS, data }
        })
        .collect();
    let mut rng = rng::stream(SEED, Purpose::Init, 3);
    let w1 = normal_matrix(MNIST_INPUTS, 128, 1.5, 0.8, &mut rng);
    let w2 = normal_matrix(129, MNIST_CLASSES, 0.5, 0.8, &mut rng);
    let forward = |p: &NeuronParams, w: &Matrix, a: &Arrival| layer_forward(p, w, a, None);
    let hidden = RealLayer::new("256x128".into(), w1, inputs, forward, &mut rng);
    let biased = hidden.outputs().iter().map(with_bias).collect();
    let output = RealLayer::new("129x10".into(), w2, biased, forward, &mut rng);

    let mut group = real_group(c, "mnist16_real_b50", BATCH);
    bench_real_layer(&mut group, &hidden, false);
    bench_real_layer(&mut group, &output, false);
    group.finish();

    let (f1, f2) = (median_seconds(|| hidden.forward_all()), median_seconds(|| output.forward_all()));
    let (b1, b2) = (median_seconds(|| hidden.backward_all()), median_seconds(|| output.backward_all()));
    print_epoch_estimate(
        "16x16 MNIST",
        BATCH,
        &[("forward 256x128", f1), ("forward 129x10", f2), ("backward 256x128", b1), ("backward 129x10", b2)],
        &[("forward 256x128", f1), ("forward 129x10", f2)],
    );
}

fn mnist_real(c: &mut Criterion) {
    const BATCH: usize = 80;
    const INPUTS: usize = SIDE * SIDE;
    let Some(images) = mnist_images(REAL_BATCHES * BATCH) else { return };
    let inputs: Vec<Matrix> = images
        .chunks(BATCH * INPUTS)
        .map(|batch| Matrix { rows: BATCH, cols: INPUTS, data: batch.iter().copied().map(mnist_time).collect() })
        .collect();
    let mut rng = rng::stream(SEED, Purpose::Init, 4);
    let w1 = normal_matrix(INPUTS, 350, 0.05, 0.8, &mut rng);
    let w2 = normal_matrix(350, MNIST_CLASSES, 0.15, 0.8, &mut rng);
    let integrate = |p: &NeuronParams, w: &Matrix, a: &Arrival| integrate_forward(p, w, a, 0.01, 3.5);
    let hidden = RealLayer::new("784x350".into(), w1, inputs, integrate, &mut rng);
    let output = RealLayer::new("350x10".into(), w2, hidden.outputs(), integrate, &mut rng);

    let mut group = real_group(c, "mnist_real_b80", BATCH);
    bench_real_layer(&mut group, &hidden, true);
    bench_real_layer(&mut group, &output, true);
    group.finish();

    let (f1, f2) = (median_seconds(|| hidden.integrate_all()), median_seconds(|| output.integrate_all()));
    let (b1, b2) = (median_seconds(|| hidden.backward_all()), median_seconds(|| output.backward_all()));
    print_epoch_estimate(
        "full MNIST",
        BATCH,
        &[("integrate 784x350", f1), ("integrate 350x10", f2), ("backward 784x350", b1), ("backward 350x10", b2)],
        &[("integrate 784x350", f1), ("integrate 350x10", f2)],
    );
}

criterion_group!(benches, yin_yang, mnist, mnist16_real, mnist_real);
criterion_main!(benches);
