//! The chip as the forward pass of training and evaluation (spec hardware §5): the chip gives the first spike
//! time of every on-chip neuron; the exact gradients are evaluated at those times on the network as the chip
//! holds it (weights rounded to its grid and clipped to its range).

use crate::chip::mapping::MAX_WEIGHT;
use crate::chip::{ChipBackend, ChipError};
use crate::config::Config;
use crate::data::Dataset;
use crate::model::Matrix;
use crate::network::{Forward, Layer, Network};

use super::evaluate::{Evaluation, evaluate_with};
use super::loss::Loss;

/// A batch's forward pass on the chip: the record at the measured times and the network it refers to.
#[derive(Debug)]
pub struct ChipPass {
    /// Every layer's inputs and every NeuronLayer's measured output times.
    pub record: Forward,
    /// The network with the weights the chip used (for the backward pass).
    pub held: Network,
}

/// Runs a batch on the chip with the network's current (float) weights.
pub fn forward(chip: &mut ChipBackend, network: &Network, inputs: &Matrix) -> Result<ChipPass, ChipError> {
    let measured = chip.forward(network, inputs)?;
    let held = as_held(network, chip.scales().scale_weights);
    let record = held.forward_measured(inputs, &measured.layers);
    Ok(ChipPass { record, held })
}

/// The network with every NeuronLayer's weights as the chip holds them: rounded to multiples of
/// `1 / scale_weights` (ties to even, as the chip mapping) and clipped to +-63 LSB.
pub fn as_held(network: &Network, scale_weights: f64) -> Network {
    let mut held = network.clone();
    let limit = f64::from(MAX_WEIGHT);
    for layer in &mut held.layers {
        if let Layer::Neuron(n) = layer {
            n.weights = n.weights.map(|w| (w * scale_weights).round_ties_even().clamp(-limit, limit) / scale_weights);
        }
    }
    held
}

/// Runs a data set through the network on the chip, in batches of `batch_size_eval`, in order.
pub fn evaluate(
    chip: &mut ChipBackend,
    network: &Network,
    config: &Config,
    loss: &Loss,
    data: &Dataset,
) -> Result<Evaluation, ChipError> {
    evaluate_with(config, loss, data, network.n_outputs(), 0.0, |inputs| {
        let mut forward = chip.forward(network, inputs)?;
        Ok(forward.layers.pop().expect("a network ends in a NeuronLayer"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NonFinite;

    fn chipready() -> (Config, Network) {
        let config = Config::parse_str(include_str!("../../../configs/yin_yang_chipready_W.yaml")).unwrap();
        let network = Network::new(&config.layout, 7);
        (config, network)
    }

    #[test]
    fn the_held_network_has_the_chips_weights() {
        let (_, mut network) = chipready();
        let Layer::Neuron(n) = &mut network.layers[2] else { panic!("the hidden layer") };
        n.weights.data[..5].copy_from_slice(&[0.05, 0.5 / 30.0, 1.5 / 30.0, 2.5, -9.0]);
        let original = n.weights.clone();
        let held = as_held(&network, 30.0);
        let Layer::Neuron(h) = &held.layers[2] else { panic!() };
        // 1.5 LSB -> 2, 0.5 LSB -> 0 (ties to even), 2.5 and -9 clipped to +-63 LSB.
        assert_eq!(&h.weights.data[..5], &[2.0 / 30.0, 0.0, 2.0 / 30.0, 63.0 / 30.0, -63.0 / 30.0]);
        for (w, original) in h.weights.data.iter().zip(&original.data) {
            assert!((w * 30.0 - (w * 30.0).round()).abs() < 1e-12);
            assert!((w - original).abs() <= 0.5 / 30.0 + 1e-12 || original.abs() > 2.1);
        }
    }

    #[test]
    fn times_the_ideal_model_cannot_produce_get_no_gradient() {
        let (_, mut network) = chipready();
        // Output weights large enough for every output to fire in simulation.
        let Layer::Neuron(out) = &mut network.layers[4] else { panic!("the output layer") };
        out.weights.data.fill(0.3);
        let inputs = Matrix { rows: 2, cols: 4, data: vec![0.3, 1.2, 1.85, 0.95, 1.0, 0.4, 1.15, 1.75] };
        // Sample 0: every neuron "fires" before any of its inputs arrived, which no LIF neuron can do; sample 1:
        // the simulation's own times.
        let sim = network.forward(
            &inputs,
            &mut crate::network::ForwardOptions {
                rounding: None,
                integrator: None,
                noise: &mut crate::rng::stream(0, crate::rng::Purpose::Inference, 0),
            },
        );
        let mut measured: Vec<Matrix> = sim.neuron_outputs.iter().flatten().cloned().collect();
        assert!(measured[1].data.iter().all(|t| t.is_finite()), "{:?}", measured[1]);
        for m in &mut measured {
            m.data[..m.cols].fill(0.01);
        }
        let record = network.forward_measured(&inputs, &measured);
        let mut delta = Matrix::zeros(2, 3);
        delta.data[..3].copy_from_slice(&[0.3, -0.2, 0.1]);
        let impossible = network.backward_with(&record, &delta, NonFinite::Zero).unwrap();
        assert!(impossible.layers.iter().flatten().all(|g| g.data.iter().all(|&x| x == 0.0)));
        // The same error on the possible sample gives gradients.
        let mut delta = Matrix::zeros(2, 3);
        delta.data[3..].copy_from_slice(&[0.3, -0.2, 0.1]);
        let possible = network.backward_with(&record, &delta, NonFinite::Zero).unwrap();
        assert!(possible.layers.iter().flatten().any(|g| g.data.iter().any(|&x| x != 0.0)));
    }
}
