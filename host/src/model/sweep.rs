//! First-spike times of all neurons of a layer whose inputs every neuron shares (no per-synapse delays): one
//! sweep over a sample's sorted inputs with the neurons side by side.
//!
//! [`first_spike_time`](super::spike::first_spike_time) sweeps one neuron at a time. Here each input is added to
//! every neuron's sums in one loop over the neurons, which the compiler vectorises, and the cheap rejection of
//! [`rejects`](super::spike::rejects) runs in the same loop; only the few neurons it cannot decide get the
//! closed form. Each neuron's sums are formed in the same order, and each candidate with the same operations,
//! as by `first_spike_time`, so the times are the same to the last bit.

use super::matrix::Matrix;
use super::neuron::{NeuronParams, TauRatio};
use super::spike::{Window, add_to_sums, closed_form, closed_form_sums, rejects};

/// One sample's inputs, sorted by time (+inf last): `t`, `es = exp(t/tau_syn)`, `em = exp(t/tau_mem)` (ratio 2;
/// any values for ratio 1) and `order[k]`, the input index of the k-th, all of one length.
pub struct SortedSample<'a> {
    pub t: &'a [f64],
    pub es: &'a [f64],
    pub em: &'a [f64],
    pub order: &'a [u32],
}

/// Per-thread buffers of the sweep over `n_post` neurons.
pub struct NeuronSweep {
    sum_a: Vec<f64>,
    sum_b: Vec<f64>,
    /// 1 where the neuron has not spiked and the window is not rejected: the closed form is needed.
    undecided: Vec<u8>,
}

impl NeuronSweep {
    /// Buffers for a layer of `n_post` neurons.
    pub fn new(n_post: usize) -> Self {
        NeuronSweep { sum_a: vec![0.0; n_post], sum_b: vec![0.0; n_post], undecided: vec![0; n_post] }
    }

    /// Writes into `out` the first-spike time of every neuron, `weights` `[n_pre, n_post]`, `c[j]` neuron j's
    /// crossing constant.
    pub fn run(&mut self, p: &NeuronParams, weights: &Matrix, sample: &SortedSample, c: &[f64], out: &mut [f64]) {
        let m = out.len();
        debug_assert!(weights.cols == m && c.len() == m && self.sum_a.len() == m);
        debug_assert!(sample.es.len() == sample.t.len() && sample.em.len() == sample.t.len());
        out.fill(f64::INFINITY);
        self.sum_a.fill(0.0);
        self.sum_b.fill(0.0);
        let n = sample.t.len();
        let mut silent = m;
        for k in 0..n {
            let t = sample.t[k];
            // Missing inputs come last; a window they open is always rejected.
            if !t.is_finite() || silent == 0 {
                break;
            }
            let (es, em) = (sample.es[k], sample.em[k]);
            let window = if k + 1 < n {
                Window { t, es, next_t: sample.t[k + 1], next_es: sample.es[k + 1], next_em: sample.em[k + 1] }
            } else {
                Window { t, es, next_t: f64::INFINITY, next_es: f64::INFINITY, next_em: f64::INFINITY }
            };
            let w = weights.row(sample.order[k] as usize);
            let any = match p.ratio {
                TauRatio::One => self.add_and_reject::<false>(p, w, t, es, em, &window, c, out),
                TauRatio::Two => self.add_and_reject::<true>(p, w, t, es, em, &window, c, out),
            };
            if any {
                silent -= self.decide(p, &window, c, out);
            }
        }
    }

    /// Adds input (t, es, em) with weights `w` to every neuron's sums and marks the neurons whose window the
    /// cheap test cannot reject; returns whether there is any. Plain loops over slices of one length, with the
    /// ratio fixed at compile time, so that they vectorise.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn add_and_reject<const RATIO_TWO: bool>(
        &mut self,
        p: &NeuronParams,
        w: &[f64],
        t: f64,
        es: f64,
        em: f64,
        window: &Window,
        c: &[f64],
        out: &[f64],
    ) -> bool {
        // The ratio as a constant, so that the helpers' match on it folds away inside the loops.
        let p = &NeuronParams { ratio: if RATIO_TWO { TauRatio::Two } else { TauRatio::One }, ..*p };
        let m = out.len();
        let (sum_a, sum_b, undecided) = (&mut self.sum_a[..m], &mut self.sum_b[..m], &mut self.undecided[..m]);
        let (w, c) = (&w[..m], &c[..m]);
        for j in 0..m {
            add_to_sums(p, &mut sum_a[j], &mut sum_b[j], w[j], t, es, em);
        }
        let mut any = 0u8;
        for j in 0..m {
            let (a, b) = closed_form_sums(p, sum_a[j], sum_b[j]);
            undecided[j] = u8::from((out[j] == f64::INFINITY) & !rejects(p, c[j], a, b, window));
            any |= undecided[j];
        }
        any != 0
    }

    /// The closed form for the marked neurons; returns how many spiked in this window.
    fn decide(&self, p: &NeuronParams, window: &Window, c: &[f64], out: &mut [f64]) -> usize {
        let mut spiked = 0;
        for (j, _) in self.undecided.iter().enumerate().filter(|&(_, &u)| u != 0) {
            let (a, b) = closed_form_sums(p, self.sum_a[j], self.sum_b[j]);
            let candidate = closed_form(p, c[j], a, b);
            if window.holds(candidate) {
                out[j] = candidate;
                spiked += 1;
            }
        }
        spiked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spike::{Input, first_spike_time};

    proptest::proptest! {
        /// Side by side, every neuron's time is `first_spike_time`'s to the last bit: both ratios, missing
        /// inputs, negative weights, per-neuron thresholds.
        #[test]
        fn equals_one_neuron_at_a_time(
            times in proptest::collection::vec((0.0f64..4.0, proptest::bool::weighted(0.3)), 1..60),
            weights in proptest::collection::vec(-1.0f64..2.5, 60 * 9),
            thresholds in proptest::collection::vec(0.3f64..3.0, 9),
            ratio_two in proptest::bool::ANY,
            neurons in 1usize..=9,
        ) {
            let p = if ratio_two {
                NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, ratio: TauRatio::Two }
            } else {
                NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, ratio: TauRatio::One }
            };
            let n = times.len();
            let t: Vec<f64> = times.iter().map(|&(t, missing)| if missing { f64::INFINITY } else { t }).collect();
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by(|&a, &b| t[a as usize].total_cmp(&t[b as usize]));
            let sorted_t: Vec<f64> = order.iter().map(|&i| t[i as usize]).collect();
            let es: Vec<f64> = sorted_t.iter().map(|t| t.exp()).collect();
            let em: Vec<f64> = sorted_t.iter().map(|t| if ratio_two { (t / 2.0).exp() } else { 0.0 }).collect();
            let w = Matrix::from_vec(n, neurons, weights[..n * neurons].to_vec()).unwrap();
            let c: Vec<f64> = thresholds[..neurons].iter().map(|&th| p.crossing_constant(th)).collect();
            let sample = SortedSample { t: &sorted_t, es: &es, em: &em, order: &order };
            let mut out = vec![0.0; neurons];
            NeuronSweep::new(neurons).run(&p, &w, &sample, &c, &mut out);
            for (j, &got) in out.iter().enumerate() {
                let want = first_spike_time(&p, c[j], n, |k| Input {
                    t: sorted_t[k],
                    es: es[k],
                    em: em[k],
                    w: w.get(order[k] as usize, j),
                });
                proptest::prop_assert_eq!(got.to_bits(), want.to_bits(), "neuron {}: {} vs {}", j, got, want);
            }
        }
    }
}
