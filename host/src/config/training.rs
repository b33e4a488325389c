//! `training_params`: optimiser, schedule, loss, bumping, noise and the other knobs of a run.

use super::ConfigError;
use super::reader::Section;
use crate::substrate::Substrate;
use crate::text::Excerpt;

/// Optimiser (one parameter group per layer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerConfig {
    /// PyTorch's Adam with its defaults (beta 0.9/0.999, eps 1e-8).
    Adam,
    /// SGD with momentum (no dampening, no Nesterov).
    Sgd {
        /// Momentum factor.
        momentum: f64,
    },
}

/// Learning-rate schedule, stepped once per epoch.
#[derive(Clone, Debug, PartialEq)]
pub enum SchedulerConfig {
    /// Multiply by gamma every `step_size` epochs.
    Step {
        /// Epochs per decay.
        step_size: usize,
        /// Decay factor.
        gamma: f64,
    },
    /// Multiply by gamma when the number of finished epochs reaches a milestone.
    MultiStep {
        /// Epoch counts at which to decay.
        milestones: Vec<usize>,
        /// Decay factor.
        gamma: f64,
    },
    /// Multiply by gamma every epoch (the reference's version of this is broken; ours works).
    Exponential {
        /// Decay factor.
        gamma: f64,
    },
}

/// The per-sample loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossKind {
    /// Cross-entropy of softmax(-t / (xi tau)).
    Ttfs {
        /// Temperature xi.
        xi: f64,
    },
    /// Squared distance to target times.
    Mse {
        /// Target time of the correct neuron (in tau_syn).
        t_correct: f64,
        /// Target time of the others.
        t_wrong: f64,
    },
    /// Squared distance of time differences to the label neuron from the targets (0 and delta_t).
    ShiftInvariantMse {
        /// Target lead of the label neuron.
        delta_t: f64,
    },
}

/// A regulariser added to every sample's loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regulariser {
    /// `alpha * exp(t_y / (beta tau))`: pushes the label spike early.
    EarlyOutput {
        /// Weight.
        alpha: f64,
        /// Time scale.
        beta: f64,
    },
    /// `alpha * mean(D^2)` over all delays (effective or raw).
    L2Delay {
        /// Weight.
        alpha: f64,
        /// Use the delays after positivity and sharing (true) or the raw parameters.
        use_effective_delays: bool,
    },
}

/// `training_params.loss`.
#[derive(Clone, Debug, PartialEq)]
pub struct LossConfig {
    /// The loss.
    pub kind: LossKind,
    /// Regularisers, in order.
    pub regularisers: Vec<Regulariser>,
}

/// Gaussian noise on training inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingNoise {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std_dev: f64,
}

/// Weight bumping when too many neurons stay silent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BumpingConfig {
    /// First bump size.
    pub value: f64,
    /// Double the bump on consecutive bumps of the same layer.
    pub exponential: bool,
    /// Bump only the incoming weights of neurons that missed a spike.
    pub targeted: bool,
}

/// The Euler integrator that can replace the closed-form forward pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntegratorConfig {
    /// Time step (tau_syn).
    pub resolution: f64,
    /// Simulated duration (tau_syn).
    pub sim_time: f64,
}

/// `training_params`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size (defaults to `batch_size`).
    pub batch_size_eval: usize,
    /// Epochs to train.
    pub epoch_number: usize,
    /// Epochs after which a snapshot is written (sorted, unique, the last epoch added).
    pub epoch_snapshots: Vec<usize>,
    /// Global learning rate.
    pub learning_rate: f64,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule, if any.
    pub lr_scheduler: Option<SchedulerConfig>,
    /// Loss and regularisers.
    pub loss: LossConfig,
    /// The run's seed (`torch_seed`): initial parameters, shuffling, all noise.
    pub seed: u64,
    /// Seed of the data sets that draw random samples (`numpy_seed`).
    pub numpy_seed: Option<u64>,
    /// Log progress every this percentage of epochs.
    pub print_step_percent: f64,
    /// Noise on training inputs, if any.
    pub training_noise: Option<TrainingNoise>,
    /// Weight bumping.
    pub bumping: BumpingConfig,
    /// Where forward passes run: the simulation, or a chip (`emulator[:PROFILE]`, an endpoint, or the
    /// reference's `hx`, whose endpoint the command line supplies). Opened by the trainer.
    pub substrate: Substrate,
    /// Seed of the embedded emulator's fixed pattern and noise (this tool's key; default 1).
    pub chip_seed: u64,
    /// Replace the closed-form forward pass by the Euler integrator.
    pub integrator: Option<IntegratorConfig>,
    /// Round weights to multiples of this in every forward pass.
    pub rounding_precision: Option<f64>,
    /// Clamp weights to [-m, m] after every batch.
    pub clip_weights_max: Option<f64>,
}

