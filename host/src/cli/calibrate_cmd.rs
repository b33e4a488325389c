//! `bss2 calibrate`: measure a chip's neuron circuits and fit their CapMem values to targets.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use crate::chip::Chip;
use crate::chip::calibrating::{self, Origin};
use crate::chip::config::Scales;
use crate::chip::targets::{config_targets, reference_params, uniform_targets};
use crate::config::Config;
use crate::substrate::Substrate;
use crate::text::Excerpt;
use anyhow::{Context, bail};
use bss2_calibration::calibrate::Targets;
use bss2_calibration::delays::DelayCalibration;
use bss2_calibration::file::CalibrationFile;
use bss2_calibration::{CIRCUITS, Parameter};
use bss2_firmware_sim::serve::ServerFaults;
use bss2_protocol::delay_pair::{DelayPair, PAIRS};

/// Measure every neuron circuit of a chip and fit its CapMem values to targets; writes a calibration file.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// The chip: emulator, emulator:ideal, emulator:PROFILE.yaml, tcp://HOST:PORT, udp://HOST:PORT, serial://PATH.
    #[arg(long, default_value = "emulator", value_parser = super::parse_substrate)]
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
    /// Calibrate the 128 delay pairs too (DelGrad's delay elements): their CapMem values and each pair's map from
    /// delay to refractory counts, saved in the file's `delays` section; prints every pair and the failed ones.
    #[arg(long)]
    delays: bool,
    /// Calibrate even if a cached calibration of the same request exists.
    #[arg(long)]
    force: bool,
    /// Write PNG histograms (and their numbers as CSV) of every calibrated parameter before and after into DIR.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Keys of `--target` that set one parameter of both synaptic inputs.
const BOTH_INPUTS: [(&str, [Parameter; 2]); 2] =
    [("tau_syn", [Parameter::TauSynExc, Parameter::TauSynInh]), ("gain", [Parameter::GainExc, Parameter::GainInh])];

/// The parameters a `--target` key sets: one parameter by its name, or both inputs' (`tau_syn`, `gain`).
fn parameters_of(key: &str) -> Option<Vec<Parameter>> {
    match BOTH_INPUTS.iter().find(|(name, _)| *name == key) {
        Some((_, both)) => Some(both.to_vec()),
        None => Parameter::from_name(key).map(|p| vec![p]),
    }
}

/// Parses `key=value,...` into the targets; a value may carry its parameter's unit (`6us`, `360mV`).
fn apply_targets(text: &str, t: &mut Targets) -> anyhow::Result<()> {
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, value) =
            entry.split_once('=').with_context(|| format!("--target {}: expected key=value", Excerpt::new(entry)))?;
        let key = key.trim();
        let Some(parameters) = parameters_of(key) else {
            let known: Vec<&str> = Parameter::ALL.iter().map(|p| p.name()).chain(BOTH_INPUTS.map(|b| b.0)).collect();
            bail!(
                "--target: unknown key {} (known: {}; tau_syn and gain set both inputs)",
                Excerpt::new(key),
                known.join(", ")
            );
        };
        let unit = parameters[0].unit();
        let number = value.trim().strip_suffix(unit).unwrap_or(value.trim());
        let x: f64 =
            number.parse().with_context(|| format!("--target {key}: {} is not a number", Excerpt::new(value)))?;
        anyhow::ensure!(x.is_finite() && x > 0.0, "--target {key}: {} must be positive", Excerpt::new(value));
        for p in parameters {
            t[p] = vec![x; CIRCUITS];
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
        let scales = Scales::REFERENCE;
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
        let (file, origin) = if self.delays {
            calibrating::obtain_with_delays(&chip, &targets, self.force)?
        } else {
            calibrating::obtain(&chip, &targets, self.force)?
        };
        file.save(&self.out)?;
        if origin == Origin::Cached {
            say(format!(
                "unchanged request: the cached calibration of {} was written to {}",
                file.chip,
                self.out.display()
            ))?;
        } else {
            let seconds = started.elapsed().as_secs_f64();
            say(format!("calibrated {} in {seconds:.1} s; written to {}", file.chip, self.out.display()))?;
        }
        say(table(&file))?;
        if let Some(delays) = &file.delays {
            say(delay_table(delays))?;
        }
        if let Some(dir) = &self.report {
            write_report(&file, dir)?;
            let count = Parameter::COUNT;
            say(format!("report: {count} histograms (PNG, with their numbers as CSV) in {}", dir.display()))?;
        }
        Ok(())
    }
}

