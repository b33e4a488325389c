//! Stages 1 and 2 of the delay calibration: successive binary searches of the pairs' CapMem cells, all pairs at
//! once, each step one trace program (every pair's trigger recorded in turn).
//!
//! Stage 1 (pre-calibration, as the reference's calix pass over the pair circuits) puts three things of every
//! pair at their targets: the hold level (the delay compartment's reset, which the membrane is held at during
//! the delay: the rebound that fires the trigger grows with rest minus hold), the trigger's reset (where the
//! membrane restarts after the delayed spike, so that a pair used again soon starts from the same place), and the
//! pair's membrane time constant (the trigger's leak bias): the rebound's shape, and so the pair's latency, scales
//! with it, and its mismatch (tens of percent) would spread the latencies beyond what the counts can absorb at the
//! ends of the range.
//! Stage 2 sets the trigger's working point as the reference's `calibDelays` does: adaptation trace, rest, then
//! the threshold at the midpoint of rest and rebound peak.

use bss2_protocol::containers::ReadoutSource;
use bss2_protocol::delay_pair::{MIN_COUNTS, PAIRS, PairCapMem};

use super::measure::{PairRecording, Segment, code, count_us, traces};
use super::{DelayError, DelaySettings, Stage};
use crate::calibrate::Progress;
use crate::fit::{Relaxation, fit};
use crate::measure::{Chip, MADC_MV_PER_LSB, Trace};
use crate::values::capmem_value;

/// Selects one CapMem cell of a pair's values.
type Field = fn(&mut PairCapMem) -> &mut u16;

/// Per pair: too high (true), too low (false) or not measurable (None).
type Verdicts = Vec<Option<bool>>;

/// Measures every pair's verdicts for given values.
type Judge<'a, C> = dyn FnMut(&mut C, &[PairCapMem]) -> Result<Verdicts, <C as Chip>::Error> + 'a;

/// A binary search of one cell: `steps` halvings of `lo..hi`, ending at the middle of the last interval.
#[derive(Clone, Copy)]
struct Bisection {
    stage: Stage,
    cell: &'static str,
    field: Field,
    lo: f64,
    hi: f64,
    steps: usize,
}

/// The reference's searches: 8 steps over 200..1000.
fn reference(stage: Stage, cell: &'static str, field: Field) -> Bisection {
    Bisection { stage, cell, field, lo: 200.0, hi: 1000.0, steps: 8 }
}

/// Runs a bisection on every pair; a pair whose search ran into an end of the range, or could not be measured,
/// gets a failure (the first one it has is kept).
fn bisect<C: Chip + ?Sized>(
    chip: &mut C,
    values: &mut [PairCapMem],
    failures: &mut [Option<String>],
    b: &Bisection,
    too_high: &mut Judge<C>,
    progress: Progress,
) -> Result<(), DelayError<C::Error>> {
    let mut bounds = vec![(b.lo, b.hi); PAIRS];
    let mut unmeasurable = [false; PAIRS];
    let set = |values: &mut [PairCapMem], bounds: &[(f64, f64)]| {
        for (v, (lo, hi)) in values.iter_mut().zip(bounds) {
            *(b.field)(v) = (0.5 * (lo + hi)).round() as u16;
        }
    };
    for step in 0..b.steps {
        progress(b.stage.name(), step + 1, b.steps);
        set(values, &bounds);
        let verdicts = too_high(chip, values).map_err(|source| DelayError::Chip { stage: b.stage, source })?;
        for p in 0..PAIRS {
            let (lo, hi) = bounds[p];
            let mid = 0.5 * (lo + hi);
            match verdicts[p] {
                Some(false) => bounds[p] = (mid, hi),
                Some(true) => bounds[p] = (lo, mid),
                None => {
                    unmeasurable[p] = true;
                    bounds[p] = (lo, mid);
                }
            }
        }
    }
    set(values, &bounds);
    for p in 0..PAIRS {
        let (lo, hi) = bounds[p];
        let reason = if unmeasurable[p] {
            Some(format!("{}: {} not measurable", b.stage.name(), b.cell))
        } else if lo == b.lo || hi == b.hi {
            let end = if lo == b.lo { "lower" } else { "upper" };
            Some(format!("{}: {} ran into the {end} end of {}..{}", b.stage.name(), b.cell, b.lo, b.hi))
        } else {
            None
        };
        if failures[p].is_none() {
            failures[p] = reason;
        }
    }
    Ok(())
}

