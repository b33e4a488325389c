//! One membrane, solved event by event.
//!
//! With `u = V - E_leak` and `q_k` the synaptic inputs expressed as membrane slopes (mV/us, current over
//! capacitance), the dynamics are `du/dt = -u / tau_mem + sum_k q_k` and `dq_k/dt = -q_k / tau_k`. Between
//! input events this has the closed form
//!
//! ```text
//! u(t) = u0 e^(-t/tau_mem) + sum_k q_k e^(-t/tau_mem) * expm1(t d_k) / d_k,   d_k = 1/tau_mem - 1/tau_k
//! ```
//!
//! (the last factor tends to `t` for `tau_k = tau_mem`, the host model's ratio-1 kernel). Threshold crossings are
//! found by scanning a grid of an eighth of the shortest time constant for a sign change of `u - theta` or a
//! local maximum above `theta` (found by bisecting the slope), then bisecting to 1e-6 ns: far below one 8 ns tick.
//! An upper bound that decays after the longest time constant ends the scan once no crossing is possible.
//!
//! Most searches need no exponential at all: bounds on the rise of `u` (module `bounds`) show where the grid scan, or
//! the bisection for a local maximum, could find nothing, and those are skipped. The scan's state afterwards is
//! the same, so every crossing is found at the same bits.

mod bounds;

use bounds::Grid;

/// Synaptic input channels per membrane: excitatory and inhibitory of up to two joined circuits.
pub const MAX_CHANNELS: usize = 4;

/// Crossing times are refined to this (us).
const ROOT_TOLERANCE_US: f64 = 1e-9;

/// A membrane's parameters (times in us, potentials in mV relative to the leak potential).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MembraneParameters {
    /// Membrane time constant.
    pub tau_mem: f64,
    /// Time constants of the synaptic input channels.
    pub tau_syn: [f64; MAX_CHANNELS],
    /// Threshold minus leak potential.
    pub threshold: f64,
    /// Reset minus leak potential.
    pub reset: f64,
    /// Refractory time after a spike.
    pub refractory: f64,
}

/// The state of one membrane at its reference time `t0` (us).
#[derive(Clone, Copy, Debug)]
pub struct Membrane {
    /// Parameters.
    pub p: MembraneParameters,
    /// Precomputed `1/tau_mem - 1/tau_k`.
    d: [f64; MAX_CHANNELS],
    /// Reference time of the state; during a refractory period it is the period's end.
    t0: f64,
    /// `u` at `t0`.
    u0: f64,
    /// Channel slopes at `t0`.
    q: [f64; MAX_CHANNELS],
    /// The grid scan has found no crossing before this time (absolute us).
    checked_until: f64,
    /// A crossing found by the scan (absolute us), valid until the next input or spike.
    found: Option<f64>,
    /// What the search derives from the parameters.
    grid: Grid,
}

/// The closed form evaluated at `t0 + dt`.
#[derive(Clone, Copy, Debug)]
struct Point {
    /// `u`.
    u: f64,
    /// `du/dt`.
    slope: f64,
    /// `e^(-dt/tau_mem)`.
    decay: f64,
    /// `sum over positive channels of q_k e^(dt d_k)`: times `decay` their slopes at `t0 + dt`.
    rising: f64,
    /// `|u0| + sum_k |q_k| expm1(dt d_k) / d_k`: the size of the terms summed (for rounding margins).
    size: f64,
}

impl Membrane {
    /// A membrane at rest at time `t`.
    pub fn at_rest(p: MembraneParameters, t: f64) -> Membrane {
        let d = std::array::from_fn(|k| 1.0 / p.tau_mem - 1.0 / p.tau_syn[k]);
        let grid = Grid::new(&p, &d);
        Membrane { p, d, t0: t, u0: 0.0, q: [0.0; MAX_CHANNELS], checked_until: t, found: None, grid }
    }

    /// `u` at `t0 + dt`.
    #[inline]
    fn value(&self, dt: f64) -> f64 {
        self.value_and_slope(dt).0
    }

    /// `du/dt` at `t0 + dt`.
    #[inline]
    fn slope(&self, dt: f64) -> f64 {
        self.value_and_slope(dt).1
    }

