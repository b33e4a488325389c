//! Exact first-spike time of one neuron and its gradient (spec §2 and §3).
//!
//! Each function works on one (sample, neuron) pair. Inputs come as parallel slices: the arrival time `t`,
//! `es = exp(t/tau_syn)`, `em = exp(t/tau_mem)` (ratio 2 only, otherwise ignored) and the weight `w`.
//! The caller computes the exponentials once and shares them across neurons where it can.

use super::lambert_w::lambert_w0;
use super::neuron::{NeuronParams, TauRatio};

/// Added to the running sums, as the reference does, so that leading zero weights give no 0/0 (§21 item 25).
pub const SUM_EPSILON: f64 = 1e-6;

/// One input of one neuron: its arrival time `t`, `es = exp(t/tau_syn)`, `em = exp(t/tau_mem)` (ratio 2 only,
/// otherwise unused) and its weight `w`. The caller computes the exponentials once and shares them where it can.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Input {
    /// Arrival time (+inf = no spike).
    pub t: f64,
    /// `exp(t / tau_syn)`.
    pub es: f64,
    /// `exp(t / tau_mem)`.
    pub em: f64,
    /// Weight.
    pub w: f64,
}

/// Sorts inputs by time (+inf last) with an insertion sort: fast for the few inputs of a neuron and for
/// nearly sorted data (per-synapse delays added to times already in order).
pub fn sort_by_time(inputs: &mut [Input]) {
    for i in 1..inputs.len() {
        if inputs[i - 1].t.total_cmp(&inputs[i].t).is_le() {
            continue;
        }
        let item = inputs[i];
        let mut j = i;
        while j > 0 && inputs[j - 1].t.total_cmp(&item.t).is_gt() {
            inputs[j] = inputs[j - 1];
            j -= 1;
        }
        inputs[j] = item;
    }
}

/// One window of the sweep: the sorted input that opens it (`t`, `es` = exp(t/tau_syn)) and the next one, which
/// closes it (+inf after the last).
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Arrival time of the opening input.
    pub t: f64,
    /// Its `exp(t / tau_syn)`.
    pub es: f64,
    /// Arrival time of the closing input.
    pub next_t: f64,
    /// Its `exp(t / tau_syn)`.
    pub next_es: f64,
    /// Its `exp(t / tau_mem)` (ratio 2 only).
    pub next_em: f64,
}

impl Window {
    /// The window opened by `input` and closed by `next`.
    #[inline(always)]
    pub fn between(input: &Input, next: &Input) -> Self {
        Window { t: input.t, es: input.es, next_t: next.t, next_es: next.es, next_em: next.em }
    }

    /// Whether `candidate` lies in the window; non-finite candidates (no real crossing) never do, and
    /// equality passes both checks.
    #[inline(always)]
    pub fn holds(&self, candidate: f64) -> bool {
        candidate.is_finite() && candidate >= self.t && candidate <= self.next_t
    }
}

/// The input after the last: it closes the last window at +inf.
const NO_INPUT: Input = Input { t: f64::INFINITY, es: f64::INFINITY, em: f64::INFINITY, w: 0.0 };

/// The running sums of one neuron over a prefix of its sorted inputs, with `SUM_EPSILON` added as the closed
/// forms take them: ratio 1 `a = sum w e^{t/tau_syn}`, `b = sum w t e^{t/tau_syn} / tau_syn`; ratio 2 `a` and
/// `b = a2 = sum w e^{t/tau_mem}`.
#[inline(always)]
pub fn closed_form_sums(p: &NeuronParams, sum_a: f64, sum_b: f64) -> (f64, f64) {
    match p.ratio {
        TauRatio::One => (sum_a + SUM_EPSILON, sum_b / p.tau_syn + SUM_EPSILON),
        TauRatio::Two => (sum_a + SUM_EPSILON, sum_b + SUM_EPSILON),
    }
}

/// Adds one input to the running sums (the order of the operations is part of the result, bit for bit).
#[inline(always)]
pub fn add_to_sums(p: &NeuronParams, sum_a: &mut f64, sum_b: &mut f64, w: f64, t: f64, es: f64, em: f64) {
    *sum_a += w * es;
    *sum_b += match p.ratio {
        TauRatio::One => w * t * es,
        TauRatio::Two => w * em,
    };
}

