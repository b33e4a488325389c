//! The delay calibration: DelGrad's `delay_utils.py doAll` (spec hardware-reference §4.1) on all 128 delay pairs
//! (`bss2_protocol::delay_pair`), measured through protocol programs like the neuron calibration:
//!
//! 1. pre-calibration of the pair circuits: hold level and the trigger's reset ([`search::pre_calibrate`]);
//! 2. per pair, successive binary searches of the adaptation trace, the rest and the threshold
//!    ([`search::working_point`]);
//! 3. a sweep of counts on all pairs at once, and a line `delay_us = offset + slope * counts` per pair
//!    ([`map::fit_sweep`]).
//!
//! Pairs that fail a stage are listed with the reason and get no map.

pub mod map;
pub mod measure;
pub mod search;

use serde::{Deserialize, Serialize};

use bss2_protocol::delay_pair::{DelayPair, PAIRS, PairCapMem};
use bss2_protocol::transport::ConnectionError;

use crate::calibrate::Progress;
use crate::measure::Chip;
pub use map::{Counts, DelayMap};

/// The targets and the sweep of a delay calibration (saved with it, part of its cache key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelaySettings {
    /// Hold level (MADC codes, 2 mV each): the reference's hold reset 250 is about 238.
    pub hold_code: f64,
    /// The trigger's reset (MADC codes): the reference's 600 is about 570.
    pub trigger_reset_code: f64,
    /// The pair's membrane time constant (us). The nominal 0.925 gives a latency of 1.9 us; requests of
    /// `required_us` fit counts 50..250 best with a latency near 1.55 us (at 0.128 us per count), which 0.75 gives.
    pub tau_m_us: f64,
    /// Adaptation trace at rest (MADC codes; reference 500).
    pub trace_code: f64,
    /// Membrane rest (MADC codes; reference 600).
    pub rest_code: f64,
    /// Smallest rebound (peak minus rest, mV) a pair may have: its threshold sits at half of it, and with less
    /// the trial-to-trial threshold noise (a few mV) makes it miss or fire by itself.
    pub min_rebound_mv: f64,
    /// The counts of the sweep.
    pub sweep_counts: Vec<u8>,
    /// Runs per count of the sweep (each run one stimulus per pair).
    pub repetitions: u32,
    /// Largest rms residual (us) of a pair's line.
    pub max_rms_us: f64,
    /// Accepted slopes (us per count): half to twice the nominal 0.128.
    pub slope_us: (f64, f64),
    /// The delays (us) every used pair must realise within counts 50..250 (the reference's range, 8.25..33.25
    /// us, a little inside): a pair whose map does not cover them fails.
    pub required_us: (f64, f64),
}

impl Default for DelaySettings {
    /// The reference's targets; counts 50..250 in steps of 25, 12 runs each.
    fn default() -> Self {
        DelaySettings {
            hold_code: 240.0,
            trigger_reset_code: 570.0,
            tau_m_us: 0.75,
            trace_code: 500.0,
            rest_code: 600.0,
            min_rebound_mv: 25.0,
            sweep_counts: (50..=250).step_by(25).map(|c| c as u8).collect(),
            repetitions: 12,
            max_rms_us: 0.2,
            slope_us: (0.064, 0.256),
            required_us: (8.5, 33.0),
        }
    }
}

/// One pair's calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairResult {
    /// Its CapMem values.
    pub capmem: PairCapMem,
    /// Its delay map; None if it failed.
    pub map: Option<DelayMap>,
    /// Why it failed (then it is not used).
    pub failure: Option<String>,
}

/// The delay calibration of a chip: the settings and every pair's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelayCalibration {
    /// What was asked for.
    pub settings: DelaySettings,
    /// Per pair (index = pair).
    pub pairs: Vec<PairResult>,
}

impl DelayCalibration {
    /// The usable pairs and their maps.
    pub fn used(&self) -> impl Iterator<Item = (DelayPair, &DelayMap)> {
        self.pairs.iter().enumerate().filter_map(|(p, r)| Some((DelayPair::new(p)?, r.map.as_ref()?)))
    }