    /// `u` and `du/dt` at `t0 + dt`.
    #[inline]
    fn value_and_slope(&self, dt: f64) -> (f64, f64) {
        let p = self.point(dt);
        (p.u, p.slope)
    }

    /// The closed form at `t0 + dt`, with one exponential for the membrane and at most one `expm1` per channel
    /// (`e^(-dt/tau_k) = e^(-dt/tau_mem) (1 + expm1(dt d_k))`).
    #[inline]
    fn point(&self, dt: f64) -> Point {
        self.point_with_decay(dt, (-dt / self.p.tau_mem).exp())
    }

    /// Channel `k`'s kernel after `dt`: `expm1(dt d_k) / d_k` (its term of `u` before the decay) and
    /// `e^(dt d_k)` (its slope's factor before the decay), from one `expm1`.
    #[inline]
    fn kernel(&self, k: usize, dt: f64) -> (f64, f64) {
        let x = dt * self.d[k];
        if x.abs() < 1e-8 {
            (dt * (1.0 + 0.5 * x), 1.0 + x)
        } else {
            let e = x.exp_m1();
            (e / self.d[k], 1.0 + e)
        }
    }

    /// [`Membrane::point`] with `decay = e^(-dt/tau_mem)` already computed.
    #[inline]
    fn point_with_decay(&self, dt: f64, decay: f64) -> Point {
        let (mut sum, mut drive) = (self.u0, 0.0);
        let (mut rising, mut size) = (0.0, self.u0.abs());
        for k in 0..MAX_CHANNELS {
            if self.q[k] != 0.0 {
                let (ratio, growth) = self.kernel(k, dt);
                sum += self.q[k] * ratio;
                drive += self.q[k] * growth;
                size += (self.q[k] * ratio).abs();
                if self.q[k] > 0.0 {
                    rising += self.q[k] * growth;
                }
            }
        }
        let u = sum * decay;
        Point { u, slope: drive * decay - u / self.p.tau_mem, decay, rising, size }
    }

    /// Whether no crossing is possible before the next input (the scan proved it).
    pub fn is_quiet(&self) -> bool {
        self.found.is_none() && self.checked_until == f64::INFINITY || self.p.threshold == f64::INFINITY
    }

    /// Potential relative to the leak at absolute time `t` (the reset potential during a refractory period).
    pub fn potential(&self, t: f64) -> f64 {
        if t <= self.t0 { self.u0 } else { self.value(t - self.t0) }
    }

    /// Slope contributed by channel `k` at absolute time `t` (mV/us).
    pub fn channel(&self, t: f64, k: usize) -> f64 {
        self.q[k] * (-(t - self.t0).max(0.0) / self.p.tau_syn[k]).exp()
    }

    /// Moves the reference time to `t` (no-op inside a refractory period). Each channel decays by the membrane's
    /// exponential times its kernel's growth, `e^(-dt/tau_k) = e^(-dt/tau_mem) e^(dt d_k)`, so one `exp` and one
    /// `expm1` per channel carry both `u` and the slopes (unless the growth is below 1/2, where its own `exp` is
    /// more exact); a zero channel stays zero.
    fn advance(&mut self, t: f64) {
        let dt = t - self.t0;
        if dt <= 0.0 {
            return;
        }
        let decay = (-dt / self.p.tau_mem).exp();
        let mut sum = self.u0;
        for k in 0..MAX_CHANNELS {
            if self.q[k] != 0.0 {
                let (ratio, growth) = self.kernel(k, dt);
                sum += self.q[k] * ratio;
                // `1 + expm1` loses digits where the channel decays much faster than the membrane.
                self.q[k] *= if growth >= 0.5 { decay * growth } else { (-dt / self.p.tau_syn[k]).exp() };
            }
        }
        self.u0 = sum * decay;
        self.t0 = t;
    }

    /// Replaces the parameters (a configuration write), keeping the state; crossings are searched again from `now`.
    pub fn set_parameters(&mut self, p: MembraneParameters, now: f64) {
        self.d = std::array::from_fn(|k| 1.0 / p.tau_mem - 1.0 / p.tau_syn[k]);
        self.grid = Grid::new(&p, &self.d);
        self.p = p;
        self.checked_until = now.max(self.t0);
        self.found = None;
    }

