//! The calibration: per-circuit searches over CapMem values, all circuits at once, each stage measured with
//! MADC traces and checked. Order: membrane time constant, leak, reset, threshold, synaptic time constants and
//! gains (excitatory, inhibitory). Each search starts at a nominal guess, steps along the nominal slope, then
//! follows the secant of the circuit's own measurements (in log-log space for time constants and gains, which are
//! inverse or proportional to their biases), and keeps the best value it measured.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use bss2_protocol::containers::ReadoutSource;
use bss2_protocol::transport::ConnectionError;

use crate::fit::{PspAmplitude, Relaxation, fit};
use crate::measure::{CIRCUITS, Chip, Measurement, STIMULUS_SYNAPSES, STIMULUS_WEIGHT, Stimulus, Trace, traces};
use crate::parameter::{Parameter, PerParameter};
use crate::values::{CircuitValues, capmem_value};

/// What each circuit should have: for every parameter, one value per circuit.
pub type Targets = PerParameter<Vec<f64>>;

/// What one circuit achieved with its final values (or had with the nominal start values), per parameter.
pub type Achieved = PerParameter<f64>;

impl PerParameter<Vec<f64>> {
    /// The same values on every circuit.
    pub fn uniform(values: &PerParameter<f64>) -> Targets {
        values.map(|_, &x| vec![x; CIRCUITS])
    }
}

/// A circuit that missed a target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The circuit.
    pub circuit: usize,
    /// The parameter.
    pub parameter: Parameter,
    /// Why.
    pub reason: String,
}

/// Why a calibration could not be done. `E` is the chip's error ([`Chip::Error`]); by default a protocol
/// connection's.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError<E = ConnectionError> {
    /// Running a measurement failed.
    #[error("measuring {parameter} failed")]
    Chip {
        /// The parameter being measured.
        parameter: Parameter,
        /// What the chip reported.
        #[source]
        source: E,
    },
    /// No circuit can reach a target.
    #[error(
        "{parameter} = {target:.3} cannot be reached by any neuron circuit: the closest value measured is {}",
        closest(.best)
    )]
    Unreachable {
        /// The parameter.
        parameter: Parameter,
        /// The target (of circuit 0).
        target: f64,
        /// The value closest to its target, if any circuit was measurable.
        best: Option<f64>,
    },
}

fn closest(best: &Option<f64>) -> String {
    best.map_or("nothing measurable".to_string(), |b| format!("{b:.3}"))
}

/// Selects one CapMem field of a circuit's values.
type Field = fn(&mut CircuitValues) -> &mut u16;

/// The result of [`calibrate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The calibrated CapMem values of every circuit.
    pub values: Vec<CircuitValues>,
    /// What each circuit achieved (measured, or predicted from its fitted curve at the final value).
    pub achieved: Vec<Achieved>,
    /// Circuits that missed a target, per parameter.
    pub failures: Vec<Failure>,
    /// What each circuit had at the nominal start values, before the search.
    pub before: Vec<Achieved>,
}

/// Progress callback: (stage name, iteration, of iterations).
pub type Progress<'a> = &'a mut dyn FnMut(&str, usize, usize);

/// Iterations per search.
const ITERATIONS: usize = 5;

/// Measures one quantity of every circuit for given values; NaN where the measurement failed.
type Measure<'a, E> = dyn FnMut(&[CircuitValues]) -> Result<Vec<f64>, E> + 'a;

/// One parameter's search: which CapMem field, its nominal start, and whether the relation is a power law.
/// Measured values are judged by the parameter's tolerance.
struct Search<'a> {
    parameter: Parameter,
    field: Field,
    target: &'a [f64],
    start: f64,
    /// Nominal d(measured)/d(value): for power laws the exponent (log-log), else mV per LSB.
    nominal_slope: f64,
    /// A power law of its cell (time constants, gains): the first step scales the value, and each circuit gets
    /// its own line; else (potentials) the first step subtracts, and all circuits share one slope.
    power_law: bool,
    /// The reciprocal of the quantity is linear in the cell (time constants); else the quantity itself.
    reciprocal: bool,
    /// Measurements averaged per iteration (for quantities with trial-to-trial noise).
    repeats: usize,
}

