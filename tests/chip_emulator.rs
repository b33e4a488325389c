//! The chip backend on the embedded emulator against the host's exact model: random single layers on the
//! `ideal` chip give the model's spike times to within one 8 ns tick, and the reference's chip-ready network
//! reproduces its published test outputs.

use bss2_firmware_sim::ChipProfile;
use bss2_firmware_sim::serve::ServerFaults;
use bss2_host::chip::{Chip, ChipBackend, ChipSettings};
use bss2_host::config::Config;
use bss2_host::data::Split;
use bss2_host::forward::Placement;
use bss2_host::inference;
use bss2_host::model::Matrix;
use bss2_host::network::{ForwardOptions, Layer, Network};
use bss2_host::train::run_dir::RunDir;
use proptest::prelude::*;

mod common;

const CHIP_READY: &str = include_str!("../configs/yin_yang_chipready_W.yaml");

/// The chip-ready config (4 inputs) with bias spikes at `biases`, a NeuronLayer of `size` neurons (the layer under
/// test) and the 3 outputs the data set needs.
/// The embedded emulator with the ideal profile, chip seed 1.
fn ideal() -> Chip {
    Chip::embedded(ChipProfile::ideal(), 1, &ServerFaults::default())
}

fn single_layer_config(biases: &[f64], size: usize, ratio_two: bool, threshold: f64) -> Config {
    let mut doc: yaml_serde::Value = yaml_serde::from_str(CHIP_READY).unwrap();
    let (tau_mem, g_leak) = if ratio_two { (2.0, 0.5) } else { (1.0, 1.0) };
    let params = format!(
        "{{tau_syn: 1.0, tau_mem: {tau_mem}, g_leak: {g_leak}, leak: 0.0, threshold: {threshold}, max_dw_norm: null}}"
    );
    doc["default_neuron_params"] = yaml_serde::from_str(&params).unwrap();
    let bias_layer = if biases.is_empty() { String::new() } else { format!("{{name: Biases, times: {biases:?}}}, ") };
    let layout = format!(
        "{{n_inputs: 4, layers: [{bias_layer}{{name: BroadcastLayer}}, {{name: NeuronLayer, size: {size}, \
         weights_mean: 0.0, weights_std: 1.0, max_num_missing_spikes: 0.5, trainable: true}}, \
         {{name: BroadcastLayer}}, {{name: NeuronLayer, size: 3, weights_mean: 0.5, weights_std: 0.5, \
         max_num_missing_spikes: 0.5, trainable: true}}]}}"
    );
    doc["network_layout"] = yaml_serde::from_str(&layout).unwrap();
    Config::parse_str(&yaml_serde::to_string(&doc).unwrap()).unwrap()
}

#[derive(Debug, Clone)]
struct Case {
    biases: Vec<f64>,
    size: usize,
    batch: usize,
    ratio_two: bool,
    threshold: f64,
    weights: Vec<i32>,
    times: Vec<Option<f64>>,
}

fn cases() -> impl Strategy<Value = Case> {
    let biases = proptest::collection::vec(0.0f64..4.0, 0..6);
    (biases, 1usize..6, 1usize..4, any::<bool>(), 0.6f64..2.8).prop_flat_map(|(biases, m, b, two, th)| {
        let n = 4 + biases.len();
        (
            proptest::collection::vec(-20i32..=63, n * m),
            proptest::collection::vec(proptest::option::weighted(0.8, 0.0f64..4.0), b * 4),
        )
            .prop_map(move |(weights, times)| Case {
                biases: biases.clone(),
                size: m,
                batch: b,
                ratio_two: two,
                threshold: th,
                weights,
                times,
            })
    })
}

