//! A pair's delay map (requested delay in us to refractory counts and back) and its fit to a sweep of counts.

use bss2_protocol::delay_pair::{MAX_COUNTS, MIN_COUNTS};
use serde::{Deserialize, Serialize};

/// A pair's measured delay: `delay_us = offset_us + slope_us * counts` for counts in
/// [`MIN_COUNTS`]..=[`MAX_COUNTS`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelayMap {
    /// The delay at 0 counts (the pair's latency, about 2 us).
    pub offset_us: f64,
    /// The delay per count (about 0.128 us).
    pub slope_us: f64,
}

/// The counts a map gives for a requested delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Refractory counts, within [`MIN_COUNTS`]..=[`MAX_COUNTS`].
    pub counts: u8,
    /// The request lay outside the realisable range (or was not a number) and was clipped.
    pub clipped: bool,
}

impl DelayMap {
    /// The counts realising `delay_us` most closely: rounded, clipped to [`MIN_COUNTS`]..=[`MAX_COUNTS`]. A
    /// request that is not a number gives [`MIN_COUNTS`], clipped.
    pub fn counts(&self, delay_us: f64) -> Counts {
        let x = ((delay_us - self.offset_us) / self.slope_us).round();
        if x.is_nan() {
            return Counts { counts: MIN_COUNTS, clipped: true };
        }
        let counts = x.clamp(f64::from(MIN_COUNTS), f64::from(MAX_COUNTS));
        Counts { counts: counts as u8, clipped: counts != x }
    }

    /// The delay (us) of `counts`.
    pub fn delay_us(&self, counts: u8) -> f64 {
        self.offset_us + self.slope_us * f64::from(counts)
    }

    /// The shortest and longest delay (us) the pair realises.
    pub fn range_us(&self) -> (f64, f64) {
        (self.delay_us(MIN_COUNTS), self.delay_us(MAX_COUNTS))
    }
}

/// How a pair's sweep is judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitLimits {
    /// Largest rms residual of the line (us).
    pub max_rms_us: f64,
    /// Accepted slopes (us per count).
    pub slope_us: (f64, f64),
    /// Delays (us) the map must realise (within half a count).
    pub required_us: (f64, f64),
}

/// Least-squares line `y = offset + slope x`, and its rms residual; None without two distinct x.
pub fn line(points: &[(f64, f64)]) -> Option<(DelayMap, f64)> {
    let (slope, offset) = crate::fit::line(points)?;
    let map = DelayMap { offset_us: offset, slope_us: slope };
    let n = points.len() as f64;
    let rms = (points.iter().map(|p| (p.1 - map.delay_us(0) - slope * p.0).powi(2)).sum::<f64>() / n).sqrt();
    rms.is_finite().then_some((map, rms))
}