/// Whether the window surely holds no crossing for the sums `(a, b)` of [`closed_form_sums`]: decided without
/// the closed form (see [`ratio_one_rejects`], [`ratio_two_rejects`]), free of branches so that loops over
/// neurons vectorise.
#[inline(always)]
pub fn rejects(p: &NeuronParams, c: f64, a: f64, b: f64, window: &Window) -> bool {
    match p.ratio {
        TauRatio::One => ratio_one_rejects(p.tau_syn, c, a, b, window),
        TauRatio::Two => ratio_two_rejects(c, a, b, window.next_em),
    }
}

/// The crossing time of the closed form for the sums `(a, b)`, +inf where it has no real solution.
#[inline]
pub fn closed_form(p: &NeuronParams, c: f64, a: f64, b: f64) -> f64 {
    match p.ratio {
        TauRatio::One => ratio_one_closed_form(p.tau_syn, c, a, b),
        TauRatio::Two => ratio_two_closed_form(p.tau_syn, c, a, b),
    }
}

/// First-spike time from inputs sorted by time (+inf last), or +inf if the neuron never crosses `c`.
///
/// One sweep over the prefixes with running sums: candidate k is accepted if it lies in its own window
/// `[t_(k), t_(k+1)]`. Windows are ordered in time, so the first accepted candidate is the minimum the
/// reference finds over all prefixes. A prefix ending in a missing input is always rejected, so the sweep
/// stops there. Most windows are rejected by [`rejects`] before the closed form.
///
/// `sorted(k)` returns the k-th input in time order, for k < n; it is called only for the inputs the sweep
/// reaches, so callers can produce inputs lazily.
#[inline]
pub fn first_spike_time(p: &NeuronParams, c: f64, n: usize, sorted: impl Fn(usize) -> Input) -> f64 {
    let mut sum_a = 0.0;
    let mut sum_b = 0.0;
    let mut next_input = if n > 0 { sorted(0) } else { return f64::INFINITY };
    for k in 0..n {
        let input = next_input;
        if !input.t.is_finite() {
            break;
        }
        next_input = if k + 1 < n { sorted(k + 1) } else { NO_INPUT };
        let window = Window::between(&input, &next_input);
        add_to_sums(p, &mut sum_a, &mut sum_b, input.w, input.t, input.es, input.em);
        let (a, b) = closed_form_sums(p, sum_a, sum_b);
        if rejects(p, c, a, b, &window) {
            continue;
        }
        let candidate = closed_form(p, c, a, b);
        if window.holds(candidate) {
            return candidate;
        }
    }
    f64::INFINITY
}

/// tau_mem = tau_syn: whether the window surely holds no crossing of `f(u) = e^{-u} (a u - b)` (u = t/tau).
///
/// For a > 0 the membrane rises up to its peak at `u* = b/a + 1` and falls after it; for a <= 0 it has no
/// maximum inside a window. Most windows `[u, u_next]` hold no crossing, and that is decided from a few
/// multiplications, without the exponential and the Lambert W, where the membrane starts the window below c and
/// - falls through it (peak at or before u, or a <= 0 and below c at u_next or at infinity), or
/// - rises through it (peak after u_next) and is below c at u_next, or
/// - peaks inside it at `f(u*) = (a / e^u) e^{-x} <= (a / e^u) / (1 + x + x^2/2 + x^3/6)` (x = u* - u) below c.
///
/// Each bound holds with a relative margin of 1e-9, so every borderline case is left to the closed form and
/// the exact window check: the sweep's result is the closed form's, bit for bit.
#[inline(always)]
pub fn ratio_one_rejects(tau_syn: f64, c: f64, a: f64, b: f64, window: &Window) -> bool {
    const MARGIN: f64 = 1.0 - 1e-9;
    let (u, u_next) = (window.t / tau_syn, window.next_t / tau_syn);
    let bounded = window.next_es.is_finite();
    let starts_below = (c > 0.0) & window.es.is_finite() & (a * u - b < c * window.es * MARGIN);
    let below_at_next = a * u_next - b < c * window.next_es * MARGIN;
    let peak = b / a + 1.0;
    let x = peak - u;
    let peak_below = a < c * window.es * (1.0 + x * (1.0 + x * (0.5 + x / 6.0))) * MARGIN;
    let rising = bounded & (peak >= u_next);
    let positive = (peak <= u) | (rising & below_at_next) | (!rising & peak_below);
    let otherwise = !bounded | below_at_next;
    starts_below & if a > 0.0 { positive } else { otherwise }
}

