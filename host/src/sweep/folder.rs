//! The sweep folder, in the reference's layout, and the files a sweep adds to each run's results folder:
//!
//! ```text
//! SWEEP/initial_config.yaml        the base config, as given
//! SWEEP/sweep_config.yaml          the sweep config, as given
//! SWEEP/run_0=<v>_1=<v>.../        one ordinary results folder of `bss2 train` per run, with
//!     config.yaml                  the run's config (the base config with its updates)
//!     sweep_updates.yaml           the updates: a list of {path, value}
//!     output.log                   the training's output, appended to by every attempt
//!     error.txt                    why the last attempt failed (removed when the run is tried again)
//!     .lock                        held by the process training the run
//! SWEEP/slurm/array_<k>.sh, .tasks, .jobid   each Slurm submission: its script, its runs, its job id
//! ```
//!
//! Every file is written atomically. The run folders are made from the two copies, so a sweep whose creation was
//! killed is completed by `bss2 sweep continue`.

use std::path::{Path, PathBuf};

use yaml_serde::Value;

use super::SweepError;
use super::spec::{PlannedRun, SweepSpec, Update};
use crate::io::{IoError, write_atomic};
use crate::train::run_dir::RunDir;

/// A sweep's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDir {
    /// The folder.
    pub root: PathBuf,
}

/// One run's results folder inside a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFolder {
    /// The folder name (`run_...`).
    pub name: String,
    /// The results folder.
    pub dir: RunDir,
}

impl RunFolder {
    /// The run at `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunFolder {
        let root: PathBuf = root.into();
        let name = root.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        RunFolder { name, dir: RunDir::new(root) }
    }

    /// `sweep_updates.yaml`.
    pub fn updates(&self) -> PathBuf {
        self.dir.root.join("sweep_updates.yaml")
    }

    /// `output.log`.
    pub fn log(&self) -> PathBuf {
        self.dir.root.join("output.log")
    }

    /// `error.txt`.
    pub fn error(&self) -> PathBuf {
        self.dir.root.join("error.txt")
    }

    /// `.lock`.
    pub fn lock(&self) -> PathBuf {
        self.dir.root.join(".lock")
    }

    /// The updates of `sweep_updates.yaml`.
    pub fn read_updates(&self) -> Result<Vec<Update>, SweepError> {
        let path = self.updates();
        let text = read_text(&path)?;
        let bad = |message: String| SweepError::RunFile { path: path.clone(), message };
        let Value::Sequence(items) = yaml_serde::from_str(&text).map_err(|e| bad(e.to_string()))? else {
            return Err(bad("expected a list of {path, value}".into()));
        };
        items
            .iter()
            .map(|item| {
                let path = match item.get("path") {
                    Some(Value::Sequence(parts)) => parts.iter().map(key_text).collect::<Option<Vec<_>>>(),
                    Some(Value::String(p)) => Some(p.split('/').map(str::to_string).collect()),
                    _ => None,
                };
                let path = path.ok_or_else(|| bad("every entry needs a `path` list of keys".into()))?;
                let value = item.get("value").cloned().ok_or_else(|| bad("every entry needs a `value`".into()))?;
                Ok(Update { path, value })
            })
            .collect()
    }
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl SweepDir {
    /// The sweep at `root`.
    pub fn new(root: impl Into<PathBuf>) -> SweepDir {
        SweepDir { root: root.into() }
    }

    /// `initial_config.yaml`.
    pub fn initial_config(&self) -> PathBuf {
        self.root.join("initial_config.yaml")
    }

    /// `sweep_config.yaml`.
    pub fn sweep_config(&self) -> PathBuf {
        self.root.join("sweep_config.yaml")
    }

    /// `slurm/`.
    pub fn slurm(&self) -> PathBuf {
        self.root.join("slurm")
    }

    /// The run folder called `name`.
    pub fn run(&self, name: &str) -> RunFolder {
        RunFolder::new(self.root.join(name))
    }

    /// Makes a new sweep at `root` from the base config and sweep config files: checks both, copies them in and
    /// lays out every run. `root` must not exist or be empty.
    pub fn create(root: &Path, base: &Path, sweep: &Path) -> Result<(SweepDir, SweepSpec, Vec<RunFolder>), SweepError> {
        let base_text = read_text(base)?;
        let sweep_text = read_text(sweep)?;
        // Everything is checked before the folder is made.
        let spec = SweepSpec::parse(&sweep_text, &sweep.display().to_string())?;
        let plan = plan(&spec, &base_text, &base.display().to_string())?;
        if root.exists() && std::fs::read_dir(root).map_err(|e| os(root, e))?.next().is_some() {
            let dir = SweepDir::new(root);
            return Err(if dir.sweep_config().exists() {
                SweepError::SweepExists { dir: root.to_path_buf() }
            } else {
                SweepError::NotEmpty { dir: root.to_path_buf() }
            });
        }
        std::fs::create_dir_all(root).map_err(|e| os(root, e))?;
        let dir = SweepDir::new(root);
        write_atomic(&dir.initial_config(), base_text.as_bytes())?;
        // Written after the base config: a folder with a sweep_config.yaml is a complete sweep description.
        write_atomic(&dir.sweep_config(), sweep_text.as_bytes())?;
        let runs = dir.lay_out(&plan)?;
        Ok((dir, spec, runs))
    }

    /// Opens an existing sweep: reads its two copies, and lays out any run folder that is missing (a creation
    /// that was interrupted). Returns the runs in the sweep's order.
    pub fn open(root: &Path) -> Result<(SweepDir, SweepSpec, Vec<RunFolder>), SweepError> {
        let dir = SweepDir::new(root);
        if !dir.sweep_config().is_file() || !dir.initial_config().is_file() {
            return Err(SweepError::NotASweep { dir: root.to_path_buf() });
        }
        let base_text = read_text(&dir.initial_config())?;
        let sweep_text = read_text(&dir.sweep_config())?;
        let spec = SweepSpec::parse(&sweep_text, &dir.sweep_config().display().to_string())?;
        let plan = plan(&spec, &base_text, &dir.initial_config().display().to_string())?;
        let runs = dir.lay_out(&plan)?;
        Ok((dir, spec, runs))
    }

    /// Writes each planned run's `config.yaml` and `sweep_updates.yaml` where they are missing.
    fn lay_out(&self, plan: &[PlannedRun]) -> Result<Vec<RunFolder>, SweepError> {
        plan.iter()
            .map(|planned| {
                let run = self.run(&planned.name);
                std::fs::create_dir_all(&run.dir.root).map_err(|e| os(&run.dir.root, e))?;
                if !run.dir.config().is_file() {
                    let text = yaml_serde::to_string(&planned.config)
                        .map_err(|e| SweepError::RunFile { path: run.dir.config(), message: e.to_string() })?;
                    write_atomic(&run.dir.config(), text.as_bytes())?;
                }
                if !run.updates().is_file() {
                    write_atomic(&run.updates(), updates_yaml(&planned.updates).as_bytes())?;
                }
                Ok(run)
            })
            .collect()
    }
}

