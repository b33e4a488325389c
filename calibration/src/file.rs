//! A calibration as a file (JSON): chip identity, targets, tool version, CapMem values, what was achieved, the
//! circuits that failed, optionally the delay pairs' calibration; a cache key so that an unchanged request is not
//! recalibrated.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::calibrate::{Achieved, Failure, Outcome, Targets};
use crate::delays::{DelayCalibration, DelaySettings};
use crate::measure::CIRCUITS;
use crate::values::CircuitValues;
use bss2_protocol::delay_pair::PAIRS;

/// The tool that writes calibrations.
pub const TOOL: &str = concat!("bss2-calibration ", env!("CARGO_PKG_VERSION"));

/// A saved calibration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationFile {
    /// The tool and version that made it.
    pub tool: String,
    /// Which chip it is for (e.g. `emulator profile=default chip_seed=1`, or an endpoint).
    pub chip: String,
    /// The request's cache key.
    pub key: String,
    /// The targets.
    pub targets: Targets,
    /// CapMem values per circuit.
    pub values: Vec<CircuitValues>,
    /// What each circuit achieved.
    pub achieved: Vec<Achieved>,
    /// What each circuit had before calibration (nominal start values).
    pub before: Vec<Achieved>,
    /// Circuits that missed a target.
    pub failures: Vec<Failure>,
    /// The delay pairs' calibration, if one was asked for (files without it load, and are written as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delays: Option<DelayCalibration>,
}

/// A calibration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading failed.
    #[error("cannot read calibration {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("cannot write calibration {path}")]
    Write {
        /// The file (or its folder, or its temporary file).
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The content is not a calibration.
    #[error("calibration {path}: not a calibration file")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        #[source]
        source: serde_json::Error,
    },
    /// A list does not have one entry per circuit.
    #[error("calibration {path}: {list} has {found} entries, expected {CIRCUITS}")]
    Length {
        /// The file.
        path: PathBuf,
        /// The list (`values`, `targets.tau_mem_us`, ...).
        list: String,
        /// Its entries.
        found: usize,
    },
    /// A CapMem value lies outside the cells' range.
    #[error("calibration {path}: circuit {circuit}: a CapMem value above 1022")]
    CapMemRange {
        /// The file.
        path: PathBuf,
        /// The circuit.
        circuit: usize,
    },
    /// The delay section does not have one result per pair.
    #[error("calibration {path}: delays.pairs has {found} entries, expected {PAIRS}")]
    DelayPairs {
        /// The file.
        path: PathBuf,
        /// Its entries.
        found: usize,
    },
    /// A pair's values cannot be used: a CapMem value above 1022, or a map that is not a finite line rising
    /// with the counts, or no map without a reason.
    #[error("calibration {path}: delay pair {pair}: {what}")]
    DelayPair {
        /// The file.
        path: PathBuf,
        /// The pair.
        pair: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The file is for another chip.
    #[error("calibration {path} was made for {found}, not for {expected}: calibrate this chip first")]
    OtherChip {
        /// The file.
        path: PathBuf,
        /// The chip in the file.
        found: String,
        /// The chip in use.
        expected: String,
    },
}

/// FNV-1a 64 of a string: stable across builds and platforms.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The cache key of a request: chip, targets and tool.
pub fn cache_key(chip: &str, targets: &Targets) -> String {
    let text = serde_json::to_string(&(TOOL, chip, targets)).expect("targets serialise");
    format!("{:016x}", fnv1a(&text))
}

/// The cache key of a request with a delay calibration: chip, targets, tool and the delay settings.
pub fn delay_cache_key(chip: &str, targets: &Targets, settings: &DelaySettings) -> String {
    let text = serde_json::to_string(&(TOOL, chip, targets, settings)).expect("settings serialise");
    format!("{:016x}", fnv1a(&text))
}

impl CalibrationFile {
    /// A file for an outcome.
    pub fn new(chip: &str, targets: &Targets, outcome: Outcome) -> CalibrationFile {
        CalibrationFile {
            tool: TOOL.into(),
            chip: chip.into(),
            key: cache_key(chip, targets),
            targets: targets.clone(),
            values: outcome.values,
            achieved: outcome.achieved,
            before: outcome.before,
            failures: outcome.failures,
            delays: None,
        }
    }

