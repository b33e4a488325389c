//! The training loop (spec §8): batches with weight bumping or a gradient step, validation every epoch.

use std::time::Instant;

use super::bumping::{self, BumpState, NO_BUMP};
use super::evaluate::{Evaluation, batch_inputs, delay_penalty, evaluate};
use super::loss::Loss;
use super::optim::{Optimizer, Scheduler};
use crate::chip::{ChipError, ChipStats};
use crate::config::{Config, LayerClip};
use crate::data::{Dataset, Split};
use crate::forward::{ForwardPass, Simulation};
use crate::model::{Matrix, ModelError};
use crate::network::{Gradients, Layer, Network};
use crate::rng::{self, Purpose, Rng};

pub use super::metrics::EpochMetrics;

/// Everything a run changes as it trains: what a resume point holds.
#[derive(Clone, Debug, PartialEq)]
pub struct RunState {
    /// The network.
    pub network: Network,
    /// Optimiser state and current learning rates.
    pub optimizer: Optimizer,
    /// Weight-bumping state.
    pub bump: BumpState,
    /// Epochs finished.
    pub epoch: usize,
    /// One entry per finished epoch, plus epoch 0.
    pub history: Vec<EpochMetrics>,
    /// Programs the embedded emulator has run so far (its noise continues from there on resume; 0 otherwise).
    pub chip_runs: u64,
}

/// The three splits of a data set.
#[derive(Clone, Debug)]
pub struct Splits {
    /// Training set.
    pub train: Dataset,
    /// Validation set.
    pub validation: Dataset,
    /// Test set.
    pub test: Dataset,
}

impl Splits {
    /// Builds all splits of the config's data set.
    pub fn build(config: &Config) -> Result<Splits, crate::data::DataError> {
        let spec = config.dataset.spec();
        let seed = config.training.numpy_seed.unwrap_or(config.training.seed);
        Ok(Splits {
            train: spec.build(Split::Train, seed)?,
            validation: spec.build(Split::Validation, seed)?,
            test: spec.build(Split::Test, seed)?,
        })
    }
}

/// A training run in memory.
#[derive(Debug)]
pub struct Session {
    /// The config.
    pub config: Config,
    /// The data.
    pub data: Splits,
    /// The loss.
    pub loss: Loss,
    scheduler: Scheduler,
    /// The evolving state.
    pub state: RunState,
    /// Where every forward pass runs: the simulation or a chip.
    pub forward: Box<dyn ForwardPass>,
}

/// Why a batch could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The exact model failed (non-finite gradient).
    #[error("epoch {epoch}, batch {batch}")]
    Model {
        /// Epoch (1-based) being trained.
        epoch: usize,
        /// Batch index within the epoch.
        batch: usize,
        /// The model error.
        source: ModelError,
    },
    /// The chip failed (after its retries).
    #[error("epoch {epoch}")]
    Chip {
        /// Epoch (1-based) being trained or validated (0: before training).
        epoch: usize,
        /// The chip's error.
        source: ChipError,
    },
}

impl Session {
    /// A fresh run in simulation: the network drawn from the seed, epoch 0 evaluated on the validation set.
    pub fn new(config: Config, data: Splits) -> Session {
        let simulation = Box::new(Simulation::new(&config.training));
        match Session::start(config, data, simulation) {
            Ok(session) => session,
            Err(e) => unreachable!("only a chip fails to validate: {e}"),
        }
    }

    /// A fresh run on `forward`: the network drawn from the seed, epoch 0 evaluated on the validation set.
    pub fn start(config: Config, data: Splits, forward: Box<dyn ForwardPass>) -> Result<Session, TrainError> {
        let network = Network::new(&config.layout, config.training.seed);
        Session::start_from(config, data, forward, network)
    }

    /// A fresh run on `forward` from the given initial `network` (which must have the config's layout).
    pub fn start_from(
        config: Config,
        data: Splits,
        forward: Box<dyn ForwardPass>,
        network: Network,
    ) -> Result<Session, TrainError> {
        let optimizer = Optimizer::new(config.training.optimizer, &network, config.training.learning_rate);
        let state = RunState {
            network,
            optimizer,
            bump: BumpState::fresh(&config.training.bumping),
            epoch: 0,
            history: vec![],
            chip_runs: 0,
        };
        let mut session = Session::resume_on(config, data, state, forward);
        let (start, before) = (Instant::now(), session.forward.stats());
        let learning_rate = session.state.optimizer.global_lr;
        session.finish_epoch(
            Trained { loss: f64::NAN, accuracy: f64::NAN, learning_rate, bumped: 0 },
            start,
            before,
        )?;
        Ok(session)
    }

    /// A run continuing from a saved state, in simulation.
    pub fn resume(config: Config, data: Splits, state: RunState) -> Session {
        let simulation = Box::new(Simulation::new(&config.training));
        Session::resume_on(config, data, state, simulation)
    }

