//! `bss2 sweep run|continue|status|collect|plot` (and the hidden `task`, the unit both runners start).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::substrate::Substrate;
use crate::sweep::folder::{RunFolder, SweepDir};
use crate::sweep::local::{self, LocalRunner};
use crate::sweep::slurm::{self, SlurmOptions};
use crate::sweep::spec::SweepSpec;
use crate::sweep::state::{self, RunStatus, Totals};
use crate::sweep::{collect, task};
use crate::train::chip_run::ChipOptions;

/// Sweeps: many trainings from a base config and a sweep config (the reference's format), on this machine or
/// on a Slurm cluster.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Lay out a new sweep and train its runs.
    Run {
        /// The base experiment config.
        base: PathBuf,
        /// The sweep config (`parameters:` of {path, value}).
        sweep: PathBuf,
        /// The sweep folder (default: sweep_results/sweep_<dataset>_<timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        runner: RunnerArgs,
    },
    /// Train a sweep's unfinished runs: interrupted ones resume from their resume points, failed and pending ones
    /// start; finished, running and queued runs are left alone.
    Continue {
        /// The sweep folder.
        dir: PathBuf,
        #[command(flatten)]
        runner: RunnerArgs,
    },
    /// Show each run's state (finished, running, queued, failed with the reason, interrupted, pending) and the
    /// totals.
    Status {
        /// The sweep folder.
        dir: PathBuf,
    },
    /// Write DIR/sweep_results_df.csv: the finished runs under DIR grouped over seeds, as the reference's
    /// sweep_evaluation.py.
    Collect {
        /// The sweep folder (or a folder of several sweeps).
        dir: PathBuf,
        /// Add the per-epoch errors (metrics_epoch/val_err_*, metrics_epoch/train_err_*).
        #[arg(long)]
        include_err_by_epoch: bool,
        /// Add metadata/path, the run folders of each group.
        #[arg(long)]
        include_metadata: bool,
    },
    /// Draw DelGrad's figures: test error against parameter count and hidden size, per kind (W, WA, WD, WS),
    /// median over seeds with quartile bands; writes sweep_errors.png and sweep_errors.csv.
    Plot {
        /// The sweep folder (or a folder of several sweeps).
        dir: PathBuf,
        /// Where to write (default: DIR).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train one run of a sweep (what the runners start; resumes an interrupted run).
    #[command(hide = true)]
    Task {
        /// The run folder.
        run: PathBuf,
    },
}

/// Where the runs are trained.
#[derive(Debug, clap::Args)]
struct RunnerArgs {
    /// Trainings at a time on this machine (default: one per core, the cores shared out among them).
    #[arg(long, conflicts_with = "slurm")]
    jobs: Option<usize>,
    /// Submit the runs to Slurm as one job array instead (needs sbatch; the folders must be on a file system the
    /// compute nodes share).
    #[arg(long)]
    slurm: bool,
    /// sbatch --partition.
    #[arg(long, requires = "slurm")]
    partition: Option<String>,
    /// sbatch --time for each run (e.g. 2:00:00).
    #[arg(long, requires = "slurm")]
    time: Option<String>,
    /// sbatch --cpus-per-task: each run's threads [default: 1].
    #[arg(long, requires = "slurm")]
    cpus_per_task: Option<usize>,
    /// sbatch --mem for each run (e.g. 2G).
    #[arg(long, requires = "slurm")]
    mem: Option<String>,
    /// The sbatch options that request a chip, for runs on a chip (e.g. "--gres=bss2:1").
    #[arg(long, requires = "slurm", value_name = "OPTIONS")]
    chip_request: Option<String>,
    /// Another #SBATCH line (repeatable), e.g. --sbatch-line=--qos=short.
    #[arg(long = "sbatch-line", requires = "slurm", value_name = "LINE")]
    sbatch_lines: Vec<String>,
    /// At most this many array tasks at once.
    #[arg(long, requires = "slurm")]
    max_parallel: Option<usize>,
    /// The bss2 program as the compute nodes see it (default: this one).
    #[arg(long, requires = "slurm")]
    program: Option<PathBuf>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        match self.action {
            Action::Run { base, sweep, out, runner } => {
                let out = match out {
                    Some(out) => out,
                    None => default_folder(&base)?,
                };
                let (dir, spec, runs) = SweepDir::create(&out, &base, &sweep)?;
                println!("sweep of {} runs in {}", runs.len(), dir.root.display());
                train(&dir, &spec, runs, runner)
            }
            Action::Continue { dir, runner } => {
                let (dir, spec, runs) = SweepDir::open(&dir)?;
                let queue = slurm::queue(&dir);
                let todo: Vec<RunFolder> =
                    runs.iter().filter(|r| state::status(r, &queue).needs_running()).cloned().collect();
                println!("{} of {} runs to train in {}", todo.len(), runs.len(), dir.root.display());
                if todo.is_empty() {
                    return Ok(());
                }
                train(&dir, &spec, todo, runner)
            }
            Action::Status { dir } => status(&dir),
            Action::Collect { dir, include_err_by_epoch, include_metadata } => {
                let table = collect::gather(&dir)?;
                let columns = collect::Columns { per_epoch: include_err_by_epoch, paths: include_metadata };
                let path = collect::write(&dir, &table, columns)?;
                if !table.unfinished.is_empty() {
                    eprintln!("warning: {} runs are not finished and are left out", table.unfinished.len());
                }
                let runs: usize = table.groups.iter().map(|g| g.runs.len()).sum();
                println!("{} groups of {runs} finished runs written to {}", table.groups.len(), path.display());
                Ok(())
            }
            Action::Plot { dir, out } => {
                let table = collect::gather(&dir)?;
                let out = out.unwrap_or_else(|| dir.clone());
                std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
                let png = crate::plot::sweep_errors(&table, &out.join("sweep_errors.png"))?;
                println!("wrote {} and its CSV", png.display());
                Ok(())
            }
            Action::Task { run } => {
                let run = RunFolder::new(run);
                // A config that cannot be read fails in the task, which records why.
                let substrate = Config::load(&run.dir.config()).map(|c| c.training.substrate).unwrap_or_default();
                let chip = ChipOptions { hx_endpoint: super::hx_endpoint(&substrate)?, ..ChipOptions::default() };
                match task::run(&run, &chip)? {
                    task::TaskOutcome::Trained(s) => {
                        println!(
                            "{}: test accuracy {:.2}% after {} epochs",
                            run.name,
                            100.0 * s.test_accuracy,
                            s.epochs
                        )
                    }
                    task::TaskOutcome::AlreadyFinished => println!("{}: finished already", run.name),
                    task::TaskOutcome::Busy => println!("{}: another process is training it", run.name),
                }
                Ok(())
            }
        }
    }
}