    /// The same file with a delay calibration (and the key of that request).
    pub fn with_delays(self, delays: DelayCalibration) -> CalibrationFile {
        let key = delay_cache_key(&self.chip, &self.targets, &delays.settings);
        CalibrationFile { key, delays: Some(delays), ..self }
    }

    /// Loads and checks a file.
    pub fn load(path: &Path) -> Result<CalibrationFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { path: path.into(), source })?;
        let file: CalibrationFile =
            serde_json::from_str(&text).map_err(|source| FileError::Parse { path: path.into(), source })?;
        let lists = [("values".to_string(), file.values.len()), ("achieved".into(), file.achieved.len())]
            .into_iter()
            .chain([("before".into(), file.before.len())])
            .chain(file.targets.iter().map(|(p, t)| (format!("targets.{}", p.key()), t.len())));
        if let Some((list, found)) = lists.into_iter().find(|(_, n)| *n != CIRCUITS) {
            return Err(FileError::Length { path: path.into(), list, found });
        }
        if let Some((c, _)) = file.values.iter().enumerate().find(|(_, v)| {
            [v.v_leak, v.v_reset, v.v_threshold, v.i_bias_leak, v.i_bias_syn_exc_tau, v.i_bias_syn_inh_tau]
                .iter()
                .chain(&[v.i_bias_syn_exc_gm, v.i_bias_syn_inh_gm])
                .any(|&x| x > 1022)
        }) {
            return Err(FileError::CapMemRange { path: path.into(), circuit: c });
        }
        if let Some(delays) = &file.delays {
            check_delays(path, delays)?;
        }
        Ok(file)
    }

    /// Refuses a file made for another chip.
    pub fn check_chip(&self, path: &Path, chip: &str) -> Result<(), FileError> {
        if self.chip == chip {
            Ok(())
        } else {
            Err(FileError::OtherChip { path: path.into(), found: self.chip.clone(), expected: chip.into() })
        }
    }

    /// Writes the file atomically (a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        let io = |source| FileError::Write { path: path.into(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let temporary = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).expect("calibrations serialise");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

/// Checks a file's delay section: one result per pair, CapMem values in range, usable maps.
fn check_delays(path: &Path, delays: &DelayCalibration) -> Result<(), FileError> {
    if delays.pairs.len() != PAIRS {
        return Err(FileError::DelayPairs { path: path.into(), found: delays.pairs.len() });
    }
    for (pair, r) in delays.pairs.iter().enumerate() {
        let v = &r.capmem;
        let what = if [v.v_leak, v.v_adapt_ref, v.v_adapt_leak, v.v_threshold, v.hold_reset, v.trigger_reset]
            .iter()
            .chain(&[v.i_bias_leak, v.i_bias_adapt_tau, v.i_bias_adapt_a])
            .any(|&x| x > 1022)
        {
            "a CapMem value above 1022"
        } else if r.map.is_some_and(|m| !(m.offset_us.is_finite() && m.slope_us.is_finite() && m.slope_us > 0.0)) {
            "its map is not a finite line rising with the counts"
        } else if r.map.is_none() && r.failure.is_none() {
            "no map and no reason why"
        } else {
            continue;
        };
        return Err(FileError::DelayPair { path: path.into(), pair, what });
    }
    Ok(())
}

/// The variable that overrides the calibration cache folder.
pub const CACHE_VARIABLE: &str = "BSS2_CACHE_DIR";

/// Where cached calibrations live: `$BSS2_CACHE_DIR`, else `bss2/calibrations` in the user's cache folder
/// (on Linux `$XDG_CACHE_HOME`, else `~/.cache`).
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_from(std::env::var_os(CACHE_VARIABLE), dirs::cache_dir())
}

/// [`cache_dir`] from the override and the user's cache folder.
fn cache_dir_from(variable: Option<std::ffi::OsString>, user_cache: Option<PathBuf>) -> Option<PathBuf> {
    match variable {
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(user_cache?.join("bss2").join("calibrations")),
    }
}

