//! A calibration as a file (JSON): chip identity, targets, tool version, CapMem values, what was achieved, the
//! circuits that failed; a cache key so that an unchanged request is not recalibrated.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::calibrate::{Achieved, Failure, Outcome, Targets};
use crate::values::CircuitValues;

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
}

/// A calibration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading or writing failed (the cause is in the message, not a separate source, so that it is printed once).
    #[error("calibration {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// The content is not a calibration.
    #[error("calibration {path}: not a calibration file: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
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
        }
    }

    /// Loads and checks a file.
    pub fn load(path: &Path) -> Result<CalibrationFile, FileError> {
        let text = std::fs::read_to_string(path).map_err(|cause| FileError::Io { path: path.into(), cause })?;
        let file: CalibrationFile = serde_json::from_str(&text)
            .map_err(|e| FileError::Invalid { path: path.into(), message: e.to_string() })?;
        let t = &file.targets;
        let lengths = [
            ("values", file.values.len()),
            ("achieved", file.achieved.len()),
            ("before", file.before.len()),
            ("targets.tau_mem_us", t.tau_mem_us.len()),
            ("targets.tau_syn_exc_us", t.tau_syn_exc_us.len()),
            ("targets.tau_syn_inh_us", t.tau_syn_inh_us.len()),
            ("targets.leak_mv", t.leak_mv.len()),
            ("targets.reset_mv", t.reset_mv.len()),
            ("targets.threshold_mv", t.threshold_mv.len()),
            ("targets.gain_exc", t.gain_exc.len()),
            ("targets.gain_inh", t.gain_inh.len()),
        ];
        if let Some((name, n)) = lengths.iter().find(|(_, n)| *n != 512) {
            return Err(FileError::Invalid {
                path: path.into(),
                message: format!("{name} has {n} entries, expected 512"),
            });
        }
        if let Some((c, _)) = file.values.iter().enumerate().find(|(_, v)| {
            [v.v_leak, v.v_reset, v.v_threshold, v.i_bias_leak, v.i_bias_syn_exc_tau, v.i_bias_syn_inh_tau]
                .iter()
                .chain(&[v.i_bias_syn_exc_gm, v.i_bias_syn_inh_gm])
                .any(|&x| x > 1022)
        }) {
            return Err(FileError::Invalid {
                path: path.into(),
                message: format!("circuit {c}: a CapMem value above 1022"),
            });
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
        let io = |cause| FileError::Io { path: path.into(), cause };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let temporary = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).expect("calibrations serialise");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
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
        let all = |x: f64| vec![x; 512];
        let targets = Targets {
            tau_mem_us: all(6.0),
            tau_syn_exc_us: all(6.0),
            tau_syn_inh_us: all(6.0),
            leak_mv: all(360.0),
            reset_mv: all(360.0),
            threshold_mv: all(675.0),
            gain_exc: all(0.67),
            gain_inh: all(0.67),
        };
        let outcome = Outcome {
            values: vec![CircuitValues::default(); 512],
            achieved: vec![Achieved::default(); 512],
            failures: Vec::new(),
            before: vec![Achieved::default(); 512],
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
        short.targets.gain_inh.pop();
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
    fn the_cache_folder_is_the_override_else_bss2_calibrations_in_the_user_cache() {
        let user = Some(PathBuf::from("/home/u/.cache"));
        assert_eq!(cache_dir_from(None, user.clone()), Some(PathBuf::from("/home/u/.cache/bss2/calibrations")));
        assert_eq!(cache_dir_from(Some("/tmp/c".into()), user), Some(PathBuf::from("/tmp/c")));
        assert_eq!(cache_dir_from(None, None), None);
    }
}
