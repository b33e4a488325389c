//! Losses on output spike times, their gradients, masking, and class selection (spec §7).

use crate::config::{LossConfig, LossKind, Regulariser};
use crate::model::Matrix;

/// The value a masked sample's loss is replaced by (no gradient flows from it).
pub const MASKED_LOSS: f64 = 100.0;

/// A loss with its regularisers, in units of `tau` (the config's tau_syn).
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    config: LossConfig,
    tau: f64,
}

/// The loss of one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchLoss {
    /// Per-sample loss after masking.
    pub per_sample: Vec<f64>,
    /// Mean over the batch, masked samples included at [`MASKED_LOSS`].
    pub mean: f64,
    /// `d(mean)/d(output times)`, `[batch, n_outputs]`; zero rows for masked samples.
    pub delta: Matrix,
    /// Number of samples that were not masked.
    pub unmasked: usize,
}

impl Loss {
    /// A loss from the config; `tau` is the default neuron params' tau_syn.
    pub fn new(config: &LossConfig, tau: f64) -> Loss {
        Loss { config: config.clone(), tau }
    }

    /// The loss of a config, in units of the first NeuronLayer's tau_syn (the reference uses the default
    /// neuron params' tau_syn, which layers rarely override).
    pub fn for_config(config: &crate::config::Config) -> Loss {
        let tau = config.layout.layers.iter().find_map(|l| match &l.kind {
            crate::config::LayerKind::Neuron(n) => Some(n.neuron.params.tau_syn),
            _ => None,
        });
        Loss::new(&config.training.loss, tau.unwrap_or(1.0))
    }

    /// The L2 delay regulariser, if configured: (alpha, use_effective_delays).
    pub fn l2_delay(&self) -> Option<(f64, bool)> {
        self.config.regularisers.iter().find_map(|r| match *r {
            Regulariser::L2Delay { alpha, use_effective_delays } => Some((alpha, use_effective_delays)),
            Regulariser::EarlyOutput { .. } => None,
        })
    }

    /// Loss, mask and gradient of a batch. `delay_penalty` is `mean(D^2)` over the delays for the L2 delay
    /// regulariser (0 without delays), added to every sample before masking, as in the reference.
    pub fn evaluate(&self, times: &Matrix, labels: &[usize], delay_penalty: f64) -> BatchLoss {
        let batch = times.rows;
        let n = times.cols;
        let mut per_sample = Vec::with_capacity(batch);
        let mut delta = Matrix::zeros(batch, n);
        let mut unmasked = 0;
        let scale = 1.0 / batch as f64;
        for (b, &y) in labels.iter().enumerate() {
            let t = times.row(b);
            let ty = t[y];
            let mut loss = self.sample_loss(t, y);
            for r in &self.config.regularisers {
                loss += match *r {
                    Regulariser::EarlyOutput { alpha, beta } => alpha * (ty / (beta * self.tau)).exp(),
                    Regulariser::L2Delay { alpha, .. } => alpha * delay_penalty,
                };
            }
            if loss == f64::INFINITY || ty == f64::INFINITY {
                per_sample.push(MASKED_LOSS);
                continue;
            }
            per_sample.push(loss);
            unmasked += 1;
            let row = &mut delta.data[b * n..(b + 1) * n];
            self.sample_gradient(t, y, row);
            for r in &self.config.regularisers {
                if let Regulariser::EarlyOutput { alpha, beta } = *r {
                    row[y] += alpha * (ty / (beta * self.tau)).exp() / (beta * self.tau);
                }
            }
            row.iter_mut().for_each(|g| *g *= scale);
        }
        let mean = per_sample.iter().sum::<f64>() / batch.max(1) as f64;
        BatchLoss { per_sample, mean, delta, unmasked }
    }