    /// A run continuing from a saved state on `forward` (the embedded emulator's noise continues where the saved
    /// run left it).
    pub fn resume_on(config: Config, data: Splits, state: RunState, mut forward: Box<dyn ForwardPass>) -> Session {
        let loss = Loss::for_config(&config);
        let scheduler = Scheduler::new(config.training.lr_scheduler.clone());
        forward.continue_after(state.chip_runs);
        Session { config, data, loss, scheduler, state, forward }
    }

    /// Validation after the current epoch (its noise stream is keyed by the epoch).
    pub fn validate(&mut self) -> Result<Evaluation, TrainError> {
        self.evaluate_split(Purpose::Validation)
    }

    /// The final test evaluation.
    pub fn test(&mut self) -> Result<Evaluation, TrainError> {
        self.evaluate_split(Purpose::Test)
    }

    fn evaluate_split(&mut self, purpose: Purpose) -> Result<Evaluation, TrainError> {
        let data = if matches!(purpose, Purpose::Test) { &self.data.test } else { &self.data.validation };
        let epoch = self.state.epoch;
        let mut noise = rng::stream(self.config.training.seed, purpose, epoch as u64);
        let evaluation =
            evaluate(self.forward.as_mut(), &self.state.network, &self.config, &self.loss, data, &mut noise)
                .map_err(|source| TrainError::Chip { epoch, source })?;
        self.note_chip_runs();
        Ok(evaluation)
    }

    fn note_chip_runs(&mut self) {
        if let Some(runs) = self.forward.programs_run() {
            self.state.chip_runs = runs;
        }
    }

    /// Validates and records the epoch that began at `start` (with the chip's counters at `before`): its
    /// wall time split into chip, protocol and math.
    fn finish_epoch(&mut self, trained: Trained, start: Instant, before: ChipStats) -> Result<(), TrainError> {
        let val = self.validate()?;
        let after = self.forward.stats();
        let seconds = start.elapsed().as_secs_f64();
        let chip_seconds = after.chip_seconds - before.chip_seconds;
        let protocol_seconds = after.protocol_seconds - before.protocol_seconds;
        self.state.history.push(EpochMetrics {
            epoch: self.state.epoch,
            train_loss: trained.loss,
            train_accuracy: trained.accuracy,
            val_loss: val.loss,
            val_accuracy: val.accuracy,
            learning_rate: trained.learning_rate,
            seconds,
            bumped_batches: trained.bumped,
            chip_seconds,
            protocol_seconds,
            math_seconds: (seconds - chip_seconds - protocol_seconds).max(0.0),
            retries: after.retries - before.retries,
        });
        Ok(())
    }

    /// Trains one epoch and validates; `on_batch` is called after every batch (for progress bars).
    pub fn train_epoch(&mut self, mut on_batch: impl FnMut()) -> Result<&EpochMetrics, TrainError> {
        let start = Instant::now();
        let before = self.forward.stats();
        let epoch = self.state.epoch;
        let training = self.config.training.clone();
        let seed = training.seed;
        // The bump state restarts at the beginning of every snapshot segment, as in the reference.
        if epoch == 0 || training.epoch_snapshots.contains(&epoch) {
            self.state.bump = BumpState::fresh(&training.bumping);
        }
        let order = shuffled(self.data.train.len(), &mut rng::stream(seed, Purpose::Shuffle, epoch as u64));
        let mut input_noise = rng::stream(seed, Purpose::TrainingNoise, epoch as u64);
        let mut forward_noise = rng::stream(seed, Purpose::TrainingForward, epoch as u64);
        let learning_rate = self.state.optimizer.global_lr;
        let (mut losses, mut correct, mut bumped) = (Vec::new(), 0usize, 0usize);
        for (batch, indices) in order.chunks(training.batch_size).enumerate() {
            let mut inputs = batch_inputs(&self.data.train, indices);
            if let Some(noise) = training.training_noise {
                add_input_noise(&mut inputs, noise.mean, noise.std_dev, &mut input_noise);
            }
            let labels: Vec<usize> = indices.iter().map(|&i| self.data.train.labels[i]).collect();
            let outcome = self.train_batch(&inputs, &labels, &mut forward_noise).map_err(|e| match e {
                BatchError::Model(source) => TrainError::Model { epoch: epoch + 1, batch, source },
                BatchError::Chip(source) => TrainError::Chip { epoch: epoch + 1, source },
            })?;
            correct += outcome.correct;
            match outcome.loss {
                Some(l) => losses.push(l),
                None => bumped += 1,
            }
            on_batch();
        }
        let n = self.data.train.len();
        self.state.epoch += 1;
        self.scheduler.epoch_finished(self.state.epoch, &mut self.state.optimizer);
        let loss = if losses.is_empty() { f64::NAN } else { losses.iter().sum::<f64>() / losses.len() as f64 };
        let accuracy = correct as f64 / n.max(1) as f64;
        self.finish_epoch(Trained { loss, accuracy, learning_rate, bumped }, start, before)?;
        Ok(self.state.history.last().expect("just pushed"))
    }

