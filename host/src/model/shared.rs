//! The kernels for [`Arrival::Shared`](super::Arrival::Shared): every neuron of a layer sees the same input
//! times, so one sweep over a sample's sorted inputs serves all neurons at once.
//!
//! Weights are `[n_pre, n_post]`: input i's weights to all neurons are one contiguous row, and the per-input
//! update of every neuron's running sums is a plain loop over neurons that the compiler vectorises. Each neuron's
//! sums are still formed input after input in time order with the operations of the one-neuron functions in
//! [`spike`](super::spike), and every candidate those would accept is computed by them, so the spike times
//! and gradients are theirs bit for bit.

use super::matrix::Matrix;
use super::neuron::{NeuronParams, TauRatio};
use super::sort::SortedSample;
use super::spike::{Input, SUM_EPSILON, candidate_ratio_one, candidate_ratio_two, first_spike_time_from};

/// Once no more than one in this many neurons of the swept range are left without a spike, each of them
/// finishes alone: a one-neuron sweep costs about this many vectorised neuron updates per input.
const HAND_OVER: usize = 8;

/// Per-thread buffers of [`forward_sample`].
#[derive(Debug, Default)]
pub(super) struct ForwardScratch {
    sum_a: Vec<f64>,
    sum_b: Vec<f64>,
    /// Neurons whose candidate at the current input the cheap test could not reject.
    check: Vec<u8>,
}

impl ForwardScratch {
    fn reset(&mut self, m: usize) {
        for v in [&mut self.sum_a, &mut self.sum_b] {
            v.clear();
            v.resize(m, 0.0);
        }
        self.check.clear();
        self.check.resize(m, 0);
    }
}

/// First-spike times of all neurons for one sample: `out[j]` for neuron j with crossing constant `c[j]`.
///
/// Equals [`first_spike_time`](super::spike::first_spike_time) per neuron on the sample's sorted inputs.
pub(super) fn forward_sample(
    p: &NeuronParams,
    weights: &Matrix,
    s: &SortedSample,
    c: &[f64],
    out: &mut [f64],
    f: &mut ForwardScratch,
) {
    let m = out.len();
    out.fill(f64::INFINITY);
    f.reset(m);
    let (mut lo, mut hi, mut left) = (0, m, m);
    for k in 0..s.finite {
        if left == 0 {
            return;
        }
        let row = &weights.row(s.order[k] as usize)[lo..hi];
        let any = match p.ratio {
            TauRatio::One if p.tau_syn == 1.0 => sweep_ratio_one::<true>(p, s, k, row, c, out, f, lo..hi),
            TauRatio::One => sweep_ratio_one::<false>(p, s, k, row, c, out, f, lo..hi),
            TauRatio::Two => sweep_ratio_two(p, s, k, row, c, out, f, lo..hi),
        };
        if any {
            let (t, next) = (s.t[k], s.t[k + 1]);
            for j in lo..hi {
                if f.check[j] == 0 {
                    continue;
                }
                let a = f.sum_a[j] + SUM_EPSILON;
                let candidate = match p.ratio {
                    TauRatio::One => {
                        candidate_ratio_one(p.tau_syn, c[j], a, f.sum_b[j] / p.tau_syn + SUM_EPSILON, next, s.es[k + 1])
                    }
                    TauRatio::Two => candidate_ratio_two(p.tau_syn, c[j], a, f.sum_b[j] + SUM_EPSILON, s.em[k + 1]),
                };
                if candidate.is_finite() && candidate >= t && candidate <= next {
                    out[j] = candidate;
                    left -= 1;
                }
            }
            while lo < hi && out[lo] != f64::INFINITY {
                lo += 1;
            }
            while hi > lo && out[hi - 1] != f64::INFINITY {
                hi -= 1;
            }
        }
        if left > 0 && left * HAND_OVER <= hi - lo {
            for j in lo..hi {
                if out[j] == f64::INFINITY {
                    let sums = (f.sum_a[j], f.sum_b[j]);
                    let m = weights.cols;
                    out[j] = first_spike_time_from(p, c[j], sums, k + 1, s.len(), |q| Input {
                        t: s.t[q],
                        es: s.es[q],
                        em: s.em[q],
                        w: weights.data[s.order[q] as usize * m + j],
                    });
                }
            }
            return;
        }
    }
}

