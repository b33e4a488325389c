//! One run of a sweep, as a local runner's child process or a Slurm array task runs it (`bss2 sweep task RUN`):
//! take the run's lock, then start it, or resume it from its resume point, or do nothing if it is finished.
//! A failure is written to the run's `error.txt`, so `status` can show it after the process is gone.

use std::fs::{File, OpenOptions, TryLockError};
use std::time::Duration;

use super::SweepError;
use super::folder::{RunFolder, os};
use super::state::finished;
use crate::config::Overrides;
use crate::io::write_atomic;
use crate::train::chip_run::ChipOptions;
use crate::train::runner::{self, Summary};

/// What a task did.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskOutcome {
    /// It trained the run to its end (from the start or from a resume point).
    Trained(Summary),
    /// The run was finished already.
    AlreadyFinished,
    /// Another process holds the run's lock: it is training the run.
    Busy,
}

/// How long a task waits for the lock: long enough for a `status` (which holds it for an instant), far shorter
/// than any training.
const LOCK_ATTEMPTS: usize = 40;
const LOCK_PAUSE: Duration = Duration::from_millis(50);

/// Runs `run` to its end, or resumes it; records a failure in its `error.txt`.
pub fn run(run: &RunFolder, chip: &ChipOptions) -> Result<TaskOutcome, SweepError> {
    let Some(_lock) = lock(run)? else { return Ok(TaskOutcome::Busy) };
    if finished(run).is_some() {
        return Ok(TaskOutcome::AlreadyFinished);
    }
    match std::fs::remove_file(run.error()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(os(&run.error(), e)),
        _ => {}
    }
    let result = if run.dir.resume().is_file() {
        runner::resume(&run.dir, None, Overrides::default(), chip)
    } else {
        runner::train_prepared(&run.dir, chip)
    };
    match result {
        Ok(summary) => Ok(TaskOutcome::Trained(summary)),
        Err(source) => {
            let message = crate::text::chain(&source);
            write_atomic(&run.error(), format!("{message}\n").as_bytes())?;
            Err(SweepError::RunFailed { run: run.name.clone(), source: Box::new(source) })
        }
    }
}

/// Records that the process training `run` ended without saying why (killed by a signal, say), unless it wrote
/// its own error or the run is finished or busy.
pub fn record_exit(run: &RunFolder, status: std::process::ExitStatus) -> Result<(), SweepError> {
    if status.success() || run.error().exists() || finished(run).is_some() {
        return Ok(());
    }
    write_atomic(&run.error(), format!("the training process ended: {status} (see output.log)\n").as_bytes())?;
    Ok(())
}

/// The run's exclusive lock, held until the returned file is dropped (or the process ends, however it ends);
/// None when another process holds it.
fn lock(run: &RunFolder) -> Result<Option<File>, SweepError> {
    let path = run.lock();
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| os(&path, e))?;
    for _ in 0..LOCK_ATTEMPTS {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(TryLockError::WouldBlock) => std::thread::sleep(LOCK_PAUSE),
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                tracing::warn!(
                    "{}: this file system has no locks; make sure no other process trains this run",
                    path.display()
                );
                return Ok(Some(file));
            }
            Err(TryLockError::Error(e)) => return Err(os(&path, e)),
        }
    }
    Ok(None)
}