    fn sample_loss(&self, t: &[f64], y: usize) -> f64 {
        let tau = self.tau;
        match self.config.kind {
            LossKind::Ttfs { xi } => {
                // Cross-entropy of softmax(-t / (xi tau)), with the log-sum-exp stabilised by the earliest time
                // (the reference evaluates it literally; they agree to rounding where that does not underflow).
                let s = xi * tau;
                let first = t.iter().copied().fold(f64::INFINITY, f64::min);
                let sum: f64 = t.iter().map(|&tk| (-(tk - first) / s).exp()).sum();
                sum.ln() - first / s + t[y] / s
            }
            LossKind::Mse { t_correct, t_wrong } => {
                0.5 * t
                    .iter()
                    .enumerate()
                    .map(|(k, &tk)| (tk - mse_target(k, y, t_correct, t_wrong, tau)).powi(2))
                    .sum::<f64>()
            }
            LossKind::ShiftInvariantMse { delta_t } => {
                0.5 * t
                    .iter()
                    .enumerate()
                    .map(|(k, &tk)| ((tk - t[y]) - shift_target(k, y, delta_t, tau)).powi(2))
                    .sum::<f64>()
            }
        }
    }

    fn sample_gradient(&self, t: &[f64], y: usize, out: &mut [f64]) {
        let tau = self.tau;
        match self.config.kind {
            LossKind::Ttfs { xi } => {
                let s = xi * tau;
                let first = t.iter().copied().fold(f64::INFINITY, f64::min);
                let weights: Vec<f64> = t.iter().map(|&tk| (-(tk - first) / s).exp()).collect();
                let total: f64 = weights.iter().sum();
                for (k, o) in out.iter_mut().enumerate() {
                    *o = -weights[k] / total / s + if k == y { 1.0 / s } else { 0.0 };
                }
            }
            LossKind::Mse { t_correct, t_wrong } => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = t[k] - mse_target(k, y, t_correct, t_wrong, tau);
                }
            }
            LossKind::ShiftInvariantMse { delta_t } => {
                let mut label = 0.0;
                for (k, o) in out.iter_mut().enumerate() {
                    if k != y {
                        let r = (t[k] - t[y]) - shift_target(k, y, delta_t, tau);
                        *o = r;
                        label -= r;
                    }
                }
                out[y] = label;
            }
        }
    }

    /// The predicted class of every sample (spec §7), -1 where the selected neuron did not spike.
    pub fn predictions(&self, times: &Matrix) -> Vec<i64> {
        (0..times.rows).map(|b| self.predict(times.row(b))).collect()
    }

    fn predict(&self, t: &[f64]) -> i64 {
        // As torch's argmin/argmax: a NaN anywhere is selected; ties go to the lowest index.
        if t.iter().any(|x| x.is_nan()) {
            return -1;
        }
        let key = |tk: f64| -> f64 {
            match self.config.kind {
                LossKind::Ttfs { .. } => tk,
                LossKind::Mse { t_correct, .. } => (tk - t_correct * self.tau).abs(),
                LossKind::ShiftInvariantMse { delta_t } if delta_t > 0.0 => tk.abs(),
                LossKind::ShiftInvariantMse { .. } => -tk.abs(),
            }
        };
        let mut best = 0;
        for k in 1..t.len() {
            if key(t[k]) < key(t[best]) {
                best = k;
            }
        }
        if t.get(best).is_some_and(|x| x.is_finite()) { best as i64 } else { -1 }
    }
}

fn mse_target(k: usize, y: usize, t_correct: f64, t_wrong: f64, tau: f64) -> f64 {
    // The reference's construction: onehot * (t_correct - t_wrong) * tau + t_wrong * tau.
    let onehot = if k == y { 1.0 } else { 0.0 };
    onehot * (t_correct - t_wrong) * tau + t_wrong * tau
}

