//! Exact first-spike time of one neuron and its gradient (spec §2 and §3).
//!
//! Each function works on one (sample, neuron) pair. Inputs come as parallel slices: the arrival time `t`,
//! `es = exp(t/tau_syn)`, `em = exp(t/tau_mem)` (ratio 2 only, otherwise ignored) and the weight `w`.
//! The caller computes the exponentials once and shares them across neurons where it can.

use super::lambert_w::lambert_w0;
use super::neuron::{NeuronParams, TauRatio};

/// Added to the running sums, as the reference does, so that leading zero weights give no 0/0 (§21 item 25).
pub const SUM_EPSILON: f64 = 1e-6;

/// First-spike time from inputs sorted by time (+inf last), or +inf if the neuron never crosses `c`.
///
/// One sweep over the prefixes with running sums: candidate k is accepted if it lies in its own window
/// `[t_(k), t_(k+1)]`. Windows are ordered in time, so the first accepted candidate is the minimum the
/// reference finds over all prefixes. A prefix ending in a missing input is always rejected, so the sweep
/// stops there.
pub fn first_spike_time(p: &NeuronParams, c: f64, t: &[f64], es: &[f64], em: &[f64], w: &[f64]) -> f64 {
    let n = t.len();
    let mut sum_a = 0.0;
    let mut sum_b = 0.0;
    for k in 0..n {
        let tk = t[k];
        if !tk.is_finite() {
            break;
        }
        sum_a += w[k] * es[k];
        let candidate = match p.ratio {
            TauRatio::One => {
                sum_b += w[k] * tk * es[k];
                candidate_ratio_one(p.tau_syn, c, sum_a + SUM_EPSILON, sum_b / p.tau_syn + SUM_EPSILON)
            }
            TauRatio::Two => {
                sum_b += w[k] * em[k];
                candidate_ratio_two(p.tau_syn, c, sum_a + SUM_EPSILON, sum_b + SUM_EPSILON)
            }
        };
        let next = if k + 1 < n { t[k + 1] } else { f64::INFINITY };
        // Non-finite candidates (no real crossing) are rejected; equality passes both window checks.
        if candidate.is_finite() && candidate >= tk && candidate <= next {
            return candidate;
        }
    }
    f64::INFINITY
}

/// tau_mem = tau_syn: `T = tau (B/A - W0(-(c/A) e^{B/A}))`; +inf where W0 is not real.
#[inline]
fn candidate_ratio_one(tau_syn: f64, c: f64, a: f64, b: f64) -> f64 {
    let ratio = b / a;
    let z = -(c / a) * ratio.exp();
    // Cheap rejection before the Lambert W: below the branch point there is no crossing.
    if !(z >= -std::f64::consts::E.recip()) {
        return f64::INFINITY;
    }
    let w0 = lambert_w0(z);
    if w0.is_nan() {
        return f64::INFINITY;
    }
    tau_syn * (ratio - w0)
}

/// tau_mem = 2 tau_syn: `T = 2 tau_syn ln(2A / (A2 + sqrt(A2^2 - 4 A c)))`; +inf without a real root.
#[inline]
fn candidate_ratio_two(tau_syn: f64, c: f64, a: f64, a2: f64) -> f64 {
    let s = (a2 * a2 - 4.0 * a * c).sqrt();
    if s.is_nan() {
        return f64::INFINITY;
    }
    let q = 2.0 * a / (a2 + s);
    if !(q > 0.0) {
        return f64::INFINITY;
    }
    2.0 * tau_syn * q.ln()
}

/// Gradient of the spike time `t_out` of one neuron with respect to its weights and input times.
///
/// Inputs may come in any order. Input i is causal iff `t_out - t_i >= 0` and finite; the sums run over the
/// causal set with the nominal crossing constant `c` (threshold noise is not part of the backward pass).
/// Fills `dw[i] = dT/dw_i` and `dt[i] = dT/dt_i` (0 for non-causal inputs) and returns true; returns false
/// with everything zero where the ideal model has no crossing for these inputs (e.g. `t_out` measured on a
/// chip or perturbed by noise).
#[allow(clippy::too_many_arguments)]
pub fn spike_time_gradient(
    p: &NeuronParams,
    c: f64,
    t_out: f64,
    t: &[f64],
    es: &[f64],
    em: &[f64],
    w: &[f64],
    dw: &mut [f64],
    dt: &mut [f64],
) -> bool {
    dw.fill(0.0);
    dt.fill(0.0);
    if !t_out.is_finite() {
        return false;
    }
    let causal = |i: usize| {
        let lag = t_out - t[i];
        lag >= 0.0 && lag.is_finite()
    };
    let mut sum_a = 0.0;
    let mut sum_b = 0.0;
    for i in 0..t.len() {
        if causal(i) {
            sum_a += w[i] * es[i];
            sum_b += match p.ratio {
                TauRatio::One => w[i] * t[i] * es[i],
                TauRatio::Two => w[i] * em[i],
            };
        }
    }
    let a = sum_a + SUM_EPSILON;
    match p.ratio {
        TauRatio::One => {
            let b = sum_b / p.tau_syn + SUM_EPSILON;
            let w0 = lambert_w0(-(c / a) * (b / a).exp());
            if w0.is_nan() {
                return false;
            }
            let denom = a * (1.0 + w0);
            for i in 0..t.len() {
                if causal(i) {
                    let lag = t_out - t[i];
                    dw[i] = -es[i] * lag / denom;
                    dt[i] = -w[i] * es[i] * (lag - p.tau_syn) / (p.tau_syn * denom);
                }
            }
        }
        TauRatio::Two => {
            let a2 = sum_b + SUM_EPSILON;
            let s = (a2 * a2 - 4.0 * a * c).sqrt();
            if s.is_nan() {
                return false;
            }
            let factor = 1.0 + c * (t_out / p.tau_mem).exp() / s;
            for i in 0..t.len() {
                if causal(i) {
                    dw[i] = p.tau_mem * (factor * es[i] / a - em[i] / s);
                    // The reference hard-codes tau_mem / tau_syn = 2 here.
                    dt[i] = w[i] * (2.0 * factor * es[i] / a - em[i] / s);
                }
            }
        }
    }
    true
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
        let mut idx: Vec<usize> = (0..t.len()).collect();
        idx.sort_by(|&a, &b| t[a].total_cmp(&t[b]));
        let ts: Vec<f64> = idx.iter().map(|&i| t[i]).collect();
        let ws: Vec<f64> = idx.iter().map(|&i| w[i]).collect();
        let es: Vec<f64> = ts.iter().map(|x| (x / p.tau_syn).exp()).collect();
        let em: Vec<f64> = ts.iter().map(|x| (x / p.tau_mem).exp()).collect();
        first_spike_time(p, p.crossing_constant(p.threshold), &ts, &es, &em, &ws)
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

    #[test]
    fn missing_inputs_never_cause_a_spike() {
        let p = params(TauRatio::Two);
        assert_eq!(spike(&p, &[f64::INFINITY, f64::INFINITY], &[5.0, 5.0]), f64::INFINITY);
        let with = spike(&p, &[0.2, f64::INFINITY], &[3.0, 100.0]);
        let without = spike(&p, &[0.2], &[3.0]);
        assert_eq!(with, without);
    }
}