    /// One training batch: the forward pass, then weight bumping or a gradient step, then clamping. `inputs` are
    /// the batch's input times (after any training noise).
    pub fn train_batch(
        &mut self,
        inputs: &Matrix,
        labels: &[usize],
        noise: &mut Rng,
    ) -> Result<BatchOutcome, BatchError> {
        // On a chip the gradients are taken on the network as the chip holds it, at the measured times, and a
        // neuron the ideal model could not fire at its measured time gets none (spec hardware §5).
        let pass = self.forward.train(&self.state.network, inputs, noise).map_err(BatchError::Chip)?;
        self.note_chip_runs();
        let record = &pass.record;
        let training = &self.config.training;
        let state = &mut self.state;
        let predictions = self.loss.predictions(record.output());
        let correct = predictions.iter().zip(labels).filter(|(p, l)| **p == **l as i64).count();
        let target = bumping::layer_to_bump(&state.network, &record.neuron_outputs);
        let code =
            bumping::bump(&mut state.network, &record.neuron_outputs, target, &training.bumping, &mut state.bump);
        let mut loss = None;
        if code == NO_BUMP {
            let penalty = delay_penalty(&state.network, &self.loss);
            let value = self.loss.evaluate(record.output(), labels, penalty);
            let differentiated = pass.held.as_ref().unwrap_or(&state.network);
            let mut grads =
                differentiated.backward_with(record, &value.delta, pass.non_finite).map_err(BatchError::Model)?;
            add_l2_delay_gradient(&state.network, &self.loss, value.unmasked as f64 / labels.len() as f64, &mut grads);
            state.optimizer.step(&mut state.network, &grads);
            for layer in &mut state.network.layers {
                if let Layer::Delay(d) = layer {
                    d.rectify();
                }
            }
            loss = Some(value.mean);
        }
        clamp_weights(&mut state.network, training.clip_weights_max);
        Ok(BatchOutcome { loss, correct })
    }
}

/// Why one batch could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The exact model failed (non-finite gradient in simulation).
    #[error(transparent)]
    Model(ModelError),
    /// The chip failed.
    #[error(transparent)]
    Chip(ChipError),
}

/// What an epoch's training batches gave (NaN before training).
#[derive(Clone, Copy, Debug)]
struct Trained {
    loss: f64,
    accuracy: f64,
    learning_rate: f64,
    bumped: usize,
}

/// What one training batch did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchOutcome {
    /// The batch-mean loss, or None if the batch bumped weights instead of taking a step.
    pub loss: Option<f64>,
    /// Correct predictions of the forward pass (before the update).
    pub correct: usize,
}

/// A random permutation of 0..n (Fisher-Yates).
fn shuffled(n: usize, rng: &mut Rng) -> Vec<usize> {
    use rand::RngExt;
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// Adds N(mean, std^2) to every input time and takes the absolute value; missing inputs stay missing.
fn add_input_noise(inputs: &mut Matrix, mean: f64, std: f64, rng: &mut Rng) {
    for t in &mut inputs.data {
        let noise = rng::normal(rng, mean, std);
        if t.is_finite() {
            *t = (*t + noise).abs();
        }
    }
}

/// The gradient of `alpha * mean(D^2)` (added to every unmasked sample, then averaged over the batch).
fn add_l2_delay_gradient(network: &Network, loss: &Loss, unmasked_fraction: f64, grads: &mut Gradients) {
    let Some((alpha, effective)) = loss.l2_delay() else { return };
    let count: usize =
        network.delay_layers().map(|(_, d)| if effective { d.effective().data.len() } else { d.raw.data.len() }).sum();
    if count == 0 {
        return;
    }
    let factor = unmasked_fraction * alpha * 2.0 / count as f64;
    for (index, d) in network.delay_layers() {
        let extra = if effective {
            let eff = d.effective();
            d.raw_gradient(&eff.map(|x| factor * x))
        } else {
            d.raw.map(|x| factor * x)
        };
        match &mut grads.layers[index] {
            Some(g) => g.add_assign(&extra),
            None => grads.layers[index] = Some(extra),
        }
    }
}

/// Clamps every NeuronLayer's weights to its bound: its own `clip_weights_max`, else the global one.
fn clamp_weights(network: &mut Network, global: Option<f64>) {
    for layer in &mut network.layers {
        if let Layer::Neuron(n) = layer {
            let bound = match n.config.neuron.clip {
                Some(LayerClip::Bound(m)) => Some(m),
                Some(LayerClip::Unclamped) => None,
                None => global,
            };
            if let Some(m) = bound {
                n.weights.data.iter_mut().for_each(|w| *w = w.clamp(-m, m));
            }
        }
    }
}
