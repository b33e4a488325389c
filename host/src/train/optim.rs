//! Optimisers with one parameter group per layer (spec §8 step 7) and the learning-rate schedules.

use serde::{Deserialize, Serialize};

use crate::config::{OptimizerConfig, SchedulerConfig};
use crate::network::{Gradients, Network};

const ADAM_BETA1: f64 = 0.9;
const ADAM_BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

/// The state of one layer's parameter group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// Current learning rate (after scheduling).
    pub lr: f64,
    /// Steps taken (Adam's t).
    pub steps: u64,
    /// Adam's first moment, or SGD's momentum buffer (empty before the first step).
    pub first: Vec<f64>,
    /// Adam's second moment (empty for SGD).
    pub second: Vec<f64>,
}

/// Which moments a group holds (each with one value per parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MomentsHeld {
    /// Adam's first moment or SGD's momentum buffer.
    pub first: bool,
    /// Adam's second moment.
    pub second: bool,
}

/// The moments a group of `size` trainable parameters holds after `steps` steps of `kind`: none before the
/// first step, then Adam both, SGD with momentum its buffer, plain SGD none.
pub fn moments_held(kind: OptimizerConfig, steps: u64, size: usize) -> MomentsHeld {
    let stepped = steps > 0 && size > 0;
    match kind {
        OptimizerConfig::Adam => MomentsHeld { first: stepped, second: stepped },
        OptimizerConfig::Sgd { momentum } => MomentsHeld { first: stepped && momentum != 0.0, second: false },
    }
}

/// Adam or SGD over the trainable tensors of a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer {
    kind: OptimizerConfig,
    /// The global learning rate with the schedule applied (what the log and metrics show).
    pub global_lr: f64,
    /// One group per layer, indexed like `Network::layers` (empty for layers without parameters).
    pub groups: Vec<GroupState>,
}

impl Optimizer {
    /// One group per layer with the layer's own learning rate if set (0 freezes), else the global one.
    pub fn new(kind: OptimizerConfig, network: &Network, learning_rate: f64) -> Optimizer {
        let groups = network
            .layers
            .iter()
            .map(|l| GroupState {
                lr: l.learning_rate().unwrap_or(learning_rate),
                steps: 0,
                first: vec![],
                second: vec![],
            })
            .collect();
        Optimizer { kind, global_lr: learning_rate, groups }
    }

    /// One step on every trainable tensor (including all-zero gradients: Adam still moves through its moments).
    pub fn step(&mut self, network: &mut Network, grads: &Gradients) {
        for ((layer, group), grad) in network.layers.iter_mut().zip(&mut self.groups).zip(&grads.layers) {
            let (Some(params), Some(grad)) = (layer.trainable_parameters_mut(), grad) else { continue };
            let p = &mut params.data;
            let g = &grad.data;
            group.steps += 1;
            match self.kind {
                OptimizerConfig::Adam => {
                    // Moments of another length than the parameters (never written by `checkpoint`, which
                    // checks them on loading) would be a bug; starting them afresh beats indexing out of bounds.
                    if group.first.len() != p.len() || group.second.len() != p.len() {
                        debug_assert!(group.first.is_empty(), "Adam moments of the wrong length");
                        group.first = vec![0.0; p.len()];
                        group.second = vec![0.0; p.len()];
                    }
                    let t = group.steps as i32;
                    let bias1 = 1.0 - ADAM_BETA1.powi(t);
                    let bias2_sqrt = (1.0 - ADAM_BETA2.powi(t)).sqrt();
                    let step_size = group.lr / bias1;
                    let moments = group.first.iter_mut().zip(group.second.iter_mut());
                    for ((pk, gk), (m, v)) in p.iter_mut().zip(g).zip(moments) {
                        // PyTorch's order of operations: m as a lerp, eps after the bias correction of v.
                        *m += (gk - *m) * (1.0 - ADAM_BETA1);
                        *v = *v * ADAM_BETA2 + (1.0 - ADAM_BETA2) * gk * gk;
                        let denom = v.sqrt() / bias2_sqrt + ADAM_EPS;
                        *pk -= step_size * *m / denom;
                    }
                }
                OptimizerConfig::Sgd { momentum } => {
                    if momentum != 0.0 {
                        if group.first.len() != p.len() {
                            debug_assert!(group.first.is_empty(), "SGD momentum buffer of the wrong length");
                            group.first = g.clone();
                        } else {
                            for (buf, gk) in group.first.iter_mut().zip(g) {
                                *buf = momentum * *buf + gk;
                            }
                        }
                        for (pk, buf) in p.iter_mut().zip(&group.first) {
                            *pk -= group.lr * buf;
                        }
                    } else {
                        for (pk, gk) in p.iter_mut().zip(g) {
                            *pk -= group.lr * gk;
                        }
                    }
                }
            }
        }
    }
}

