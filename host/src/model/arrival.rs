//! The spike times arriving at a layer of neurons, in the form that lets the layer share work.
//!
//! The reference hands every neuron layer a dense `[batch, n_pre, n_post]` tensor. Most of it is structured:
//! without delays (or with axonal delays) every neuron sees the same times, and synaptic or dendritic delays add
//! a fixed `[n_pre, n_post]` offset to per-sample base times. Keeping that structure lets a layer sort a
//! sample's inputs once for all neurons, and compute `exp(t/tau)` as a product of per-input and per-synapse
//! factors instead of one exponential per synapse and sample.

use super::matrix::Matrix;

/// Spike times arriving at each synapse of a layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrival {
    /// Every neuron sees the same times `t[b, i]` (`[batch, n_pre]`).
    Shared(Matrix),
    /// Neuron j sees `base[b, i] + offset[i, j]`.
    Offset {
        /// Per-sample times `[batch, n_pre]`.
        base: Matrix,
        /// Per-synapse delays `[n_pre, n_post]`.
        offset: Matrix,
    },
    /// Neuron j sees `times[(b * n_pre + i) * n_post + j]` (needed once per-sample noise is added to delays).
    Dense {
        /// Batch size.
        batch: usize,
        /// Number of inputs.
        n_pre: usize,
        /// Number of neurons.
        n_post: usize,
        /// `[batch, n_pre, n_post]` row-major.
        times: Vec<f64>,
    },
}

impl Arrival {
    /// Batch size.
    pub fn batch(&self) -> usize {
        match self {
            Arrival::Shared(m) | Arrival::Offset { base: m, .. } => m.rows,
            Arrival::Dense { batch, .. } => *batch,
        }
    }

    /// Number of inputs per neuron.
    pub fn n_pre(&self) -> usize {
        match self {
            Arrival::Shared(m) | Arrival::Offset { base: m, .. } => m.cols,
            Arrival::Dense { n_pre, .. } => *n_pre,
        }
    }

    /// The time input i of sample b reaches neuron j.
    pub fn time(&self, b: usize, i: usize, j: usize) -> f64 {
        match self {
            Arrival::Shared(m) => m.get(b, i),
            Arrival::Offset { base, offset } => base.get(b, i) + offset.get(i, j),
            Arrival::Dense { n_pre, n_post, times, .. } => times[(b * n_pre + i) * n_post + j],
        }
    }

    /// The dense `[batch, n_pre, n_post]` form.
    pub fn to_dense(&self, n_post: usize) -> Vec<f64> {
        if let Arrival::Dense { times, .. } = self {
            return times.clone();
        }
        let (batch, n_pre) = (self.batch(), self.n_pre());
        let mut out = Vec::with_capacity(batch * n_pre * n_post);
        for b in 0..batch {
            for i in 0..n_pre {
                for j in 0..n_post {
                    out.push(self.time(b, i, j));
                }
            }
        }
        out
    }
}

/// Gradient of the loss with respect to an [`Arrival`], reduced the two ways the layers below need.
///
/// Nothing upstream needs the full `[batch, n_pre, n_post]` gradient: the times below a broadcast need its sum
/// over neurons, and delays (constant over the batch) need its sum over samples.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrivalGrad {
    /// `sum_j dL/dt[b, i, j]`, `[batch, n_pre]`.
    pub base: Matrix,
    /// `sum_b dL/dt[b, i, j]`, `[n_pre, n_post]`; only computed for `Offset` and `Dense` arrivals.
    pub offset: Option<Matrix>,
}
