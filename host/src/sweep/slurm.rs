//! The Slurm runner: one job array per submission, one task per run, each task running `bss2 sweep task` on
//! its run folder (so a task resumes a run that was interrupted, and does nothing for a finished one). What was
//! submitted is kept in the sweep's `slurm/` folder (`array_<k>.sh`, `array_<k>.tasks` with one run per array
//! index, `array_<k>.jobid`); which tasks are queued or running is asked of `squeue`, never remembered.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::SweepError;
use super::folder::{RunFolder, SweepDir, os};
use super::spec::SlurmSection;
use super::state::{Queue, QueuedTask};
use crate::io::write_atomic;

/// The sbatch settings of a submission.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (Slurm's formats, e.g. `2:00:00`).
    pub time: Option<String>,
    /// `--cpus-per-task` (each training's threads).
    pub cpus_per_task: usize,
    /// `--mem` (e.g. `2G`).
    pub mem: Option<String>,
    /// The chip resource request, added for sweeps whose runs are on a chip (e.g. `--gres=bss2:1`).
    pub chip: Option<String>,
    /// Further `#SBATCH` lines, verbatim (with or without the leading `#SBATCH`).
    pub extra: Vec<String>,
    /// At most this many tasks at once (`--array=...%N`).
    pub max_parallel: Option<usize>,
    /// The `bss2` program as the compute nodes see it.
    pub program: PathBuf,
    /// Environment variables the tasks export.
    pub env: Vec<(String, String)>,
}

impl SlurmOptions {
    /// Fills what the command line left open from the sweep config's `slurm:` section.
    pub fn with_section(mut self, section: &SlurmSection, cpus_given: bool) -> SlurmOptions {
        self.partition = self.partition.or_else(|| section.partition.clone());
        self.time = self.time.or_else(|| section.time.clone());
        self.mem = self.mem.or_else(|| section.mem.clone());
        self.chip = self.chip.or_else(|| section.chip.clone());
        if !cpus_given && let Some(c) = section.cpus_per_task {
            self.cpus_per_task = c;
        }
        self.extra.splice(0..0, section.extra.iter().cloned());
        self
    }
}

/// A submitted job array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// Slurm's job id.
    pub job_id: String,
    /// The submission's number in the sweep's `slurm/` folder.
    pub number: usize,
    /// The runs, by array index.
    pub runs: Vec<String>,
}