/// Applies a learning-rate schedule at the end of each epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduler {
    config: Option<SchedulerConfig>,
}

impl Scheduler {
    /// A schedule (None: constant rates).
    pub fn new(config: Option<SchedulerConfig>) -> Scheduler {
        Scheduler { config }
    }

    /// Called after `epochs_done` epochs have finished (1, 2, ...).
    pub fn epoch_finished(&self, epochs_done: usize, optimizer: &mut Optimizer) {
        let factor = match &self.config {
            None => return,
            Some(SchedulerConfig::Step { step_size, gamma }) => {
                if !epochs_done.is_multiple_of(*step_size) {
                    return;
                }
                *gamma
            }
            Some(SchedulerConfig::MultiStep { milestones, gamma }) => {
                let hits = milestones.iter().filter(|&&m| m == epochs_done).count();
                if hits == 0 {
                    return;
                }
                gamma.powi(hits as i32)
            }
            Some(SchedulerConfig::Exponential { gamma }) => *gamma,
        };
        optimizer.global_lr *= factor;
        for group in &mut optimizer.groups {
            group.lr *= factor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn network() -> Network {
        let text = include_str!("../../../configs/yin_yang_H30_W.yaml");
        let config = Config::parse_str(text).unwrap();
        Network::new(&config.layout, 1)
    }

    #[test]
    fn adam_follows_the_reference_update() {
        let mut net = network();
        let mut opt = Optimizer::new(OptimizerConfig::Adam, &net, 0.005);
        // Per-layer rates: both NeuronLayers have 0.02.
        assert_eq!(opt.groups[1].lr, 0.02);
        let before = net.clone();
        let grads =
            Gradients { layers: net.layers.iter().map(|l| l.trainable_parameters().map(|p| p.map(|_| 0.5))).collect() };
        opt.step(&mut net, &grads);
        // First Adam step moves every parameter by lr * sign(g) (up to eps).
        let (w0, w1) =
            (before.layers[1].trainable_parameters().unwrap(), net.layers[1].trainable_parameters().unwrap());
        for (a, b) in w0.data.iter().zip(&w1.data) {
            assert!((a - b - 0.02).abs() < 1e-9);
        }
        // An all-zero gradient still moves parameters through the moments.
        let zeros =
            Gradients { layers: net.layers.iter().map(|l| l.trainable_parameters().map(|p| p.map(|_| 0.0))).collect() };
        let before = net.clone();
        opt.step(&mut net, &zeros);
        assert_ne!(before, net);
        assert_eq!(opt.groups[1].steps, 2);
    }

    #[test]
    fn sgd_with_momentum_follows_the_reference_update() {
        let mut net = network();
        let mut opt = Optimizer::new(OptimizerConfig::Sgd { momentum: 0.9 }, &net, 0.1);
        let start = net.layers[1].trainable_parameters().unwrap().data[0];
        let grads = |g: f64| Gradients {
            layers: net.layers.iter().map(|l| l.trainable_parameters().map(|p| p.map(|_| g))).collect(),
        };
        let (g1, g2) = (grads(1.0), grads(2.0));
        opt.step(&mut net, &g1);
        opt.step(&mut net, &g2);
        // buf = g1, then 0.9 g1 + g2; each layer has its own rate 0.02 (H30_W).
        let lr = 0.02;
        let want = start - lr * 1.0 - lr * (0.9 * 1.0 + 2.0);
        let got = net.layers[1].trainable_parameters().unwrap().data[0];
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }

    #[test]
    fn step_schedule_decays_every_step_size_epochs() {
        let net = network();
        let mut opt = Optimizer::new(OptimizerConfig::Adam, &net, 0.005);
        let sched = Scheduler::new(Some(SchedulerConfig::Step { step_size: 20, gamma: 0.95 }));
        for e in 1..=45 {
            sched.epoch_finished(e, &mut opt);
        }
        assert_eq!(opt.groups[0].lr, 0.005 * 0.95 * 0.95);
        let exp = Scheduler::new(Some(SchedulerConfig::Exponential { gamma: 0.5 }));
        exp.epoch_finished(1, &mut opt);
        assert_eq!(opt.groups[0].lr, 0.005 * 0.95 * 0.95 * 0.5);
    }
}
