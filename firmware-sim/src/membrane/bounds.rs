//! Proofs that a stretch of the crossing search can find nothing, so that it needs no exponential.
//!
//! They rest on one comparison: with every time constant positive the channels only decay, so from any time on
//! the positive channels' slopes `Q` bound the rise of `u`. While `u >= 0`, `du/dt <= Q`, hence
//! `u(s) <= max(u0, 0) + s Q`; and from any point on `u(r) <= (max(u, 0) + Q r) e^(-r/T)` with `T` the longest
//! time constant. A bound below the threshold by [`BOUND_MARGIN`] of the sizes summed in the closed form (its
//! rounding is a few 1e-16 of them) means that no value the scan computes reaches the threshold, so the scan
//! would end exactly as when it evaluates every grid point.

use super::{MAX_CHANNELS, Membrane, MembraneParameters, Point};

/// Relative margin of the bounds over the rounding of the closed form.
const BOUND_MARGIN: f64 = 1e-9;

/// Quantities of the crossing search that depend only on the parameters.
#[derive(Clone, Copy, Debug)]
pub(super) struct Grid {
    /// Scan step: an eighth of the shortest time constant.
    pub step: f64,
    /// The longest time constant: after it the decaying upper bound may end a scan.
    pub settle: f64,
    /// Every time constant positive (not NaN): channels only decay, a zero channel stays exactly zero and the
    /// bounds hold.
    pub decaying: bool,
    /// `1 / step`: the rounding of an exponential grows with its argument, about `dt / step` at most.
    inv_step: f64,
    /// The largest `d_k`: the rise bound's margin needs `s d_k <= 1`.
    d_max: f64,
    /// Per channel `max(tau_mem, tau_k)` (in [`Membrane::peak_bound`]).
    pub tau_peak: [f64; MAX_CHANNELS],
}

impl Grid {
    pub fn new(p: &MembraneParameters, d: &[f64; MAX_CHANNELS]) -> Grid {
        let step = p.tau_syn.iter().fold(p.tau_mem, |a, &b| a.min(b)) / 8.0;
        Grid {
            step,
            settle: p.tau_syn.iter().fold(p.tau_mem, |a, &b| a.max(b)),
            decaying: p.tau_mem > 0.0 && p.tau_syn.iter().all(|&t| t > 0.0),
            inv_step: 1.0 / step,
            d_max: d.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)),
            tau_peak: std::array::from_fn(|k| p.tau_mem.max(p.tau_syn[k])),
        }
    }

    /// Whether `bound` plus the margin for values computed up to `dt` stays below `theta`.
    fn below(&self, bound: f64, dt: f64, sizes: f64, theta: f64) -> bool {
        bound + BOUND_MARGIN * (1.0 + dt * self.inv_step) * (sizes + bound + theta.abs()) < theta
    }
}

impl Membrane {
    /// Whether `peak_bound() < theta` (for a positive `theta`), deciding far from the threshold with a product
    /// for each division (within a few 1e-16 of it) and computing the bound itself only near it.
    pub(super) fn peak_below(&self, theta: f64) -> bool {
        let mut b = self.u0.max(0.0);
        for k in 0..MAX_CHANNELS {
            if self.q[k] > 0.0 {
                b += self.q[k] * self.grid.tau_peak[k] * (1.0 / std::f64::consts::E);
            }
        }
        if b * (1.0 + 1e-12) < theta {
            true
        } else if b * (1.0 - 1e-12) >= theta {
            false
        } else {
            self.peak_bound() < theta
        }
    }

    /// Whether `u` stays below the threshold on `[t0, t0 + b]`: the rise bound from `t0`, where the state is
    /// exact.
    pub(super) fn rise_stays_below(&self, b: f64) -> bool {
        if !self.grid.decaying || b * self.grid.d_max > 1.0 {
            return false;
        }
        let (mut rising, mut size) = (0.0, 0.0);
        for &q in &self.q {
            rising += q.max(0.0);
            size += q.abs();
        }
        // `expm1(s d) / d <= e s` for `s d <= 1`: the size of the terms on the stretch.
        self.grid.below(self.u0.max(0.0) + b * rising, b, self.u0.abs() + 3.0 * b * size, self.p.threshold)
    }

    /// The state at `t0` as a [`Point`] (exact, no exponential).
    pub(super) fn at_t0(&self) -> Point {
        let rising = self.q.iter().map(|q| q.max(0.0)).sum();
        Point { u: self.u0, slope: f64::NAN, decay: 1.0, rising, size: self.u0.abs() }
    }

    /// The size of the terms of the closed form at any time: each channel's term times the decay stays below
    /// `|q_k| tau / e`, the membrane's below `|u0|`.
    pub(super) fn term_sizes(&self) -> f64 {
        let q: f64 = self.q.iter().map(|q| q.abs()).sum();
        self.u0.abs() + q * self.grid.settle
    }

    /// Whether `u` stays below the threshold at every time from the point `px` on (values computed up to
    /// `t0 + b`; `sizes` from [`Membrane::term_sizes`]). With `Q` the positive channels' slope at `px` and
    /// `T = settle`, `u <= (max(u, 0) + Q r) e^(-r/T)` after `r` more; that peaks at `u` if `u >= Q T`, else at
    /// `Q T e^(u/(Q T) - 1) <= u + (Q T - u) / e` (the exponential lies below its chord).
    pub(super) fn never_reaches(&self, px: &Point, b: f64, sizes: f64) -> bool {
        if !self.grid.decaying {
            return false;
        }
        let u = px.u.max(0.0);
        let qt = px.rising * px.decay * self.grid.settle;
        let bound = if u >= qt { u } else { u + (qt - u) / std::f64::consts::E };
        self.grid.below(bound, b, sizes + px.u.abs(), self.p.threshold)
    }

    /// Whether `u` stays below the threshold between the grid points `x` and `y` (evaluated as `px`, `py`): the
    /// rise bound from `x`.
    pub(super) fn peak_stays_below(&self, (x, px): (f64, &Point), (y, py): (f64, &Point)) -> bool {
        if !self.grid.decaying {
            return false;
        }
        let bound = px.u.max(0.0) + (y - x) * px.rising * px.decay;
        // The terms grow with `dt` and the membrane decays: `py.size * px.decay` bounds their size between.
        self.grid.below(bound, y, px.u.abs() + py.size * px.decay, self.p.threshold)
    }
}
