//! A layer of neurons over a batch: first-spike times (forward) and exact gradients (backward), in parallel
//! over samples with results independent of the number of threads.

use rayon::prelude::*;

use super::arrival::{Arrival, ArrivalGrad};
use super::matrix::Matrix;
use super::neuron::NeuronParams;
use super::spike::{Input, causal_gradient, first_spike_time, sort_by_time};
use super::sweep::{NeuronSweep, SortedSample};

/// Samples per parallel work item. Fixed, so that sums over the batch are formed in the same order whatever
/// the number of threads: within a chunk in sample order, then chunk after chunk.
const CHUNK: usize = 8;

/// Errors of the exact model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A gradient came out NaN or infinite (the reference exits the process here).
    #[error("non-finite gradient in sample {sample}, neuron {neuron} (spike time {spike_time})")]
    NonFiniteGradient {
        /// Sample index within the batch.
        sample: usize,
        /// Neuron index within the layer.
        neuron: usize,
        /// The neuron's output time.
        spike_time: f64,
    },
}

/// Gradients of one layer for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerGrads {
    /// `dL/dW`, `[n_pre, n_post]`, summed over the batch.
    pub weights: Matrix,
    /// `dL/d(arrival times)`.
    pub input: ArrivalGrad,
}

/// The arrival in the form the per-neuron loops read fastest: per-synapse matrices transposed to
/// `[n_post, n_pre]` so that one neuron's inputs are contiguous, with `exp(offset / tau)` precomputed.
enum Layout<'a> {
    Shared {
        times: &'a Matrix,
    },
    Offset {
        base: &'a Matrix,
        /// `offset^T`, `exp(offset^T / tau_syn)`, `exp(offset^T / tau_mem)` (ratio 2 only, else empty).
        offset: Matrix,
        offset_es: Matrix,
        offset_em: Matrix,
    },
    Dense {
        n_pre: usize,
        n_post: usize,
        times: &'a [f64],
        p: NeuronParams,
    },
}

impl<'a> Layout<'a> {
    fn new(p: &NeuronParams, arrival: &'a Arrival) -> Self {
        match arrival {
            Arrival::Shared(times) => Layout::Shared { times },
            Arrival::Offset { base, offset } => {
                let offset = offset.transposed();
                let offset_es = offset.map(|x| (x / p.tau_syn).exp());
                let mut offset_em = Matrix::zeros(0, 0);
                if p.needs_membrane_exponential() {
                    offset_em = Matrix::zeros(offset.rows, offset.cols);
                    exp_membrane(p, &offset.data, &offset_es.data, &mut offset_em.data);
                }
                Layout::Offset { base, offset, offset_es, offset_em }
            }
            Arrival::Dense { n_pre, n_post, times, .. } => {
                Layout::Dense { n_pre: *n_pre, n_post: *n_post, times, p: *p }
            }
        }
    }
}

/// `exp(t / tau_mem)` given `es = exp(t / tau_syn)`: where tau_mem is exactly 2 tau_syn this is `sqrt(es)`
/// (cheaper than an exponential, and within an ulp of it).
fn exp_membrane(p: &NeuronParams, t: &[f64], es: &[f64], em: &mut [f64]) {
    if p.tau_mem == 2.0 * p.tau_syn {
        for (m, &e) in em.iter_mut().zip(es) {
            *m = e.sqrt();
        }
    } else {
        for (m, &t) in em.iter_mut().zip(t) {
            *m = (t / p.tau_mem).exp();
        }
    }
}