/// tau_mem = tau_syn: `T = tau (b/a - W0(-(c/a) e^{b/a}))`; +inf where W0 is not real.
#[inline]
pub fn ratio_one_closed_form(tau_syn: f64, c: f64, a: f64, b: f64) -> f64 {
    let ratio = b / a;
    let z = -(c / a) * ratio.exp();
    // Below the branch point there is no crossing at all.
    if !(z >= -std::f64::consts::E.recip()) {
        return f64::INFINITY;
    }
    let w0 = lambert_w0(z);
    if w0.is_nan() {
        return f64::INFINITY;
    }
    tau_syn * (ratio - w0)
}

/// tau_mem = 2 tau_syn: whether the window surely holds no root of `a x^2 - a2 x + c = 0` (x = exp(-t/tau_mem)).
///
/// The crossing is the larger root `x1 = (a2 + S) / (2a)`. Most prefixes have no root yet, or a root after the
/// next input (`x1 < x_next`, i.e. `S < 2a x_next - a2`); both are decided from squares, without the square
/// root, division and logarithm. `next_em` is `exp(t_next / tau_mem) = 1 / x_next`; it equals
/// `exp(t_next / (2 tau_syn))` up to the rounding of tau_mem = 2 tau_syn, and the margin leaves every
/// borderline case to the closed form and the exact window check.
#[inline(always)]
pub fn ratio_two_rejects(c: f64, a: f64, a2: f64, next_em: f64) -> bool {
    let disc = a2 * a2 - 4.0 * a * c;
    // S < 2a x_next - a2, multiplied through by next_em > 0.
    let bound = 2.0 * a - a2 * next_em;
    let root_after_next =
        (a > 0.0) & next_em.is_finite() & (bound > 0.0) & (disc * next_em * next_em < bound * bound * (1.0 - 1e-7));
    !(disc >= 0.0) | root_after_next
}

/// tau_mem = 2 tau_syn: `T = 2 tau_syn ln(2a / (a2 + sqrt(a2^2 - 4 a c)))`; +inf without a real root.
#[inline]
pub fn ratio_two_closed_form(tau_syn: f64, c: f64, a: f64, a2: f64) -> f64 {
    let disc = a2 * a2 - 4.0 * a * c;
    if !(disc >= 0.0) {
        return f64::INFINITY;
    }
    let q = 2.0 * a / (a2 + disc.sqrt());
    if !(q > 0.0) {
        return f64::INFINITY;
    }
    2.0 * tau_syn * q.ln()
}

/// Gradient of the spike time `t_out` of one neuron with respect to its causal inputs' weights and times,
/// times `d` (the loss's derivative by `t_out`).
///
/// Every input given is causal (`t_out - t_i >= 0` and finite); the sums run over them in the order given, with
/// the nominal crossing constant `c` (threshold noise is not part of the backward pass). Fills
/// `dw[i] = d dT/dw_i` and `dt[i] = d dT/dt_i` and returns the largest `|dw[i]|` and whether all are finite;
/// returns None, writing nothing, where the ideal model has no crossing for these inputs (e.g. `t_out` measured
/// on a chip or perturbed by noise).
///
/// `inputs(i)` returns input i for i < `dw.len()` (= `dt.len()`).
#[inline]
pub fn causal_gradient(
    p: &NeuronParams,
    c: f64,
    t_out: f64,
    d: f64,
    inputs: impl Fn(usize) -> Input,
    dw: &mut [f64],
    dt: &mut [f64],
) -> Option<(f64, bool)> {
    let n = dw.len();
    let mut sum_a = 0.0;
    let mut sum_b = 0.0;
    for x in (0..n).map(&inputs) {
        add_to_sums(p, &mut sum_a, &mut sum_b, x.w, x.t, x.es, x.em);
    }
    let (a, b) = closed_form_sums(p, sum_a, sum_b);
    let factors = GradientFactors::new(p, c, t_out, a, b)?;
    let mut largest = 0.0f64;
    let mut finite = true;
    for (i, (dw, dt)) in dw.iter_mut().zip(dt.iter_mut()).enumerate() {
        let (by_w, by_t) = factors.of_input(p, t_out, &inputs(i));
        (*dw, *dt) = (by_w * d, by_t * d);
        largest = largest.max(dw.abs());
        finite &= dw.is_finite() && dt.is_finite();
    }
    Some((largest, finite))
}