/// One histogram per parameter, before and after, into `dir`.
fn write_report(file: &CalibrationFile, dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("--report {}", dir.display()))?;
    for p in Parameter::ALL {
        let before: Vec<f64> = file.before.iter().map(|a| a[p]).collect();
        let after: Vec<f64> = file.achieved.iter().map(|a| a[p]).collect();
        let title = format!("{p}, {}", file.chip);
        let axis = format!("{p} ({})", p.unit());
        let target = file.targets[p][0];
        crate::plot::before_after_histogram(&dir.join(p.name()), &title, &axis, target, &before, &after)?;
    }
    Ok(())
}

/// Prints a line; a reader that stops early (`| head`) is not an error.
fn say(line: String) -> anyhow::Result<()> {
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// The table of every parameter's target, spreads before and after, and failures.
fn table(file: &CalibrationFile) -> String {
    let mut out = format!(
        "{:<12} {:>10} {:>24} {:>24} {:>7}",
        "parameter", "target", "before: mean +- std", "after: mean +- std", "failed"
    );
    for p in Parameter::ALL {
        let (bm, bs, _) = spread(file.before.iter().map(|a| a[p]));
        let (am, as_, _) = spread(file.achieved.iter().map(|a| a[p]));
        let failed = file.failures.iter().filter(|f| f.parameter == p).count();
        let _ = write!(
            out,
            "\n{:<12} {:>10.4} {:>24} {:>24} {failed:>7}  {}",
            p.name(),
            file.targets[p][0],
            format!("{bm:.4} +- {bs:.4}"),
            format!("{am:.4} +- {as_:.4}"),
            p.unit()
        );
    }
    if !file.failures.is_empty() {
        let mut circuits: Vec<usize> = file.failures.iter().map(|f| f.circuit).collect();
        circuits.dedup();
        let _ = write!(
            out,
            "\n{} circuits missed a target (listed with reasons in the file): {circuits:?}",
            circuits.len()
        );
    }
    out
}

/// Every delay pair's map (or failure) and CapMem values, then the failed pairs with their reasons.
fn delay_table(delays: &DelayCalibration) -> String {
    let mut out = format!(
        "{:>4} {:>10} {:>10} {:>9} {:>9}  {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "pair", "offset_us", "slope_us", "at 50", "at 250", "leak", "a_ref", "a_leak", "thresh", "hold", "reset"
    );
    for (p, r) in delays.pairs.iter().enumerate() {
        let v = &r.capmem;
        let map = match &r.map {
            Some(m) => {
                let (lo, hi) = m.range_us();
                format!("{:>10.4} {:>10.5} {lo:>9.3} {hi:>9.3}", m.offset_us, m.slope_us)
            }
            None => format!("{:>10} {:>10} {:>9} {:>9}", "failed", "-", "-", "-"),
        };
        let _ = write!(
            out,
            "\n{p:>4} {map}  {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            v.v_leak, v.v_adapt_ref, v.v_adapt_leak, v.v_threshold, v.hold_reset, v.trigger_reset
        );
    }
    let failed: Vec<(DelayPair, &str)> = delays.failed().collect();
    let _ = write!(out, "\n{} of {} delay pairs usable; {} failed", delays.used().count(), PAIRS, failed.len());
    for (pair, reason) in failed {
        let _ = write!(out, "\n  pair {}: {reason}", pair.index());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_by_parameter_name_with_units_and_both_input_keys() {
        let reference = uniform_targets(&reference_params(), Scales::REFERENCE);
        let mut t = reference.clone();
        apply_targets("tau_mem=8us, tau_syn=5, leak=350mV,gain_inh=0.5", &mut t).unwrap();
        assert_eq!((t[Parameter::TauMem][0], t[Parameter::TauMem].len()), (8.0, CIRCUITS));
        assert_eq!((t[Parameter::TauSynExc][9], t[Parameter::TauSynInh][9]), (5.0, 5.0));
        assert_eq!((t[Parameter::Leak][0], t[Parameter::Reset][0]), (350.0, 360.0));
        assert_eq!((t[Parameter::GainInh][0], t[Parameter::GainExc][0]), (0.5, reference[Parameter::GainExc][0]));
        let e = apply_targets("tau_mem_us=6", &mut t).unwrap_err().to_string();
        assert!(e.contains("unknown key \"tau_mem_us\"") && e.contains("gain_inh, tau_syn, gain;"), "{e}");
        let e = apply_targets("leak=6us", &mut t).unwrap_err().to_string();
        assert!(e.contains("--target leak: \"6us\" is not a number"), "{e}");
        assert!(apply_targets("tau_mem=-1us", &mut t).unwrap_err().to_string().contains("must be positive"));
        let long = format!("tau_mem={}", "9".repeat(100_000));
        let e = apply_targets(&format!("{long}x"), &mut t).unwrap_err().to_string();
        assert!(e.len() < 200, "the value is cut: {} bytes", e.len());
    }
}