/// The mean of a trace's samples from `from` to `to` us (NaN without samples).
fn window_mean(trace: &Trace, from: f64, to: f64) -> f64 {
    let v: Vec<f64> = trace.t.iter().zip(&trace.v).filter(|(t, _)| (from..to).contains(*t)).map(|(_, v)| *v).collect();
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

/// The largest mean of five consecutive samples from `from` us on (the MADC noise averaged; the rebound's peak
/// is about a microsecond wide); NaN without samples.
fn smoothed_max(trace: &Trace, from: f64) -> f64 {
    let v: Vec<f64> = trace.t.iter().zip(&trace.v).filter(|(t, _)| **t >= from).map(|(_, v)| *v).collect();
    v.windows(5.min(v.len()).max(1)).map(|w| w.iter().sum::<f64>() / w.len() as f64).fold(f64::NAN, f64::max)
}

/// Verdicts of a level (MADC codes) against per-pair targets: too high if above.
fn above(levels: &[f64], targets: &[f64]) -> Verdicts {
    levels.iter().zip(targets).map(|(l, t)| l.is_finite().then_some(l > t)).collect()
}

/// Hold in trace programs: the shortest delay, to keep segments short.
const HOLD_COUNTS: u8 = MIN_COUNTS;

fn hold_us() -> f64 {
    f64::from(HOLD_COUNTS) * count_us()
}

/// Settled rest levels: a short trace without stimulus.
const REST: Segment =
    Segment { readout: ReadoutSource::Membrane, threshold: false, stimulus: false, before_us: 0.0, after_us: 1.5 };

/// The rebound after a stimulus: rest before it, the hold, 8 us after the release.
fn rebound(threshold: bool) -> Segment {
    Segment { readout: ReadoutSource::Membrane, threshold, stimulus: true, before_us: 1.5, after_us: hold_us() + 8.0 }
}

/// Mean levels (MADC codes) of every pair's trace in a window.
fn levels<C: Chip + ?Sized>(
    chip: &mut C,
    values: &[PairCapMem],
    segment: &Segment,
    (from, to): (f64, f64),
) -> Result<Vec<f64>, C::Error> {
    let recordings = traces(chip, values, HOLD_COUNTS, segment)?;
    Ok(recordings.iter().map(|r| code(window_mean(&r.trace, from, to))).collect())
}

/// Stage 1: the hold level and the trigger's reset of every pair, to their targets (10 steps over 0..1020).
pub fn pre_calibrate<C: Chip + ?Sized>(
    chip: &mut C,
    values: &mut [PairCapMem],
    failures: &mut [Option<String>],
    settings: &DelaySettings,
    progress: Progress,
) -> Result<(), DelayError<C::Error>> {
    let full = |cell, field| Bisection { stage: Stage::PreCalibration, cell, field, lo: 0.0, hi: 1020.0, steps: 10 };
    // The hold: the membrane during a stimulus's hold, away from its edges.
    let hold_segment = Segment { stimulus: true, before_us: 0.5, after_us: hold_us() - 0.5, ..REST };
    let hold_targets = vec![settings.hold_code; PAIRS];
    let window = (0.5, hold_us() - 1.0);
    bisect(
        chip,
        values,
        failures,
        &full("hold_reset", |v| &mut v.hold_reset),
        &mut |chip, v| Ok(above(&levels(chip, v, &hold_segment, window)?, &hold_targets)),
        progress,
    )?;
    // The trigger's reset: with its threshold far below everything it fires whenever it is not refractory, so
    // its membrane sits at the reset.
    let reset_segment = Segment { threshold: true, after_us: 2.0, ..REST };
    let reset_targets = vec![settings.trigger_reset_code; PAIRS];
    bisect(
        chip,
        values,
        failures,
        &full("trigger_reset", |v| &mut v.trigger_reset),
        &mut |chip, v| {
            let firing: Vec<PairCapMem> = v.iter().map(|&x| PairCapMem { v_threshold: 0, ..x }).collect();
            Ok(above(&levels(chip, &firing, &reset_segment, (0.2, 2.0))?, &reset_targets))
        },
        progress,
    )?;
    membrane_time_constant(chip, values, failures, settings, progress)
}

/// Rounds of the membrane time constant's search.
const TAU_ROUNDS: usize = 4;

/// The pair's membrane time constant (us) from the relaxation after a hold without adaptation; NaN if no fit.
/// The release is found in the trace (the first sample 10 mV above the hold level): the hold's length differs
/// from pair to pair and from trial to trial, and a flat stretch inside the fit would bias it.
fn relaxation_tau(r: &PairRecording) -> f64 {
    let hold = window_mean(&r.trace, 0.5, hold_us() - 1.0);
    let samples = r.trace.t.iter().copied().zip(r.trace.v.iter().copied());
    let Some((released, _)) = samples.clone().find(|&(t, v)| t > 0.5 && v > hold + 10.0) else { return f64::NAN };
    let (t, v): (Vec<f64>, Vec<f64>) = samples.filter(|&(t, _)| t >= released).map(|(t, v)| (t - released, v)).unzip();
    if t.len() < 10 {
        return f64::NAN;
    }
    let last = v[v.len() - 1];
    let r = fit(&Relaxation, &t, &v, &[last, v[0] - last, 1.0]);
    if r.converged && r.params[2] > 0.0 && r.rms < 10.0 { r.params[2] } else { f64::NAN }
}

/// The trigger's leak bias, so that the pair's membrane time constant is the target: a leak current's time
/// constant goes as `1 / (bias + 15)`, so each round scales `bias + 15` by measured over target.
fn membrane_time_constant<C: Chip + ?Sized>(
    chip: &mut C,
    values: &mut [PairCapMem],
    failures: &mut [Option<String>],
    settings: &DelaySettings,
    progress: Progress,
) -> Result<(), DelayError<C::Error>> {
    let segment = Segment { stimulus: true, before_us: 0.5, after_us: hold_us() + 6.0, ..REST };
    let mut measured = vec![f64::NAN; PAIRS];
    for round in 0..TAU_ROUNDS {
        progress(Stage::PreCalibration.name(), round + 1, TAU_ROUNDS);
        let passive: Vec<PairCapMem> = values.iter().map(|&x| PairCapMem { i_bias_adapt_a: 0, ..x }).collect();
        let recordings = traces(chip, &passive, HOLD_COUNTS, &segment)
            .map_err(|source| DelayError::Chip { stage: Stage::PreCalibration, source })?;
        measured = recordings.iter().map(relaxation_tau).collect();
        if round + 1 < TAU_ROUNDS {
            for (v, tau) in values.iter_mut().zip(&measured).filter(|(_, tau)| tau.is_finite()) {
                let bias = (f64::from(v.i_bias_leak) + 15.0) * tau / settings.tau_m_us - 15.0;
                v.i_bias_leak = capmem_value(bias.clamp(0.0, 1022.0));
            }
        }
    }
    for (p, tau) in measured.iter().enumerate() {
        let off = (tau / settings.tau_m_us - 1.0).abs();
        if failures[p].is_none() && !(off <= 0.05) {
            failures[p] = Some(if tau.is_finite() {
                format!(
                    "{}: membrane time constant {tau:.3} us, target {} us",
                    Stage::PreCalibration,
                    settings.tau_m_us
                )
            } else {
                format!("{}: membrane time constant not measurable", Stage::PreCalibration)
            });
        }
    }
    Ok(())
}

/// Rest and rebound peak (MADC codes) of every pair, threshold off.
fn rest_and_peak<C: Chip + ?Sized>(chip: &mut C, values: &[PairCapMem]) -> Result<Vec<(f64, f64)>, C::Error> {
    let recordings = traces(chip, values, HOLD_COUNTS, &rebound(false))?;
    Ok(recordings
        .iter()
        .map(|r| (code(window_mean(&r.trace, -1.5, 0.0)), code(smoothed_max(&r.trace, hold_us()))))
        .collect())
}

/// Too high: no spike after the release, or a membrane above the target (codes). Spikes before the stimulus
/// (a threshold below the rest) are too low.
fn threshold_verdict(r: &PairRecording, target: f64) -> Option<bool> {
    if r.trace.t.is_empty() {
        return None;
    }
    if r.spikes.iter().any(|&t| t < 0.0) {
        return Some(false);
    }
    let fired = r.spikes.iter().any(|&t| t >= hold_us());
    let max =
        code(r.trace.t.iter().zip(&r.trace.v).filter(|(t, _)| **t >= hold_us()).fold(f64::NAN, |m, (_, v)| m.max(*v)));
    Some(!fired || max > target)
}

/// Stage 2: adaptation trace, rest and threshold of every pair (the reference's successive searches).
pub fn working_point<C: Chip + ?Sized>(
    chip: &mut C,
    values: &mut [PairCapMem],
    failures: &mut [Option<String>],
    settings: &DelaySettings,
    progress: Progress,
) -> Result<(), DelayError<C::Error>> {
    let trace_segment = Segment { readout: ReadoutSource::Adaptation, ..REST };
    let (trace_targets, rest_targets) = (vec![settings.trace_code; PAIRS], vec![settings.rest_code; PAIRS]);
    let all = (0.0, f64::INFINITY);
    let adapt_ref = reference(Stage::Trace, "v_adapt_ref", |v| &mut v.v_adapt_ref);
    let adapt_leak = reference(Stage::Rest, "v_adapt_leak", |v| &mut v.v_adapt_leak);
    let leak = reference(Stage::Rest, "v_leak", |v| &mut v.v_leak);
    for b in [adapt_ref, adapt_leak, adapt_ref, leak, adapt_ref, leak] {
        let (segment, targets) =
            if b.stage == Stage::Trace { (&trace_segment, &trace_targets) } else { (&REST, &rest_targets) };
        bisect(
            chip,
            values,
            failures,
            &b,
            &mut |chip, v| Ok(above(&levels(chip, v, segment, all)?, targets)),
            progress,
        )?;
    }
    progress(Stage::Rebound.name(), 1, 1);
    let measured = rest_and_peak(chip, values).map_err(|source| DelayError::Chip { stage: Stage::Rebound, source })?;
    let mut targets = vec![f64::NAN; PAIRS];
    for (p, &(rest, peak)) in measured.iter().enumerate() {
        let rebound_mv = (peak - rest) * MADC_MV_PER_LSB;
        if !(rebound_mv >= settings.min_rebound_mv) && failures[p].is_none() {
            failures[p] = Some(format!(
                "rebound peak {rebound_mv:.1} mV above rest, below the {} mV a threshold needs",
                settings.min_rebound_mv
            ));
        }
        targets[p] = 0.5 * (rest + peak);
    }
    let threshold = reference(Stage::Threshold, "v_threshold", |v| &mut v.v_threshold);
    let segment = rebound(true);
    bisect(
        chip,
        values,
        failures,
        &threshold,
        &mut |chip, v| {
            let recordings = traces(chip, v, HOLD_COUNTS, &segment)?;
            Ok(recordings.iter().zip(&targets).map(|(r, &t)| threshold_verdict(r, t)).collect())
        },
        progress,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_peaks_of_traces() {
        let t: Vec<f64> = (0..20).map(|i| f64::from(i) * 0.1).collect();
        let v: Vec<f64> = t.iter().map(|&t| if t < 1.0 { 100.0 } else { 200.0 }).collect();
        let trace = Trace { t, v };
        assert_eq!(window_mean(&trace, 0.0, 0.95), 100.0);
        assert_eq!(window_mean(&trace, 1.05, 9.0), 200.0);
        assert!(window_mean(&trace, 5.0, 9.0).is_nan());
        assert_eq!(smoothed_max(&trace, 0.0), 200.0);
        assert!(smoothed_max(&trace, 5.0).is_nan());
    }

    #[test]
    fn a_bisection_finds_a_monotonic_cells_target_and_names_the_end_it_runs_into() {
        struct None_;
        impl Chip for None_ {
            type Error = std::io::Error;
            fn run(
                &mut self,
                _: &bss2_protocol::program::Program,
            ) -> Result<bss2_protocol::program::Response, Self::Error> {
                unreachable!("the measurement is a closure")
            }
        }
        let mut values = vec![PairCapMem::NOMINAL; PAIRS];
        let mut failures = vec![None; PAIRS];
        let b = reference(Stage::Trace, "v_adapt_ref", |v| &mut v.v_adapt_ref);
        // Pair p's level is its cell plus p; targets 700 (pair 127 would need 573) except pair 0's (beyond 1000).
        let mut measure = |_: &mut None_, v: &[PairCapMem]| -> Result<Verdicts, std::io::Error> {
            Ok(v.iter()
                .enumerate()
                .map(|(p, x)| Some(f64::from(x.v_adapt_ref) + p as f64 > if p == 0 { 1500.0 } else { 700.0 }))
                .collect())
        };
        bisect(&mut None_, &mut values, &mut failures, &b, &mut measure, &mut |_, _, _| {}).unwrap();
        for p in 1..PAIRS {
            let level = f64::from(values[p].v_adapt_ref) + p as f64;
            assert!((level - 700.0).abs() <= 2.0, "pair {p}: {level}");
            assert_eq!(failures[p], None);
        }
        assert!(failures[0].as_ref().unwrap().contains("v_adapt_ref ran into the upper end of 200..1000"));
    }
}
