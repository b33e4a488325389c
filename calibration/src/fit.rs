//! Least-squares fits of measured traces (Levenberg-Marquardt, `levenberg-marquardt` on nalgebra): exponential
//! relaxations (membrane time constant, leak and reset) and post-synaptic potentials (synaptic time constant and
//! gain), with the goodness of every fit kept.

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::storage::Owned;
use nalgebra::{DMatrix, DVector, Dyn};

/// A model `y(t; p)` with its gradient in the parameters.
pub trait Model {
    /// Number of parameters.
    fn n_params(&self) -> usize;
    /// The value at `t`; writes `dy/dp` into `grad`.
    fn eval(&self, t: f64, p: &[f64], grad: &mut [f64]) -> f64;
}

/// `y = c + a e^(-t/tau)`, parameters `[c, a, tau]`.
#[derive(Clone, Copy, Debug)]
pub struct Relaxation;

impl Model for Relaxation {
    fn n_params(&self) -> usize {
        3
    }

    fn eval(&self, t: f64, p: &[f64], grad: &mut [f64]) -> f64 {
        let (c, a, tau) = (p[0], p[1], p[2]);
        let e = (-t / tau).exp();
        grad[0] = 1.0;
        grad[1] = e;
        grad[2] = a * e * t / (tau * tau);
        c + a * e
    }
}

/// The PSP of a current-based LIF membrane with known `tau_mem` after an input at `t = 0` that raises the
/// membrane slope by `q`: `y = c + q e^(-t/tau_mem) expm1(t d) / d`, `d = 1/tau_mem - 1/tau_syn` (0 before the
/// input). Parameters `[c, q, tau_syn]`.
#[derive(Clone, Copy, Debug)]
pub struct Psp {
    /// The membrane time constant (same unit as t).
    pub tau_mem: f64,
}

impl Psp {
    fn kernel(&self, t: f64, tau_syn: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let d = 1.0 / self.tau_mem - 1.0 / tau_syn;
        let x = t * d;
        let ratio = if x.abs() < 1e-8 { t * (1.0 + 0.5 * x) } else { x.exp_m1() / d };
        (-t / self.tau_mem).exp() * ratio
    }
}

impl Model for Psp {
    fn n_params(&self) -> usize {
        3
    }

    fn eval(&self, t: f64, p: &[f64], grad: &mut [f64]) -> f64 {
        let (c, q, tau_syn) = (p[0], p[1], p[2]);
        let k = self.kernel(t, tau_syn);
        let h = 1e-6 * tau_syn;
        grad[0] = 1.0;
        grad[1] = k;
        grad[2] = q * (self.kernel(t, tau_syn + h) - self.kernel(t, tau_syn - h)) / (2.0 * h);
        c + q * k
    }
}

/// A PSP of known time constants: `y = c + q kernel(t)`, parameters `[c, q]`.
#[derive(Clone, Copy, Debug)]
pub struct PspAmplitude {
    /// The membrane time constant.
    pub tau_mem: f64,
    /// The synaptic time constant.
    pub tau_syn: f64,
}

impl Model for PspAmplitude {
    fn n_params(&self) -> usize {
        2
    }

    fn eval(&self, t: f64, p: &[f64], grad: &mut [f64]) -> f64 {
        let k = Psp { tau_mem: self.tau_mem }.kernel(t, self.tau_syn);
        grad[0] = 1.0;
        grad[1] = k;
        p[0] + p[1] * k
    }
}

/// A fit's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct FitResult {
    /// The parameters.
    pub params: Vec<f64>,
    /// Root-mean-square residual.
    pub rms: f64,
    /// Whether the optimiser reported success.
    pub converged: bool,
}

struct Problem<'a, M: Model> {
    model: &'a M,
    t: &'a [f64],
    y: &'a [f64],
    p: DVector<f64>,
}

impl<M: Model> LeastSquaresProblem<f64, Dyn, Dyn> for Problem<'_, M> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, p: &DVector<f64>) {
        self.p.copy_from(p);
    }

    fn params(&self) -> DVector<f64> {
        self.p.clone()
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        let mut grad = vec![0.0; self.model.n_params()];
        let r = DVector::from_iterator(
            self.t.len(),
            self.t.iter().zip(self.y).map(|(&t, &y)| self.model.eval(t, self.p.as_slice(), &mut grad) - y),
        );
        r.iter().all(|x| x.is_finite()).then_some(r)
    }

    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let n = self.model.n_params();
        let mut jacobian = DMatrix::zeros(self.t.len(), n);
        let mut grad = vec![0.0; n];
        for (i, &t) in self.t.iter().enumerate() {
            self.model.eval(t, self.p.as_slice(), &mut grad);
            for (j, g) in grad.iter().enumerate() {
                jacobian[(i, j)] = *g;
            }
        }
        jacobian.iter().all(|x| x.is_finite()).then_some(jacobian)
    }
}

/// Fits `model` to the points `(t, y)` from `start`.
pub fn fit<M: Model>(model: &M, t: &[f64], y: &[f64], start: &[f64]) -> FitResult {
    let problem = Problem { model, t, y, p: DVector::from_column_slice(start) };
    let (problem, report) = LevenbergMarquardt::new().minimize(problem);
    let params = problem.p.as_slice().to_vec();
    let rms = problem.residuals().map_or(f64::INFINITY, |r| (r.norm_squared() / t.len().max(1) as f64).sqrt());
    FitResult { params, rms, converged: report.termination.was_successful() && rms.is_finite() }
}

/// Least-squares line `y = slope x + intercept` through points with at least two distinct x.
pub fn line(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx < 1e-12 {
        return None;
    }
    let slope = sxy / sxx;
    slope.is_finite().then_some((slope, my - slope * mx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relaxation_and_a_psp_come_back_from_their_samples() {
        let t: Vec<f64> = (0..300).map(|i| 0.1 * f64::from(i)).collect();
        let y: Vec<f64> = t.iter().map(|&t| 700.0 - 350.0 * (-t / 6.3).exp()).collect();
        let r = fit(&Relaxation, &t, &y, &[650.0, -200.0, 4.0]);
        assert!(r.converged && (r.params[2] - 6.3).abs() < 1e-8 && (r.params[0] - 700.0).abs() < 1e-8, "{r:?}");

        let psp = Psp { tau_mem: 6.0 };
        let mut grad = [0.0; 3];
        let y: Vec<f64> = t.iter().map(|&t| psp.eval(t - 2.0, &[360.0, 3.5, 5.2], &mut grad)).collect();
        let shifted: Vec<f64> = t.iter().map(|&t| t - 2.0).collect();
        let r = fit(&psp, &shifted, &y, &[350.0, 2.0, 6.0]);
        assert!(r.converged && (r.params[2] - 5.2).abs() < 1e-6 && (r.params[1] - 3.5).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn analytic_gradients_match_finite_differences() {
        let psp = Psp { tau_mem: 6.0 };
        for (model, p) in [(&Relaxation as &dyn Model, [1.0, -2.0, 3.0]), (&psp as &dyn Model, [1.0, 2.0, 4.0])] {
            let mut grad = [0.0; 3];
            let mut scratch = [0.0; 3];
            model.eval(2.5, &p, &mut grad);
            for j in 0..3 {
                let (mut hi, mut lo) = (p, p);
                hi[j] += 1e-6;
                lo[j] -= 1e-6;
                let numeric = (model.eval(2.5, &hi, &mut scratch) - model.eval(2.5, &lo, &mut scratch)) / 2e-6;
                assert!(
                    (numeric - grad[j]).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "param {j}: {numeric} vs {}",
                    grad[j]
                );
            }
        }
    }
}