    /// Forces the membrane to the reset potential at `now` (no spike, no refractory period).
    pub fn clamp_to_reset(&mut self, now: f64) {
        self.set_potential(now, self.p.reset);
    }

    /// Forces the membrane to `level` (relative to the leak) at `now`, keeping the channels.
    pub fn set_potential(&mut self, now: f64, level: f64) {
        self.advance(now);
        self.u0 = level;
        self.checked_until = now.max(self.t0);
        self.found = None;
    }

    /// Holds the membrane at `level` (relative to the leak) until `until` and releases it there with the channel
    /// slopes `q` (a delay pair's hold, whose adaptation charged meanwhile; or its trigger's refractory time with
    /// the adaptation cleared). Whatever the state was, it is replaced.
    pub fn hold(&mut self, until: f64, level: f64, q: [f64; MAX_CHANNELS]) {
        self.t0 = until;
        self.u0 = level;
        self.q = q;
        self.checked_until = until;
        self.found = None;
    }

    /// A synaptic event at time `t` adds `amount` (mV/us) to channel `k`. Events inside a refractory period are
    /// carried forward to its end, decayed, since the membrane is clamped until then.
    pub fn input(&mut self, t: f64, k: usize, amount: f64) {
        if t >= self.t0 {
            self.advance(t);
            self.q[k] += amount;
        } else {
            self.q[k] += amount * (-(self.t0 - t) / self.p.tau_syn[k]).exp();
        }
        self.checked_until = self.checked_until.min(t.max(self.t0));
        self.found = None;
    }

    /// A spike at time `t`: reset and clamp until `t + refractory`.
    pub fn fire(&mut self, t: f64) {
        self.advance(t);
        let end = t + self.p.refractory;
        for k in 0..MAX_CHANNELS {
            self.q[k] *= (-self.p.refractory / self.p.tau_syn[k]).exp();
        }
        self.t0 = end;
        self.u0 = self.p.reset;
        self.checked_until = end;
        self.found = None;
    }

    /// Upper bound of `u` at `t0 + dt`, decreasing once `dt` exceeds every time constant.
    fn bound(&self, dt: f64) -> f64 {
        let mut b = self.u0.max(0.0) * (-dt / self.p.tau_mem).exp();
        for k in 0..MAX_CHANNELS {
            if self.q[k] > 0.0 {
                b += self.q[k] * dt * (-dt / self.p.tau_mem.max(self.p.tau_syn[k])).exp();
            }
        }
        b
    }

    /// Upper bound of `u` over all future times: `q t e^(-t/tau) <= q tau / e`.
    fn peak_bound(&self) -> f64 {
        let mut b = self.u0.max(0.0);
        for k in 0..MAX_CHANNELS {
            if self.q[k] > 0.0 {
                b += self.q[k] * self.grid.tau_peak[k] / std::f64::consts::E;
            }
        }
        b
    }

    /// The crossing found by the last search, if it is still valid (no input, reset or spike since).
    pub fn pending_crossing(&self) -> Option<f64> {
        self.found
    }

