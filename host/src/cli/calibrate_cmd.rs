//! `bss2 calibrate`: measure a chip's neuron circuits and fit their CapMem values to targets.

use std::path::PathBuf;
use std::time::Instant;

use crate::chip::Chip;
use crate::chip::calibrating::{self, Origin};
use crate::chip::config::Scales;
use crate::chip::targets::{config_targets, uniform_targets};
use crate::config::Config;
use crate::model::{NeuronParams, TauRatio};
use crate::substrate::Substrate;
use anyhow::{Context, bail};
use bss2_calibration::calibrate::{Achieved, Targets};
use bss2_calibration::file::CalibrationFile;
use bss2_firmware_sim::serve::ServerFaults;

/// Measure every neuron circuit of a chip and fit its CapMem values to targets; writes a calibration file.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// The chip: emulator, emulator:ideal, emulator:PROFILE.yaml, tcp://HOST:PORT, udp://HOST:PORT, serial://PATH.
    #[arg(long, default_value = "emulator")]
    substrate: Substrate,
    /// Seed of the embedded emulator.
    #[arg(long, default_value_t = 1)]
    chip_seed: u64,
    /// Targets, e.g. tau_mem=6us,tau_syn=6us,leak=360mV,reset=360mV,threshold=675mV,gain=0.673 (gain: mV/us per
    /// weight LSB; tau_syn sets both inputs, tau_syn_exc / tau_syn_inh and gain_exc / gain_inh one each).
    /// Default: the reference's chip model (tau 6 us, leak 360 mV, threshold 675 mV, 30 LSB per weight unit).
    #[arg(long)]
    target: Option<String>,
    /// Derive the targets from an experiment config (its first NeuronLayer, 6 us per time unit, 30 LSB per
    /// weight unit); --target entries override single values.
    #[arg(long)]
    from_config: Option<PathBuf>,
    /// Faults of the embedded emulator, e.g. silent=0.01,spontaneous=0.01 (fractions of circuits).
    #[arg(long, default_value = "none", value_parser = ServerFaults::parse)]
    faults: ServerFaults,
    /// Where to write the calibration (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Calibrate even if a cached calibration of the same request exists.
    #[arg(long)]
    force: bool,
    /// Write PNG histograms (and their numbers as CSV) of every calibrated parameter before and after into DIR.
    #[arg(long)]
    report: Option<PathBuf>,
}

fn reference_params() -> NeuronParams {
    NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 2.6, ratio: TauRatio::One }
}

/// Parses `key=value,...` into the targets.
fn apply_targets(text: &str, t: &mut Targets) -> anyhow::Result<()> {
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, value) = entry.split_once('=').with_context(|| format!("--target {entry:?}: expected key=value"))?;
        let number = |suffix: &str| -> anyhow::Result<f64> {
            let v = value.trim().strip_suffix(suffix).unwrap_or(value.trim());
            let x: f64 = v.parse().with_context(|| format!("--target {key}: {value:?} is not a number"))?;
            anyhow::ensure!(x.is_finite() && x > 0.0, "--target {key}: {value:?} must be positive");
            Ok(x)
        };
        let all = |x: f64| vec![x; 512];
        match key.trim() {
            "tau_mem" => t.tau_mem_us = all(number("us")?),
            "tau_syn" => {
                let x = number("us")?;
                (t.tau_syn_exc_us, t.tau_syn_inh_us) = (all(x), all(x));
            }
            "tau_syn_exc" => t.tau_syn_exc_us = all(number("us")?),
            "tau_syn_inh" => t.tau_syn_inh_us = all(number("us")?),
            "leak" => t.leak_mv = all(number("mV")?),
            "reset" => t.reset_mv = all(number("mV")?),
            "threshold" => t.threshold_mv = all(number("mV")?),
            "gain" => {
                let x = number("")?;
                (t.gain_exc, t.gain_inh) = (all(x), all(x));
            }
            "gain_exc" => t.gain_exc = all(number("")?),
            "gain_inh" => t.gain_inh = all(number("")?),
            other => bail!(
                "--target: unknown key {other:?} (known: tau_mem, tau_syn, tau_syn_exc, tau_syn_inh, leak, reset, \
                 threshold, gain, gain_exc, gain_inh)"
            ),
        }
    }
    Ok(())
}