proptest! {
    // 40 cases by default (each runs the emulator); PROPTEST_CASES=N runs N.
    #![proptest_config(ProptestConfig { cases: common::cases_from_environment(40), ..ProptestConfig::default() })]

    #[test]
    fn an_ideal_chip_reproduces_the_exact_model_within_one_tick(case in cases()) {
        let config = single_layer_config(&case.biases, case.size, case.ratio_two, case.threshold);
        let mut network = Network::new(&config.layout, 1);
        let tested = network.layers.iter().position(|l| matches!(l, Layer::Neuron(_))).unwrap();
        let Layer::Neuron(layer) = &mut network.layers[tested] else { unreachable!() };
        layer.weights.data = case.weights.iter().map(|&w| f64::from(w) / 30.0).collect();
        let inputs = Matrix {
            rows: case.batch,
            cols: 4,
            data: case.times.iter().map(|t| t.unwrap_or(f64::INFINITY)).collect(),
        };
        let settings = ChipSettings::default();
        let mut chip =
            ChipBackend::new(&network, ideal(), settings.clone()).unwrap();
        let measured = chip.forward(&network, &inputs).unwrap();
        let mut noise = bss2_host::rng::stream(0, bss2_host::rng::Purpose::Inference, 0);
        let mut opts = ForwardOptions { rounding: None, integrator: None, noise: &mut noise };
        // Bias times reach the chip on the cycle grid too.
        let mut on_grid = network.clone();
        if let Layer::Biases { times } = &mut on_grid.layers[0] {
            let grid = common::on_cycle_grid(&Matrix { rows: 1, cols: times.len(), data: times.clone() }, &settings);
            times.copy_from_slice(&grid.data);
        }
        let grid_inputs = common::on_cycle_grid(&inputs, &settings);
        let exact = on_grid.forward(&grid_inputs, &mut opts);
        let model = exact.neuron_outputs[tested].as_ref().unwrap();
        // The chip realises the model's threshold-to-gain ratio with CapMem integers, to about 1e-5 relative. Where
        // a crossing barely grazes the threshold, that moves it by many ticks: such outputs are ill-conditioned
        // and not compared (the model with the threshold 2e-4 higher and lower must agree within a tick).
        let mut perturbed = |factor: f64| {
            let mut n = on_grid.clone();
            let Layer::Neuron(l) = &mut n.layers[tested] else { unreachable!() };
            l.config.neuron.params.threshold *= factor;
            let mut opts = ForwardOptions { rounding: None, integrator: None, noise: &mut noise };
            n.forward(&grid_inputs, &mut opts).neuron_outputs[tested].clone().unwrap()
        };
        let (low, high) = (perturbed(1.0 - 2e-4), perturbed(1.0 + 2e-4));
        common::within_a_tick(&measured.layers[0], model, (&low, &high), settings.window)?;
    }
}

#[test]
fn the_chip_ready_network_reproduces_its_reference_outputs_on_an_ideal_chip() {
    let doc = common::fixture();
    let entry = &doc["yin_yang_chipready_W"];
    let dir = tempfile::tempdir().unwrap();
    common::convert(entry, dir.path());
    let run = RunDir::new(dir.path());
    let placement = Placement::chip(ideal(), ChipSettings::default());
    let (result, stats) = inference::run(&run, None, Split::Test, placement).unwrap();
    let (_, outputs) = common::read_npy_f64(&result.outputs_path);
    let want = common::rows(&entry["test_output_times"]).concat();
    let mut differences: Vec<f64> = outputs
        .iter()
        .zip(&want)
        .map(|(g, w)| if g.is_infinite() && w.is_infinite() { 0.0 } else { (g - w).abs() })
        .collect();
    differences.sort_by(f64::total_cmp);
    let median = differences[differences.len() / 2];
    let reference = entry["test_accuracy"].as_f64().unwrap();
    eprintln!(
        "chip-ready on emulator:ideal: accuracy {:.1} % (reference {:.1} %), median |dt| {median:.2e}, {} runs",
        100.0 * result.accuracy,
        100.0 * reference,
        stats.runs
    );
    assert!(median <= 0.005, "median difference {median}");
    assert!((result.accuracy - reference).abs() <= 0.003, "accuracy {} vs {reference}", result.accuracy);
}