/// The cached calibration of a request, if any.
pub fn cached(chip: &str, targets: &Targets) -> Option<CalibrationFile> {
    let path = cache_dir()?.join(format!("{}.json", cache_key(chip, targets)));
    let file = CalibrationFile::load(&path).ok()?;
    (file.chip == chip && file.targets == *targets && file.tool == TOOL).then_some(file)
}

/// The cached calibration of a request with delays, if any.
pub fn cached_with_delays(chip: &str, targets: &Targets, settings: &DelaySettings) -> Option<CalibrationFile> {
    let path = cache_dir()?.join(format!("{}.json", delay_cache_key(chip, targets, settings)));
    let file = CalibrationFile::load(&path).ok()?;
    let same = file.delays.as_ref().is_some_and(|d| d.settings == *settings);
    (file.chip == chip && file.targets == *targets && file.tool == TOOL && same).then_some(file)
}

/// Stores a calibration in the cache (failures to do so are not errors: the cache is an optimisation).
pub fn store(file: &CalibrationFile) {
    if let Some(dir) = cache_dir() {
        let _ = file.save(&dir.join(format!("{}.json", file.key)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::Achieved;

    fn file() -> CalibrationFile {
        use crate::parameter::Parameter as P;
        let targets = Targets::uniform(&Achieved::from_fn(|p| match p {
            P::TauMem | P::TauSynExc | P::TauSynInh => 6.0,
            P::Leak | P::Reset => 360.0,
            P::Threshold => 675.0,
            P::GainExc | P::GainInh => 0.67,
        }));
        let outcome = Outcome {
            values: vec![CircuitValues::default(); CIRCUITS],
            achieved: vec![Achieved::default(); CIRCUITS],
            failures: vec![Failure { circuit: 7, parameter: P::Threshold, reason: "not measurable".into() }],
            before: vec![Achieved::default(); CIRCUITS],
        };
        CalibrationFile::new("emulator profile=x chip_seed=1", &targets, outcome)
    }

    #[test]
    fn files_round_trip_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cal.json");
        let f = file();
        f.save(&path).unwrap();
        assert_eq!(CalibrationFile::load(&path).unwrap(), f);
        assert!(f.check_chip(&path, "emulator profile=x chip_seed=2").unwrap_err().to_string().contains("chip_seed=1"));
        let mut short = f.clone();
        short.targets[crate::parameter::Parameter::GainInh].pop();
        short.save(&path).unwrap();
        let e = CalibrationFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("targets.gain_inh has 511 entries"), "{e}");
        let mut high = f.clone();
        high.values[3].v_leak = 1023;
        high.save(&path).unwrap();
        assert!(CalibrationFile::load(&path).unwrap_err().to_string().contains("circuit 3"));
        std::fs::write(&path, "[1, 2").unwrap();
        assert!(CalibrationFile::load(&path).unwrap_err().to_string().contains("not a calibration file"));
        assert_eq!(cache_key("a", &f.targets), cache_key("a", &f.targets));
        assert_ne!(cache_key("a", &f.targets), cache_key("b", &f.targets));
    }

    #[test]
    fn files_keep_their_field_names_and_order() {
        let text = serde_json::to_string(&file()).unwrap();
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        let top = ["tool", "chip", "key", "targets", "values", "achieved", "before", "failures"];
        assert!(top.windows(2).all(|w| at(&format!("\"{}\":", w[0])) < at(&format!("\"{}\":", w[1]))));
        let targets = &text[at("\"targets\":")..at("\"values\":")];
        let keys = [
            "tau_mem_us",
            "tau_syn_exc_us",
            "tau_syn_inh_us",
            "leak_mv",
            "reset_mv",
            "threshold_mv",
            "gain_exc",
            "gain_inh",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| targets.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        let achieved = keys.iter().map(|k| format!("\"{k}\":0.0")).collect::<Vec<_>>().join(",");
        assert!(text.contains(&format!("\"achieved\":[{{{achieved}}},")));
        assert!(text.ends_with(r#""failures":[{"circuit":7,"parameter":"threshold","reason":"not measurable"}]}"#));
    }

    #[test]
    fn errors_keep_their_cause_as_source_without_repeating_it() {
        use std::error::Error;
        let dir = tempfile::tempdir().unwrap();
        let missing = CalibrationFile::load(&dir.path().join("none.json")).unwrap_err();
        assert!(matches!(missing, FileError::Read { .. }));
        let cause = missing.source().expect("the io error").to_string();
        assert!(!missing.to_string().contains(&cause), "{missing}");
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\"tool\": 1}").unwrap();
        let bad = CalibrationFile::load(&path).unwrap_err();
        let cause = bad.source().expect("the parse error").to_string();
        assert!(cause.contains("line 1"), "{cause}");
        assert!(!bad.to_string().contains(&cause), "{bad}");
        let blocked = file().save(&path.join("below-a-file.json")).unwrap_err();
        assert!(matches!(blocked, FileError::Write { .. }) && blocked.source().is_some());
    }

    fn delays() -> DelayCalibration {
        use crate::delays::{DelayMap, PairResult};
        use bss2_protocol::delay_pair::PairCapMem;
        let pairs = (0..PAIRS)
            .map(|p| PairResult {
                capmem: PairCapMem::NOMINAL,
                map: (p != 9).then_some(DelayMap { offset_us: 1.9, slope_us: 0.128 }),
                failure: (p == 9).then(|| "rebound too small".to_string()),
            })
            .collect();
        DelayCalibration { settings: DelaySettings::default(), pairs }
    }

    #[test]
    fn delay_sections_round_trip_change_the_key_and_old_files_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cal.json");
        let plain = file();
        let with = plain.clone().with_delays(delays());
        assert_ne!(with.key, plain.key, "the delay settings are part of the key");
        assert_eq!(with.key, delay_cache_key(&with.chip, &with.targets, &DelaySettings::default()));
        let other = DelaySettings { repetitions: 3, ..DelaySettings::default() };
        assert_ne!(with.key, delay_cache_key(&with.chip, &with.targets, &other));
        with.save(&path).unwrap();
        let back = CalibrationFile::load(&path).unwrap();
        assert_eq!(back, with);
        assert_eq!(back.delays.as_ref().unwrap().failed().collect::<Vec<_>>().len(), 1);
        assert_eq!(back.delays.as_ref().unwrap().used().count(), PAIRS - 1);
        // A file without the section (as written before delays existed) loads, and none is written for it.
        assert!(!serde_json::to_string(&plain).unwrap().contains("delays"));
        let mut old: serde_json::Value = serde_json::to_value(&with).unwrap();
        old.as_object_mut().unwrap().remove("delays");
        std::fs::write(&path, old.to_string()).unwrap();
        assert_eq!(CalibrationFile::load(&path).unwrap().delays, None);
        let bad = |edit: &dyn Fn(&mut DelayCalibration)| {
            let mut d = delays();
            edit(&mut d);
            plain.clone().with_delays(d).save(&path).unwrap();
            CalibrationFile::load(&path).unwrap_err().to_string()
        };
        assert!(bad(&|d| d.pairs.truncate(5)).contains("delays.pairs has 5 entries, expected 128"));
        assert!(bad(&|d| d.pairs[3].capmem.v_threshold = 1023).contains("delay pair 3: a CapMem value above 1022"));
        let e = bad(&|d| d.pairs[4].map.as_mut().unwrap().slope_us = -0.1);
        assert!(e.contains("delay pair 4: its map is not a finite line"), "{e}");
        assert!(bad(&|d| d.pairs[9].failure = None).contains("delay pair 9: no map and no reason why"));
    }

    #[test]
    fn the_cache_folder_is_the_override_else_bss2_calibrations_in_the_user_cache() {
        let user = Some(PathBuf::from("/home/u/.cache"));
        assert_eq!(cache_dir_from(None, user.clone()), Some(PathBuf::from("/home/u/.cache/bss2/calibrations")));
        assert_eq!(cache_dir_from(Some("/tmp/c".into()), user), Some(PathBuf::from("/tmp/c")));
        assert_eq!(cache_dir_from(None, None), None);
    }
}