/// Adds input k (weights `row` to the neurons `range`) to the running sums for tau_mem = tau_syn and marks the
/// neurons without a spike whose candidate the quick test of `candidate_ratio_one` does not reject; true if
/// any. The test is the one of `candidate_ratio_one`, its `B/A + 1 > u_next (1 + 1e-9) + 1e-9` multiplied by
/// A > 0 and made stricter by 1e-12 (far above rounding), so that it never rejects what that function would
/// not.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sweep_ratio_one<const UNIT_TAU: bool>(
    p: &NeuronParams,
    s: &SortedSample,
    k: usize,
    row: &[f64],
    c: &[f64],
    out: &[f64],
    f: &mut ForwardScratch,
    range: std::ops::Range<usize>,
) -> bool {
    let (t, es) = (s.t[k], s.es[k]);
    let (next_es, quick) = (s.es[k + 1], s.es[k + 1].is_finite());
    let u_next = s.t[k + 1] / p.tau_syn;
    let x = u_next * (1.0 + 1e-9) + 1e-9;
    let x = x + 1e-12 * (x.abs() + 1.0);
    let mut any = 0u8;
    let lanes = f.sum_a[range.clone()]
        .iter_mut()
        .zip(&mut f.sum_b[range.clone()])
        .zip(&mut f.check[range.clone()])
        .zip(row)
        .zip(&c[range.clone()])
        .zip(&out[range]);
    for (((((sum_a, sum_b), check), &w), &c), &out) in lanes {
        *sum_a += w * es;
        *sum_b += w * t * es;
        let a = *sum_a + SUM_EPSILON;
        let b = if UNIT_TAU { *sum_b } else { *sum_b / p.tau_syn } + SUM_EPSILON;
        let reject = quick & (a > 0.0) & (b + a > a * x) & (a * u_next - b < c * next_es * (1.0 - 1e-9));
        let keep = (out == f64::INFINITY) & !reject;
        *check = keep as u8;
        any |= keep as u8;
    }
    any != 0
}

/// [`sweep_ratio_one`] for tau_mem = 2 tau_syn with the tests of `candidate_ratio_two`, which need no division:
/// the same expressions, so the same decisions.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sweep_ratio_two(
    _p: &NeuronParams,
    s: &SortedSample,
    k: usize,
    row: &[f64],
    c: &[f64],
    out: &[f64],
    f: &mut ForwardScratch,
    range: std::ops::Range<usize>,
) -> bool {
    let (es, em) = (s.es[k], s.em[k]);
    let (next_em, quick) = (s.em[k + 1], s.em[k + 1].is_finite());
    let mut any = 0u8;
    let lanes = f.sum_a[range.clone()]
        .iter_mut()
        .zip(&mut f.sum_b[range.clone()])
        .zip(&mut f.check[range.clone()])
        .zip(row)
        .zip(&c[range.clone()])
        .zip(&out[range]);
    for (((((sum_a, sum_b), check), &w), &c), &out) in lanes {
        *sum_a += w * es;
        *sum_b += w * em;
        let a = *sum_a + SUM_EPSILON;
        let a2 = *sum_b + SUM_EPSILON;
        let disc = a2 * a2 - 4.0 * a * c;
        let bound = 2.0 * a - a2 * next_em;
        let no_root = !(disc >= 0.0);
        let later = quick & (a > 0.0) & (bound > 0.0) & (disc * next_em * next_em < bound * bound * (1.0 - 1e-7));
        let keep = (out == f64::INFINITY) & !(no_root | later);
        *check = keep as u8;
        any |= keep as u8;
    }
    any != 0
}

