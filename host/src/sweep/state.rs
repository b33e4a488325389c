//! A run's state, read from its folder alone (and from Slurm's queue where a sweep was submitted there), never
//! from a runner's memory: a runner killed at any moment leaves states that the next `status` reads right.

use std::collections::HashMap;
use std::fs::{File, TryLockError};

use super::folder::RunFolder;

/// Where a run stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Trained and tested: `summary.json` is written.
    Finished {
        /// Test accuracy (0..1).
        test_accuracy: f64,
    },
    /// A process is training it now (it holds the run's lock, or Slurm says its task runs).
    Running {
        /// Epochs finished so far.
        epochs: usize,
        /// The Slurm task, `JOB_INDEX`, if it runs there.
        slurm_task: Option<String>,
    },
    /// Waiting in Slurm's queue.
    Queued {
        /// The Slurm task, `JOB_INDEX`.
        slurm_task: String,
    },
    /// The last attempt failed; `error.txt` says why.
    Failed {
        /// The error, first line.
        reason: String,
    },
    /// Started, then stopped (killed, cancelled) after some epochs: it resumes from its resume point.
    Interrupted {
        /// Epochs finished.
        epochs: usize,
    },
    /// Not started.
    Pending,
}

impl RunStatus {
    /// The word `status` prints.
    pub fn word(&self) -> &'static str {
        match self {
            RunStatus::Finished { .. } => "finished",
            RunStatus::Running { .. } => "running",
            RunStatus::Queued { .. } => "queued",
            RunStatus::Failed { .. } => "failed",
            RunStatus::Interrupted { .. } => "interrupted",
            RunStatus::Pending => "pending",
        }
    }

    /// Whether a runner should (re)start the run: neither finished nor being trained or queued already.
    pub fn needs_running(&self) -> bool {
        matches!(self, RunStatus::Failed { .. } | RunStatus::Interrupted { .. } | RunStatus::Pending)
    }
}

/// What Slurm's queue says about a task of a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedTask {
    /// `JOB_INDEX`.
    pub task: String,
    /// Running (else pending or another state before running).
    pub running: bool,
}

/// Slurm's tasks by run name (empty when nothing was submitted or `squeue` is not available).
pub type Queue = HashMap<String, QueuedTask>;

/// The state of `run`, given Slurm's queue.
pub fn status(run: &RunFolder, queue: &Queue) -> RunStatus {
    if let Some(test_accuracy) = finished(run) {
        return RunStatus::Finished { test_accuracy };
    }
    let queued = queue.get(&run.name);
    if locked(run) || queued.is_some_and(|q| q.running) {
        return RunStatus::Running { epochs: epochs_done(run), slurm_task: queued.map(|q| q.task.clone()) };
    }
    if let Some(q) = queued {
        return RunStatus::Queued { slurm_task: q.task.clone() };
    }
    if let Ok(text) = std::fs::read_to_string(run.error()) {
        let reason = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("(no message)").trim().to_string();
        return RunStatus::Failed { reason };
    }
    if run.dir.resume().is_file() {
        return RunStatus::Interrupted { epochs: epochs_done(run) };
    }
    RunStatus::Pending
}

/// The test accuracy of a finished run (its `summary.json`, written last).
pub fn finished(run: &RunFolder) -> Option<f64> {
    let text = std::fs::read_to_string(run.dir.summary()).ok()?;
    let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
    summary.get("test_accuracy")?.as_f64()
}

/// Epochs finished, from `metrics.csv` (one row per epoch after the header and epoch 0).
fn epochs_done(run: &RunFolder) -> usize {
    std::fs::read_to_string(run.dir.metrics())
        .map_or(0, |t| t.lines().filter(|l| !l.is_empty()).count().saturating_sub(2))
}

/// Whether another process holds the run's lock (a shared lock taken and dropped at once to find out).
fn locked(run: &RunFolder) -> bool {
    let Ok(file) = File::open(run.lock()) else { return false };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        // A file system without locks: only Slurm's queue can tell.
        Err(TryLockError::Error(_)) => false,
    }
}

/// Counts of each state, for the totals line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Finished runs.
    pub finished: usize,
    /// Running runs.
    pub running: usize,
    /// Queued runs.
    pub queued: usize,
    /// Failed runs.
    pub failed: usize,
    /// Interrupted runs.
    pub interrupted: usize,
    /// Not started.
    pub pending: usize,
}

impl Totals {
    /// Counts `statuses`.
    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a RunStatus>) -> Totals {
        let mut t = Totals::default();
        for s in statuses {
            *match s {
                RunStatus::Finished { .. } => &mut t.finished,
                RunStatus::Running { .. } => &mut t.running,
                RunStatus::Queued { .. } => &mut t.queued,
                RunStatus::Failed { .. } => &mut t.failed,
                RunStatus::Interrupted { .. } => &mut t.interrupted,
                RunStatus::Pending => &mut t.pending,
            } += 1;
        }
        t
    }

    /// All runs.
    pub fn total(&self) -> usize {
        self.finished + self.running + self.queued + self.failed + self.interrupted + self.pending
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} runs: {} finished, {} running, {} queued, {} failed, {} interrupted, {} pending",
            self.total(),
            self.finished,
            self.running,
            self.queued,
            self.failed,
            self.interrupted,
            self.pending
        )
    }
}