/// The per-neuron factors of a spike time's gradient (spec §3): computed once per neuron, so that each causal
/// input costs a few multiplications ([`GradientFactors::of_input`]).
#[derive(Clone, Copy, Debug, Default)]
struct GradientFactors {
    /// Ratio 1: `1 / (a (1 + W0))`; ratio 2: `(1 + c e^{T/tau_mem} / S) / a`.
    first: f64,
    /// Ratio 1: `1 / (tau_syn a (1 + W0))`; ratio 2: `1 / S`.
    second: f64,
}

impl GradientFactors {
    /// The factors at output time `t_out` for the causal sums `(a, b)` of [`closed_form_sums`]; None where the
    /// ideal model has no crossing for these sums.
    #[inline]
    fn new(p: &NeuronParams, c: f64, t_out: f64, a: f64, b: f64) -> Option<Self> {
        match p.ratio {
            TauRatio::One => {
                let w0 = lambert_w0(-(c / a) * (b / a).exp());
                if w0.is_nan() {
                    return None;
                }
                // Reciprocals once per neuron instead of two divisions per input: within an ulp of dividing,
                // and a division costs several multiplications' time in the backward pass's hottest loop.
                let denom = a * (1.0 + w0);
                Some(GradientFactors { first: 1.0 / denom, second: 1.0 / (p.tau_syn * denom) })
            }
            TauRatio::Two => {
                let s = (b * b - 4.0 * a * c).sqrt();
                if s.is_nan() {
                    return None;
                }
                let factor = 1.0 + c * (t_out / p.tau_mem).exp() / s;
                Some(GradientFactors { first: factor / a, second: 1.0 / s })
            }
        }
    }