/// An unsigned key that orders f64 as `f64::total_cmp` does (-NaN < -inf < ... < -0 < +0 < ... < +inf < NaN).
fn total_order_key(t: f64) -> u64 {
    let bits = t.to_bits();
    // Negative numbers: all bits flipped (larger magnitude, smaller key); positive ones: the sign bit set.
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

/// Per-thread buffers for one sample.
struct Scratch {
    /// The sample's per-sample times (`Shared`/`Offset`), their `exp(t/tau_syn)` and `exp(t/tau_mem)`.
    t: Vec<f64>,
    es: Vec<f64>,
    em: Vec<f64>,
    /// The order of the per-sample times.
    order: Vec<u32>,
    /// Sort keys of the present inputs with their indices.
    keys: Vec<(u64, u32)>,
    /// The indices of a neuron's causal inputs (backward).
    causal: Vec<u32>,
    /// The same sorted (for `Shared`).
    sorted_t: Vec<f64>,
    sorted_es: Vec<f64>,
    sorted_em: Vec<f64>,
    /// One neuron's inputs sorted by time (for `Offset` and `Dense`).
    inputs: Vec<Input>,
    dw: Vec<f64>,
    dt: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        let zeros = || vec![0.0; n];
        Scratch {
            t: zeros(),
            es: zeros(),
            em: zeros(),
            order: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            causal: Vec::with_capacity(n),
            sorted_t: zeros(),
            sorted_es: zeros(),
            sorted_em: zeros(),
            inputs: vec![Input::default(); n],
            dw: zeros(),
            dt: zeros(),
        }
    }

    /// Loads sample b's per-sample times and their exponentials (for `Shared` and `Offset`).
    fn load_sample(&mut self, p: &NeuronParams, layout: &Layout, b: usize) {
        let base = match layout {
            Layout::Shared { times } => times,
            Layout::Offset { base, .. } => base,
            Layout::Dense { .. } => return,
        };
        self.t.copy_from_slice(base.row(b));
        for (e, &t) in self.es.iter_mut().zip(&self.t) {
            *e = (t / p.tau_syn).exp();
        }
        if p.needs_membrane_exponential() {
            exp_membrane(p, &self.t, &self.es, &mut self.em);
        }
    }

    /// Orders the loaded per-sample times; for `Shared` also keeps them sorted.
    ///
    /// Many inputs are missing (+inf: 58 % of 16x16 MNIST's pixels); they go last in input order, unsorted. The
    /// others are sorted as (key, index) pairs, the key ordering as `f64::total_cmp` does: a direct comparison
    /// instead of two lookups per comparison, and equal times in input order.
    fn sort_sample(&mut self, shared: bool) {
        let t = &self.t;
        self.order.clear();
        if t.len() > 12 {
            self.keys.clear();
            self.keys.extend(
                t.iter()
                    .enumerate()
                    .filter(|(_, t)| **t != f64::INFINITY)
                    .map(|(i, &t)| (total_order_key(t), i as u32)),
            );
            self.keys.sort_unstable();
            self.order.extend(self.keys.iter().map(|&(_, i)| i));
            self.order.extend((0..t.len() as u32).filter(|&i| t[i as usize] == f64::INFINITY));
        } else {
            // Insertion sort for few inputs.
            self.order.extend(0..t.len() as u32);
            for k in 1..self.order.len() {
                let item = self.order[k];
                let mut slot = k;
                while slot > 0 && t[self.order[slot - 1] as usize].total_cmp(&t[item as usize]).is_gt() {
                    self.order[slot] = self.order[slot - 1];
                    slot -= 1;
                }
                self.order[slot] = item;
            }
        }
        if shared {
            for (k, &i) in self.order.iter().enumerate() {
                let i = i as usize;
                self.sorted_t[k] = self.t[i];
                self.sorted_es[k] = self.es[i];
                self.sorted_em[k] = self.em[i];
            }
        }
    }

    /// For `Shared`: the causal inputs (arrived by `t_out`) as a run of the sorted sample, past any that arrived at
    /// -inf; None where a lag inside it is not finite (times near the largest floats), which
    /// [`Scratch::gather_causal_sorted`] then leaves out.
    fn causal_run(&self, t_out: f64) -> Option<std::ops::Range<usize>> {
        let (mut start, mut end) = (0, 0);
        for (k, &t) in self.sorted_t[..self.order.len()].iter().enumerate() {
            let lag = t_out - t;
            if lag < 0.0 || lag.is_nan() {
                break;
            }
            if !lag.is_finite() {
                if k != start {
                    return None;
                }
                start = k + 1;
            }
            end = k + 1;
        }
        Some(start..end)
    }

    /// For `Shared`: gathers the causal inputs (arrived by `t_out`) of a neuron with weights `w_row` into
    /// `self.inputs`, their indices into `self.causal`; they are a prefix of the sorted sample.
    fn gather_causal_sorted(&mut self, w_row: &[f64], t_out: f64) -> usize {
        self.causal.clear();
        for (k, &i) in self.order.iter().enumerate() {
            let lag = t_out - self.sorted_t[k];
            if lag < 0.0 || lag.is_nan() {
                break;
            }
            if lag.is_finite() {
                let (t, es, em) = (self.sorted_t[k], self.sorted_es[k], self.sorted_em[k]);
                self.inputs[self.causal.len()] = Input { t, es, em, w: w_row[i as usize] };
                self.causal.push(i);
            }
        }
        self.causal.len()
    }

    /// Keeps the causal inputs (arrived by `t_out`) of `self.inputs`, in order, their indices in `self.causal`.
    fn keep_causal(&mut self, t_out: f64) -> usize {
        self.causal.clear();
        for i in 0..self.inputs.len() {
            let lag = t_out - self.inputs[i].t;
            if lag >= 0.0 && lag.is_finite() {
                self.inputs[self.causal.len()] = self.inputs[i];
                self.causal.push(i as u32);
            }
        }
        self.causal.len()
    }

    /// Writes neuron j's inputs for the loaded sample b into `self.inputs`: in the order of the per-sample
    /// times if `sorted_by_sample` (nearly sorted by time once delays are added), else in input order.
    fn fill_inputs(&mut self, layout: &Layout, b: usize, j: usize, w_row: &[f64], sorted_by_sample: bool) {
        if sorted_by_sample {
            let order = std::mem::take(&mut self.order);
            self.fill_from(layout, b, j, w_row, order.iter().map(|&i| i as usize));
            self.order = order;
        } else {
            let n = self.inputs.len();
            self.fill_from(layout, b, j, w_row, 0..n);
        }
    }

    /// `self.inputs[k]` = input `indices[k]` of neuron j, for the loaded sample b.
    #[inline(always)]
    fn fill_from(&mut self, layout: &Layout, b: usize, j: usize, w_row: &[f64], indices: impl Iterator<Item = usize>) {
        let (t, es, em, inputs) = (&self.t, &self.es, &self.em, &mut self.inputs);
        let slots = inputs.iter_mut().zip(indices);
        match layout {
            Layout::Shared { .. } => {
                for (slot, i) in slots {
                    *slot = Input { t: t[i], es: es[i], em: em[i], w: w_row[i] };
                }
            }
            Layout::Offset { offset, offset_es, offset_em, .. } => {
                let (off, off_es) = (offset.row(j), offset_es.row(j));
                if offset_em.data.is_empty() {
                    for (slot, i) in slots {
                        *slot = Input { t: t[i] + off[i], es: es[i] * off_es[i], em: 0.0, w: w_row[i] };
                    }
                } else {
                    let off_em = offset_em.row(j);
                    for (slot, i) in slots {
                        *slot = Input { t: t[i] + off[i], es: es[i] * off_es[i], em: em[i] * off_em[i], w: w_row[i] };
                    }
                }
            }
            Layout::Dense { n_pre, n_post, times, p } => {
                let ratio_two = p.needs_membrane_exponential();
                for (slot, i) in slots {
                    let t = times[(b * n_pre + i) * n_post + j];
                    let em = if ratio_two { (t / p.tau_mem).exp() } else { 0.0 };
                    *slot = Input { t, es: (t / p.tau_syn).exp(), em, w: w_row[i] };
                }
            }
        }
    }
}