    /// The failed pairs and why.
    pub fn failed(&self) -> impl Iterator<Item = (DelayPair, &str)> {
        self.pairs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.map.is_none())
            .filter_map(|(p, r)| Some((DelayPair::new(p)?, r.failure.as_deref().unwrap_or("no map"))))
    }

    /// Every pair's CapMem values (for the chip's configuration).
    pub fn capmem(&self) -> Vec<PairCapMem> {
        self.pairs.iter().map(|r| r.capmem).collect()
    }
}

/// The stages, as progress and errors name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Stage 1: hold level and trigger reset.
    PreCalibration,
    /// Stage 2: the adaptation trace's level.
    Trace,
    /// Stage 2: the membrane's rest.
    Rest,
    /// Stage 2: rest and rebound peak after a stimulus.
    Rebound,
    /// Stage 2: the threshold.
    Threshold,
    /// Stage 3: the sweep of counts.
    Sweep,
}

impl Stage {
    /// The name shown in progress and errors.
    pub fn name(self) -> &'static str {
        match self {
            Stage::PreCalibration => "delay pre-calibration",
            Stage::Trace => "delay adaptation trace",
            Stage::Rest => "delay rest",
            Stage::Rebound => "delay rebound",
            Stage::Threshold => "delay threshold",
            Stage::Sweep => "delay sweep",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a delay calibration could not be done. `E` is the chip's error; by default a protocol connection's.
#[derive(Debug, thiserror::Error)]
pub enum DelayError<E = ConnectionError> {
    /// Running a measurement failed.
    #[error("measuring the {stage} of the delay pairs failed")]
    Chip {
        /// The stage.
        stage: Stage,
        /// What the chip reported.
        #[source]
        source: E,
    },
}

/// Calibrates all [`PAIRS`] delay pairs, starting from [`PairCapMem::NOMINAL`].
pub fn calibrate<C: Chip + ?Sized>(
    chip: &mut C,
    settings: &DelaySettings,
    progress: Progress,
) -> Result<DelayCalibration, DelayError<C::Error>> {
    let mut values = vec![PairCapMem::NOMINAL; PAIRS];
    let mut failures: Vec<Option<String>> = vec![None; PAIRS];
    search::pre_calibrate(chip, &mut values, &mut failures, settings, progress)?;
    search::working_point(chip, &mut values, &mut failures, settings, progress)?;
    let stimulated: Vec<bool> = failures.iter().map(Option::is_none).collect();
    let mut runs: Vec<Vec<(u8, Option<f64>)>> = vec![Vec::new(); PAIRS];
    let total = settings.sweep_counts.len() * settings.repetitions as usize;
    let mut done = 0;
    for _ in 0..settings.repetitions {
        for &counts in &settings.sweep_counts {
            done += 1;
            progress(Stage::Sweep.name(), done, total);
            let delays = measure::delays(chip, &values, &[counts; PAIRS], &stimulated)
                .map_err(|source| DelayError::Chip { stage: Stage::Sweep, source })?;
            for (p, d) in delays.into_iter().enumerate() {
                runs[p].push((counts, d));
            }
        }
    }
    let limits = map::FitLimits {
        max_rms_us: settings.max_rms_us,
        slope_us: settings.slope_us,
        required_us: settings.required_us,
    };
    let pairs = (0..PAIRS)
        .map(|p| {
            let fitted = match &failures[p] {
                Some(reason) => Err(reason.clone()),
                None => map::fit_sweep(&runs[p], &limits),
            };
            match fitted {
                Ok(map) => PairResult { capmem: values[p], map: Some(map), failure: None },
                Err(reason) => PairResult { capmem: values[p], map: None, failure: Some(reason) },
            }
        })
        .collect();
    Ok(DelayCalibration { settings: settings.clone(), pairs })
}