    /// `(dT/dw, dT/dt)` of one causal input `x`.
    #[inline(always)]
    fn of_input(&self, p: &NeuronParams, t_out: f64, x: &Input) -> (f64, f64) {
        match p.ratio {
            TauRatio::One => {
                let lag = t_out - x.t;
                (-x.es * lag * self.first, -x.w * x.es * (lag - p.tau_syn) * self.second)
            }
            // The reference hard-codes tau_mem / tau_syn = 2 in dT/dt.
            TauRatio::Two => (
                p.tau_mem * (self.first * x.es - x.em * self.second),
                x.w * (2.0 * self.first * x.es - x.em * self.second),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(ratio: TauRatio) -> NeuronParams {
        match ratio {
            TauRatio::One => NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, ratio },
            TauRatio::Two => NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, ratio },
        }
    }

    /// Membrane potential minus leak at time `s` from the closed forms of spec §1.
    fn membrane(p: &NeuronParams, s: f64, t: &[f64], w: &[f64]) -> f64 {
        let mut u = 0.0;
        for (&ti, &wi) in t.iter().zip(w) {
            let d = s - ti;
            if d >= 0.0 {
                u += match p.ratio {
                    TauRatio::One => wi * d * (-d / p.tau_syn).exp() / (p.g_leak * p.tau_syn),
                    TauRatio::Two => wi * ((-d / p.tau_mem).exp() - (-d / p.tau_syn).exp()) / p.g_leak,
                };
            }
        }
        u
    }

    fn spike(p: &NeuronParams, t: &[f64], w: &[f64]) -> f64 {
        let mut inputs: Vec<Input> = t
            .iter()
            .zip(w)
            .map(|(&t, &w)| Input { t, es: (t / p.tau_syn).exp(), em: (t / p.tau_mem).exp(), w })
            .collect();
        sort_by_time(&mut inputs);
        assert!(inputs.windows(2).all(|p| p[0].t <= p[1].t));
        first_spike_time(p, p.crossing_constant(p.threshold), inputs.len(), |k| inputs[k])
    }

    #[test]
    fn spike_time_is_the_first_threshold_crossing_of_the_membrane() {
        // Compare with a fine scan of the membrane potential: same first crossing, both ratios.
        for ratio in [TauRatio::One, TauRatio::Two] {
            let p = params(ratio);
            let t = [0.3, 1.0, 0.5, 2.2, 0.7];
            for (scale, shift) in [(1.0, 0.0), (1.7, 0.1), (2.5, -0.3), (0.6, 0.4)] {
                let w: Vec<f64> = [1.0, -0.4, 0.8, 1.5, 0.3].iter().map(|x| x * scale + shift).collect();
                let got = spike(&p, &t, &w);
                let mut scanned = f64::INFINITY;
                let mut s = 0.0;
                while s < 10.0 {
                    if membrane(&p, s, &t, &w) >= p.threshold - p.leak {
                        scanned = s;
                        break;
                    }
                    s += 1e-5;
                }
                if scanned.is_finite() {
                    assert!((got - scanned).abs() < 2e-5, "{ratio:?} scale {scale}: {got} vs scan {scanned}");
                    let u = membrane(&p, got, &t, &w);
                    assert!((u - p.threshold).abs() < 1e-5, "potential at spike {u}");
                } else {
                    assert!(got.is_infinite(), "{ratio:?} scale {scale}: spike {got} but no crossing");
                }
            }
        }
    }

    /// The reference's algorithm, literally: a candidate for every prefix from the closed forms, the window
    /// checks, the minimum over accepted candidates (spec §2), with no early exit and no quick rejection.
    fn reference_spike(p: &NeuronParams, t: &[f64], w: &[f64]) -> f64 {
        let mut idx: Vec<usize> = (0..t.len()).collect();
        idx.sort_by(|&a, &b| t[a].total_cmp(&t[b]));
        let c = p.crossing_constant(p.threshold);
        let mut best = f64::INFINITY;
        for k in 0..idx.len() {
            let (mut a, mut b, mut a2) = (0.0, 0.0, 0.0);
            for &i in &idx[..=k] {
                let (ti, wi) = if t[i].is_finite() { (t[i], w[i]) } else { (0.0, 0.0) };
                a += wi * (ti / p.tau_syn).exp();
                b += wi * ti * (ti / p.tau_syn).exp() / p.tau_syn;
                a2 += wi * (ti / p.tau_mem).exp();
            }
            let (a, b, a2) = (a + SUM_EPSILON, b + SUM_EPSILON, a2 + SUM_EPSILON);
            let candidate = match p.ratio {
                TauRatio::One => {
                    let w0 = lambert_w0(-(c / a) * (b / a).exp());
                    if w0.is_nan() { f64::INFINITY } else { p.tau_syn * (b / a - w0) }
                }
                TauRatio::Two => {
                    let s = (a2 * a2 - 4.0 * a * c).sqrt();
                    let q = 2.0 * a / (a2 + s);
                    if s.is_nan() || !(q > 0.0) { f64::INFINITY } else { 2.0 * p.tau_syn * q.ln() }
                }
            };
            let own = t[idx[k]];
            let next = idx.get(k + 1).map_or(f64::INFINITY, |&i| t[i]);
            if candidate < own || (k + 1 < idx.len() && candidate > next) {
                continue;
            }
            best = best.min(candidate);
        }
        best
    }

    proptest::proptest! {
        /// The sweep with early exit and quick rejections finds exactly the reference's spike time.
        #[test]
        fn sweep_equals_the_reference_algorithm(
            inputs in proptest::collection::vec((0.0f64..4.0, -1.0f64..3.0, proptest::bool::weighted(0.1)), 1..40),
            ratio_two in proptest::bool::ANY,
            threshold in 0.5f64..3.0,
        ) {
            let mut p = params(if ratio_two { TauRatio::Two } else { TauRatio::One });
            p.threshold = threshold;
            let t: Vec<f64> = inputs.iter().map(|&(t, _, missing)| if missing { f64::INFINITY } else { t }).collect();
            let w: Vec<f64> = inputs.iter().map(|&(_, w, _)| w).collect();
            let (got, want) = (spike(&p, &t, &w), reference_spike(&p, &t, &w));
            proptest::prop_assert!(got == want || (got - want).abs() <= 1e-12 * want.abs(), "{} vs {}", got, want);
        }
    }

    #[test]
    fn missing_inputs_never_cause_a_spike() {
        let p = params(TauRatio::Two);
        assert_eq!(spike(&p, &[f64::INFINITY, f64::INFINITY], &[5.0, 5.0]), f64::INFINITY);
        let with = spike(&p, &[0.2, f64::INFINITY], &[3.0, 100.0]);
        let without = spike(&p, &[0.2], &[3.0]);
        assert_eq!(with, without);
    }
}