fn spread(xs: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let v: Vec<f64> = xs.filter(|x| x.is_finite()).collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt(), v.len())
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let scales = Scales { time_unit_us: 6.0, scale_weights: 30.0 };
        let mut targets = match &self.from_config {
            None => uniform_targets(&reference_params(), scales),
            Some(path) => {
                let config = Config::load(path).with_context(|| format!("--from-config {}", path.display()))?;
                config_targets(&config, scales).with_context(|| format!("{}: no NeuronLayer", path.display()))?
            }
        };
        if let Some(text) = &self.target {
            apply_targets(text, &mut targets)?;
        }
        let Substrate::Chip(location) = &self.substrate else {
            bail!("--substrate sim: a calibration needs a chip (emulator, emulator:ideal, tcp://HOST:PORT, ...)")
        };
        let hx = super::hx_endpoint(&self.substrate)?;
        let chip = Chip::open(location, hx.as_ref(), self.chip_seed, &self.faults)?;
        let started = Instant::now();
        let (file, origin) = calibrating::obtain(&chip, &targets, self.force)?;
        file.save(&self.out)?;
        if origin == Origin::Cached {
            println!(
                "unchanged request: the cached calibration of {} was written to {}",
                file.chip,
                self.out.display()
            );
        } else {
            println!(
                "calibrated {} in {:.1} s; written to {}",
                file.chip,
                started.elapsed().as_secs_f64(),
                self.out.display()
            );
        }
        print_table(&file);
        if let Some(dir) = &self.report {
            write_report(&file, dir)?;
        }
        Ok(())
    }
}

type Column = fn(&Achieved) -> f64;

/// The calibrated parameters: name, value, targets, unit.
fn parameters(file: &CalibrationFile) -> [(&'static str, Column, &Vec<f64>, &'static str); 8] {
    [
        ("tau_mem", |a| a.tau_mem_us, &file.targets.tau_mem_us, "us"),
        ("tau_syn_exc", |a| a.tau_syn_exc_us, &file.targets.tau_syn_exc_us, "us"),
        ("tau_syn_inh", |a| a.tau_syn_inh_us, &file.targets.tau_syn_inh_us, "us"),
        ("leak", |a| a.leak_mv, &file.targets.leak_mv, "mV"),
        ("reset", |a| a.reset_mv, &file.targets.reset_mv, "mV"),
        ("threshold", |a| a.threshold_mv, &file.targets.threshold_mv, "mV"),
        ("gain_exc", |a| a.gain_exc, &file.targets.gain_exc, "mV/us per LSB"),
        ("gain_inh", |a| a.gain_inh, &file.targets.gain_inh, "mV/us per LSB"),
    ]
}

/// One histogram per parameter, before and after, into `dir`.
fn write_report(file: &CalibrationFile, dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("--report {}", dir.display()))?;
    for (name, column, target, unit) in parameters(file) {
        let before: Vec<f64> = file.before.iter().map(column).collect();
        let after: Vec<f64> = file.achieved.iter().map(column).collect();
        let title = format!("{name}, {}", file.chip);
        let axis = format!("{name} ({unit})");
        crate::plot::before_after_histogram(&dir.join(name), &title, &axis, target[0], &before, &after)?;
    }
    println!("report: 8 histograms (PNG, with their numbers as CSV) in {}", dir.display());
    Ok(())
}

fn print_table(file: &CalibrationFile) {
    let rows = parameters(file);
    println!(
        "{:<12} {:>10} {:>24} {:>24} {:>7}",
        "parameter", "target", "before: mean +- std", "after: mean +- std", "failed"
    );
    for (name, column, target, unit) in rows {
        let (bm, bs, _) = spread(file.before.iter().map(column));
        let (am, as_, _) = spread(file.achieved.iter().map(column));
        let failed = file.failures.iter().filter(|f| f.parameter == name).count();
        println!(
            "{name:<12} {:>10.4} {:>24} {:>24} {failed:>7}  {unit}",
            target[0],
            format!("{bm:.4} +- {bs:.4}"),
            format!("{am:.4} +- {as_:.4}")
        );
    }
    if !file.failures.is_empty() {
        let mut circuits: Vec<usize> = file.failures.iter().map(|f| f.circuit).collect();
        circuits.dedup();
        println!("{} circuits missed a target (listed with reasons in the file): {circuits:?}", circuits.len());
    }
}
