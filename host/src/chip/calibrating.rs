//! Calibrating a chip for a request (or answering it from the cache): shared by `bss2 calibrate` and training.

use std::path::Path;
use std::time::Instant;

use bss2_calibration::CIRCUITS;
use bss2_calibration::calibrate::{Targets, calibrate};
use bss2_calibration::delays::{self, DelayCalibration, DelaySettings};
use bss2_calibration::file::{CalibrationFile, cached, cached_with_delays, store};
use bss2_protocol::delay_pair::PAIRS;

use super::{Chip, ChipError, ChipSettings};

/// Where a calibration came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Measured now.
    Measured,
    /// Read from the cache (an unchanged request).
    Cached,
}

/// The calibration of `chip` for `targets`: from the cache unless `force`, else measured (and then cached).
/// Each stage is logged. The calibration runs on its own instance of the chip ([`Chip::fresh`]: for the embedded
/// emulator a new one), so what runs on `chip` afterwards does not depend on whether it was cached.
pub fn obtain(chip: &Chip, targets: &Targets, force: bool) -> Result<(CalibrationFile, Origin), ChipError> {
    let identity = chip.identity();
    if !force && let Some(file) = cached(&identity, targets) {
        tracing::info!("using the cached calibration of {identity}");
        return Ok((file, Origin::Cached));
    }
    // Calibration programs record long traces: allow them more time than a batch.
    let mut own = chip.fresh();
    let mut connection = own.connect(ChipSettings::default().timeout * 6)?;
    let started = Instant::now();
    let mut last_stage = String::new();
    tracing::info!("calibrating {identity} (all {CIRCUITS} neuron circuits)");
    let outcome = calibrate(&mut connection, targets, &mut |stage, _, n| {
        if stage != last_stage {
            tracing::info!(
                "[{:6.1} s] {stage}: measuring all {CIRCUITS} circuits ({n} rounds)",
                started.elapsed().as_secs_f64()
            );
            last_stage = stage.to_string();
        }
    })
    .map_err(|source| ChipError::Calibrating { chip: identity.clone(), source })?;
    let file = CalibrationFile::new(&identity, targets, outcome);
    store(&file);
    tracing::info!("calibrated {identity} in {:.1} s", started.elapsed().as_secs_f64());
    Ok((file, Origin::Measured))
}

/// The calibration of `chip` for `targets` with its delay pairs calibrated too ([`DelaySettings::default`]; the
/// file's `delays` is then `Some`): the whole request from the cache unless `force`, else the neuron calibration
/// as [`obtain`] gives it and the delay pairs measured (on their own instance of the chip), then cached. The
/// origin is `Cached` only if nothing was measured.
pub fn obtain_with_delays(chip: &Chip, targets: &Targets, force: bool) -> Result<(CalibrationFile, Origin), ChipError> {
    let identity = chip.identity();
    let settings = DelaySettings::default();
    if !force && let Some(file) = cached_with_delays(&identity, targets, &settings) {
        tracing::info!("using the cached calibration of {identity} with its delay pairs");
        return Ok((file, Origin::Cached));
    }
    let (neurons, _) = obtain(chip, targets, force)?;
    let delays = measure_delays(chip, &settings)?;
    let file = neurons.with_delays(delays);
    store(&file);
    Ok((file, Origin::Measured))
}

/// Measures the delay pairs of `chip` (on a fresh instance), logging each stage.
fn measure_delays(chip: &Chip, settings: &DelaySettings) -> Result<DelayCalibration, ChipError> {
    let identity = chip.identity();
    let mut own = chip.fresh();
    let mut connection = own.connect(ChipSettings::default().timeout * 6)?;
    let started = Instant::now();
    let mut last_stage = String::new();
    tracing::info!("calibrating the {PAIRS} delay pairs of {identity}");
    let result = delays::calibrate(&mut connection, settings, &mut |stage, _, n| {
        if stage != last_stage {
            tracing::info!("[{:6.1} s] {stage}: all {PAIRS} pairs ({n} rounds)", started.elapsed().as_secs_f64());
            last_stage = stage.to_string();
        }
    })
    .map_err(|source| ChipError::CalibratingDelays { chip: identity.clone(), source: Box::new(source) })?;
    let failed = result.failed().count();
    tracing::info!(
        "calibrated the delay pairs of {identity} in {:.1} s: {} usable, {failed} failed",
        started.elapsed().as_secs_f64(),
        PAIRS - failed
    );
    Ok(result)
}

/// The delay calibration in a calibration file, checked to be for `chip`.
pub fn delays_in(file: &CalibrationFile, path: &Path, chip: &Chip) -> Result<DelayCalibration, ChipError> {
    file.check_chip(path, &chip.identity())?;
    file.delays.clone().ok_or_else(|| ChipError::NoDelayCalibration { path: path.into() })
}
