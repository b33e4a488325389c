//! The network-level test vectors of spec §18 (small network with synaptic and axonal delays) and finite
//! difference checks of the full backward pass.

use bss2_host::config::{
    DelayConfig, DelayKind, LossConfig, LossKind, NeuronLayerConfig, NeuronSettings, Positivity, ThresholdNoise,
};
use bss2_host::model::{Matrix, NeuronParams, TauRatio};
use bss2_host::network::{DelayLayer, ForwardOptions, Layer, Network, NeuronLayer};
use bss2_host::rng::{self, Purpose};
use bss2_host::train::loss::Loss;

fn neuron_layer(weights: Vec<Vec<f64>>, ratio: TauRatio, max_dw_norm: Option<f64>) -> Layer {
    let weights = Matrix::from_rows(&weights).unwrap();
    let params = match ratio {
        TauRatio::Two => NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, ratio },
        TauRatio::One => NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, ratio },
    };
    let size = weights.cols;
    Layer::Neuron(NeuronLayer {
        config: NeuronLayerConfig {
            size,
            weights_mean: 0.0,
            weights_std: 1.0,
            max_num_missing_spikes: 0.3,
            trainable: true,
            monitor: false,
            learning_rate: None,
            neuron: NeuronSettings { params, max_dw_norm, noise: ThresholdNoise::default(), jitter: 0.0, clip: None },
        },
        weights,
        threshold_offsets: vec![0.0; size],
    })
}

fn delay_layer(kind: DelayKind, raw: Vec<Vec<f64>>, n_pre: usize, n_post: usize, positivity: Positivity) -> Layer {
    Layer::Delay(DelayLayer {
        config: DelayConfig {
            kind,
            delay_mean: 0.0,
            delay_std: 1.0,
            positivity,
            presyn_sharing_factor: 1,
            postsyn_sharing_factor: 1,
            trainable: true,
            monitor: false,
            learning_rate: None,
            jitter: 0.0,
        },
        raw: Matrix::from_rows(&raw).unwrap(),
        n_pre,
        n_post,
    })
}

fn spec_network(w4: Vec<Vec<f64>>) -> Network {
    let sigmoid = Positivity::Sigmoid { shift: 0.0, scale: 1.0 };
    Network {
        n_inputs: 3,
        layers: vec![
            delay_layer(DelayKind::Synaptic, vec![vec![0.1, -0.2], vec![0.0, 0.3], vec![-0.1, 0.2]], 3, 2, sigmoid),
            neuron_layer(vec![vec![1.5, 0.8], vec![1.2, 1.6], vec![-0.3, 0.9]], TauRatio::Two, Some(0.2)),
            delay_layer(DelayKind::Axonal, vec![vec![0.2], vec![-0.3]], 2, 3, sigmoid),
            neuron_layer(w4, TauRatio::Two, Some(0.2)),
        ],
    }
}

fn spec_inputs() -> Matrix {
    Matrix::from_rows(&[vec![0.15 + 1.85 * 0.68, 0.15 + 1.85 * 0.45, 0.15 + 1.85 * 0.32], vec![0.4, 0.9, 1.7]]).unwrap()
}

fn shift_invariant() -> Loss {
    Loss::new(&LossConfig { kind: LossKind::ShiftInvariantMse { delta_t: 0.2 }, regularisers: vec![] }, 1.0)
}

fn assert_rows(what: &str, got: &Matrix, want: &[Vec<f64>], rel: f64) {
    assert_eq!((got.rows, got.cols), (want.len(), want[0].len()), "{what}: shape");
    for (r, row) in want.iter().enumerate() {
        for (c, &w) in row.iter().enumerate() {
            let g = got.get(r, c);
            assert!((g - w).abs() <= rel * w.abs().max(1e-6), "{what}[{r}][{c}]: got {g}, want {w}");
        }
    }
}

fn forward(net: &Network, inputs: &Matrix) -> bss2_host::network::Forward {
    let mut noise = rng::stream(0, Purpose::Test, 0);
    net.forward(inputs, &mut ForwardOptions { rounding: None, integrator: None, noise: &mut noise })
}