/// First-spike times `[batch, n_post]` of a layer with weights `[n_pre, n_post]`.
///
/// `thresholds`, if given, holds every (sample, neuron)'s effective threshold `[batch, n_post]` (with
/// threshold noise); otherwise all neurons use the nominal one.
pub fn layer_forward(p: &NeuronParams, weights: &Matrix, arrival: &Arrival, thresholds: Option<&Matrix>) -> Matrix {
    let (batch, n, m) = (arrival.batch(), arrival.n_pre(), weights.cols);
    debug_assert_eq!(weights.rows, n);
    let layout = Layout::new(p, arrival);
    let shared = matches!(layout, Layout::Shared { .. });
    // Shared inputs are swept with the neurons side by side over the weights' rows; the other layouts one
    // neuron at a time over its column.
    let w_t = if shared { Matrix::zeros(0, 0) } else { weights.transposed() };
    let nominal_c = p.crossing_constant(p.threshold);
    let mut out = Matrix::filled(batch, m, f64::INFINITY);
    out.data.par_chunks_mut(CHUNK * m.max(1)).enumerate().for_each_init(
        || (Scratch::new(n), NeuronSweep::new(m), vec![nominal_c; m]),
        |(s, sweep, c_row), (chunk, rows)| {
            for (local, row) in rows.chunks_mut(m.max(1)).enumerate() {
                let b = chunk * CHUNK + local;
                s.load_sample(p, &layout, b);
                if let Some(th) = thresholds {
                    for (j, c) in c_row.iter_mut().enumerate() {
                        *c = p.crossing_constant(th.get(b, j));
                    }
                }
                if shared {
                    s.sort_sample(true);
                    let sample = SortedSample { t: &s.sorted_t, es: &s.sorted_es, em: &s.sorted_em, order: &s.order };
                    sweep.run(p, weights, &sample, c_row, row);
                    continue;
                }
                if !matches!(layout, Layout::Dense { .. }) {
                    s.sort_sample(false);
                }
                for (j, out_j) in row.iter_mut().enumerate() {
                    let w_row = w_t.row(j);
                    let c = c_row[j];
                    *out_j = if let Layout::Dense { .. } = layout {
                        s.fill_inputs(&layout, b, j, w_row, false);
                        s.inputs.sort_unstable_by(|x, y| x.t.total_cmp(&y.t));
                        first_spike_time(p, c, n, |k| s.inputs[k])
                    } else {
                        s.fill_inputs(&layout, b, j, w_row, true);
                        sort_by_time(&mut s.inputs);
                        first_spike_time(p, c, n, |k| s.inputs[k])
                    };
                }
            }
        },
    );
    out
}