/// With the default profile's mismatch and noise and only nominal CapMem values (no calibration), the chip-ready
/// network loses most of its accuracy (reported in the README; calibration recovers it); the outputs depend on the
/// chip seed and are reproducible for one seed.
#[test]
fn the_chip_ready_network_on_a_default_chip_without_calibration() {
    let doc = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    common::convert(&doc["yin_yang_chipready_W"], dir.path());
    let run = RunDir::new(dir.path());
    let mut accuracies = Vec::new();
    for seed in [1, 2, 1] {
        let chip = Chip::embedded(ChipProfile::default_chip(), seed, &ServerFaults::default());
        let (result, _) =
            inference::run(&run, None, Split::Test, Placement::chip(chip, ChipSettings::default())).unwrap();
        let (_, outputs) = common::read_npy_f64(&result.outputs_path);
        accuracies.push((result.accuracy, outputs));
    }
    eprintln!(
        "chip-ready on the default chip, nominal CapMem: accuracy {:.1} % (chip seed 1), {:.1} % (chip seed 2)",
        100.0 * accuracies[0].0,
        100.0 * accuracies[1].0
    );
    assert!(accuracies.iter().all(|(a, _)| *a > 0.36 && *a < 0.8), "above chance, below the ideal chip's 86.6 %");
    assert_ne!(accuracies[0].1, accuracies[1].1, "chips with different seeds differ");
    assert_eq!(accuracies[0].1, accuracies[2].1, "the same chip seed gives the same outputs, bit for bit");
}

/// The backward pass at measured times: fed the simulation's own outputs it reproduces the simulation's gradients
/// exactly; fed an ideal chip's outputs (within a tick of them) it gives nearly the same gradients.
#[test]
fn gradients_at_the_chips_measured_times_match_the_simulation_on_an_ideal_chip() {
    use bss2_host::train::evaluate::batch_inputs;
    use bss2_host::train::loss::Loss;
    use bss2_host::train::session::Splits;

    // The reference's trained chip-ready network: its neurons spike, so every gradient is exercised.
    let dir = tempfile::tempdir().unwrap();
    let (config, epoch) = common::convert(&common::fixture()["yin_yang_chipready_W"], dir.path());
    let mut network = Network::new(&config.layout, 3);
    let bytes = std::fs::read(RunDir::new(dir.path()).network(epoch)).unwrap();
    network.load_tensors(&bss2_host::tensors::TensorFile::from_bytes(&bytes).unwrap()).unwrap();
    let data = Splits::build(&config).unwrap();
    let indices: Vec<usize> = (0..50).collect();
    let settings = ChipSettings::default();
    // The simulation sees the input times the chip receives.
    let inputs = common::on_cycle_grid(&batch_inputs(&data.test, &indices), &settings);
    let labels: Vec<usize> = indices.iter().map(|&i| data.test.labels[i]).collect();
    let loss = Loss::for_config(&config);
    let mut noise = bss2_host::rng::stream(0, bss2_host::rng::Purpose::Inference, 0);
    let sim = network.forward(&inputs, &mut ForwardOptions { rounding: None, integrator: None, noise: &mut noise });
    let delta = loss.evaluate(sim.output(), &labels, 0.0).delta;
    let sim_grads = network.backward(&sim, &delta).unwrap();

    let sim_outputs: Vec<Matrix> = sim.neuron_outputs.iter().flatten().cloned().collect();
    let replayed = network.backward(&network.forward_measured(&inputs, &sim_outputs), &delta).unwrap();
    assert_eq!(replayed, sim_grads, "the measured-times pass is the simulation's pass when the times agree");

    let mut chip = ChipBackend::new(&network, ideal(), settings).unwrap();
    let measured = chip.forward(&network, &inputs).unwrap();
    let chip_record = network.forward_measured(&inputs, &measured.layers);
    let chip_delta = loss.evaluate(chip_record.output(), &labels, 0.0).delta;
    let chip_grads = network.backward(&chip_record, &chip_delta).unwrap();
    for (layer, (g, s)) in chip_grads.layers.iter().zip(&sim_grads.layers).enumerate() {
        let (Some(g), Some(s)) = (g, s) else { continue };
        let dot: f64 = g.data.iter().zip(&s.data).map(|(a, b)| a * b).sum();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let (gn, sn) = (norm(&g.data), norm(&s.data));
        let cosine = dot / (gn * sn);
        eprintln!("layer {layer}: |grad| chip {gn:.4e} sim {sn:.4e}, cosine {cosine:.6}");
        assert!(sn > 0.0, "layer {layer} has gradients");
        // Spike times within a tick can still move an input across a causality boundary in a few samples, so the
        // gradients agree in direction and size, not entry by entry.
        assert!(cosine > 0.99 && (gn / sn - 1.0).abs() < 0.05, "layer {layer}: cosine {cosine}, norms {gn} {sn}");
    }
}
