//! Hardware-aware options (spec §4): weight rounding with float "shadow" weights, clipping, threshold noise
//! (fixed pattern, sample to sample, batch to batch), output and delay jitter; and a short training of the
//! hardware-aware config.

use bss2_host::config::Config;
use bss2_host::data::Split;
use bss2_host::model::Matrix;
use bss2_host::network::{ForwardOptions, Layer, Network};
use bss2_host::rng::{self, Purpose};
use bss2_host::train::loss::Loss;
use bss2_host::train::session::{Session, Splits};

const HW_AWARE: &str = include_str!("../../configs/yin_yang_hwAware.yaml");
const CHIP_READY: &str = include_str!("../../configs/yin_yang_chipready_W.yaml");

fn inputs(config: &Config, n: usize) -> (Matrix, Vec<usize>) {
    let data = config.dataset.spec().build(Split::Test, 0).unwrap();
    let rows: Vec<usize> = (0..n).collect();
    (bss2_host::train::evaluate::batch_inputs(&data, &rows), data.labels[..n].to_vec())
}

fn forward(net: &Network, x: &Matrix, rounding: Option<f64>, seed: u64) -> bss2_host::network::Forward {
    let mut noise = rng::stream(seed, Purpose::Test, 0);
    net.forward(x, &mut ForwardOptions { rounding, integrator: None, noise: &mut noise })
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, var.sqrt())
}

#[test]
fn rounding_uses_rounded_weights_forward_and_float_weights_backward() {
    let config = Config::parse_str(CHIP_READY).unwrap();
    let precision = config.training.rounding_precision.unwrap();
    assert_eq!(precision, 1.0 / 30.0);
    let mut net = Network::new(&config.layout, 5);
    // Stronger output weights than at initialisation, so that the label layer spikes and gradients flow.
    if let Some(Layer::Neuron(n)) = net.layers.last_mut() {
        n.weights = n.weights.map(|w| w + 0.4);
    }
    let mut rounded = net.clone();
    for layer in &mut rounded.layers {
        if let Layer::Neuron(n) = layer {
            n.weights = n.weights.map(|w| (w / precision).round_ties_even() * precision);
        }
    }
    let (x, labels) = inputs(&config, 64);
    let with_rounding = forward(&net, &x, Some(precision), 1);
    let pre_rounded = forward(&rounded, &x, None, 1);
    assert_eq!(with_rounding.neuron_outputs, pre_rounded.neuron_outputs);
    // The hidden layer (index 2) spikes at initialisation; rounding moves its spikes.
    let hidden = |f: &bss2_host::network::Forward| f.neuron_outputs[2].clone().unwrap();
    assert!(hidden(&with_rounding).data.iter().any(|t| t.is_finite()));
    assert_ne!(hidden(&with_rounding), hidden(&forward(&net, &x, None, 1)), "rounding must matter here");
    // Backward: the same output times, but the float weights enter the gradient.
    let loss = Loss::for_config(&config);
    let delta = loss.evaluate(with_rounding.output(), &labels, 0.0).delta;
    assert!(delta.data.iter().any(|&d| d != 0.0));
    let shadow = net.backward(&with_rounding, &delta).unwrap();
    let on_rounded = rounded.backward(&pre_rounded, &delta).unwrap();
    assert_ne!(shadow, on_rounded);
}

