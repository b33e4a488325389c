//! Sweeps: many trainings from one base config and one sweep config, in the reference's format and folder
//! layout, run on this machine ([`local`]) or as a Slurm job array ([`slurm`]), resumed after any interruption,
//! and summarised as the reference's `sweep_results_df.csv` ([`collect`]) and DelGrad's figures
//! (`crate::plot::sweep_figures`).
//!
//! The parts: [`spec`] reads a sweep config and expands it into runs; [`folder`] lays them out and names every
//! file; [`state`] reads where each run stands from its folder; [`task`] trains one run (the unit both runners
//! start); [`collect`] builds the results table.

pub mod collect;
pub mod folder;
pub mod local;
pub mod slurm;
pub mod spec;
pub mod state;
pub mod task;

use std::path::PathBuf;

use crate::io::IoError;
use crate::train::runner::RunError;

/// Why a sweep command failed. Each variant names the file, folder or run concerned.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep config is malformed: fix the entry named.
    #[error("{origin}: {message}")]
    SweepConfig {
        /// The file.
        origin: String,
        /// What is wrong, with the entry.
        message: String,
    },
    /// A sweep path names a key the base config does not have: correct the path (keys are joined with `/`,
    /// list items are numbered from 0).
    #[error("sweep config: parameters[{entry}]: the base config has no {path}: {reason}")]
    UnknownPath {
        /// The entry's index.
        entry: usize,
        /// The path.
        path: String,
        /// Where it leaves the base config.
        reason: String,
    },
    /// Two runs get the same folder name (values that differ only in characters the names leave out).
    #[error("runs {first} and {second} would both be {name}: make their values differ in letters or digits")]
    NameClash {
        /// The folder name.
        name: String,
        /// The first run's index.
        first: usize,
        /// The second run's index.
        second: usize,
    },
    /// A file of a run or sweep cannot be understood.
    #[error("{}: {message}", path.display())]
    RunFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// `sweep run --out DIR` where DIR holds a sweep already: continue it, or choose another folder.
    #[error("{} holds a sweep already; use `bss2 sweep continue {}` or another --out", dir.display(), dir.display())]
    SweepExists {
        /// The folder.
        dir: PathBuf,
    },
    /// `sweep run --out DIR` where DIR holds other files.
    #[error("{} is not empty; a new sweep needs a new or empty folder", dir.display())]
    NotEmpty {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder without `initial_config.yaml` and `sweep_config.yaml`.
    #[error("{} is not a sweep folder (no initial_config.yaml and sweep_config.yaml)", dir.display())]
    NotASweep {
        /// The folder.
        dir: PathBuf,
    },
    /// A run failed; its error is also in its `error.txt`.
    #[error("run {run} failed")]
    RunFailed {
        /// The run's folder name.
        run: String,
        /// Why.
        #[source]
        source: Box<RunError>,
    },
    /// A training process could not be started.
    #[error("cannot start {}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A Slurm command failed or answered something unexpected.
    #[error("{command}: {message}")]
    Slurm {
        /// The command (`sbatch`, `squeue`).
        command: String,
        /// What happened.
        message: String,
    },
    /// Two runs with the same parameters and seed have different results (the base config was changed under the
    /// sweep): remove the stale runs.
    #[error("runs with the same parameters and seed have different results: {} and {}", first.display(), second.display())]
    Conflict {
        /// One run folder.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// `collect` found no finished run.
    #[error("{}: no finished run to collect (see `bss2 sweep status`)", dir.display())]
    NothingFinished {
        /// The folder searched.
        dir: PathBuf,
    },
}