const KEYS: &[&str] = &[
    "batch_size",
    "batch_size_eval",
    "epoch_number",
    "epoch_snapshots",
    "learning_rate",
    "optimizer",
    "momentum",
    "lr_scheduler",
    "loss",
    "torch_seed",
    "numpy_seed",
    "print_step_percent",
    "training_noise",
    "weight_bumping_value",
    "weight_bumping_exp",
    "weight_bumping_targeted",
    "substrate",
    "chip_seed",
    "enforce_cpu",
    "use_forward_integrator",
    "resolution",
    "sim_time",
    "rounding_precision",
    "clip_weights_max",
    // Read by the reference but without effect: the neuron parameter of the same name is what counts.
    "max_dw_norm",
    // Legacy keys of the Fast & Deep era schema, ignored by the reference.
    "use_hicannx",
    "alpha",
    "beta",
    "xi",
    "max_num_missing_spikes",
];

fn parse_scheduler(s: &Section) -> Result<Option<SchedulerConfig>, ConfigError> {
    let Some(sch) = s.opt_section("lr_scheduler")? else { return Ok(None) };
    if !sch.has("type") {
        return Err(sch.error("type", "missing required key (use `type: null` for no schedule)"));
    }
    let Some(kind) = sch.opt_str("type")? else {
        sch.deny_unknown(&["type", "step_size", "gamma", "milestones"])?;
        return Ok(None);
    };
    let gamma = |sch: &Section| {
        let g = sch.f64("gamma")?;
        if !(g > 0.0 && g.is_finite()) {
            return Err(sch.error("gamma", format!("must be positive, found {g}")));
        }
        Ok(g)
    };
    let config = match kind {
        "StepLR" => SchedulerConfig::Step { step_size: sch.count("step_size")?, gamma: gamma(&sch)? },
        "MultiStepLR" => {
            if !sch.has("milestones") {
                return Err(sch.error("milestones", "missing required key"));
            }
            let milestones = sch.opt_u64_list("milestones")?.into_iter().map(|m| m as usize).collect();
            SchedulerConfig::MultiStep { milestones, gamma: gamma(&sch)? }
        }
        "ExponentialLR" => SchedulerConfig::Exponential { gamma: gamma(&sch)? },
        other => {
            return Err(sch.error(
                "type",
                format!("unknown scheduler {} (expected StepLR, MultiStepLR or ExponentialLR)", Excerpt::new(other)),
            ));
        }
    };
    sch.deny_unknown(&["type", "step_size", "gamma", "milestones"])?;
    Ok(Some(config))
}

/// The substrate training runs on (grammar in [`crate::substrate`]); the default is the simulation.
fn parse_substrate(s: &Section) -> Result<Substrate, ConfigError> {
    match s.opt_str("substrate")? {
        None => Ok(Substrate::Simulation),
        Some(text) => text.parse().map_err(|source| ConfigError::Substrate { path: s.key_path("substrate"), source }),
    }
}

fn parse_loss(s: &Section) -> Result<LossConfig, ConfigError> {
    let loss = s.section("loss")?;
    let kind = match loss.str("type")? {
        "TTFS" => LossKind::Ttfs { xi: loss.positive_f64("xi")? },
        "MSE" => LossKind::Mse { t_correct: loss.f64("t_correct")?, t_wrong: loss.f64("t_wrong")? },
        "shift_invariant_MSE" => LossKind::ShiftInvariantMse { delta_t: loss.f64("delta_t")? },
        other => {
            return Err(loss.error(
                "type",
                format!("unknown loss {} (expected TTFS, MSE or shift_invariant_MSE)", Excerpt::new(other)),
            ));
        }
    };
    let mut regularisers = Vec::new();
    for (path, v) in loss.opt_list("regulariser")? {
        let r = Section::item_section(path, v)?;
        let alpha = r.f64("alpha")?;
        regularisers.push(match r.str("type")? {
            "early_output" => {
                let beta = r.positive_f64("beta")?;
                r.deny_unknown(&["type", "alpha", "beta"])?;
                Regulariser::EarlyOutput { alpha, beta }
            }
            "l2_delay" => {
                let use_effective_delays = r.bool("use_effective_delays")?;
                r.deny_unknown(&["type", "alpha", "use_effective_delays"])?;
                Regulariser::L2Delay { alpha, use_effective_delays }
            }
            other => {
                return Err(r.error(
                    "type",
                    format!("unknown regulariser {} (expected early_output or l2_delay)", Excerpt::new(other)),
                ));
            }
        });
    }
    loss.deny_unknown(&["type", "xi", "t_correct", "t_wrong", "delta_t", "regulariser"])?;
    Ok(LossConfig { kind, regularisers })
}

