//! Delay layers: raw trainable parameters, the positivity function, sharing, and their gradients (spec §5).
//!
//! Sharing convention (the reference's quirk 14, fixed): presynaptic sharing groups **consecutive** inputs,
//! input p using raw row `p / presyn_sharing_factor`, so that the copies a `Multiplex` layer makes of one input
//! (it repeats each input consecutively) share one delay, as they do on the chip. The reference tiled instead
//! (row `p mod (n / factor)`), which gave the five copies of an input four different delays. Postsynaptic
//! sharing tiles as in the reference: neuron j uses raw column `j mod (m / postsyn_sharing_factor)`.

use crate::config::{DelayConfig, DelayKind, Positivity};
use crate::model::Matrix;

/// A delay layer with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct DelayLayer {
    /// Settings from the config.
    pub config: DelayConfig,
    /// Raw trainable parameters: `(n/presyn, 1)`, `(n/presyn, m/postsyn)` or `(1, m/postsyn)`.
    pub raw: Matrix,
    /// Number of inputs.
    pub n_pre: usize,
    /// Number of neurons the delayed times go to.
    pub n_post: usize,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl DelayLayer {
    /// The raw parameter shape of a delay layer between `n_pre` inputs and `n_post` neurons.
    pub fn raw_shape(config: &DelayConfig, n_pre: usize, n_post: usize) -> (usize, usize) {
        let rows = n_pre / config.presyn_sharing_factor;
        let cols = n_post / config.postsyn_sharing_factor;
        match config.kind {
            DelayKind::Axonal => (rows, 1),
            DelayKind::Synaptic => (rows, cols),
            DelayKind::Dendritic => (1, cols),
        }
    }

    /// The shape of the effective delays: `(n, 1)`, `(n, m)` or `(1, m)`.
    pub fn effective_shape(&self) -> (usize, usize) {
        match self.config.kind {
            DelayKind::Axonal => (self.n_pre, 1),
            DelayKind::Synaptic => (self.n_pre, self.n_post),
            DelayKind::Dendritic => (1, self.n_post),
        }
    }

    /// The raw entry an effective entry (row r, column c of the effective shape) comes from.
    fn source(&self, r: usize, c: usize) -> (usize, usize) {
        (r / self.config.presyn_sharing_factor, c % self.raw.cols)
    }

    /// The positivity function of one raw value.
    fn positive(&self, raw: f64) -> f64 {
        match self.config.positivity {
            Positivity::Sigmoid { shift, scale } => shift + scale * sigmoid(raw),
            Positivity::Clip | Positivity::Shift => raw,
        }
    }

    /// Derivative of the positivity function.
    fn positive_derivative(&self, raw: f64) -> f64 {
        match self.config.positivity {
            Positivity::Sigmoid { scale, .. } => {
                let s = sigmoid(raw);
                scale * s * (1.0 - s)
            }
            Positivity::Clip | Positivity::Shift => 1.0,
        }
    }

    /// The effective delays after positivity and sharing, in [`Self::effective_shape`].
    pub fn effective(&self) -> Matrix {
        let positive = self.raw.map(|x| self.positive(x));
        let (rows, cols) = self.effective_shape();
        let mut out = Matrix::zeros(rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                let (sr, sc) = self.source(r, c);
                *out.get_mut(r, c) = positive.get(sr, sc);
            }
        }
        out
    }

    /// The effective delays spread to the full `[n_pre, n_post]` synapse matrix.
    pub fn full(&self) -> Matrix {
        let eff = self.effective();
        let mut out = Matrix::zeros(self.n_pre, self.n_post);
        for i in 0..self.n_pre {
            for j in 0..self.n_post {
                *out.get_mut(i, j) = eff.get(i.min(eff.rows - 1), j.min(eff.cols - 1));
            }
        }
        out
    }

    /// Gradient with respect to the raw parameters from the gradient with respect to the effective delays.
    pub fn raw_gradient(&self, effective_grad: &Matrix) -> Matrix {
        let mut grad = Matrix::zeros(self.raw.rows, self.raw.cols);
        for r in 0..effective_grad.rows {
            for c in 0..effective_grad.cols {
                let (sr, sc) = self.source(r, c);
                *grad.get_mut(sr, sc) += effective_grad.get(r, c);
            }
        }
        for (g, &raw) in grad.data.iter_mut().zip(&self.raw.data) {
            *g *= self.positive_derivative(raw);
        }
        grad
    }

    /// Reduces a gradient over the full `[n_pre, n_post]` synapse matrix to the effective shape.
    pub fn effective_gradient_from_full(&self, full: &Matrix) -> Matrix {
        let (rows, cols) = self.effective_shape();
        let mut out = Matrix::zeros(rows, cols);
        for i in 0..full.rows {
            for j in 0..full.cols {
                *out.get_mut(i.min(rows - 1), j.min(cols - 1)) += full.get(i, j);
            }
        }
        out
    }

    /// Keeps clip/shift delays non-negative: after every optimiser step and once at construction.
    pub fn rectify(&mut self) {
        match self.config.positivity {
            Positivity::Sigmoid { .. } => {}
            Positivity::Clip => self.raw.data.iter_mut().for_each(|x| *x = x.max(0.0)),
            Positivity::Shift => {
                let lowest = self.raw.data.iter().copied().fold(0.0f64, f64::min);
                self.raw.data.iter_mut().for_each(|x| *x -= lowest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(
        kind: DelayKind,
        presyn: usize,
        postsyn: usize,
        positivity: Positivity,
        n_pre: usize,
        n_post: usize,
    ) -> DelayLayer {
        let config = DelayConfig {
            kind,
            delay_mean: 0.0,
            delay_std: 1.0,
            positivity,
            presyn_sharing_factor: presyn,
            postsyn_sharing_factor: postsyn,
            trainable: true,
            monitor: false,
            learning_rate: None,
            jitter: 0.0,
        };
        let (r, c) = DelayLayer::raw_shape(&config, n_pre, n_post);
        let raw = Matrix::from_vec(r, c, (0..r * c).map(|k| 0.3 * k as f64 - 0.5).collect()).unwrap();
        DelayLayer { config, raw, n_pre, n_post }
    }

    #[test]
    fn sharing_groups_consecutive_inputs_and_tiles_neurons() {
        let l = layer(DelayKind::Synaptic, 2, 3, Positivity::Clip, 4, 6);
        assert_eq!((l.raw.rows, l.raw.cols), (2, 2));
        let full = l.full();
        // Inputs 0,1 share raw row 0; neurons 0,2,4 share raw column 0.
        assert_eq!(full.get(0, 0), l.raw.get(0, 0));
        assert_eq!(full.get(1, 4), l.raw.get(0, 0));
        assert_eq!(full.get(3, 5), l.raw.get(1, 1));
        let axonal = layer(DelayKind::Axonal, 5, 1, Positivity::Clip, 20, 30);
        assert_eq!(axonal.effective().rows, 20);
        assert_eq!(axonal.full().get(7, 29), axonal.raw.get(1, 0));
    }

    #[test]
    fn raw_gradient_matches_finite_differences() {
        let sig = Positivity::Sigmoid { shift: 2.0, scale: 1.5 };
        for l in [
            layer(DelayKind::Synaptic, 2, 3, sig, 4, 6),
            layer(DelayKind::Axonal, 2, 1, sig, 4, 6),
            layer(DelayKind::Dendritic, 1, 2, sig, 4, 6),
        ] {
            // Objective: sum over the full synapse matrix of weights * delay.
            let weights = Matrix::from_vec(4, 6, (0..24).map(|k| (k as f64 * 0.37).sin()).collect()).unwrap();
            let objective = |l: &DelayLayer| l.full().data.iter().zip(&weights.data).map(|(d, w)| d * w).sum::<f64>();
            let grad = l.raw_gradient(&l.effective_gradient_from_full(&weights));
            for k in 0..l.raw.data.len() {
                let h = 1e-6;
                let (mut plus, mut minus) = (l.clone(), l.clone());
                plus.raw.data[k] += h;
                minus.raw.data[k] -= h;
                let fd = (objective(&plus) - objective(&minus)) / (2.0 * h);
                assert!((fd - grad.data[k]).abs() < 1e-8, "{:?} raw {k}: {fd} vs {}", l.config.kind, grad.data[k]);
            }
        }
    }

    #[test]
    fn rectification_keeps_delays_non_negative() {
        let mut clip = layer(DelayKind::Synaptic, 1, 1, Positivity::Clip, 2, 2);
        clip.rectify();
        assert!(clip.raw.data.iter().all(|&x| x >= 0.0));
        let mut shift = layer(DelayKind::Synaptic, 1, 1, Positivity::Shift, 2, 2);
        let before = shift.raw.clone();
        shift.rectify();
        assert_eq!(shift.raw.data.iter().copied().fold(f64::INFINITY, f64::min), 0.0);
        // Shifting keeps the differences.
        assert!((shift.raw.data[3] - shift.raw.data[0] - (before.data[3] - before.data[0])).abs() < 1e-15);
    }
}
