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
///
/// Inputs shared by all neurons (no delays) take a path that steps all neurons of a sample together, with each
/// step's charge summed from contiguous weight rows; it does the same operations in the same order for every
/// neuron as the general path, so both give the same bits (test `the_shared_path_gives_the_general_paths_bits`).
pub fn integrate_forward(
    p: &NeuronParams,
    weights: &Matrix,
    arrival: &Arrival,
    resolution: f64,
    sim_time: f64,
) -> Matrix {
    match arrival {
        Arrival::Shared(times) => integrate_shared(p, weights, times, &Grid::new(p, resolution, sim_time)),
        _ => integrate_each(p, weights, arrival, &Grid::new(p, resolution, sim_time)),
    }
}

/// The time grid and the per-step decay factors.
struct Grid {
    resolution: f64,
    steps: usize,
    decay_syn: f64,
    decay_mem: f64,
}

impl Grid {
    fn new(p: &NeuronParams, resolution: f64, sim_time: f64) -> Grid {
        Grid {
            resolution,
            steps: (sim_time / resolution).ceil().max(1.0) as usize,
            decay_syn: (-resolution / p.tau_syn).exp(),
            decay_mem: (-resolution / p.tau_mem).exp(),
        }
    }

    /// The step an input at `t` lands in.
    fn step(&self, t: f64) -> usize {
        let last = self.steps - 1;
        if t.is_finite() { ((t / self.resolution).trunc().max(0.0) as usize).min(last) } else { last }
    }
}

/// One neuron at a time, for arrival times that differ between neurons.
fn integrate_each(p: &NeuronParams, weights: &Matrix, arrival: &Arrival, grid: &Grid) -> Matrix {
    let (batch, n, m) = (arrival.batch(), arrival.n_pre(), weights.cols);
    let mut out = Matrix::filled(batch, m, f64::INFINITY);
    out.data.par_chunks_mut(m.max(1)).enumerate().for_each(|(b, row)| {
        let mut charge = vec![0.0; grid.steps];
        for (j, out_j) in row.iter_mut().enumerate() {
            charge.fill(0.0);
            for i in 0..n {
                charge[grid.step(arrival.time(b, i, j))] += weights.get(i, j);
            }
            let (mut syn, mut mem) = (0.0, p.leak);
            for (k, &q) in charge.iter().enumerate() {
                mem = grid.decay_mem * (mem - p.leak) + p.leak + syn * grid.resolution;
                syn = grid.decay_syn * syn + q;
                if mem > p.threshold {
                    *out_j = k as f64 * grid.resolution;
                    break;
                }
            }
        }
    });
    out
}

/// A sample's working arrays for [`integrate_shared`].
struct Scratch {
    /// Input indices ordered by (step, index).
    order: Vec<(usize, usize)>,
    charge: Vec<f64>,
    syn: Vec<f64>,
    mem: Vec<f64>,
}

/// All neurons of a sample stepped together, for times shared by every neuron.
fn integrate_shared(p: &NeuronParams, weights: &Matrix, times: &Matrix, grid: &Grid) -> Matrix {
    let (batch, n, m) = (times.rows, times.cols, weights.cols);
    let mut out = Matrix::filled(batch, m, f64::INFINITY);
    if m == 0 {
        return out;
    }
    let scratch =
        || Scratch { order: Vec::with_capacity(n), charge: vec![0.0; m], syn: vec![0.0; m], mem: vec![0.0; m] };
    out.data.par_chunks_mut(m).enumerate().for_each_init(scratch, |s, (b, row)| {
        s.order.clear();
        s.order.extend((0..n).map(|i| (grid.step(times.get(b, i)), i)));
        // Within a step the inputs are summed in index order, as the general path sums them.
        s.order.sort_unstable();
        s.syn.fill(0.0);
        s.mem.fill(p.leak);
        let (mut next, mut spiked) = (0, 0);
        for k in 0..grid.steps {
            let t = k as f64 * grid.resolution;
            for ((mem, syn), out_j) in s.mem.iter_mut().zip(&s.syn).zip(row.iter_mut()) {
                *mem = grid.decay_mem * (*mem - p.leak) + p.leak + syn * grid.resolution;
                if *mem > p.threshold && out_j.is_infinite() {
                    *out_j = t;
                    spiked += 1;
                }
            }
            if spiked == m {
                break;
            }
            s.charge.fill(0.0);
            while let Some(&(_, i)) = s.order.get(next).filter(|(step, _)| *step == k) {
                for (q, w) in s.charge.iter_mut().zip(weights.row(i)) {
                    *q += w;
                }
                next += 1;
            }
            for (syn, q) in s.syn.iter_mut().zip(&s.charge) {
                *syn = grid.decay_syn * *syn + q;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TauRatio, layer_forward};

    /// The shared-input path against the general one on the same times given per neuron: every output bit equal,
    /// for MNIST-like inputs (a quarter missing, ties on the grid), random signed weights, both tau ratios.
    #[test]
    fn the_shared_path_gives_the_general_paths_bits() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (ratio, tau_mem, g_leak) in [(TauRatio::Two, 2.0, 0.5), (TauRatio::One, 1.0, 1.0)] {
            let p = NeuronParams { tau_syn: 1.0, tau_mem, g_leak, leak: 0.0, threshold: 1.0, ratio };
            let (batch, n, m) = (9, 60, 23);
            let times: Vec<f64> = (0..batch * n)
                .map(|_| {
                    if rng.random::<f64>() < 0.25 {
                        f64::INFINITY
                    } else {
                        (rng.random::<f64>() * 300.0).round() / 100.0
                    }
                })
                .collect();
            let weights: Vec<f64> = (0..n * m).map(|_| rng.random::<f64>() * 0.5 - 0.23).collect();
            let shared = Matrix { rows: batch, cols: n, data: times.clone() };
            let weights = Matrix { rows: n, cols: m, data: weights };
            let dense: Vec<f64> = times.iter().flat_map(|&t| std::iter::repeat_n(t, m)).collect();
            let each = Arrival::Dense { batch, n_pre: n, n_post: m, times: dense };
            for (res, sim_time) in [(0.01, 3.5), (0.05, 2.0), (0.001, 4.0)] {
                let fast = integrate_forward(&p, &weights, &Arrival::Shared(shared.clone()), res, sim_time);
                let general = integrate_each(&p, &weights, &each, &Grid::new(&p, res, sim_time));
                assert!(fast.data.iter().any(|t| t.is_finite()) && fast.data.iter().any(|t| t.is_infinite()));
                let bits = |m: &Matrix| m.data.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&general), "{ratio:?} at resolution {res}");
            }
        }
    }

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
