//! `bss2 inference DIR [EPOCH | --epoch N] [--split train|val|test]`.

use std::path::PathBuf;

use crate::chip::config::Scales;
use crate::chip::{Chip, ChipSettings};
use crate::config::Config;
use crate::forward::Placement;
use crate::inference;
use crate::substrate::Substrate;
use crate::train::chip_run::{delay_calibration, needs_delays, run_calibration};
use crate::train::run_dir::RunDir;
use anyhow::Context;
use bss2_firmware_sim::serve::ServerFaults;

/// Evaluate a saved network and write `<split>_output_times.npy` and `<split>_labels.npy`.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// A results folder with config.yaml and epoch_<N>/network.safetensors, or one of the reference
    /// implementation's (epoch_<N>/<dataset>_network.pt) as it ships.
    dir: PathBuf,
    /// The epoch to load, as the reference's `inference DIR EPOCH` (default: the latest saved).
    #[arg(value_name = "EPOCH", conflicts_with = "epoch")]
    epoch_number: Option<usize>,
    /// The epoch to load (default: the latest saved).
    #[arg(long)]
    epoch: Option<usize>,
    /// The split to evaluate.
    #[arg(long, value_enum, default_value = "test")]
    split: super::SplitArg,
    /// Where the forward pass runs: sim, emulator (embedded, default chip profile), emulator:ideal,
    /// emulator:PROFILE.yaml, tcp://HOST:PORT, udp://HOST:PORT, serial://PATH[?baud=N] or usb://VID:PID
    /// (default: where the run was trained).
    #[arg(long, value_parser = super::parse_substrate)]
    substrate: Option<Substrate>,
    #[command(flatten)]
    chip: ChipArgs,
}

/// Settings of a chip substrate.
#[derive(Debug, clap::Args)]
pub struct ChipArgs {
    /// Seed of the embedded emulator's fixed pattern and noise (default: the run's chip seed, else 1).
    #[arg(long)]
    pub chip_seed: Option<u64>,
    /// Time window per sample (model units; the reference uses 30, 7 for fast evaluation).
    #[arg(long, default_value_t = 30.0)]
    pub window: f64,
    /// Microseconds of chip time per model time unit.
    #[arg(long, default_value_t = Scales::REFERENCE.time_unit_us)]
    pub time_unit_us: f64,
    /// Runs tried per batch before giving up (stalls, timeouts, broken links).
    #[arg(long, default_value_t = 5)]
    pub retries: usize,
    /// Seconds to wait for one batch's answer.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// A calibration of this chip (`bss2 calibrate`); without it, the run's calibration.json if made for this
    /// chip, else the profile's nominal CapMem values.
    #[arg(long)]
    pub calibration: Option<std::path::PathBuf>,
}

impl ChipArgs {
    /// The backend settings.
    pub fn settings(&self) -> anyhow::Result<ChipSettings> {
        anyhow::ensure!(self.timeout > 0.0 && self.timeout.is_finite(), "--timeout must be positive");
        let mut settings = ChipSettings { window: self.window, ..ChipSettings::default() };
        settings.scales.time_unit_us = self.time_unit_us;
        settings.retries = self.retries.max(1);
        settings.timeout = std::time::Duration::from_secs_f64(self.timeout);
        if let Some(path) = &self.calibration {
            let file = bss2_calibration::file::CalibrationFile::load(path)?;
            settings.calibration = Some((path.clone(), file));
        }
        Ok(settings)
    }

    /// Where a saved run is evaluated: on `substrate` if given, else where the run was trained. A run trained
    /// on a chip brings its chip seed and, where it was made for this chip, its calibration.json, unless
    /// --chip-seed or --calibration say otherwise.
    pub fn placement(&self, dir: &RunDir, substrate: Option<Substrate>) -> anyhow::Result<Placement> {
        let run_config = Config::load(&dir.config()).ok();
        let trained_on = run_config.as_ref().filter(|c| !c.training.substrate.is_simulation());
        let substrate =
            substrate.or_else(|| trained_on.as_ref().map(|c| c.training.substrate.clone())).unwrap_or_default();
        let Substrate::Chip(location) = &substrate else { return Ok(Placement::Simulation) };
        let chip_seed = self.chip_seed.or(trained_on.as_ref().map(|c| c.training.chip_seed)).unwrap_or(1);
        let hx = super::hx_endpoint(&substrate)?;
        let chip = Chip::open(location, hx.as_ref(), chip_seed, &ServerFaults::default())?;
        let mut settings = self.settings()?;
        if settings.calibration.is_none() {
            settings.calibration = run_calibration(dir, &chip.identity());
        }
        let needs_delays = run_config.as_ref().is_some_and(needs_delays);
        settings.delays = delay_calibration(settings.calibration.as_ref(), &chip, needs_delays)?;
        Ok(Placement::chip(chip, settings))
    }
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let split = self.split.into();
        let dir = RunDir::new(&self.dir);
        let context = || format!("inference on {}", self.dir.display());
        let placement = self.chip.placement(&dir, self.substrate)?;
        let on_chip = matches!(placement, Placement::Chip(..));
        let (result, stats) =
            inference::run(&dir, self.epoch.or(self.epoch_number), split, placement).with_context(context)?;
        if on_chip {
            println!("chip: {stats}");
        }
        println!(
            "{} accuracy {:.2}% ({}/{}), loss {:.6}, epoch {}; output times in {}",
            inference::split_label(split),
            100.0 * result.accuracy,
            result.correct,
            result.samples,
            result.loss,
            result.epoch,
            result.outputs_path.display()
        );
        Ok(())
    }
}
