//! A layer of neurons over a batch: first-spike times (forward) and exact gradients (backward), in parallel
//! over samples with results independent of the number of threads.

use rayon::prelude::*;

use super::arrival::{Arrival, ArrivalGrad};
use super::matrix::Matrix;
use super::neuron::NeuronParams;
use super::spike::{first_spike_time, spike_time_gradient};

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

/// One neuron's inputs sorted by time.
struct Sorted {
    t: Vec<f64>,
    es: Vec<f64>,
    em: Vec<f64>,
    w: Vec<f64>,
}

impl Sorted {
    fn new(n: usize) -> Self {
        Sorted { t: vec![0.0; n], es: vec![0.0; n], em: vec![0.0; n], w: vec![0.0; n] }
    }

    fn fill_from(&mut self, order: &[u32], t: &[f64], es: &[f64], em: &[f64], w: &[f64]) {
        for (k, &i) in order.iter().enumerate() {
            let i = i as usize;
            self.t[k] = t[i];
            self.es[k] = es[i];
            self.em[k] = em[i];
            self.w[k] = w[i];
        }
    }
}

/// Per-thread buffers for one neuron's inputs: in input order, sorted, and per-sample factors.
struct Scratch {
    order: Vec<u32>,
    t: Vec<f64>,
    es: Vec<f64>,
    em: Vec<f64>,
    w: Vec<f64>,
    dw: Vec<f64>,
    dt: Vec<f64>,
    row_es: Vec<f64>,
    row_em: Vec<f64>,
    sorted: Sorted,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            order: Vec::with_capacity(n),
            t: vec![0.0; n],
            es: vec![0.0; n],
            em: vec![0.0; n],
            w: vec![0.0; n],
            dw: vec![0.0; n],
            dt: vec![0.0; n],
            row_es: vec![0.0; n],
            row_em: vec![0.0; n],
            sorted: Sorted::new(n),
        }
    }
}

/// `exp(x / tau)` of every element.
fn exp_scaled(values: &[f64], tau: f64, out: &mut [f64]) {
    for (o, &x) in out.iter_mut().zip(values) {
        *o = (x / tau).exp();
    }
}

/// Sorts `order` (indices 0..n) by time, +inf last; ties in any order (spec §2 step 1).
fn sort_by_time(order: &mut Vec<u32>, times: impl Fn(usize) -> f64, n: usize) {
    order.clear();
    order.extend(0..n as u32);
    order.sort_unstable_by(|&a, &b| times(a as usize).total_cmp(&times(b as usize)));
}

/// Precomputed per-synapse factors `exp(offset / tau)` for `Offset` arrivals.
struct OffsetFactors {
    es: Matrix,
    em: Option<Matrix>,
}

impl OffsetFactors {
    fn new(p: &NeuronParams, arrival: &Arrival) -> Option<Self> {
        match arrival {
            Arrival::Offset { offset, .. } => Some(OffsetFactors {
                es: offset.map(|x| (x / p.tau_syn).exp()),
                em: p.needs_membrane_exponential().then(|| offset.map(|x| (x / p.tau_mem).exp())),
            }),
            _ => None,
        }
    }
}

/// Fills the scratch with neuron j's inputs for sample b in input order (t, es, em, w).
/// For `Shared` and `Offset` the per-sample factors `row_es`/`row_em` must already hold `exp(base/tau)`.
fn gather(
    p: &NeuronParams,
    arrival: &Arrival,
    factors: Option<&OffsetFactors>,
    w_t: &Matrix,
    b: usize,
    j: usize,
    s: &mut Scratch,
) {
    let n = arrival.n_pre();
    let ratio_two = p.needs_membrane_exponential();
    s.w.copy_from_slice(w_t.row(j));
    match arrival {
        Arrival::Shared(times) => {
            s.t.copy_from_slice(times.row(b));
            s.es.copy_from_slice(&s.row_es);
            if ratio_two {
                s.em.copy_from_slice(&s.row_em);
            }
        }
        Arrival::Offset { base, offset } => {
            let f = factors.expect("offset factors exist for offset arrivals");
            for i in 0..n {
                s.t[i] = base.get(b, i) + offset.get(i, j);
                s.es[i] = s.row_es[i] * f.es.get(i, j);
                if let Some(em) = &f.em {
                    s.em[i] = s.row_em[i] * em.get(i, j);
                }
            }
        }
        Arrival::Dense { n_pre, n_post, times, .. } => {
            for i in 0..n {
                let t = times[(b * n_pre + i) * n_post + j];
                s.t[i] = t;
                s.es[i] = (t / p.tau_syn).exp();
                if ratio_two {
                    s.em[i] = (t / p.tau_mem).exp();
                }
            }
        }
    }
}

