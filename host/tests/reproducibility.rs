//! Reproducibility of whole runs through the `bss2` binary: same seed, same numbers whatever the thread
//! count; a run killed with SIGKILL at a random moment and continued ends exactly like an uninterrupted one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bss2_host::tensors::TensorFile;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_H5_WS.yaml");
const EPOCHS: &str = "24";

fn bss2() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bss2"));
    cmd.arg("-q");
    cmd
}

fn train(dir: &Path, threads: usize) {
    let out = bss2()
        .env("RAYON_NUM_THREADS", threads.to_string())
        .args(["train", CONFIG, "--epochs", EPOCHS, "--seed", "3", "--output"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// metrics.csv without the wall-time columns (seconds, chip, protocol, math); retries and bumped_batches stay.
fn metrics_without_seconds(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    text.lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), 12, "{l}");
            [&fields[..6], &fields[10..]].concat().join(",")
        })
        .collect()
}

fn network(dir: &Path) -> TensorFile {
    let bytes = std::fs::read(dir.join(format!("epoch_{EPOCHS}/network.safetensors"))).unwrap();
    TensorFile::from_bytes(&bytes).unwrap()
}

fn summary_accuracy(dir: &Path) -> f64 {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    v["test_accuracy"].as_f64().unwrap()
}

#[test]
fn same_seed_same_numbers_with_one_or_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    train(&a, 2);
    train(&b, 2);
    train(&c, 1);
    let reference = metrics_without_seconds(&a);
    assert_eq!(reference.len(), 1 + 1 + EPOCHS.parse::<usize>().unwrap());
    assert_eq!(reference, metrics_without_seconds(&b));
    assert_eq!(reference, metrics_without_seconds(&c));
    assert_eq!(network(&a).tensors, network(&b).tensors);
    assert_eq!(network(&a).tensors, network(&c).tensors);
    assert_eq!(summary_accuracy(&a), summary_accuracy(&c));
    // Every file without timings is byte-identical (`sha256sum` can compare runs); metrics.csv, summary.json and
    // the resume points hold the epochs' wall times.
    let timed = ["metrics.csv", "summary.json", "resume.safetensors", "state.safetensors"];
    let mut compared = Vec::new();
    for dir in [PathBuf::new(), PathBuf::from(format!("epoch_{EPOCHS}"))] {
        for entry in std::fs::read_dir(a.join(&dir)).unwrap() {
            let name = dir.join(entry.unwrap().file_name());
            if a.join(&name).is_dir() || timed.iter().any(|t| name.ends_with(t)) {
                continue;
            }
            let bytes = |run: &Path| std::fs::read(run.join(&name)).unwrap();
            assert!(bytes(&a) == bytes(&b) && bytes(&a) == bytes(&c), "{} differs between the runs", name.display());
            compared.push(name.display().to_string());
        }
    }
    compared.sort();
    let epoch = format!("epoch_{EPOCHS}");
    let want = [
        "config.yaml".to_string(),
        format!("{epoch}/network.safetensors"),
        format!("{epoch}/test_labels.npy"),
        format!("{epoch}/test_output_times.npy"),
    ];
    assert_eq!(compared, want);
}

#[test]
fn killed_run_continues_to_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    train(&whole, 2);
    // Kill at a moment that varies from run to run, after a few epochs have been saved.
    let mut child =
        bss2().args(["train", CONFIG, "--epochs", EPOCHS, "--seed", "3", "--output"]).arg(&killed).spawn().unwrap();
    let started = Instant::now();
    let pid = std::process::id() as usize;
    let (rows, extra) = (3 + pid % 17, Duration::from_micros((pid % 97) as u64 * 137));
    while metrics_rows(&killed) < rows && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(extra);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists(), "the run finished before it was killed; the test proves nothing");
    // No file is ever half-written: everything present parses.
    let resume = std::fs::read(killed.join("resume.safetensors")).unwrap();
    TensorFile::from_bytes(&resume).unwrap();
    let out = bss2().arg("continue").arg(&killed).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(network(&whole).tensors, network(&killed).tensors);
    assert_eq!(summary_accuracy(&whole), summary_accuracy(&killed));
    let (w, k) = (metrics_without_seconds(&whole), metrics_without_seconds(&killed));
    for (a, b) in w.iter().zip(&k) {
        assert_eq!(a, b, "metrics differ");
    }
    assert_eq!(w.len(), k.len());
    // No temporary files are left behind.
    for entry in std::fs::read_dir(&killed).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.starts_with('.') && !name.contains("tmp"), "left over: {name}");
    }
}

fn metrics_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.csv")).map_or(0, |t| t.lines().count())
}

#[test]
fn continue_from_a_snapshot_and_to_more_epochs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    train(&dir, 2);
    // Continue from the snapshot of the last epoch to a longer run.
    let out = bss2().arg("continue").arg(&dir).args(["--from", EPOCHS, "--epochs", "26"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(metrics_rows(&dir), 1 + 1 + 26);
    assert!(dir.join("epoch_26/network.safetensors").is_file());
    // Nothing to continue from: a clear error, exit status 1.
    let out = bss2().arg("continue").arg(tmp.path().join("nothing")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config.yaml") && !stderr.contains("panicked"), "{stderr}");
}