fn shift_target(k: usize, y: usize, delta_t: f64, tau: f64) -> f64 {
    let onehot = if k == y { 1.0 } else { 0.0 };
    delta_t * tau - onehot * delta_t * tau
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(kind: LossKind, regularisers: Vec<Regulariser>) -> Loss {
        Loss::new(&LossConfig { kind, regularisers }, 1.0)
    }

    fn label_times() -> Matrix {
        Matrix::from_rows(&[vec![1.2, 1.5, f64::INFINITY], vec![1.1, 1.0, 1.3], vec![1.4, 1.25, 1.6]]).unwrap()
    }

    /// Spec §18, losses.
    #[test]
    fn reference_loss_values_and_predictions() {
        let t = label_times();
        let labels = [0, 2, 1];
        let cases = [
            (loss(LossKind::Ttfs { xi: 0.2 }, vec![]), 0.934659112688, vec![0, 1, 1]),
            (
                loss(LossKind::Ttfs { xi: 0.2 }, vec![Regulariser::EarlyOutput { alpha: 0.005, beta: 1.0 }]),
                0.952125373601,
                vec![0, 1, 1],
            ),
            (loss(LossKind::Mse { t_correct: 1.7, t_wrong: 1.0 }, vec![]), 33.482083333333, vec![1, 2, 2]),
            (loss(LossKind::ShiftInvariantMse { delta_t: 0.2 }, vec![]), 33.405833333333, vec![0, 1, 1]),
        ];
        for (l, want, predictions) in cases {
            let got = l.evaluate(&t, &labels, 0.0);
            assert!((got.mean - want).abs() < 1e-11, "{:?}: {} vs {want}", l.config.kind, got.mean);
            assert_eq!(l.predictions(&t), predictions, "{:?}", l.config.kind);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let t = Matrix::from_rows(&[vec![1.2, 1.5, 1.9], vec![1.1, 1.0, 1.3], vec![1.4, 1.25, 1.6]]).unwrap();
        let labels = [0, 2, 1];
        for l in [
            loss(LossKind::Ttfs { xi: 0.2 }, vec![Regulariser::EarlyOutput { alpha: 0.005, beta: 1.0 }]),
            loss(LossKind::Mse { t_correct: 1.7, t_wrong: 1.0 }, vec![]),
            loss(LossKind::ShiftInvariantMse { delta_t: 0.2 }, vec![]),
        ] {
            let delta = l.evaluate(&t, &labels, 0.0).delta;
            for k in 0..t.data.len() {
                let h = 1e-6;
                let (mut plus, mut minus) = (t.clone(), t.clone());
                plus.data[k] += h;
                minus.data[k] -= h;
                let fd = (l.evaluate(&plus, &labels, 0.0).mean - l.evaluate(&minus, &labels, 0.0).mean) / (2.0 * h);
                assert!((fd - delta.data[k]).abs() < 1e-7, "{:?} entry {k}: {fd} vs {}", l.config.kind, delta.data[k]);
            }
        }
    }

    #[test]
    fn masking_replaces_the_loss_and_removes_the_gradient() {
        let t = label_times();
        // Shift-invariant MSE: sample 0 has a missing output, so it is masked entirely.
        let l = loss(
            LossKind::ShiftInvariantMse { delta_t: 0.2 },
            vec![Regulariser::L2Delay { alpha: 1.0, use_effective_delays: true }],
        );
        let got = l.evaluate(&t, &[0, 2, 1], 0.5);
        assert_eq!(got.per_sample[0], MASKED_LOSS);
        assert_eq!(got.unmasked, 2);
        assert!(got.delta.row(0).iter().all(|&g| g == 0.0));
        // TTFS: a missing wrong output only gets gradient 0; a missing label output masks the sample.
        let ttfs = loss(LossKind::Ttfs { xi: 0.2 }, vec![]);
        let got = ttfs.evaluate(&t, &[0, 2, 1], 0.0);
        assert_ne!(got.per_sample[0], MASKED_LOSS);
        assert_eq!(got.delta.get(0, 2), 0.0);
        let got = ttfs.evaluate(&t, &[2, 2, 1], 0.0);
        assert_eq!(got.per_sample[0], MASKED_LOSS);
    }

    #[test]
    fn predictions_of_missing_or_nan_outputs_are_wrong() {
        let l = loss(LossKind::Ttfs { xi: 0.2 }, vec![]);
        let t = Matrix::from_rows(&[vec![f64::INFINITY; 3], vec![1.0, f64::NAN, 0.5], vec![0.7, 0.7, 0.9]]).unwrap();
        assert_eq!(l.predictions(&t), vec![-1, -1, 0]);
        // delta_t <= 0 selects the latest output, so any missing spike wins and is wrong.
        let l = loss(LossKind::ShiftInvariantMse { delta_t: -0.1 }, vec![]);
        let t = Matrix::from_rows(&[vec![1.0, f64::INFINITY, 0.5], vec![1.0, 2.0, 0.5]]).unwrap();
        assert_eq!(l.predictions(&t), vec![-1, 1]);
    }
}
