//! Calibrating a chip for a request (or answering it from the cache): shared by `bss2 calibrate` and training.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bss2_calibration::calibrate::{Targets, calibrate};
use bss2_calibration::file::{CalibrationFile, cached, store};
use bss2_firmware_sim::Emulator;
use bss2_firmware_sim::serve::{InProcessServer, ServerFaults};
use bss2_protocol::transport::{BlockingConnection, Link};

use super::{ChipError, ChipSettings, Substrate};

/// Where a calibration came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Measured now.
    Measured,
    /// Read from the cache (an unchanged request).
    Cached,
}

/// The calibration of the chip behind `substrate` for `targets`: from the cache unless `force`, else measured
/// (and then cached). Each stage is logged. A chip's calibration runs on its own connection (the embedded
/// emulator: its own instance), so what runs on the chip afterwards does not depend on whether it was cached.
pub fn obtain(
    substrate: &Substrate,
    chip_seed: u64,
    targets: &Targets,
    faults: &ServerFaults,
    force: bool,
) -> Result<(CalibrationFile, Origin), ChipError> {
    let identity = substrate.identity(chip_seed);
    if !force && let Some(file) = cached(&identity, targets) {
        tracing::info!("using the cached calibration of {identity}");
        return Ok((file, Origin::Cached));
    }
    let mut connection = match substrate {
        Substrate::Emulator { profile } => {
            // `in_process` applies the neuron faults (silent, spontaneous) drawn from the chip seed.
            let emulator = Arc::new(Mutex::new(Emulator::new(profile.clone(), chip_seed)));
            let mut server = InProcessServer::new(emulator, faults.clone(), chip_seed);
            BlockingConnection::with_link(|| Link::new(server.connect()))
        }
        Substrate::Endpoint(endpoint) => BlockingConnection::open(endpoint),
    }
    .map_err(|e| ChipError::Connection(format!("calibrating {identity}: {}", super::with_causes(&e))))?;
    // Calibration programs record long traces: allow them more time than a batch.
    connection.set_timeout(ChipSettings::default().timeout * 6);
    let started = Instant::now();
    let mut last_stage = String::new();
    tracing::info!("calibrating {identity} (all 512 neuron circuits)");
    let outcome = calibrate(&mut connection, targets, &mut |stage, _, n| {
        if stage != last_stage {
            tracing::info!(
                "[{:6.1} s] {stage}: measuring all 512 circuits ({n} rounds)",
                started.elapsed().as_secs_f64()
            );
            last_stage = stage.to_string();
        }
    })
    .map_err(|e| ChipError::Calibration(format!("calibrating {identity}: {e}")))?;
    let file = CalibrationFile::new(&identity, targets, outcome);
    store(&file);
    tracing::info!("calibrated {identity} in {:.1} s", started.elapsed().as_secs_f64());
    Ok((file, Origin::Measured))
}
