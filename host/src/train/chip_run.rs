//! Opening the chip a run trains on: the substrate from the config, its calibration (the run's own copy, the
//! cache, or measured now), the backend settings from the command line.

use std::path::PathBuf;
use std::time::Duration;

use bss2_calibration::file::CalibrationFile;
use bss2_firmware_sim::serve::ServerFaults;

use super::run_dir::RunDir;
use crate::chip::calibrating::{self, Origin};
use crate::chip::mapping::ChipMapping;
use crate::chip::targets::config_targets;
use crate::chip::{ChipBackend, ChipError, ChipSettings, Substrate};
use crate::config::Config;
use crate::network::Network;

/// Which CapMem values the chip gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CalibrationChoice {
    /// The run's own calibration if it matches the chip, else the cached one, else calibrate now.
    #[default]
    Automatic,
    /// This file (refused if made for another chip or model).
    File(PathBuf),
    /// The profile's nominal values, uncalibrated.
    Nominal,
}

/// How a run reaches its chip (command-line options; the substrate and chip seed are in the config).
#[derive(Clone, Debug)]
pub struct ChipOptions {
    /// The calibration to apply.
    pub calibration: CalibrationChoice,
    /// Runs tried per batch.
    pub retries: usize,
    /// Longest wait for one batch's answer.
    pub timeout: Duration,
    /// Faults of the embedded emulator (tests).
    pub faults: ServerFaults,
}

impl Default for ChipOptions {
    fn default() -> Self {
        let settings = ChipSettings::default();
        ChipOptions {
            calibration: CalibrationChoice::Automatic,
            retries: settings.retries,
            timeout: settings.timeout,
            faults: ServerFaults::default(),
        }
    }
}

/// The run's own `calibration.json`, if it was made for the chip `identity`.
pub fn run_calibration(dir: &RunDir, identity: &str) -> Option<(PathBuf, CalibrationFile)> {
    let own = dir.calibration();
    let file = CalibrationFile::load(&own).ok()?;
    (file.chip == identity).then_some((own, file))
}

/// The chip of a run whose substrate is not `sim`, calibrated as chosen; None in simulation. A calibration
/// used is copied into the run's folder.
pub fn open(config: &Config, dir: &RunDir, options: &ChipOptions) -> Result<Option<ChipBackend>, ChipError> {
    let Some(substrate) = Substrate::resolve(&config.training.substrate)? else { return Ok(None) };
    // The mapping needs only the network's shape; a network the chip cannot run is refused before calibrating.
    let network = Network::new(&config.layout, config.training.seed);
    ChipMapping::new(&network)?;
    let chip_seed = config.training.chip_seed;
    let mut settings = ChipSettings {
        chip_seed,
        retries: options.retries.max(1),
        timeout: options.timeout,
        faults: options.faults.clone(),
        ..ChipSettings::default()
    };
    settings.calibration = match &options.calibration {
        CalibrationChoice::Nominal => None,
        CalibrationChoice::File(path) => {
            Some((path.clone(), CalibrationFile::load(path).map_err(|e| ChipError::Calibration(e.to_string()))?))
        }
        CalibrationChoice::Automatic => {
            let targets = config_targets(config, settings.scales)
                .ok_or_else(|| ChipError::Unsupported("a network without a NeuronLayer".into()))?;
            let own = dir.calibration();
            let file = match run_calibration(dir, &substrate.identity(chip_seed)) {
                Some((_, file)) if file.targets == targets => {
                    tracing::info!("using the run's calibration {}", own.display());
                    file
                }
                _ => {
                    let (file, origin) = calibrating::obtain(&substrate, chip_seed, &targets, &options.faults, false)?;
                    if origin == Origin::Measured && !file.failures.is_empty() {
                        tracing::warn!(
                            "{} calibration targets were missed (the circuits are listed in {})",
                            file.failures.len(),
                            own.display()
                        );
                    }
                    file.save(&own).map_err(|e| ChipError::Calibration(e.to_string()))?;
                    file
                }
            };
            Some((own, file))
        }
    };
    ChipBackend::new(&network, substrate, settings).map(Some)
}