    /// The first threshold crossing at or before `until` (absolute us) that has not been ruled out yet, given no
    /// further input. Remembers how far it looked, so repeated calls with growing `until` scan each stretch once.
    pub fn next_crossing(&mut self, until: f64) -> Option<f64> {
        let theta = self.p.threshold;
        if theta == f64::INFINITY {
            return None;
        }
        if let Some(t) = self.found {
            return (t <= until).then_some(t);
        }
        let start = self.checked_until.max(self.t0);
        // Scanned up to `until` already (the emulator asks again after every spike of any neuron).
        if start >= until {
            return None;
        }
        let (a, b) = (start - self.t0, until - self.t0);
        if theta > 0.0 && self.peak_below(theta) {
            self.checked_until = f64::INFINITY;
            return None;
        }
        let Grid { step, settle, .. } = self.grid;
        // The scan below could stop early only at a grid point at or after `settle`.
        if b <= settle && self.rise_stays_below(b) {
            self.checked_until = until;
            return None;
        }
        let sizes = self.term_sizes();
        if self.never_reaches(&self.at_t0(), b, sizes) {
            return self.finish_scan(a, b, until);
        }
        let mut x = a;
        let mut px = self.point(x);
        if px.u >= theta {
            self.found = Some(start);
            return self.found;
        }
        while x < b {
            if x >= settle && theta > 0.0 && self.bound(x) < theta {
                // No crossing is possible any more without new input.
                self.checked_until = f64::INFINITY;
                return None;
            }
            let y = (x + step).min(b);
            if self.never_reaches(&px, b, sizes) {
                return self.finish_scan(y, b, until);
            }
            let py = self.point(y);
            if py.u >= theta {
                self.found = Some(self.t0 + self.bisect_crossing(x, y));
                return self.found;
            }
            if px.slope > 0.0 && py.slope < 0.0 && !self.peak_stays_below((x, &px), (y, &py)) {
                let peak = self.bisect_slope(x, y);
                if self.value(peak) >= theta {
                    self.found = Some(self.t0 + self.bisect_crossing(x, peak));
                    return self.found;
                }
            }
            (x, px) = (y, py);
        }
        self.checked_until = until;
        None
    }

    /// The end of a scan from grid point `x` to `b` that can find no crossing on the way: where the decaying bound
    /// first rules out any further crossing, else at `until`.
    fn finish_scan(&mut self, mut x: f64, b: f64, until: f64) -> Option<f64> {
        let Grid { step, settle, .. } = self.grid;
        let theta = self.p.threshold;
        while x < b {
            if x >= settle && theta > 0.0 && self.bound(x) < theta {
                self.checked_until = f64::INFINITY;
                return None;
            }
            x = (x + step).min(b);
        }
        self.checked_until = until;
        None
    }

    /// The crossing in `[lo, hi]` with `u(lo) < theta <= u(hi)`: Newton steps kept inside the shrinking bracket,
    /// bisection where a step would leave it, until the bracket or the step is below the tolerance.
    fn bisect_crossing(&self, mut lo: f64, mut hi: f64) -> f64 {
        let theta = self.p.threshold;
        let mut x = 0.5 * (lo + hi);
        while hi - lo > ROOT_TOLERANCE_US {
            let (u, slope) = self.value_and_slope(x);
            if u >= theta {
                hi = x
            } else {
                lo = x
            }
            let newton = x - (u - theta) / slope;
            if slope > 0.0 && newton > lo && newton < hi {
                if (newton - x).abs() < 0.25 * ROOT_TOLERANCE_US {
                    // Converged: the first point at or above the threshold, to the tolerance.
                    return if u >= theta { x } else { (x + ROOT_TOLERANCE_US).min(hi) };
                }
                x = newton;
            } else {
                x = 0.5 * (lo + hi);
            }
        }
        hi
    }