impl TrainingConfig {
    /// Reads `training_params`.
    pub fn parse(s: &Section) -> Result<TrainingConfig, ConfigError> {
        let batch_size = s.count("batch_size")?;
        let epoch_number = s.u64("epoch_number")? as usize;
        // Sorted and unique (the reference keeps the list as written); snapshots past the end are dropped
        // rather than training past `epoch_number` as the reference does.
        let mut epoch_snapshots: Vec<usize> = s
            .opt_u64_list("epoch_snapshots")?
            .into_iter()
            .map(|e| e as usize)
            .filter(|&e| e > 0 && e <= epoch_number)
            .collect();
        epoch_snapshots.push(epoch_number);
        epoch_snapshots.sort_unstable();
        epoch_snapshots.dedup();
        let optimizer = match s.opt_str("optimizer")?.unwrap_or("sgd") {
            "adam" => OptimizerConfig::Adam,
            "sgd" => OptimizerConfig::Sgd {
                momentum: s
                    .opt_nonnegative_f64("momentum")?
                    .ok_or_else(|| s.error("momentum", "missing (required for sgd)"))?,
            },
            other => {
                return Err(
                    s.error("optimizer", format!("unknown optimizer {} (expected adam or sgd)", Excerpt::new(other)))
                );
            }
        };
        let _ = s.raw("momentum");
        let training_noise = match s.opt_section("training_noise")? {
            None => None,
            Some(n) => {
                let noise =
                    TrainingNoise { mean: n.f64("mean")?, std_dev: n.opt_nonnegative_f64("std_dev")?.unwrap_or(0.0) };
                n.deny_unknown(&["mean", "std_dev"])?;
                Some(noise)
            }
        };
        let integrator = if s.bool_or("use_forward_integrator", false)? {
            let resolution = s.positive_f64("resolution")?;
            let sim_time = s.positive_f64("sim_time")?;
            if sim_time / resolution > 1e7 {
                return Err(s.error("resolution", "sim_time / resolution exceeds 1e7 steps"));
            }
            Some(IntegratorConfig { resolution, sim_time })
        } else {
            let _ = (s.raw("resolution"), s.raw("sim_time"));
            None
        };
        let rounding_precision = s.number_or_false("rounding_precision")?;
        if let Some(p) = rounding_precision
            && !(p > 0.0)
        {
            return Err(s.error("rounding_precision", format!("must be positive or false, found {p}")));
        }
        let clip_weights_max = s.number_or_false("clip_weights_max")?;
        if let Some(m) = clip_weights_max
            && !(m > 0.0)
        {
            return Err(s.error("clip_weights_max", format!("must be positive or false, found {m}")));
        }
        if !s.has("torch_seed") {
            return Err(s.error("torch_seed", "missing required key (the seed of the run)"));
        }
        let seed = s
            .opt_u64("torch_seed")?
            .ok_or_else(|| s.error("torch_seed", "must be an integer: it seeds the run (null is not allowed)"))?;
        let config = TrainingConfig {
            batch_size,
            batch_size_eval: s.opt_count("batch_size_eval")?.unwrap_or(batch_size),
            epoch_number,
            epoch_snapshots,
            learning_rate: s.nonnegative_f64("learning_rate")?,
            optimizer,
            lr_scheduler: parse_scheduler(s)?,
            loss: parse_loss(s)?,
            seed,
            numpy_seed: s.opt_u64("numpy_seed")?,
            print_step_percent: s.opt_nonnegative_f64("print_step_percent")?.unwrap_or(5.0),
            training_noise,
            bumping: BumpingConfig {
                value: s.f64("weight_bumping_value")?,
                exponential: s.bool("weight_bumping_exp")?,
                targeted: s.bool("weight_bumping_targeted")?,
            },
            substrate: parse_substrate(s)?,
            chip_seed: s.opt_u64("chip_seed")?.unwrap_or(1),
            integrator,
            rounding_precision,
            clip_weights_max,
        };
        let _ = s.bool_or("enforce_cpu", false)?;
        s.deny_unknown(KEYS)?;
        Ok(config)
    }
}