/// Fits a pair's sweep: `runs` are (counts, the measured delay or None for a missing spike). A pair fails
/// (with the reason) if it missed spikes at more than half of the counts swept, or its line is implausible.
pub fn fit_sweep(runs: &[(u8, Option<f64>)], limits: &FitLimits) -> Result<DelayMap, String> {
    let mut swept: Vec<u8> = runs.iter().map(|r| r.0).collect();
    swept.sort_unstable();
    swept.dedup();
    let missing_at = swept.iter().filter(|&&c| runs.iter().any(|r| r.0 == c && r.1.is_none())).count();
    let missing = runs.iter().filter(|r| r.1.is_none()).count();
    if missing == runs.len() {
        return Err("no delayed spike in any run".into());
    }
    if 2 * missing_at > swept.len() {
        return Err(format!(
            "missing delayed spikes in {missing} of {} runs, at {missing_at} of {} counts",
            runs.len(),
            swept.len()
        ));
    }
    let points: Vec<(f64, f64)> = runs.iter().filter_map(|r| Some((f64::from(r.0), r.1?))).collect();
    let Some((map, rms)) = line(&points) else {
        return Err("delayed spikes at one count only: no line".into());
    };
    if rms > limits.max_rms_us {
        return Err(format!("bad fit: rms residual {rms:.3} us (at most {} us)", limits.max_rms_us));
    }
    let (lo, hi) = limits.slope_us;
    if !(map.slope_us >= lo && map.slope_us <= hi) {
        return Err(format!("bad fit: slope {:.4} us per count (expected {lo}..{hi})", map.slope_us));
    }
    let ((shortest, longest), (from, to)) = (map.range_us(), limits.required_us);
    let half = 0.5 * map.slope_us;
    if shortest > from + half || longest < to - half {
        return Err(format!("realises {shortest:.2}..{longest:.2} us, not all of {from}..{to} us"));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: DelayMap = DelayMap { offset_us: 1.9, slope_us: 0.128 };

    #[test]
    fn requests_round_to_counts_and_clip_to_the_realisable_range() {
        assert_eq!(MAP.counts(1.9 + 100.0 * 0.128), Counts { counts: 100, clipped: false });
        assert_eq!(MAP.counts(1.9 + 100.4 * 0.128), Counts { counts: 100, clipped: false });
        assert_eq!(MAP.counts(1.9 + 100.6 * 0.128), Counts { counts: 101, clipped: false });
        assert_eq!(MAP.counts(2.0), Counts { counts: MIN_COUNTS, clipped: true });
        assert_eq!(MAP.counts(1e9), Counts { counts: MAX_COUNTS, clipped: true });
        assert_eq!(MAP.counts(f64::NAN), Counts { counts: MIN_COUNTS, clipped: true });
        assert_eq!(MAP.counts(MAP.delay_us(MIN_COUNTS)), Counts { counts: MIN_COUNTS, clipped: false });
        assert_eq!(MAP.counts(MAP.delay_us(MAX_COUNTS)), Counts { counts: MAX_COUNTS, clipped: false });
        for c in MIN_COUNTS..=MAX_COUNTS {
            assert_eq!(MAP.counts(MAP.delay_us(c)).counts, c);
        }
        assert_eq!(MAP.range_us(), (1.9 + 6.4, 1.9 + 32.0));
    }

    #[test]
    fn sweeps_fit_a_line_and_bad_pairs_say_why() {
        let limits = FitLimits { max_rms_us: 0.2, slope_us: (0.06, 0.26), required_us: (8.5, 33.0) };
        let noise = [0.05, -0.05, 0.02, -0.02];
        let mut runs: Vec<(u8, Option<f64>)> = (0..4)
            .flat_map(|r| (50..=250).step_by(50).map(move |c| (c as u8, Some(MAP.delay_us(c as u8) + noise[r]))))
            .collect();
        let fitted = fit_sweep(&runs, &limits).unwrap();
        assert!((fitted.offset_us - 1.9).abs() < 1e-9 && (fitted.slope_us - 0.128).abs() < 1e-12, "{fitted:?}");
        // A few lost spikes do not matter; missing at most counts does.
        runs[0].1 = None;
        runs[7].1 = None;
        assert!(fit_sweep(&runs, &limits).is_ok());
        for r in runs.iter_mut().filter(|r| r.0 <= 150) {
            r.1 = None;
        }
        let e = fit_sweep(&runs, &limits).unwrap_err();
        assert!(e.contains("at 3 of 5 counts"), "{e}");
        let none: Vec<_> = runs.iter().map(|r| (r.0, None)).collect();
        assert_eq!(fit_sweep(&none, &limits).unwrap_err(), "no delayed spike in any run");
        let scattered: Vec<_> = runs.iter().enumerate().map(|(i, r)| (r.0, Some(10.0 + (i % 2) as f64))).collect();
        assert!(fit_sweep(&scattered, &limits).unwrap_err().contains("rms residual 0.5"));
        let flat: Vec<_> = runs.iter().map(|r| (r.0, Some(10.0))).collect();
        assert!(fit_sweep(&flat, &limits).unwrap_err().contains("slope 0.0000"));
        let late: Vec<_> = (50..=250).step_by(50).map(|c| (c as u8, Some(2.5 + 0.128 * f64::from(c)))).collect();
        let e = fit_sweep(&late, &limits).unwrap_err();
        assert_eq!(e, "realises 8.90..34.50 us, not all of 8.5..33 us");
    }
}