    /// The local maximum in `[lo, hi]` with slope positive at `lo` and negative at `hi`.
    fn bisect_slope(&self, mut lo: f64, mut hi: f64) -> f64 {
        while hi - lo > ROOT_TOLERANCE_US {
            let mid = 0.5 * (lo + hi);
            if self.slope(mid) > 0.0 { lo = mid } else { hi = mid }
        }
        0.5 * (lo + hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(tau_mem: f64, tau_syn: f64, threshold: f64) -> MembraneParameters {
        MembraneParameters { tau_mem, tau_syn: [tau_syn; MAX_CHANNELS], threshold, reset: 0.0, refractory: 10.0 }
    }

    #[test]
    fn a_single_input_gives_the_alpha_kernel_for_equal_time_constants() {
        let mut m = Membrane::at_rest(params(6.0, 6.0, 1e9), 0.0);
        m.input(1.0, 0, 2.0);
        for t in [1.5, 3.0, 7.0, 20.0] {
            let s = t - 1.0;
            let expected = 2.0 * s * (-s / 6.0f64).exp();
            assert!((m.potential(t) - expected).abs() < 1e-12 * expected.abs().max(1.0), "t={t}");
        }
    }

    #[test]
    fn the_closed_form_matches_a_fine_euler_integration_for_unequal_time_constants() {
        let mut m = Membrane::at_rest(params(12.0, 6.0, 1e9), 0.0);
        m.p.tau_syn[1] = 3.0;
        m = Membrane::at_rest(m.p, 0.0);
        m.input(0.0, 0, 1.0);
        m.input(2.0, 1, -0.7);
        let (mut u, mut q0, mut q1, dt) = (0.0f64, 1.0f64, 0.0f64, 1e-5);
        let mut t = 0.0f64;
        while t < 10.0 - 1e-12 {
            if (t - 2.0).abs() < dt / 2.0 {
                q1 -= 0.7;
            }
            u += dt * (-u / 12.0 + q0 + q1);
            q0 -= dt * q0 / 6.0;
            q1 -= dt * q1 / 3.0;
            t += dt;
        }
        assert!((m.potential(10.0) - u).abs() < 1e-3, "{} vs {u}", m.potential(10.0));
    }

    #[test]
    fn crossings_are_found_exactly_including_grazing_ones() {
        // Peak of q s e^(-s/tau) is q tau / e at s = tau.
        let peak = 6.0 / std::f64::consts::E;
        for (q, expect) in [(1.0 - 1e-9, None), (1.0 + 1e-9, Some(6.0)), (2.0, Some(0.0))] {
            let mut m = Membrane::at_rest(params(6.0, 6.0, peak), 0.0);
            m.input(0.0, 0, q);
            let found = m.next_crossing(100.0);
            match expect {
                None => assert_eq!(found, None),
                Some(_) => {
                    let t = found.expect("crosses");
                    let residual = q * t * (-t / 6.0f64).exp() - peak;
                    assert!(residual.abs() < 1e-6 && t > 0.0, "q={q}: t={t}");
                }
            }
        }
    }

    #[test]
    fn a_neuron_with_its_leak_above_threshold_fires_after_each_refractory_period() {
        let mut p = params(6.0, 6.0, -1.0);
        p.reset = -10.0;
        let mut m = Membrane::at_rest(p, 0.0);
        assert_eq!(m.next_crossing(1.0), Some(0.0));
        m.fire(0.0);
        let t = m.next_crossing(100.0).expect("fires again");
        // From -10 relaxing to 0 crosses -1 after tau ln 10, after the refractory period of 10.
        assert!((t - (10.0 + 6.0 * 10f64.ln())).abs() < 1e-6, "{t}");
    }

    #[test]
    fn the_shared_exponentials_decay_each_channel_as_its_own_would() {
        let mut p = params(6.0, 6.0, 1e9);
        p.tau_syn = [5.7, 6.4, 6.0, 3.0];
        let mut m = Membrane::at_rest(p, 0.0);
        let amounts = [1.5, -0.8, 0.3, 2.0];
        for (k, &a) in amounts.iter().enumerate() {
            m.input(0.0, k, a);
        }
        for t in [1e-9, 0.3, 2.0, 7.5, 40.0] {
            let mut later = m;
            later.advance(t);
            for (k, &a) in amounts.iter().enumerate() {
                let own = a * (-t / p.tau_syn[k]).exp();
                // A few roundings, and those of `d_k` and the quotients scaled by `t`.
                assert!(
                    (later.q[k] - own).abs() <= (4.0 + t) * 1e-16 * own.abs(),
                    "t={t} k={k}: {} vs {own}",
                    later.q[k]
                );
            }
            assert_eq!(later.u0.to_bits(), m.value(t).to_bits(), "t={t}");
        }
    }

    fn reference_input(m: &mut Membrane, t: f64, k: usize, amount: f64) {
        if t >= m.t0 {
            m.advance(t);
            m.q[k] += amount;
        } else {
            m.q[k] += amount * (-(m.t0 - t) / m.p.tau_syn[k]).exp();
        }
        m.checked_until = m.checked_until.min(t.max(m.t0));
        m.found = None;
    }

    fn reference_fire(m: &mut Membrane, t: f64) {
        m.advance(t);
        let end = t + m.p.refractory;
        for k in 0..MAX_CHANNELS {
            m.q[k] *= (-m.p.refractory / m.p.tau_syn[k]).exp();
        }
        (m.t0, m.u0, m.checked_until, m.found) = (end, m.p.reset, end, None);
    }

    /// The search before the bounds: every grid point evaluated.
    fn reference_next_crossing(m: &mut Membrane, until: f64) -> Option<f64> {
        let theta = m.p.threshold;
        if theta == f64::INFINITY {
            return None;
        }
        if let Some(t) = m.found {
            return (t <= until).then_some(t);
        }
        let start = m.checked_until.max(m.t0);
        if start >= until {
            return None;
        }
        let (a, b) = (start - m.t0, until - m.t0);
        if theta > 0.0 && m.peak_bound() < theta {
            m.checked_until = f64::INFINITY;
            return None;
        }
        let mut x = a;
        let (ux, mut sx) = m.value_and_slope(x);
        if ux >= theta {
            m.found = Some(start);
            return m.found;
        }
        while x < b {
            if x >= m.grid.settle && theta > 0.0 && m.bound(x) < theta {
                m.checked_until = f64::INFINITY;
                return None;
            }
            let y = (x + m.grid.step).min(b);
            let (uy, sy) = m.value_and_slope(y);
            if uy >= theta {
                m.found = Some(m.t0 + m.bisect_crossing(x, y));
                return m.found;
            }
            if sx > 0.0 && sy < 0.0 {
                let peak = m.bisect_slope(x, y);
                if m.value(peak) >= theta {
                    m.found = Some(m.t0 + m.bisect_crossing(x, peak));
                    return m.found;
                }
            }
            (x, sx) = (y, sy);
        }
        m.checked_until = until;
        None
    }

    fn assert_same_state(a: &Membrane, b: &Membrane, at: &str) {
        let bits = |m: &Membrane| {
            let mut v = vec![m.t0.to_bits(), m.u0.to_bits(), m.checked_until.to_bits()];
            v.extend(m.q.iter().map(|q| q.to_bits()));
            v.push(m.found.map_or(1, f64::to_bits));
            v
        };
        assert_eq!(bits(a), bits(b), "{at}");
    }

    #[test]
    fn the_bounds_leave_every_bit_of_the_grid_search_unchanged() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14);
        let mut uniform = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
        let (mut crossings, mut quiet) = (0, 0);
        for case in 0..300 {
            let tau_mem = uniform(5.0, 7.0);
            // Chip-like mismatch, or the ideal chip's equal time constants; channels 2 and 3 unused.
            let tau = |x: f64| if case % 3 == 0 { tau_mem } else { tau_mem * x };
            let tau_syn = [tau(uniform(0.9, 1.1)), tau(uniform(0.5, 2.0)), tau_mem, tau_mem];
            let threshold = uniform(1.0, 15.0);
            let reset = if case % 2 == 0 { 0.0 } else { -uniform(0.0, 5.0) };
            let refractory = if case % 4 == 1 { 50.0 } else { uniform(0.0, 3.0) };
            let p = MembraneParameters { tau_mem, tau_syn, threshold, reset, refractory };
            let (mut fast, mut slow) = (Membrane::at_rest(p, 0.0), Membrane::at_rest(p, 0.0));
            let mut t = 0.0;
            for step in 0..300 {
                t += if uniform(0.0, 1.0) < 0.9 { uniform(0.01, 0.5) } else { uniform(1.0, 40.0) };
                let at = format!("case {case} step {step}");
                // As the emulator: search up to each event's time, fire what crosses, then deliver the event.
                loop {
                    let (a, b) = (fast.next_crossing(t), reference_next_crossing(&mut slow, t));
                    assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{at}");
                    assert_same_state(&fast, &slow, &at);
                    quiet += usize::from(fast.is_quiet());
                    let Some(tc) = a else { break };
                    crossings += 1;
                    fast.fire(tc);
                    reference_fire(&mut slow, tc);
                }
                let (k, amount) =
                    if uniform(0.0, 1.0) < 0.7 { (0, uniform(0.0, 2.0)) } else { (1, -uniform(0.0, 2.0)) };
                fast.input(t, k, amount);
                reference_input(&mut slow, t, k, amount);
                assert_same_state(&fast, &slow, &at);
            }
        }
        // The workload exercises both outcomes of the search.
        assert!(crossings > 1000 && quiet > 1000, "{crossings} crossings, {quiet} quiet");
    }
}
