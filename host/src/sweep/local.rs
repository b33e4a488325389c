//! The local runner: at most `jobs` trainings at a time on this machine, each its own `bss2 sweep task`
//! process with `threads` worker threads, its output appended to the run's `output.log`. A failing run does not
//! stop the others. The runner keeps no state of its own: killed, it leaves run folders that `continue` resumes.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;

use indicatif::{ProgressBar, ProgressStyle};
use tracing::{info, warn};

use super::SweepError;
use super::folder::{RunFolder, os};
use super::state::{self, Queue, RunStatus};
use super::task;

/// How the local runner runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalRunner {
    /// Trainings at a time.
    pub jobs: usize,
    /// Worker threads of each training (`RAYON_NUM_THREADS`).
    pub threads: usize,
    /// The `bss2` program the trainings run.
    pub program: PathBuf,
    /// Environment variables given to every training.
    pub env: Vec<(String, String)>,
}

impl LocalRunner {
    /// `jobs` trainings at a time (default: one per core), each with the cores shared out among them.
    pub fn new(jobs: Option<usize>, program: PathBuf) -> LocalRunner {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let jobs = jobs.unwrap_or(cores).max(1);
        LocalRunner { jobs, threads: (cores / jobs).max(1), program, env: Vec::new() }
    }
}

/// What a local sweep did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalReport {
    /// Runs that ended finished.
    pub finished: usize,
    /// Runs that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Runs another process was training (left to it).
    pub busy: Vec<String>,
}

/// Trains `runs` (in order, `jobs` at a time) and reports how each ended.
pub fn run(runner: &LocalRunner, runs: Vec<RunFolder>) -> Result<LocalReport, SweepError> {
    let total = runs.len();
    info!(runs = total, jobs = runner.jobs, threads_per_run = runner.threads, "starting the sweep's runs");
    let queue = Mutex::new(VecDeque::from(runs));
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} sweep [{bar:30}] {pos}/{len} runs {msg} {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let (done_tx, done_rx) = mpsc::channel::<(RunFolder, Result<RunStatus, SweepError>)>();
    let mut report = LocalReport::default();
    std::thread::scope(|scope| {
        for _ in 0..runner.jobs.min(total) {
            let done_tx = done_tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                while let Some(run) = queue.lock().map(|mut q| q.pop_front()).ok().flatten() {
                    let outcome = train_one(runner, &run);
                    if done_tx.send((run, outcome)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        for (n, (run, outcome)) in done_rx.iter().enumerate() {
            bar.inc(1);
            let line = match outcome {
                Ok(RunStatus::Finished { test_accuracy }) => {
                    report.finished += 1;
                    format!("finished, test accuracy {:.2} %", 100.0 * test_accuracy)
                }
                Ok(RunStatus::Failed { reason }) => {
                    report.failed.push((run.name.clone(), reason.clone()));
                    format!("FAILED: {reason}")
                }
                Ok(RunStatus::Running { .. }) => {
                    report.busy.push(run.name.clone());
                    "being trained by another process; left to it".to_string()
                }
                Ok(other) => {
                    report.failed.push((run.name.clone(), format!("ended {}", other.word())));
                    format!("ended {} (see its output.log)", other.word())
                }
                Err(e) => {
                    let reason = crate::text::chain(&e);
                    report.failed.push((run.name.clone(), reason.clone()));
                    format!("FAILED to start: {reason}")
                }
            };
            if !report.failed.is_empty() {
                bar.set_message(format!("({} failed)", report.failed.len()));
            }
            bar.suspend(|| info!("[{}/{total}] {}: {line}", n + 1, run.name));
        }
    });
    bar.finish_and_clear();
    Ok(report)
}

/// Runs one training process for `run` and reads how the run stands afterwards.
fn train_one(runner: &LocalRunner, run: &RunFolder) -> Result<RunStatus, SweepError> {
    let log_path = run.log();
    let mut log = OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| os(&log_path, e))?;
    let started = jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC");
    writeln!(log, "== bss2 sweep task, started {started}").map_err(|e| os(&log_path, e))?;
    let stderr = log.try_clone().map_err(|e| os(&log_path, e))?;
    let mut command = Command::new(&runner.program);
    command
        .arg("sweep")
        .arg("task")
        .arg(&run.dir.root)
        .env("RAYON_NUM_THREADS", runner.threads.to_string())
        .envs(runner.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr);
    let status = command.status().map_err(|source| SweepError::Spawn { program: runner.program.clone(), source })?;
    if !status.success() {
        warn!("{}: the training process ended with {status}", run.name);
    }
    task::record_exit(run, status)?;
    Ok(state::status(run, &Queue::new()))
}
