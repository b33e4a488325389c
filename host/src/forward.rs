//! The forward pass of training, evaluation and inference: one trait, implemented by the simulation and by the
//! chip. Training, validation, inference and `eval` hold a `dyn ForwardPass` and never ask which one it is.
//!
//! The simulation computes the exact first-spike times (with the config's rounding, integrator and hardware-aware
//! noise); the chip measures them and the backward pass takes its exact gradients at the measured times, on the
//! network as the chip holds it (spec hardware §5).

use std::fmt;

use crate::chip::mapping::MAX_WEIGHT;
use crate::chip::{Chip, ChipBackend, ChipError, ChipSettings, ChipStats};
use crate::config::{IntegratorConfig, TrainingConfig};
use crate::model::{Matrix, NonFinite};
use crate::network::{Forward, ForwardOptions, Layer, Network};
use crate::rng::Rng;

/// A training batch's forward pass: what the backward pass needs.
#[derive(Debug)]
pub struct TrainingPass {
    /// Every layer's inputs and every NeuronLayer's output times.
    pub record: Forward,
    /// The network the times belong to, where it differs from the one trained (the chip's rounded, clipped
    /// weights); None: the trained network itself.
    pub held: Option<Network>,
    /// What the backward pass does with a non-finite gradient: the simulation fails loudly, the chip drops the
    /// neuron's gradient (a measured time the ideal model cannot produce).
    pub non_finite: NonFinite,
}

/// Where forward passes run.
pub trait ForwardPass: fmt::Debug {
    /// A training batch `[batch, n_inputs]` of input times through `network`; `noise` feeds the simulation's
    /// hardware-aware noise.
    fn train(&mut self, network: &Network, inputs: &Matrix, noise: &mut Rng) -> Result<TrainingPass, ChipError>;

    /// Every NeuronLayer's output times `[batch, size]` in chain order, +inf = no spike (evaluation).
    fn layers(&mut self, network: &Network, inputs: &Matrix, noise: &mut Rng) -> Result<Vec<Matrix>, ChipError>;

    /// [`ForwardPass::layers`], and the delayed times `[batch, n]` of every axonal delay layer in chain order
    /// (in simulation without the layers' jitter; on the chip as the delay pairs sent them).
    fn layers_and_delays(
        &mut self,
        network: &Network,
        inputs: &Matrix,
        noise: &mut Rng,
    ) -> Result<(Vec<Matrix>, Vec<Matrix>), ChipError>;

    /// The chip's counters so far (zero in simulation).
    fn stats(&self) -> ChipStats {
        ChipStats::default()
    }

    /// Programs the embedded emulator has run, where its trial-to-trial noise must continue on resume.
    fn programs_run(&self) -> Option<u64> {
        None
    }

    /// Continues the embedded emulator's noise after `programs` (a resumed run sees what an uninterrupted one
    /// would have seen).
    fn continue_after(&mut self, _programs: u64) {}

    /// The chip backend, for what only a chip can do (membrane recordings).
    fn as_chip(&mut self) -> Option<&mut ChipBackend> {
        None
    }
}

/// The exact model in simulation, with the config's weight rounding and integrator.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Simulation {
    /// Round weights to multiples of this in every forward pass.
    pub rounding: Option<f64>,
    /// The Euler integrator instead of the closed form.
    pub integrator: Option<IntegratorConfig>,
}

impl Simulation {
    /// The simulation a config's training section describes.
    pub fn new(training: &TrainingConfig) -> Simulation {
        Simulation { rounding: training.rounding_precision, integrator: training.integrator }
    }

    fn forward(&self, network: &Network, inputs: &Matrix, noise: &mut Rng) -> Forward {
        network.forward(inputs, &mut ForwardOptions { rounding: self.rounding, integrator: self.integrator, noise })
    }
}

impl ForwardPass for Simulation {
    fn train(&mut self, network: &Network, inputs: &Matrix, noise: &mut Rng) -> Result<TrainingPass, ChipError> {
        Ok(TrainingPass { record: self.forward(network, inputs, noise), held: None, non_finite: NonFinite::Fail })
    }

    fn layers(&mut self, network: &Network, inputs: &Matrix, noise: &mut Rng) -> Result<Vec<Matrix>, ChipError> {
        Ok(self.forward(network, inputs, noise).neuron_outputs.into_iter().flatten().collect())
    }

    fn layers_and_delays(
        &mut self,
        network: &Network,
        inputs: &Matrix,
        noise: &mut Rng,
    ) -> Result<(Vec<Matrix>, Vec<Matrix>), ChipError> {
        let record = self.forward(network, inputs, noise);
        Ok((record.neuron_outputs.into_iter().flatten().collect(), record.axonal_delayed))
    }
}

impl ForwardPass for ChipBackend {
    fn train(&mut self, network: &Network, inputs: &Matrix, _noise: &mut Rng) -> Result<TrainingPass, ChipError> {
        let measured = self.forward(network, inputs)?;
        let held = as_held(network, self.scales().scale_weights);
        let record = held.forward_measured_with_delays(inputs, &measured.layers, &measured.delays);
        Ok(TrainingPass { record, held: Some(held), non_finite: NonFinite::Zero })
    }

    fn layers(&mut self, network: &Network, inputs: &Matrix, _noise: &mut Rng) -> Result<Vec<Matrix>, ChipError> {
        Ok(self.forward(network, inputs)?.layers)
    }

    fn layers_and_delays(
        &mut self,
        network: &Network,
        inputs: &Matrix,
        _noise: &mut Rng,
    ) -> Result<(Vec<Matrix>, Vec<Matrix>), ChipError> {
        let forward = self.forward(network, inputs)?;
        Ok((forward.layers, forward.delays.into_iter().flatten().collect()))
    }