/// The sbatch script of submission `number` over `runs` of the sweep at `root` (an absolute path). The tasks
/// start in the folder `sbatch` was called from (Slurm's default), as the trainings of the local runner do.
pub fn script(root: &Path, number: usize, runs: &[RunFolder], options: &SlurmOptions, chip_runs: bool) -> String {
    let slurm = root.join("slurm");
    let mut lines = vec!["#!/bin/bash".to_string(), "#SBATCH --job-name=bss2-sweep".to_string()];
    let limit = options.max_parallel.map_or(String::new(), |n| format!("%{n}"));
    lines.push(format!("#SBATCH --array=0-{}{limit}", runs.len().saturating_sub(1)));
    lines.push(format!("#SBATCH --output={}", slurm.join(format!("array_{number}_%a.out")).display()));
    lines.push(format!("#SBATCH --cpus-per-task={}", options.cpus_per_task.max(1)));
    for (flag, value) in [("partition", &options.partition), ("time", &options.time), ("mem", &options.mem)] {
        if let Some(v) = value {
            lines.push(format!("#SBATCH --{flag}={v}"));
        }
    }
    if chip_runs && let Some(chip) = &options.chip {
        lines.extend(chip.split_whitespace().map(|o| format!("#SBATCH {o}")));
    }
    for extra in &options.extra {
        let extra = extra.trim();
        lines.push(if extra.starts_with("#SBATCH") { extra.to_string() } else { format!("#SBATCH {extra}") });
    }
    let tasks = slurm.join(format!("array_{number}.tasks"));
    lines.push("set -eu".into());
    lines.push(format!("run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})", quote(&tasks.display().to_string())));
    lines.push("export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"".into());
    for (key, value) in &options.env {
        lines.push(format!("export {key}={}", quote(value)));
    }
    lines.push(
        "echo \"== bss2 sweep task (Slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname)), \
         started $(date -u '+%Y-%m-%d %H:%M:%S UTC')\" >>\"$run/output.log\""
            .into(),
    );
    lines.push(format!(
        "exec {} sweep task \"$run\" >>\"$run/output.log\" 2>&1",
        quote(&options.program.display().to_string())
    ));
    lines.join("\n") + "\n"
}

/// Submits `runs` of `dir` as one job array with `sbatch`.
pub fn submit(
    dir: &SweepDir,
    runs: &[RunFolder],
    options: &SlurmOptions,
    chip_runs: bool,
) -> Result<Submission, SweepError> {
    let root = std::path::absolute(&dir.root).map_err(|e| os(&dir.root, e))?;
    let slurm = root.join("slurm");
    std::fs::create_dir_all(&slurm).map_err(|e| os(&slurm, e))?;
    let number = (0..).find(|k| !slurm.join(format!("array_{k}.sh")).exists()).unwrap_or(0);
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    // One absolute run folder per line: a task finds its run whatever its working directory.
    let lines: Vec<String> = names.iter().map(|n| root.join(n).display().to_string()).collect();
    write_atomic(&slurm.join(format!("array_{number}.tasks")), (lines.join("\n") + "\n").as_bytes())?;
    let script_path = slurm.join(format!("array_{number}.sh"));
    write_atomic(&script_path, script(&root, number, runs, options, chip_runs).as_bytes())?;
    let output = Command::new("sbatch")
        .arg("--parsable")
        .arg(&script_path)
        .output()
        .map_err(|e| SweepError::Slurm { command: "sbatch".into(), message: format!("cannot run it: {e}") })?;
    if !output.status.success() {
        return Err(SweepError::Slurm {
            command: "sbatch".into(),
            message: format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job_id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if job_id.is_empty() || !job_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SweepError::Slurm {
            command: "sbatch --parsable".into(),
            message: format!("expected a job id, got {:?}", stdout.trim()),
        });
    }
    write_atomic(&slurm.join(format!("array_{number}.jobid")), format!("{job_id}\n").as_bytes())?;
    Ok(Submission { job_id, number, runs: names })
}

/// The sweep's tasks that Slurm lists as queued or running (empty when nothing was submitted or `squeue` is not
/// available here: the run folders then tell the state alone).
pub fn queue(dir: &SweepDir) -> Queue {
    let submissions = submissions(&dir.slurm());
    let mut queue = Queue::new();
    if submissions.is_empty() {
        return queue;
    }
    let Ok(output) = Command::new("squeue").args(["-h", "-r", "--me", "-o", "%F %K %T"]).output() else {
        return queue;
    };
    if !output.status.success() {
        tracing::warn!("squeue failed ({}); the run folders alone tell the state", output.status);
        return queue;
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut fields = line.split_whitespace();
        let (Some(job), Some(index), Some(state)) = (fields.next(), fields.next(), fields.next()) else { continue };
        let Some((_, runs)) = submissions.iter().find(|(id, _)| id == job) else { continue };
        let Some(run) = index.parse::<usize>().ok().and_then(|i| runs.get(i)) else { continue };
        queue.insert(run.clone(), QueuedTask { task: format!("{job}_{index}"), running: is_running(state) });
    }
    queue
}

/// Slurm states in which a task's process exists.
fn is_running(state: &str) -> bool {
    matches!(state, "RUNNING" | "COMPLETING" | "CONFIGURING" | "STOPPED" | "SUSPENDED" | "SIGNALING" | "STAGE_OUT")
}

/// The submissions recorded in `slurm/`: (job id, runs by array index).
fn submissions(slurm: &Path) -> Vec<(String, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir(slurm) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jobid") {
            continue;
        }
        let (Ok(id), Ok(tasks)) =
            (std::fs::read_to_string(&path), std::fs::read_to_string(path.with_extension("tasks")))
        else {
            continue;
        };
        let names = tasks
            .lines()
            .map(|l| Path::new(l).file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()));
        found.push((id.trim().to_string(), names.collect()));
    }
    found
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_one_task_per_run_with_the_options() {
        let runs = vec![RunFolder::new("/s/run_0=1"), RunFolder::new("/s/run_0=2")];
        let options = SlurmOptions {
            partition: Some("batch".into()),
            time: Some("1:00:00".into()),
            cpus_per_task: 2,
            mem: Some("2G".into()),
            chip: Some("--wafer=62 --fpga=3".into()),
            extra: vec!["--qos=short".into(), "#SBATCH --nice=5".into()],
            max_parallel: Some(4),
            program: PathBuf::from("/opt/it's/bss2"),
            env: vec![("BSS2_MNIST_DIR".into(), "/data/mnist".into())],
        };
        let text = script(Path::new("/s"), 3, &runs, &options, true);
        for line in [
            "#SBATCH --array=0-1%4",
            "#SBATCH --output=/s/slurm/array_3_%a.out",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --partition=batch",
            "#SBATCH --time=1:00:00",
            "#SBATCH --mem=2G",
            "#SBATCH --wafer=62",
            "#SBATCH --fpga=3",
            "#SBATCH --qos=short",
            "#SBATCH --nice=5",
            "run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" '/s/slurm/array_3.tasks')",
            "export BSS2_MNIST_DIR='/data/mnist'",
            "exec '/opt/it'\\''s/bss2' sweep task \"$run\" >>\"$run/output.log\" 2>&1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        let simulated = script(Path::new("/s"), 3, &runs, &options, false);
        assert!(!simulated.contains("--wafer"), "the chip request is for chip runs only");
    }

    #[test]
    fn the_config_section_fills_what_the_command_line_left_open() {
        let section = SlurmSection {
            partition: Some("cube".into()),
            cpus_per_task: Some(4),
            extra: vec!["--qos=a".into()],
            ..SlurmSection::default()
        };
        let given = SlurmOptions {
            partition: Some("batch".into()),
            cpus_per_task: 1,
            extra: vec!["--qos=b".into()],
            ..SlurmOptions::default()
        };
        let merged = given.clone().with_section(&section, false);
        assert_eq!(merged.partition.as_deref(), Some("batch"));
        assert_eq!(merged.cpus_per_task, 4);
        assert_eq!(merged.extra, ["--qos=a", "--qos=b"]);
        assert_eq!(given.with_section(&section, true).cpus_per_task, 1);
    }
}
