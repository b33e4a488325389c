//! Opening where a run's forward passes happen: the simulation, or the chip of the config's substrate with its
//! calibration (the run's own copy, the cache, or measured now) and the backend settings from the command line.

use std::path::PathBuf;
use std::time::Duration;

use bss2_calibration::delays::DelayCalibration;
use bss2_calibration::file::CalibrationFile;
use bss2_firmware_sim::serve::ServerFaults;
use bss2_protocol::transport::Endpoint;

use super::run_dir::RunDir;
use crate::chip::calibrating::{self, Origin};
use crate::chip::mapping::ChipMapping;
use crate::chip::targets::config_targets;
use crate::chip::{Chip, ChipBackend, ChipError, ChipSettings};
use crate::config::Config;
use crate::forward::{ForwardPass, Simulation};
use crate::network::Network;
use crate::substrate::Substrate;

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
    /// The endpoint the reference's substrate `hx` stands for (the command line takes it from `BSS2_ENDPOINT`).
    pub hx_endpoint: Option<Endpoint>,
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
            hx_endpoint: None,
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

/// Whether the config's network has delay layers (which run on the chip's delay pairs).
pub fn needs_delays(config: &Config) -> bool {
    config.layout.layers.iter().any(|l| matches!(l.kind, crate::config::LayerKind::Delay(_)))
}

/// The delay calibration a network with delays gets from its chip's calibration file (checked to be for `chip`);
/// without a file (nominal values) none, and the pairs run at their nominal values with the reference's map; a
/// file without a delay section is refused for a network with delays.
pub fn delay_calibration(
    calibration: Option<&(PathBuf, CalibrationFile)>,
    chip: &Chip,
    needs_delays: bool,
) -> Result<Option<DelayCalibration>, ChipError> {
    match calibration {
        Some((path, file)) if needs_delays => Ok(Some(calibrating::delays_in(file, path, chip)?)),
        _ => Ok(None),
    }
}

/// Where the run's forward passes happen: the simulation, or the config's chip calibrated as chosen (a
/// calibration used is copied into the run's folder).
pub fn open(config: &Config, dir: &RunDir, options: &ChipOptions) -> Result<Box<dyn ForwardPass>, ChipError> {
    let Substrate::Chip(location) = &config.training.substrate else {
        return Ok(Box::new(Simulation::new(&config.training)));
    };
    // The mapping needs only the network's shape; a network the chip cannot run is refused before calibrating.
    let network = Network::new(&config.layout, config.training.seed);
    ChipMapping::new(&network)?;
    let needs_delays = needs_delays(config);
    let chip = Chip::open(location, options.hx_endpoint.as_ref(), config.training.chip_seed, &options.faults)?;
    let mut settings =
        ChipSettings { retries: options.retries.max(1), timeout: options.timeout, ..ChipSettings::default() };
    settings.check(config.training.batch_size.max(config.training.batch_size_eval))?;
    settings.calibration = match &options.calibration {
        CalibrationChoice::Nominal => None,
        CalibrationChoice::File(path) => Some((path.clone(), CalibrationFile::load(path)?)),
        CalibrationChoice::Automatic => {
            let targets = config_targets(config, settings.scales)
                .ok_or_else(|| ChipError::Unsupported("a network without a NeuronLayer".into()))?;
            let own = dir.calibration();
            let file = match run_calibration(dir, &chip.identity()) {
                Some((_, file)) if file.targets == targets && (file.delays.is_some() || !needs_delays) => {
                    tracing::info!("using the run's calibration {}", own.display());
                    file
                }
                _ => {
                    let (file, origin) = if needs_delays {
                        calibrating::obtain_with_delays(&chip, &targets, false)?
                    } else {
                        calibrating::obtain(&chip, &targets, false)?
                    };
                    if origin == Origin::Measured && !file.failures.is_empty() {
                        tracing::warn!(
                            "{} calibration targets were missed (the circuits are listed in {})",
                            file.failures.len(),
                            own.display()
                        );
                    }
                    file.save(&own)?;
                    file
                }
            };
            Some((own, file))
        }
    };
    settings.delays = delay_calibration(settings.calibration.as_ref(), &chip, needs_delays)?;
    Ok(Box::new(ChipBackend::new(&network, chip, settings)?))
}