/// The runs of `spec` over the base config's text (`base_origin` names it in errors).
fn plan(spec: &SweepSpec, base: &str, base_origin: &str) -> Result<Vec<PlannedRun>, SweepError> {
    let base: Value = yaml_serde::from_str(base)
        .map_err(|e| SweepError::RunFile { path: PathBuf::from(base_origin), message: e.to_string() })?;
    spec.plan(&base)
}

/// `sweep_updates.yaml` as the reference writes it: key parts that are digits as integers.
fn updates_yaml(updates: &[Update]) -> String {
    let items: Vec<Value> = updates
        .iter()
        .map(|u| {
            let path: Vec<Value> = u
                .path
                .iter()
                .map(|p| match p.parse::<u64>() {
                    Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => Value::Number(n.into()),
                    _ => Value::String(p.clone()),
                })
                .collect();
            let mut m = yaml_serde::Mapping::new();
            m.insert("path".into(), Value::Sequence(path));
            m.insert("value".into(), u.value.clone());
            Value::Mapping(m)
        })
        .collect();
    yaml_serde::to_string(&Value::Sequence(items)).unwrap_or_default()
}

/// A file's text, with an error naming it.
pub(super) fn read_text(path: &Path) -> Result<String, SweepError> {
    std::fs::read_to_string(path).map_err(|source| SweepError::Io(IoError::Os { path: path.to_path_buf(), source }))
}

pub(super) fn os(path: &Path, source: std::io::Error) -> SweepError {
    SweepError::Io(IoError::Os { path: path.to_path_buf(), source })
}