/// Prepares `row_es`/`row_em` = exp(base/tau) of sample b for `Shared` and `Offset` arrivals.
fn prepare_sample(p: &NeuronParams, arrival: &Arrival, b: usize, s: &mut Scratch) {
    if let Arrival::Shared(base) | Arrival::Offset { base, .. } = arrival {
        exp_scaled(base.row(b), p.tau_syn, &mut s.row_es);
        if p.needs_membrane_exponential() {
            exp_scaled(base.row(b), p.tau_mem, &mut s.row_em);
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
    let w_t = weights.transposed();
    let factors = OffsetFactors::new(p, arrival);
    let nominal_c = p.crossing_constant(p.threshold);
    let mut out = Matrix::filled(batch, m, f64::INFINITY);
    out.data.par_chunks_mut(CHUNK * m.max(1)).enumerate().for_each(|(chunk, rows)| {
        let mut s = Scratch::new(n);
        for (local, row) in rows.chunks_mut(m.max(1)).enumerate() {
            let b = chunk * CHUNK + local;
            prepare_sample(p, arrival, b, &mut s);
            if let Arrival::Shared(times) = arrival {
                // One sort per sample serves every neuron.
                let t_row = times.row(b);
                sort_by_time(&mut s.order, |i| t_row[i], n);
                let Scratch { order, row_es, row_em, sorted, .. } = &mut s;
                for (k, &i) in order.iter().enumerate() {
                    sorted.t[k] = t_row[i as usize];
                    sorted.es[k] = row_es[i as usize];
                    sorted.em[k] = row_em[i as usize];
                }
                for (j, out_j) in row.iter_mut().enumerate() {
                    let w_row = w_t.row(j);
                    for (k, &i) in order.iter().enumerate() {
                        sorted.w[k] = w_row[i as usize];
                    }
                    let c = thresholds.map_or(nominal_c, |th| p.crossing_constant(th.get(b, j)));
                    *out_j = first_spike_time(p, c, &sorted.t, &sorted.es, &sorted.em, &sorted.w);
                }
            } else {
                for (j, out_j) in row.iter_mut().enumerate() {
                    gather(p, arrival, factors.as_ref(), &w_t, b, j, &mut s);
                    let Scratch { order, t, es, em, w, sorted, .. } = &mut s;
                    sort_by_time(order, |i| t[i], n);
                    sorted.fill_from(order, t, es, em, w);
                    let c = thresholds.map_or(nominal_c, |th| p.crossing_constant(th.get(b, j)));
                    *out_j = first_spike_time(p, c, &sorted.t, &sorted.es, &sorted.em, &sorted.w);
                }
            }
        }
    });
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
    let (batch, n, m) = (arrival.batch(), arrival.n_pre(), weights.cols);
    let w_t = weights.transposed();
    let factors = OffsetFactors::new(p, arrival);
    let c = p.crossing_constant(p.threshold);
    let want_offset = !matches!(arrival, Arrival::Shared(_));
    let mut grad_base = Matrix::zeros(batch, n);
    let partials: Vec<Result<(Matrix, Option<Matrix>), ModelError>> = grad_base
        .data
        .par_chunks_mut(CHUNK * n.max(1))
        .enumerate()
        .map(|(chunk, base_rows)| {
            let mut s = Scratch::new(n);
            let mut g_w = Matrix::zeros(n, m);
            let mut g_off = want_offset.then(|| Matrix::zeros(n, m));
            for (local, base_row) in base_rows.chunks_mut(n.max(1)).enumerate() {
                let b = chunk * CHUNK + local;
                prepare_sample(p, arrival, b, &mut s);
                for j in 0..m {
                    let d = delta.get(b, j);
                    let d = if d.is_nan() { 0.0 } else { d };
                    let t_out = out.get(b, j);
                    if d == 0.0 || !t_out.is_finite() {
                        continue;
                    }
                    gather(p, arrival, factors.as_ref(), &w_t, b, j, &mut s);
                    let Scratch { t, es, em, w, dw, dt, .. } = &mut s;
                    if !spike_time_gradient(p, c, t_out, t, es, em, w, dw, dt) {
                        continue;
                    }
                    let mut largest = 0.0f64;
                    let mut finite = true;
                    for i in 0..n {
                        dw[i] *= d;
                        dt[i] *= d;
                        largest = largest.max(dw[i].abs());
                        finite &= dw[i].is_finite() && dt[i].is_finite();
                    }
                    if !finite {
                        return Err(ModelError::NonFiniteGradient { sample: b, neuron: j, spike_time: t_out });
                    }
                    let drop_weights = max_dw_norm.is_some_and(|limit| largest > limit);
                    for i in 0..n {
                        if !drop_weights {
                            *g_w.get_mut(i, j) += dw[i];
                        }
                        base_row[i] += dt[i];
                        if let Some(g) = g_off.as_mut() {
                            *g.get_mut(i, j) += dt[i];
                        }
                    }
                }
            }
            Ok((g_w, g_off))
        })
        .collect();
    let mut weights_grad = Matrix::zeros(n, m);
    let mut offset_grad = want_offset.then(|| Matrix::zeros(n, m));
    for partial in partials {
        let (g_w, g_off) = partial?;
        weights_grad.add_assign(&g_w);
        if let (Some(total), Some(g)) = (offset_grad.as_mut(), g_off) {
            total.add_assign(&g);
        }
    }
    Ok(LayerGrads { weights: weights_grad, input: ArrivalGrad { base: grad_base, offset: offset_grad } })
}
