//! `bss2 train CONFIG [--output DIR] [--epochs N] [--seed S] [--init NETWORK.safetensors]`.

use std::path::PathBuf;

use crate::config::{Config, Overrides};
use crate::substrate::Substrate;
use crate::train::chip_run::{CalibrationChoice, ChipOptions};
use crate::train::run_dir::RunDir;
use crate::train::runner;
use anyhow::Context;

/// Train a network from a config (reference YAML schema).
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// The experiment config (YAML).
    config: PathBuf,
    /// Results folder (default: results/<config stem>_<timestamp>).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Train this many epochs instead of the config's epoch_number.
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the run (replaces torch_seed and numpy_seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Start from this saved network (network.safetensors of this config's layout, e.g. one `bss2 import`
    /// wrote) instead of parameters drawn from the seed.
    #[arg(long, value_name = "NETWORK.safetensors")]
    init: Option<PathBuf>,
    #[command(flatten)]
    chip: RunChipArgs,
}

/// Where a run's forward passes happen, and how its chip is reached.
#[derive(Debug, clap::Args)]
pub struct RunChipArgs {
    /// Replaces the config's training_params.substrate: sim, emulator (embedded, default chip profile),
    /// emulator:ideal, emulator:PROFILE.yaml, tcp://HOST:PORT, udp://HOST:PORT, serial://PATH or usb://VID:PID.
    /// The config's `hx` means the endpoint in BSS2_ENDPOINT.
    #[arg(long, value_parser = super::parse_substrate)]
    pub substrate: Option<Substrate>,
    /// Replaces the config's training_params.chip_seed (the embedded emulator's fixed pattern and noise).
    #[arg(long)]
    pub chip_seed: Option<u64>,
    /// Use this calibration of the chip instead of the run's own, the cached one or a new one.
    #[arg(long, conflicts_with = "no_calibration")]
    pub calibration: Option<PathBuf>,
    /// Run the chip with the profile's nominal CapMem values, uncalibrated.
    #[arg(long)]
    pub no_calibration: bool,
    /// Runs tried per batch before giving up (stalls, timeouts, broken links).
    #[arg(long, default_value_t = 5)]
    pub retries: usize,
    /// Seconds to wait for one batch's answer.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
}

impl RunChipArgs {
    /// The config changes these options make.
    pub fn overrides(&self) -> Overrides {
        Overrides { substrate: self.substrate.clone(), chip_seed: self.chip_seed, ..Overrides::default() }
    }

    /// The chip options for a run on `substrate` (the config's, after the overrides).
    pub fn options(&self, substrate: &Substrate) -> anyhow::Result<ChipOptions> {
        anyhow::ensure!(self.timeout > 0.0 && self.timeout.is_finite(), "--timeout must be positive");
        let calibration = match (&self.calibration, self.no_calibration) {
            (Some(path), _) => CalibrationChoice::File(path.clone()),
            (None, true) => CalibrationChoice::Nominal,
            (None, false) => CalibrationChoice::Automatic,
        };
        Ok(ChipOptions {
            hx_endpoint: super::hx_endpoint(substrate)?,
            calibration,
            retries: self.retries.max(1),
            timeout: std::time::Duration::from_secs_f64(self.timeout),
            ..ChipOptions::default()
        })
    }
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let overrides = Overrides { epochs: self.epochs, seed: self.seed, ..self.chip.overrides() };
        let config = Config::load(&self.config)?.with_overrides(overrides)?;
        let options = self.chip.options(&config.training.substrate)?;
        let output = self.output.unwrap_or_else(|| {
            let stem = self.config.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
            PathBuf::from("results").join(format!("{stem}_{}", super::timestamp()))
        });
        let dir = RunDir::new(&output);
        let initial = match &self.init {
            Some(path) => Some(crate::inference::load_network(&config, path).context("--init")?),
            None => None,
        };
        let summary = runner::train_from(config, &dir, &options, initial)
            .with_context(|| format!("training into {}", output.display()))?;
        println!(
            "test accuracy {:.2}% (loss {:.6}) after {} epochs in {:.1} s; results in {}",
            100.0 * summary.test_accuracy,
            summary.test_loss,
            summary.epochs,
            summary.seconds,
            output.display()
        );
        Ok(())
    }
}