/// `sweep_results/sweep_<dataset>_<timestamp>`, the reference's name.
fn default_folder(base: &Path) -> anyhow::Result<PathBuf> {
    let config = Config::load(base)?;
    Ok(PathBuf::from("sweep_results").join(format!("sweep_{}_{}", config.dataset.name(), super::timestamp())))
}

/// Trains `runs` of `dir` locally or submits them to Slurm.
fn train(dir: &SweepDir, spec: &SweepSpec, runs: Vec<RunFolder>, args: RunnerArgs) -> anyhow::Result<()> {
    let program = std::env::current_exe().context("finding the bss2 program")?;
    // The trainings find MNIST where this process does, whatever their working directory.
    let mnist = std::path::absolute(crate::data::mnist::data_dir()).unwrap_or_else(|_| crate::data::mnist::data_dir());
    let env = vec![(crate::data::mnist::DIR_ENV.to_string(), mnist.display().to_string())];
    if args.slurm {
        let options = SlurmOptions {
            partition: args.partition,
            time: args.time,
            cpus_per_task: args.cpus_per_task.unwrap_or(1),
            mem: args.mem,
            chip: args.chip_request,
            extra: args.sbatch_lines,
            max_parallel: args.max_parallel,
            program: args.program.unwrap_or(program),
            env,
        }
        .with_section(&spec.slurm, args.cpus_per_task.is_some());
        let chip_runs = runs.iter().any(on_chip);
        let submission = slurm::submit(dir, &runs, &options, chip_runs)?;
        println!(
            "submitted {} runs as Slurm job array {} (script {}); follow with `bss2 sweep status {}`",
            submission.runs.len(),
            submission.job_id,
            dir.slurm().join(format!("array_{}.sh", submission.number)).display(),
            dir.root.display()
        );
        return Ok(());
    }
    let mut runner = LocalRunner::new(args.jobs, program);
    runner.env = env;
    let report = local::run(&runner, runs)?;
    println!(
        "{} runs finished, {} failed, {} left to another process; `bss2 sweep status {}` shows each",
        report.finished,
        report.failed.len(),
        report.busy.len(),
        dir.root.display()
    );
    anyhow::ensure!(report.failed.is_empty(), "{} runs failed (their error.txt says why)", report.failed.len());
    Ok(())
}

/// Whether a run's config trains on a chip (a config that cannot be read is not: its task reports why).
fn on_chip(run: &RunFolder) -> bool {
    Config::load(&run.dir.config()).is_ok_and(|c| matches!(c.training.substrate, Substrate::Chip(_)))
}

fn status(dir: &Path) -> anyhow::Result<()> {
    let (dir, _, runs) = SweepDir::open(dir)?;
    let queue = slurm::queue(&dir);
    let statuses: Vec<RunStatus> = runs.iter().map(|r| state::status(r, &queue)).collect();
    let width = runs.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for (run, s) in runs.iter().zip(&statuses) {
        let detail = match s {
            RunStatus::Finished { test_accuracy } => format!("test accuracy {:.2} %", 100.0 * test_accuracy),
            RunStatus::Running { epochs, slurm_task } => {
                let place = slurm_task.as_ref().map_or(String::new(), |t| format!(" (Slurm task {t})"));
                format!("{epochs} epochs done{place}")
            }
            RunStatus::Queued { slurm_task } => format!("Slurm task {slurm_task}"),
            RunStatus::Failed { reason } => reason.clone(),
            RunStatus::Interrupted { epochs } => format!("after {epochs} epochs; continue resumes it"),
            RunStatus::Pending => String::new(),
        };
        println!("{:width$}  {:<11}  {detail}", run.name, s.word());
    }
    println!("{}", Totals::of(&statuses));
    Ok(())
}