/// Per-thread buffers of [`backward_sample`].
#[derive(Debug, Default)]
pub(super) struct BackwardScratch {
    /// One neuron's causal weights, `dT/dw` and `dT/dt`, in time order.
    w: Vec<f64>,
    dw: Vec<f64>,
    dt: Vec<f64>,
    /// The sample's input-time gradient in time order.
    base: Vec<f64>,
}

/// Exact gradients of one sample (spec §3), as [`spike_time_gradient`](super::spike::spike_time_gradient) gives
/// them per neuron on the causal inputs in time order: adds `dL/dw` to `g_w_t` (`[n_post, n_pre]`, transposed so
/// that a neuron's inputs are contiguous) and writes `dL/dt` into `base_row` (zeros on entry).
///
/// `w_t` is the transposed weight matrix, `out` and `delta` the sample's output times and errors. A neuron whose
/// scaled gradient is not finite is skipped with [`NonFinite::Zero`](super::NonFinite::Zero), and returned as
/// `Err(neuron)` (the first one) with `Fail`.
#[allow(clippy::too_many_arguments)]
pub(super) fn backward_sample(
    p: &NeuronParams,
    c: f64,
    w_t: &Matrix,
    s: &SortedSample,
    out: &[f64],
    delta: &[f64],
    max_dw_norm: Option<f64>,
    fail: bool,
    g_w_t: &mut [f64],
    base_row: &mut [f64],
    bs: &mut BackwardScratch,
) -> Result<(), usize> {
    let n = s.len();
    bs.base.clear();
    bs.base.resize(n, 0.0);
    // In time order a causal set is contiguous: inputs at -inf (infinite lag) come first and are skipped, a
    // negative NaN (first of all) ends every causal set before it starts, and +inf and +NaN are never causal.
    if s.t[..n].first().is_some_and(|t| t.is_nan()) {
        return Ok(());
    }
    let lead = s.t[..n].iter().position(|&t| t != f64::NEG_INFINITY).unwrap_or(n);
    for (j, (&t_out, &d)) in out.iter().zip(delta).enumerate() {
        let d = if d.is_nan() { 0.0 } else { d };
        if d == 0.0 || !t_out.is_finite() {
            continue;
        }
        let end = lead + s.t[lead..n].partition_point(|&t| t_out - t >= 0.0);
        let mut start = lead;
        while start < end && !(t_out - s.t[start]).is_finite() {
            start += 1;
        }
        let w_row = w_t.row(j);
        let (order, t, es, em) = (&s.order[start..end], &s.t[start..end], &s.es[start..end], &s.em[start..end]);
        let count = end - start;
        for v in [&mut bs.w, &mut bs.dw, &mut bs.dt] {
            v.clear();
            v.resize(count, 0.0);
        }
        let (w, dw, dt) = (&mut bs.w[..], &mut bs.dw[..], &mut bs.dt[..]);
        let mut sum_a = 0.0;
        let mut sum_b = 0.0;
        for k in 0..count {
            let wk = w_row[order[k] as usize];
            w[k] = wk;
            sum_a += wk * es[k];
            sum_b += match p.ratio {
                TauRatio::One => wk * t[k] * es[k],
                TauRatio::Two => wk * em[k],
            };
        }
        let a = sum_a + SUM_EPSILON;
        match p.ratio {
            TauRatio::One => {
                let b = sum_b / p.tau_syn + SUM_EPSILON;
                let w0 = super::lambert_w::lambert_w0(-(c / a) * (b / a).exp());
                if w0.is_nan() {
                    continue;
                }
                let denom = a * (1.0 + w0);
                let tau = p.tau_syn;
                for k in 0..count {
                    let lag = t_out - t[k];
                    dw[k] = -es[k] * lag / denom * d;
                    dt[k] = -w[k] * es[k] * (lag - tau) / (tau * denom) * d;
                }
            }
            TauRatio::Two => {
                let a2 = sum_b + SUM_EPSILON;
                let root = (a2 * a2 - 4.0 * a * c).sqrt();
                if root.is_nan() {
                    continue;
                }
                let factor = 1.0 + c * (t_out / p.tau_mem).exp() / root;
                for k in 0..count {
                    dw[k] = p.tau_mem * (factor * es[k] / a - em[k] / root) * d;
                    // The reference hard-codes tau_mem / tau_syn = 2 here.
                    dt[k] = w[k] * (2.0 * factor * es[k] / a - em[k] / root) * d;
                }
            }
        }
        let mut largest = 0.0f64;
        let mut finite = true;
        for (x, y) in dw.iter().zip(&*dt) {
            largest = largest.max(x.abs());
            finite &= x.is_finite() & y.is_finite();
        }
        if !finite {
            if fail {
                return Err(j);
            }
            continue;
        }
        if !max_dw_norm.is_some_and(|limit| largest > limit) {
            let g_row = &mut g_w_t[j * n..(j + 1) * n];
            for (&i, &x) in order.iter().zip(&*dw) {
                g_row[i as usize] += x;
            }
        }
        for (b, &x) in bs.base[start..end].iter_mut().zip(&*dt) {
            *b += x;
        }
    }
    for (&i, &x) in s.order.iter().zip(&bs.base) {
        base_row[i as usize] = x;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::spike::{Input, spike_time_gradient};
    use super::super::{
        Arrival, Matrix, ModelError, NeuronParams, NonFinite, TauRatio, layer_backward_with, layer_forward,
    };

    fn params(ratio_two: bool, threshold: f64) -> NeuronParams {
        if ratio_two {
            NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold, ratio: TauRatio::Two }
        } else {
            NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold, ratio: TauRatio::One }
        }
    }

    fn bits(m: &Matrix) -> Vec<u64> {
        m.data.iter().map(|x| x.to_bits()).collect()
    }

    /// The gradients of a batch of at most 8 samples (one reduction chunk) as `spike_time_gradient` gives them
    /// neuron by neuron on its causal inputs in time order, ties in input order: `(dL/dW, dL/dt)`.
    fn reference_backward(
        p: &NeuronParams,
        limit: Option<f64>,
        weights: &Matrix,
        times: &Matrix,
        out: &Matrix,
        delta: &Matrix,
        non_finite: NonFinite,
    ) -> Result<(Matrix, Matrix), ModelError> {
        let (batch, n, m) = (times.rows, times.cols, weights.cols);
        assert!(batch <= 8);
        let c = p.crossing_constant(p.threshold);
        let (mut g_w, mut g_t) = (Matrix::zeros(n, m), Matrix::zeros(batch, n));
        for b in 0..batch {
            let t = times.row(b);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&x, &y| t[x].total_cmp(&t[y]));
            for j in 0..m {
                let (t_out, d) = (out.get(b, j), delta.get(b, j));
                let d = if d.is_nan() { 0.0 } else { d };
                if d == 0.0 || !t_out.is_finite() {
                    continue;
                }
                let mut causal = Vec::new();
                for &i in &order {
                    let lag = t_out - t[i];
                    if lag < 0.0 || lag.is_nan() {
                        break;
                    }
                    if lag.is_finite() {
                        causal.push(i);
                    }
                }
                let inputs: Vec<Input> = causal
                    .iter()
                    .map(|&i| {
                        let es = (t[i] / p.tau_syn).exp();
                        Input { t: t[i], es, em: es.sqrt(), w: weights.get(i, j) }
                    })
                    .collect();
                let (mut dw, mut dt) = (vec![0.0; causal.len()], vec![0.0; causal.len()]);
                if !spike_time_gradient(p, c, t_out, |k| inputs[k], &mut dw, &mut dt) {
                    continue;
                }
                dw.iter_mut().chain(&mut dt).for_each(|x| *x *= d);
                if dw.iter().chain(&dt).any(|x| !x.is_finite()) {
                    match non_finite {
                        NonFinite::Fail => {
                            return Err(ModelError::NonFiniteGradient { sample: b, neuron: j, spike_time: t_out });
                        }
                        NonFinite::Zero => continue,
                    }
                }
                let largest = dw.iter().fold(0.0f64, |l, x| l.max(x.abs()));
                for (k, &i) in causal.iter().enumerate() {
                    if !limit.is_some_and(|limit| largest > limit) {
                        *g_w.get_mut(i, j) += dw[k];
                    }
                    *g_t.get_mut(b, i) += dt[k];
                }
            }
        }
        Ok((g_w, g_t))
    }

    proptest::proptest! {
        /// The all-neuron kernels give exactly what the one-neuron functions give on the same inputs: for the
        /// forward the per-synapse path with zero delays (it sorts each neuron's inputs the same way and runs
        /// `first_spike_time` neuron by neuron), for the backward `spike_time_gradient` on the causal inputs in
        /// time order.
        #[test]
        fn shared_kernels_equal_the_per_neuron_path(
            n in 1usize..60,
            m in 1usize..24,
            batch in 1usize..5,
            seed in proptest::num::u64::ANY,
            ratio_two in proptest::bool::ANY,
            threshold in 0.3f64..2.0,
            weight_mean in -0.2f64..1.5,
            limit in proptest::option::of(0.01f64..1.0),
            noisy_thresholds in proptest::bool::ANY,
        ) {
            use rand::{RngExt, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let p = params(ratio_two, threshold);
            // Ties (a coarse grid), missing inputs and a few negative times.
            let times: Vec<f64> = (0..batch * n)
                .map(|_| match rng.random_range(0..10) {
                    0 | 1 => f64::INFINITY,
                    2 | 3 => f64::from(rng.random_range(0..8u8)) * 0.25,
                    4 => -rng.random::<f64>() * 0.3,
                    _ => rng.random::<f64>() * 3.0,
                })
                .collect();
            let times = Matrix::from_vec(batch, n, times).unwrap();
            let weights: Vec<f64> = (0..n * m).map(|_| weight_mean + rng.random::<f64>() * 2.0 - 1.0).collect();
            let weights = Matrix::from_vec(n, m, weights).unwrap();
            let thresholds = noisy_thresholds.then(|| {
                Matrix::from_vec(batch, m, (0..batch * m).map(|_| threshold + rng.random::<f64>() * 0.2).collect())
                    .unwrap()
            });
            let shared = Arrival::Shared(times.clone());
            let per_synapse = Arrival::Offset { base: times.clone(), offset: Matrix::zeros(n, m) };
            let out = layer_forward(&p, &weights, &shared, thresholds.as_ref());
            let want = layer_forward(&p, &weights, &per_synapse, thresholds.as_ref());
            proptest::prop_assert_eq!(bits(&out), bits(&want));
            // Errors on most neurons, some zero or NaN; the output times as given (finite ones only matter).
            let delta: Vec<f64> = (0..batch * m)
                .map(|k| if k % 7 == 3 { 0.0 } else if k % 11 == 5 { f64::NAN } else { rng.random::<f64>() - 0.5 })
                .collect();
            let delta = Matrix::from_vec(batch, m, delta).unwrap();
            for non_finite in [NonFinite::Fail, NonFinite::Zero] {
                let got = layer_backward_with(&p, limit, &weights, &shared, &out, &delta, non_finite);
                let want = reference_backward(&p, limit, &weights, &times, &out, &delta, non_finite);
                match (got, want) {
                    (Ok(got), Ok((g_w, g_t))) => {
                        proptest::prop_assert_eq!(bits(&got.weights), bits(&g_w));
                        proptest::prop_assert_eq!(bits(&got.input.base), bits(&g_t));
                    }
                    (got, want) => proptest::prop_assert_eq!(got.err(), want.err()),
                }
            }
        }
    }
}