    fn stats(&self) -> ChipStats {
        ChipBackend::stats(self)
    }

    fn programs_run(&self) -> Option<u64> {
        self.chip().runs()
    }

    fn continue_after(&mut self, programs: u64) {
        self.chip().continue_after(programs);
    }

    fn as_chip(&mut self) -> Option<&mut ChipBackend> {
        Some(self)
    }
}

/// Where a network is to run: opened into its forward pass once the network is known (the chip maps it).
#[derive(Debug)]
pub enum Placement {
    /// The simulation, with the config's rounding and integrator.
    Simulation,
    /// A chip with the backend's settings.
    Chip(Box<(Chip, ChipSettings)>),
}

impl Placement {
    /// On `chip` with `settings`.
    pub fn chip(chip: Chip, settings: ChipSettings) -> Placement {
        Placement::Chip(Box::new((chip, settings)))
    }

    /// The forward pass for `network` of a run with `training`.
    pub fn open(self, network: &Network, training: &TrainingConfig) -> Result<Box<dyn ForwardPass>, ChipError> {
        Ok(match self {
            Placement::Simulation => Box::new(Simulation::new(training)),
            Placement::Chip(chip) => {
                let (chip, settings) = *chip;
                Box::new(ChipBackend::new(network, chip, settings)?)
            }
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn chipready() -> (Config, Network) {
        let config = Config::parse_str(include_str!("../../configs/yin_yang_chipready_W.yaml")).unwrap();
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

    /// The delayed times a delay layer produces from `times` `[batch, n]` with its effective delays `(n, 1)`.
    fn delayed(times: &Matrix, network: &Network, chain_index: usize) -> Matrix {
        let Layer::Delay(d) = &network.layers[chain_index] else { panic!("a delay layer") };
        let e = d.effective();
        let data = times.data.iter().enumerate().map(|(k, t)| t + e.data[k % times.cols]).collect();
        Matrix { rows: times.rows, cols: times.cols, data }
    }

    #[test]
    fn measured_delayed_times_are_differentiated_as_input_plus_delay_and_lost_ones_get_no_gradient() {
        let config = Config::parse_str(include_str!("../../configs/yin_yang_chip_delays.yaml")).unwrap();
        let mut network = Network::new(&config.layout, 3);
        // Output weights large enough for the outputs to fire, so that errors flow back.
        let Layer::Neuron(out) = &mut network.layers[4] else { panic!("the output layer") };
        out.weights.data.fill(0.5);
        let inputs =
            Matrix { rows: 3, cols: 4, data: vec![0.3, 1.2, 1.85, 0.95, 1.0, 0.4, 1.15, 1.75, 0.2, 0.9, 1.3, 1.6] };
        let mut noise = crate::rng::stream(0, crate::rng::Purpose::Inference, 0);
        let record = Simulation::default().forward(&network, &inputs, &mut noise);
        let outputs: Vec<Matrix> = record.neuron_outputs.iter().flatten().cloned().collect();
        let copies =
            Matrix { rows: 3, cols: 20, data: inputs.data.iter().flat_map(|&t| std::iter::repeat_n(t, 5)).collect() };
        let mut measured = vec![Some(delayed(&copies, &network, 1)), Some(delayed(&outputs[0], &network, 3))];
        let delta = Matrix { rows: 3, cols: 3, data: vec![0.3, -0.2, 0.1, -0.1, 0.2, 0.05, 0.1, 0.1, -0.3] };
        let exact = network.backward(&record, &delta).unwrap();
        // Measured times equal to the model's: the gradients of the simulation.
        let chip = network.forward_measured_with_delays(&inputs, &outputs, &measured);
        let replayed = network.backward_with(&chip, &delta, NonFinite::Zero).unwrap();
        for (a, b) in exact.layers.iter().flatten().zip(replayed.layers.iter().flatten()) {
            for (x, y) in a.data.iter().zip(&b.data) {
                assert!((x - y).abs() <= 1e-12 * x.abs().max(1.0), "{x} vs {y}");
            }
        }
        assert!(outputs[1].data.iter().all(|t| t.is_finite()), "{:?}", outputs[1]);
        let (d_in, d_hidden) = (&exact.layers[1].as_ref().unwrap().data, &exact.layers[3].as_ref().unwrap().data);
        assert!(d_in[0] != 0.0 && d_hidden[4] != 0.0, "{d_in:?} {d_hidden:?}");
        // Every copy of input 0 and hidden neuron 4's delayed spike lost: no gradient for their delays, no crash.
        let (first, second) = measured.split_at_mut(1);
        let m = first[0].as_mut().unwrap();
        for b in 0..3 {
            m.data[b * 20..b * 20 + 5].fill(f64::INFINITY);
        }
        let m = second[0].as_mut().unwrap();
        for b in 0..3 {
            m.data[b * 30 + 4] = f64::INFINITY;
        }
        let chip = network.forward_measured_with_delays(&inputs, &outputs, &measured);
        let lost = network.backward_with(&chip, &delta, NonFinite::Zero).unwrap();
        assert!(lost.layers.iter().flatten().all(|g| g.data.iter().all(|x| x.is_finite())));
        assert_eq!(lost.layers[1].as_ref().unwrap().data[0], 0.0);
        assert_eq!(lost.layers[3].as_ref().unwrap().data[4], 0.0);
        assert!(lost.layers[1].as_ref().unwrap().data[1] != 0.0);
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
        let mut noise = crate::rng::stream(0, crate::rng::Purpose::Inference, 0);
        let mut simulation = Simulation::default();
        let mut measured = simulation.layers(&network, &inputs, &mut noise).unwrap();
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