#[test]
fn fixed_pattern_threshold_offsets_follow_the_config() {
    let config = Config::parse_str(HW_AWARE).unwrap();
    // Fixed-pattern offsets: mean 0.13, std 0.08, drawn once per neuron when the network is built.
    let mut offsets = Vec::new();
    for seed in 0..40 {
        let net = Network::new(&config.layout, seed);
        for (_, n) in net.neuron_layers() {
            offsets.extend_from_slice(&n.threshold_offsets);
        }
    }
    let (mean, std) = mean_std(&offsets);
    assert!((mean - 0.13).abs() < 0.01 && (std - 0.08).abs() < 0.01, "mean {mean}, std {std}");
    // Same seed, same offsets; they are part of the saved network.
    let a = Network::new(&config.layout, 7);
    assert_eq!(a, Network::new(&config.layout, 7));
    let mut b = Network::new(&config.layout, 8);
    b.load_tensors(&a.to_tensors()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn threshold_noise_and_jitter_vary_between_passes_but_not_between_equal_seeds() {
    let config = Config::parse_str(HW_AWARE).unwrap();
    let net = Network::new(&config.layout, 3);
    let (x, _) = inputs(&config, 100);
    let hidden = |seed| forward(&net, &x, None, seed).neuron_outputs[2].clone().unwrap();
    let (a, b, c) = (hidden(1), hidden(1), hidden(2));
    assert!(a.data.iter().any(|t| t.is_finite()));
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Without noise (all stds zero, no jitter) the output is deterministic whatever the stream.
    let quiet = HW_AWARE
        .replace("threshold_noise_b2b_std: 0.04", "threshold_noise_b2b_std: 0.0")
        .replace("jitter: 0.01", "jitter: 0.0");
    let quiet = Config::parse_str(&quiet).unwrap();
    let net = Network::new(&quiet.layout, 3);
    assert_eq!(forward(&net, &x, None, 1).neuron_outputs, forward(&net, &x, None, 2).neuron_outputs);
}

#[test]
fn batch_to_batch_noise_is_shared_by_the_samples_of_a_batch() {
    // One hidden neuron layer fed identical samples: with only b2b noise, every sample of a pass spikes at the
    // same time, and that time changes from pass to pass; with only s2s noise, samples differ.
    let base = "dataset_params: {name: yin_yang}
default_neuron_params: {tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, max_dw_norm: null}
network_layout:
  n_inputs: 4
  layers:
  - {name: BroadcastLayer}
  - {name: NeuronLayer, size: 3, weights_mean: 1.5, weights_std: 0.0, max_num_missing_spikes: 1.0,
     neuron_params: {NOISE}}
training_params: {batch_size: 10, epoch_number: 1, learning_rate: 0.01, optimizer: adam, loss: {type: TTFS, xi: 0.2},
  torch_seed: 1, numpy_seed: 1, weight_bumping_value: 0.0005, weight_bumping_exp: true, weight_bumping_targeted: true}
";
    let x = Matrix::from_rows(&vec![vec![0.2, 0.3, 0.5, 0.7]; 50]).unwrap();
    let spread = |noise: &str, seed: u64| {
        let config = Config::parse_str(&base.replace("NOISE", noise)).unwrap();
        let net = Network::new(&config.layout, 1);
        let out = forward(&net, &x, None, seed);
        let column: Vec<f64> = (0..50).map(|b| out.output().get(b, 0)).collect();
        assert!(column.iter().all(|t| t.is_finite()));
        (mean_std(&column), column)
    };
    let (_, first) = spread("threshold_noise_b2b_std: 0.05", 1);
    let (_, other_pass) = spread("threshold_noise_b2b_std: 0.05", 2);
    assert!(first.iter().all(|&t| t == first[0]), "b2b noise must be shared by the batch: {first:?}");
    assert_ne!(first[0], other_pass[0]);
    let ((_, s2s_spread), _) = spread("threshold_noise_s2s_std: 0.05", 1);
    assert!(s2s_spread > 0.005, "{s2s_spread}");
    let ((_, jitter_spread), _) = spread("jitter: 0.05", 1);
    assert!((jitter_spread - 0.05).abs() < 0.02, "{jitter_spread}");
}

#[test]
fn hardware_aware_training_clips_and_trains() {
    let config = Config::parse_str(HW_AWARE).unwrap();
    let config = config
        .with_overrides(bss2_host::config::Overrides { epochs: Some(2), seed: Some(4), ..Default::default() })
        .unwrap();
    let limit = config.training.clip_weights_max.unwrap();
    let mut session = Session::new(config.clone(), Splits::build(&config).unwrap());
    let before = session.state.history[0].val_accuracy;
    for _ in 0..2 {
        session.train_epoch(|| {}).unwrap();
    }
    for (_, n) in session.state.network.neuron_layers() {
        assert!(n.weights.data.iter().all(|w| w.abs() <= limit), "weights beyond the clip {limit}");
    }
    let after = session.state.history.last().unwrap();
    assert!(after.val_accuracy > before, "{before} -> {}", after.val_accuracy);
    assert!(after.train_loss.is_finite() || after.bumped_batches > 0);
}