#[test]
fn small_delay_network_matches_the_reference() {
    let net = spec_network(vec![vec![2.0, 1.2, 1.9], vec![1.4, 2.2, 1.8]]);
    let record = forward(&net, &spec_inputs());
    let hidden = record.neuron_outputs[1].as_ref().unwrap();
    assert_rows(
        "hidden",
        hidden,
        &[vec![2.5237391050336084, 2.007085688569831], vec![1.7552710505395064, 2.0557997306909654]],
        1e-12,
    );
    let out = record.output();
    assert_rows(
        "out",
        out,
        &[
            vec![3.2876422291278375, 3.142271377970012, 3.1999399790660963],
            vec![2.7792920672879307, 2.82016585657047, 2.7488813435601385],
        ],
        1e-12,
    );
    let labels = [0, 2];
    let loss = shift_invariant();
    let value = loss.evaluate(out, &labels, 0.0);
    assert!((value.mean - 0.061845452184397055).abs() < 1e-13, "loss {}", value.mean);
    assert_eq!(loss.predictions(out), vec![1, 2]);
    let grads = net.backward(&record, &value.delta).unwrap();
    let g = |i: usize| grads.layers[i].as_ref().unwrap();
    assert_rows(
        "raw delays 1",
        g(0),
        &[
            vec![0.009056939643631036, -0.004202301445548281],
            vec![0.002775669338617942, -0.005727385370268159],
            vec![-0.00010190547656309733, -0.0016350182127977597],
        ],
        1e-10,
    );
    assert_rows(
        "W2",
        g(1),
        &[
            vec![-0.026171205445214625, 0.006309931851696773],
            vec![-0.03208838261177341, 0.01060660229269731],
            vec![-0.03219620705119158, 0.011070729972533404],
        ],
        1e-10,
    );
    assert_rows("raw delays 3", g(2), &[vec![0.011636355756678953], vec![-0.01149257960431093]], 1e-10);
    assert_rows(
        "W4",
        g(3),
        &[
            vec![-0.017935403820435392, 0.019275854156135103, -0.014452634661331117],
            vec![-0.07265103174573594, 0.05198583647637553, 0.015489470074852036],
        ],
        1e-10,
    );
}

#[test]
fn a_silent_output_masks_every_sample() {
    let net = spec_network(vec![vec![2.0, 1.2, 0.9], vec![1.4, 2.2, 1.1]]);
    let record = forward(&net, &spec_inputs());
    assert!(record.output().data.iter().skip(2).step_by(3).all(|t| t.is_infinite()));
    let value = shift_invariant().evaluate(record.output(), &[0, 2], 0.0);
    assert_eq!(value.mean, 100.0);
    let grads = net.backward(&record, &value.delta).unwrap();
    for g in grads.layers.iter().flatten() {
        assert!(g.data.iter().all(|&x| x == 0.0));
    }
}

/// The whole chain's gradients against central finite differences of the loss, for every parameter, on a
/// network with every kind of delay, both tau ratios, bias spikes and a multiplexed input.
#[test]
fn network_gradients_match_finite_differences() {
    let sig = Positivity::Sigmoid { shift: 0.1, scale: 1.3 };
    for ratio in [TauRatio::Two, TauRatio::One] {
        let scale = if ratio == TauRatio::One { 1.3 } else { 1.0 };
        let w = |rows: usize, cols: usize, seed: f64| -> Vec<Vec<f64>> {
            (0..rows)
                .map(|r| (0..cols).map(|c| scale * (0.9 + 0.7 * ((r * cols + c) as f64 * seed).sin())).collect())
                .collect()
        };
        let raw = |rows: usize, cols: usize, seed: f64| -> Vec<Vec<f64>> {
            (0..rows).map(|r| (0..cols).map(|c| ((r * cols + c) as f64 * seed).cos()).collect()).collect()
        };
        let net = Network {
            n_inputs: 2,
            layers: vec![
                Layer::Multiplex { factor: 2 },
                delay_layer(DelayKind::Axonal, raw(4, 1, 0.7), 4, 5, sig),
                Layer::Biases { times: vec![0.3] },
                delay_layer(DelayKind::Dendritic, raw(1, 5, 1.1), 5, 5, sig),
                neuron_layer(w(5, 5, 0.37), ratio, None),
                delay_layer(DelayKind::Synaptic, raw(5, 3, 0.5), 5, 3, sig),
                neuron_layer(w(5, 3, 0.91), ratio, None),
            ],
        };
        let inputs = Matrix::from_rows(&[vec![0.2, 0.9], vec![1.1, 0.4], vec![0.6, 0.65]]).unwrap();
        let labels = [0, 1, 2];
        let loss = Loss::new(&LossConfig { kind: LossKind::Ttfs { xi: 0.5 }, regularisers: vec![] }, 1.0);
        let eval = |net: &Network| loss.evaluate(forward(net, &inputs).output(), &labels, 0.0);
        let record = forward(&net, &inputs);
        let value = loss.evaluate(record.output(), &labels, 0.0);
        assert_eq!(
            value.unmasked,
            3,
            "every sample must spike for a meaningful check ({ratio:?}): {:?}",
            record.output()
        );
        let grads = net.backward(&record, &value.delta).unwrap();
        let mut checked = 0;
        for (index, layer) in net.layers.iter().enumerate() {
            let Some(params) = layer.trainable_parameters() else { continue };
            for k in 0..params.data.len() {
                let h = 1e-6;
                let perturbed = |delta: f64| {
                    let mut n = net.clone();
                    n.layers[index].trainable_parameters_mut().unwrap().data[k] += delta;
                    eval(&n).mean
                };
                let fd = (perturbed(h) - perturbed(-h)) / (2.0 * h);
                let analytic = grads.layers[index].as_ref().unwrap().data[k];
                assert!(
                    (fd - analytic).abs() <= 1e-6 * (1.0 + analytic.abs()),
                    "{ratio:?} layer {index} ({}) parameter {k}: finite difference {fd}, analytic {analytic}",
                    layer.name()
                );
                checked += 1;
            }
        }
        assert!(checked > 40);
    }
}
