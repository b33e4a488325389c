//! Calibrating a chip for a request (or answering it from the cache): shared by `bss2 calibrate` and training.

use std::time::Instant;

use bss2_calibration::CIRCUITS;
use bss2_calibration::calibrate::{Targets, calibrate};
use bss2_calibration::file::{CalibrationFile, cached, store};

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