impl<'a> Search<'a> {
    /// A potential (mV), linear in its cell at about 1.9 mV per LSB.
    fn potential(parameter: Parameter, field: Field, target: &'a [f64]) -> Search<'a> {
        Search {
            parameter,
            field,
            target,
            start: target[0] / 1.9,
            nominal_slope: 1.9,
            power_law: false,
            reciprocal: false,
            repeats: 1,
        }
    }

    /// A time constant (us) of about `k / bias`.
    fn time_constant(parameter: Parameter, field: Field, target: &'a [f64], k: f64) -> Search<'a> {
        Search {
            parameter,
            field,
            target,
            start: k / target[0],
            nominal_slope: 1.0 / k,
            power_law: true,
            reciprocal: true,
            repeats: 1,
        }
    }
}

/// Runs a search; returns the achieved values and updates `values` to the best ones found.
fn search<E>(
    values: &mut [CircuitValues],
    s: &Search,
    measure: &mut Measure<E>,
    progress: Progress,
) -> Result<(Vec<f64>, Vec<f64>), CalibrationError<E>> {
    let n = values.len();
    let mut before = Vec::new();
    let to_x = |v: f64| v;
    let to_y = |y: f64| if s.reciprocal { 1.0 / y } else { y };
    let tolerance = s.parameter.tolerance();
    let error_of = |y: f64, t: f64| tolerance.deviation(y, t);
    for v in values.iter_mut() {
        *(s.field)(v) = capmem_value(s.start);
    }
    let mut history: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    let mut best: Vec<(f64, u16, f64)> = vec![(f64::INFINITY, 0, f64::NAN); n];
    for iteration in 0..ITERATIONS {
        progress(s.parameter.name(), iteration + 1, ITERATIONS);
        let mut measured = vec![0.0; n];
        for _ in 0..s.repeats.max(1) {
            let measurement =
                measure(values).map_err(|source| CalibrationError::Chip { parameter: s.parameter, source })?;
            for (sum, y) in measured.iter_mut().zip(measurement) {
                *sum += y / s.repeats.max(1) as f64;
            }
        }
        if iteration == 0 {
            before = measured.clone();
        }
        for i in 0..n {
            let v = f64::from(*(s.field)(&mut values[i]));
            let y = measured[i];
            let error = if y.is_finite() { error_of(y, s.target[i]) } else { f64::INFINITY };
            if error < best[i].0 {
                best[i] = (error, v as u16, y);
            }
            if y.is_finite() && (y > 0.0 || !s.reciprocal) {
                history[i].push((to_x(v), to_y(y)));
            }
            // Next value: secant of the last two measurements if it has the nominal sign, else the nominal slope.
            let h = &history[i];
            let next = match h.len() {
                0 => v * if s.power_law { 0.8 } else { 1.0 } + if s.power_law { 0.0 } else { -25.0 },
                len => {
                    let (x1, y1) = h[len - 1];
                    let mut slope = s.nominal_slope;
                    if len >= 2 {
                        let (x0, y0) = h[len - 2];
                        let secant = (y1 - y0) / (x1 - x0);
                        if (x1 - x0).abs() > 1e-12 && secant.is_finite() && secant * s.nominal_slope > 0.0 {
                            slope = secant;
                        }
                    }
                    x1 + (to_y(s.target[i]) - y1) / slope
                }
            };
            *(s.field)(&mut values[i]) = capmem_value(next.clamp(1.0, 1022.0));
        }
    }
    // The final value comes from a straight line through all of a circuit's measurements (log-log for power
    // laws), which averages their noise; circuits without a usable line keep their best measured value.
    let mut achieved: Vec<f64> = best.iter().map(|b| b.2).collect();
    let fitted = lines(&history, !s.power_law);
    for i in 0..n {
        *(s.field)(&mut values[i]) = best[i].1;
        if let Some((slope, intercept)) = fitted[i]
            && slope * s.nominal_slope > 0.0
        {
            let x = (to_y(s.target[i]) - intercept) / slope;
            let v = capmem_value(x.clamp(1.0, 1022.0));
            let y = slope * to_x(f64::from(v)) + intercept;
            *(s.field)(&mut values[i]) = v;
            achieved[i] = to_y(y);
        }
    }
    if achieved.iter().zip(s.target).all(|(a, t)| !tolerance.meets(*a, *t)) {
        let best = achieved
            .iter()
            .zip(s.target)
            .filter(|(a, _)| a.is_finite())
            .min_by(|(a, t), (b, u)| error_of(**a, **t).total_cmp(&error_of(**b, **u)))
            .map(|(a, _)| *a);
        return Err(CalibrationError::Unreachable { parameter: s.parameter, target: s.target[0], best });
    }
    Ok((achieved, before))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

/// Lines for all circuits. Potentials (noisy, one slope per chip: the cells' mV per LSB) share the median of the
/// circuits' slopes, and each circuit's intercept is the mean offset of its points after dropping any more than
/// 10 mV from their median; other quantities get each circuit's own least-squares line.
fn lines(history: &[Vec<(f64, f64)>], shared_slope: bool) -> Vec<Option<(f64, f64)>> {
    let own: Vec<Option<(f64, f64)>> = history.iter().map(|h| crate::fit::line(h)).collect();
    if !shared_slope {
        return own;
    }
    let Some(slope) = median(own.iter().flatten().map(|l| l.0).collect()) else { return own };
    history
        .iter()
        .map(|h| {
            let offsets: Vec<f64> = h.iter().map(|p| p.1 - slope * p.0).collect();
            let middle = median(offsets.clone())?;
            let kept: Vec<f64> = offsets.into_iter().filter(|o| (o - middle).abs() <= 10.0).collect();
            Some((slope, kept.iter().sum::<f64>() / kept.len() as f64))
        })
        .collect()
}

/// Per-circuit records from per-parameter columns.
fn per_circuit(columns: &PerParameter<Vec<f64>>) -> Vec<Achieved> {
    (0..CIRCUITS).map(|c| columns.map(|_, column| column[c])).collect()
}

/// Fits a relaxation to every trace: (asymptote, value at the stimulus, tau); NaN where the fit failed.
fn relaxations(traces: &[Trace]) -> Vec<(f64, f64, f64)> {
    traces
        .par_iter()
        .map(|tr| {
            let points: Vec<(f64, f64)> =
                tr.t.iter().copied().zip(tr.v.iter().copied()).filter(|p| p.0 >= 0.0).collect();
            if points.len() < 10 {
                return (f64::NAN, f64::NAN, f64::NAN);
            }
            let (t, v): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
            let last = v[v.len() - 1];
            let r = fit(&Relaxation, &t, &v, &[last, v[0] - last, 5.0]);
            if !r.converged || r.params[2] <= 0.0 || r.rms > 10.0 {
                return (f64::NAN, f64::NAN, f64::NAN);
            }
            (r.params[0], r.params[0] + r.params[1], r.params[2])
        })
        .collect()
}

/// The threshold of a spiking trace: a relaxation fitted up to the first drop, evaluated half a sample after the
/// last point before it; NaN if the circuit did not fire or fired at once.
fn threshold_of(tr: &Trace) -> f64 {
    let points: Vec<(f64, f64)> = tr.t.iter().copied().zip(tr.v.iter().copied()).filter(|p| p.0 >= 0.0).collect();
    let Some(drop) = points.windows(2).position(|w| w[1].1 < w[0].1 - 40.0) else { return f64::NAN };
    if drop < 10 {
        return f64::NAN;
    }
    let (t, v): (Vec<f64>, Vec<f64>) = points[..=drop].iter().copied().unzip();
    let r = fit(&Relaxation, &t, &v, &[v[drop] + 50.0, v[0] - v[drop] - 50.0, 5.0]);
    if !r.converged || r.rms > 10.0 {
        return f64::NAN;
    }
    // The crossing lies between the last point before the drop and the first after it.
    let at = 0.5 * (t[drop] + points[drop + 1].0);
    r.params[0] + r.params[1] * (-at / r.params[2]).exp()
}

/// Fits PSP amplitudes (time constants known per circuit): the gain per weight LSB; NaN where the fit failed.
fn gains(traces: &[Trace], tau_mem: &[f64], tau_syn: &[f64], sign: f64) -> Vec<f64> {
    traces
        .par_iter()
        .zip(tau_mem.par_iter().zip(tau_syn))
        .map(|(tr, (&tau_mem, &tau_syn))| {
            if tr.t.len() < 20 || !tau_mem.is_finite() || !tau_syn.is_finite() {
                return f64::NAN;
            }
            let before: Vec<f64> = tr.v.iter().zip(&tr.t).filter(|(_, t)| **t < 0.0).map(|(v, _)| *v).collect();
            let baseline = before.iter().sum::<f64>() / before.len().max(1) as f64;
            let r = fit(&PspAmplitude { tau_mem, tau_syn }, &tr.t, &tr.v, &[baseline, sign * 10.0]);
            if !r.converged || r.rms > 10.0 {
                return f64::NAN;
            }
            sign * r.params[1] / f64::from(STIMULUS_WEIGHT * STIMULUS_SYNAPSES)
        })
        .collect()
}

/// Calibrates every circuit to `targets`.
pub fn calibrate<C: Chip + ?Sized>(
    chip: &mut C,
    targets: &Targets,
    progress: Progress,
) -> Result<Outcome, CalibrationError<C::Error>> {
    use Parameter as P;
    let circuits: Vec<usize> = (0..CIRCUITS).collect();
    let nominal = CircuitValues {
        v_leak: 450,
        v_reset: 150,
        v_threshold: 1022,
        i_bias_leak: 500,
        i_bias_syn_exc_tau: 400,
        i_bias_syn_inh_tau: 400,
        i_bias_syn_exc_gm: 500,
        i_bias_syn_inh_gm: 500,
    };
    let mut values = vec![nominal; CIRCUITS];
    // Traces cover five of the longest target time constants (at least 40 us).
    let longest = |xs: &[f64]| xs.iter().fold(0.0f64, |a, &b| a.max(b));
    let tau_window = (5.0 * longest(&targets[P::TauMem])).clamp(40.0, 1000.0);
    let syn_window = (5.0 * longest(&targets[P::TauSynExc]).max(longest(&targets[P::TauSynInh]))).clamp(30.0, 1000.0);
    let psp_window = tau_window.max(syn_window);
    let mut run = |values: &[CircuitValues], spiking: bool, stimulus: Stimulus, after_us: f64, readout| {
        let m = Measurement { values, spiking, stimulus, before_us: 2.0, after_us, readout };
        traces(chip, &m, &circuits)
    };

    // A relaxation after a reset, with some cells overridden for the measurement; one part of each fit.
    let mut relax = |values: &[CircuitValues], adjust: fn(&mut CircuitValues), part: fn(&(f64, f64, f64)) -> f64| {
        let mut v = values.to_vec();
        v.iter_mut().for_each(adjust);
        let traces = run(&v, false, Stimulus::Reset, tau_window, ReadoutSource::Membrane)?;
        Ok(relaxations(&traces).iter().map(part).collect())
    };
    // 1. tau_mem from the relaxation after a reset (leak far above reset, as in the nominal values).
    let tau_mem_search = Search::time_constant(P::TauMem, |v| &mut v.i_bias_leak, &targets[P::TauMem], 3000.0);
    let (mut tau_mem, mut tau_mem_before) =
        search(&mut values, &tau_mem_search, &mut |v| relax(v, |_| {}, |r| r.2), progress)?;
    // 2. Leak: the asymptote of the relaxation from a low reset.
    let leak_search = Search::potential(P::Leak, |v| &mut v.v_leak, &targets[P::Leak]);
    let (mut leak, mut leak_before) =
        search(&mut values, &leak_search, &mut |v| relax(v, |c| c.v_reset = 100, |r| r.0), progress)?;
    // 3. Reset: the start of the relaxation towards a high leak.
    let reset_search = Search::potential(P::Reset, |v| &mut v.v_reset, &targets[P::Reset]);
    let (mut reset, mut reset_before) =
        search(&mut values, &reset_search, &mut |v| relax(v, |c| c.v_leak = 600, |r| r.1), progress)?;
    // 4. Threshold: the potential at which a circuit with a high leak fires; it varies from run to run (about
    // 5 mV on the default chip), so each round averages 4 runs.
    let threshold_search =
        Search { repeats: 4, ..Search::potential(P::Threshold, |v| &mut v.v_threshold, &targets[P::Threshold]) };
    let (mut threshold, mut threshold_before) = search(
        &mut values,
        &threshold_search,
        &mut |v| {
            let mut v = v.to_vec();
            v.iter_mut().for_each(|c| c.v_leak = c.v_threshold.saturating_add(100).min(1022));
            Ok(run(&v, true, Stimulus::Reset, tau_window / 4.0, ReadoutSource::Membrane)?
                .iter()
                .map(threshold_of)
                .collect())
        },
        progress,
    )?;
    // 5. Synaptic inputs: PSP fits give tau_syn and the gain; both searched on the same measurements.
    let mut synaptic = |values: &mut Vec<CircuitValues>, stimulus: Stimulus| {
        let excitatory = stimulus == Stimulus::Excitatory;
        let sign = if excitatory { 1.0 } else { -1.0 };
        let (tau_parameter, gain_parameter, tau_field, gm_field, source): (_, _, Field, Field, _) = if excitatory {
            (
                P::TauSynExc,
                P::GainExc,
                |v| &mut v.i_bias_syn_exc_tau,
                |v| &mut v.i_bias_syn_exc_gm,
                ReadoutSource::ExcitatorySynapticInput,
            )
        } else {
            (
                P::TauSynInh,
                P::GainInh,
                |v| &mut v.i_bias_syn_inh_tau,
                |v| &mut v.i_bias_syn_inh_gm,
                ReadoutSource::InhibitorySynapticInput,
            )
        };
        let gain_targets = &targets[gain_parameter];
        let (tau, tau_before) = search(
            values,
            &Search::time_constant(tau_parameter, tau_field, &targets[tau_parameter], 2400.0),
            &mut |v| Ok(relaxations(&run(v, false, stimulus, syn_window, source)?).iter().map(|r| r.2).collect()),
            progress,
        )?;
        let (gain, gain_before) = search(
            values,
            &Search {
                parameter: gain_parameter,
                field: gm_field,
                target: gain_targets,
                start: 500.0 * gain_targets[0] / 0.61,
                nominal_slope: 0.61 / 500.0,
                power_law: true,
                reciprocal: false,
                repeats: 1,
            },
            &mut |v| {
                let traces = run(v, false, stimulus, psp_window, ReadoutSource::Membrane)?;
                Ok(gains(&traces, &tau_mem, &tau, sign))
            },
            progress,
        )?;
        Ok(((tau, gain), (tau_before, gain_before)))
    };
    let ((mut tau_exc, mut gain_exc), (mut tau_exc_before, mut gain_exc_before)) =
        synaptic(&mut values, Stimulus::Excitatory)?;
    let ((mut tau_inh, mut gain_inh), (mut tau_inh_before, mut gain_inh_before)) =
        synaptic(&mut values, Stimulus::Inhibitory)?;
    let after = PerParameter::from_fn(|p| {
        std::mem::take(match p {
            P::TauMem => &mut tau_mem,
            P::TauSynExc => &mut tau_exc,
            P::TauSynInh => &mut tau_inh,
            P::Leak => &mut leak,
            P::Reset => &mut reset,
            P::Threshold => &mut threshold,
            P::GainExc => &mut gain_exc,
            P::GainInh => &mut gain_inh,
        })
    });
    let before = PerParameter::from_fn(|p| {
        std::mem::take(match p {
            P::TauMem => &mut tau_mem_before,
            P::TauSynExc => &mut tau_exc_before,
            P::TauSynInh => &mut tau_inh_before,
            P::Leak => &mut leak_before,
            P::Reset => &mut reset_before,
            P::Threshold => &mut threshold_before,
            P::GainExc => &mut gain_exc_before,
            P::GainInh => &mut gain_inh_before,
        })
    });

    let mut failures = Vec::new();
    for c in 0..CIRCUITS {
        for (parameter, column) in after.iter() {
            let (got, want) = (column[c], targets[parameter][c]);
            if !parameter.tolerance().meets(got, want) {
                failures.push(Failure {
                    circuit: c,
                    parameter,
                    reason: if got.is_finite() {
                        format!("reached {got:.3}, target {want:.3}")
                    } else {
                        "not measurable (silent, stuck or firing by itself)".into()
                    },
                });
            }
        }
    }
    Ok(Outcome { values, achieved: per_circuit(&after), failures, before: per_circuit(&before) })
}