/// Exact gradients of a layer (spec §3).
///
/// `weights` are the float weights (the forward pass may have used rounded ones), `out` the output times the
/// forward pass stored (after jitter, or measured on a chip), `delta` the upstream error `dL/dT`
/// `[batch, n_post]` (NaN entries count as 0). Columns of a sample's weight gradient whose largest entry
/// exceeds `max_dw_norm` in magnitude are dropped (input-time gradients are kept).
pub fn layer_backward(
    p: &NeuronParams,
    max_dw_norm: Option<f64>,
    weights: &Matrix,
    arrival: &Arrival,
    out: &Matrix,
    delta: &Matrix,
) -> Result<LayerGrads, ModelError> {
    layer_backward_with(p, max_dw_norm, weights, arrival, out, delta, NonFinite::Fail)
}

/// What the backward pass does with a neuron whose gradient at its spike time is not finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFinite {
    /// Stop with [`ModelError::NonFiniteGradient`]: in simulation it means a bug (the reference exits).
    Fail,
    /// Give that neuron and sample no gradient: on a chip, measured times need not be ones the ideal model
    /// can produce (hardware contract, spec hardware §5).
    Zero,
}

/// [`layer_backward`] with a choice of what a non-finite gradient does.
pub fn layer_backward_with(
    p: &NeuronParams,
    max_dw_norm: Option<f64>,
    weights: &Matrix,
    arrival: &Arrival,
    out: &Matrix,
    delta: &Matrix,
    non_finite: NonFinite,
) -> Result<LayerGrads, ModelError> {
    let (batch, n, m) = (arrival.batch(), arrival.n_pre(), weights.cols);
    let w_t = weights.transposed();
    let layout = Layout::new(p, arrival);
    let c = p.crossing_constant(p.threshold);
    let shared = matches!(arrival, Arrival::Shared(_));
    let want_offset = !shared;
    let mut grad_base = Matrix::zeros(batch, n);
    let partials: Vec<Result<(Matrix, Option<Matrix>), ModelError>> = grad_base
        .data
        .par_chunks_mut(CHUNK * n.max(1))
        .enumerate()
        .map_init(
            || Scratch::new(n),
            |s, (chunk, base_rows)| {
                // Gradients are gathered per neuron, so they are kept transposed ([m, n]): neuron j's inputs are
                // then contiguous instead of m apart.
                let mut g_w = Matrix::zeros(m, n);
                let mut g_off = want_offset.then(|| Matrix::zeros(m, n));
                for (local, base_row) in base_rows.chunks_mut(n.max(1)).enumerate() {
                    let b = chunk * CHUNK + local;
                    s.load_sample(p, &layout, b);
                    if shared {
                        s.sort_sample(true);
                    }
                    for j in 0..m {
                        let d = delta.get(b, j);
                        let d = if d.is_nan() { 0.0 } else { d };
                        let t_out = out.get(b, j);
                        if d == 0.0 || !t_out.is_finite() {
                            continue;
                        }
                        // Only causal inputs (arrived by t_out) have a gradient: for `Shared` a run of the sorted
                        // sample, read in place; else (and where a lag overflows) gathered with their indices.
                        let w_row = w_t.row(j);
                        let run = if shared { s.causal_run(t_out) } else { None };
                        let count = match &run {
                            Some(run) => run.len(),
                            None if shared => s.gather_causal_sorted(w_row, t_out),
                            None => {
                                s.fill_inputs(&layout, b, j, w_row, false);
                                s.keep_causal(t_out)
                            }
                        };
                        let Scratch { inputs, causal, order, sorted_t, sorted_es, sorted_em, dw, dt, .. } = &mut *s;
                        let (dw, dt) = (&mut dw[..count], &mut dt[..count]);
                        let (gradient, indices) = match run {
                            Some(run) => {
                                let (t, es, em) =
                                    (&sorted_t[run.clone()], &sorted_es[run.clone()], &sorted_em[run.clone()]);
                                let indices = &order[run];
                                let input =
                                    |k: usize| Input { t: t[k], es: es[k], em: em[k], w: w_row[indices[k] as usize] };
                                (causal_gradient(p, c, t_out, d, input, dw, dt), indices)
                            }
                            None => (causal_gradient(p, c, t_out, d, |k| inputs[k], dw, dt), &causal[..count]),
                        };
                        let Some((largest, finite)) = gradient else { continue };
                        if !finite {
                            match non_finite {
                                NonFinite::Fail => {
                                    return Err(ModelError::NonFiniteGradient {
                                        sample: b,
                                        neuron: j,
                                        spike_time: t_out,
                                    });
                                }
                                NonFinite::Zero => continue,
                            }
                        }
                        let drop_weights = max_dw_norm.is_some_and(|limit| largest > limit);
                        for (k, &i) in indices.iter().enumerate() {
                            let i = i as usize;
                            if !drop_weights {
                                *g_w.get_mut(j, i) += dw[k];
                            }
                            base_row[i] += dt[k];
                            if let Some(g) = g_off.as_mut() {
                                *g.get_mut(j, i) += dt[k];
                            }
                        }
                    }
                }
                Ok((g_w, g_off))
            },
        )
        .collect();
    // Summed over the chunks in order, then transposed back (exact: the same sums, element by element).
    let mut weights_grad = Matrix::zeros(m, n);
    let mut offset_grad = want_offset.then(|| Matrix::zeros(m, n));
    for partial in partials {
        let (g_w, g_off) = partial?;
        weights_grad.add_assign(&g_w);
        if let (Some(total), Some(g)) = (offset_grad.as_mut(), g_off) {
            total.add_assign(&g);
        }
    }
    let input = ArrivalGrad { base: grad_base, offset: offset_grad.map(|g| g.transposed()) };
    Ok(LayerGrads { weights: weights_grad.transposed(), input })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_as_total_cmp() {
        let mut values = vec![f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, f64::MIN_POSITIVE];
        values.extend([-f64::MIN_POSITIVE, 5e-324, -5e-324, f64::MAX, f64::MIN, 1.0, -1.0, 0.15, 2.0, -2.5]);
        for &a in &values {
            for &b in &values {
                assert_eq!(total_order_key(a).cmp(&total_order_key(b)), a.total_cmp(&b), "{a} vs {b}");
            }
        }
    }
}
