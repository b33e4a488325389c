//! The Euler integrator that can replace the closed-form forward pass (spec §6).
//!
//! It exists to cross-check the closed forms and to mimic a time-stepped simulator; the backward pass stays
//! exact, evaluated at the integrator's spike times. No threshold noise, no jitter, no reset.

use rayon::prelude::*;

use super::arrival::Arrival;
use super::matrix::Matrix;
use super::neuron::NeuronParams;

/// First-spike times `[batch, n_post]` from integrating the membrane with step `resolution` for `sim_time`.
///
/// An input at time t lands in step `trunc(t / resolution)` (missing inputs in the last step) and affects the
/// membrane from the next step on; a spike is recorded at `k * resolution` for the first step k whose membrane
/// exceeds the threshold. Assumes a membrane capacitance of 1, true for every shipped config.
pub fn integrate_forward(
    p: &NeuronParams,
    weights: &Matrix,
    arrival: &Arrival,
    resolution: f64,
    sim_time: f64,
) -> Matrix {
    let (batch, n, m) = (arrival.batch(), arrival.n_pre(), weights.cols);
    let steps = (sim_time / resolution).ceil().max(1.0) as usize;
    let decay_syn = (-resolution / p.tau_syn).exp();
    let decay_mem = (-resolution / p.tau_mem).exp();
    let last = steps - 1;
    let mut out = Matrix::filled(batch, m, f64::INFINITY);
    out.data.par_chunks_mut(m.max(1)).enumerate().for_each(|(b, row)| {
        let mut charge = vec![0.0; steps];
        for (j, out_j) in row.iter_mut().enumerate() {
            charge.fill(0.0);
            for i in 0..n {
                let t = arrival.time(b, i, j);
                let step = if t.is_finite() { ((t / resolution).trunc().max(0.0) as usize).min(last) } else { last };
                charge[step] += weights.get(i, j);
            }
            let (mut syn, mut mem) = (0.0, p.leak);
            for (k, &q) in charge.iter().enumerate() {
                mem = decay_mem * (mem - p.leak) + p.leak + syn * resolution;
                syn = decay_syn * syn + q;
                if mem > p.threshold {
                    *out_j = k as f64 * resolution;
                    break;
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TauRatio, layer_forward};

    /// Spec §18: the single-layer vectors with the integrator at sim_time 4.
    #[test]
    fn matches_the_reference_integrator_and_converges_to_the_exact_times() {
        let inputs = Matrix::from_rows(&[vec![0.3, 1.0, 0.5, f64::INFINITY]]).unwrap();
        let weights = Matrix::from_rows(&[
            vec![3.0, 0.3, 0.5, 4.0],
            vec![1.0, 0.2, 3.0, 1.0],
            vec![-0.5, 0.1, 0.2, 1.0],
            vec![2.0, 5.0, 0.1, 1.0],
        ])
        .unwrap();
        let arrival = Arrival::Shared(inputs);
        let inf = f64::INFINITY;
        let two =
            NeuronParams { tau_syn: 1.0, tau_mem: 2.0, g_leak: 0.5, leak: 0.0, threshold: 1.0, ratio: TauRatio::Two };
        let one =
            NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 1.0, ratio: TauRatio::One };
        let cases = [
            (two, 0.01, [0.89, inf, 1.28, 0.59]),
            (one, 0.01, [1.09, inf, 1.35, 0.61]),
            (two, 0.001, [0.895, inf, 1.277, 0.585]),
            (one, 0.001, [1.095, inf, 1.352, 0.607]),
        ];
        for (p, res, want) in cases {
            let got = integrate_forward(&p, &weights, &arrival, res, 4.0);
            for (g, w) in got.data.iter().zip(want) {
                assert!((g - w).abs() < 1e-9 || g == &w, "{:?} res {res}: {g} vs {w}", p.ratio);
            }
        }
        // Mean |integrator - exact| shrinks with the step (the idea of the reference's stale test).
        for p in [one, two] {
            let exact = layer_forward(&p, &weights, &arrival, None);
            let error = |res: f64| {
                let got = integrate_forward(&p, &weights, &arrival, res, 4.0);
                let finite: Vec<f64> = got
                    .data
                    .iter()
                    .zip(&exact.data)
                    .filter(|(_, e)| e.is_finite())
                    .map(|(g, e)| (g - e).abs())
                    .collect();
                finite.iter().sum::<f64>() / finite.len() as f64
            };
            let (coarse, fine, finer) = (error(0.01), error(0.001), error(0.0001));
            assert!(coarse > fine && fine > finer && finer < 2e-4, "{coarse} {fine} {finer}");
        }
    }
}
