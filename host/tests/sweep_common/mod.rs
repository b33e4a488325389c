//! What the sweep tests share: the binary, base configs at a few epochs, and a run's results without their
//! wall times, for comparing runs made in different ways.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const H30_W: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_H30_W.yaml");
pub const REFERENCE_SWEEP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/sweeps/sweep.yaml");

pub fn bss2() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bss2"));
    cmd.arg("-q");
    cmd
}

pub fn bss2_ok(args: &[&str]) -> String {
    let out = bss2().args(args).output().unwrap();
    assert!(out.status.success(), "bss2 {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `configs/yin_yang_H30_W.yaml` at `epochs` epochs, written into `dir`.
pub fn base_config(dir: &Path, epochs: usize) -> PathBuf {
    let text = std::fs::read_to_string(H30_W).unwrap();
    assert!(text.contains("epoch_number: 300"));
    let path = dir.join("base.yaml");
    std::fs::write(&path, text.replace("epoch_number: 300", &format!("epoch_number: {epochs}"))).unwrap();
    path
}

/// A sweep config of `entries` (`path`, values as YAML flow lists) written into `dir`.
pub fn sweep_config(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("parameters:\n");
    for (path, values) in entries {
        text.push_str(&format!("  - path: {path}\n    value: {values}\n"));
    }
    let path = dir.join("sweep.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The sweep both kill tests use: 3 seeds x hidden sizes 10 and 5, six runs.
pub fn six_run_sweep(dir: &Path) -> PathBuf {
    sweep_config(
        dir,
        &[
            ("[training_params/torch_seed, training_params/numpy_seed]", "[1, 2, 3]"),
            ("network_layout/layers/1/size", "[10, 5]"),
        ],
    )
}

/// Epochs a run has finished, from its metrics.csv (0 before the first).
pub fn epochs_in(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.csv")).map_or(0, |t| t.lines().count().saturating_sub(2))
}

/// The run folders of a sweep, by name.
pub fn runs(sweep: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sweep)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().filter(|n| n.starts_with("run_")).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Everything a run wrote that does not depend on wall time: metrics.csv without its four time columns, the
/// summary without its seconds, and every file of its epoch folders byte for byte (but the resume points,
/// which hold wall times too).
pub fn results(run: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let rows: Vec<String> = metrics
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 12, "{l}");
            [&f[..6], &f[10..]].concat().join(",")
        })
        .collect();
    out.push(("metrics.csv".into(), rows.join("\n").into_bytes()));
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    summary.as_object_mut().unwrap().remove("seconds");
    out.push(("summary.json".into(), summary.to_string().into_bytes()));
    let mut epochs: Vec<PathBuf> = std::fs::read_dir(run)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("epoch_"))
        .collect();
    epochs.sort();
    for dir in epochs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        // A resume point records the epochs' wall times; its network is the snapshot's, compared below.
        for f in files.into_iter().filter(|f| !f.ends_with("state.safetensors")) {
            let name =
                format!("{}/{}", dir.file_name().unwrap().to_string_lossy(), f.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read(&f).unwrap()));
        }
    }
    out
}

/// Asserts that two runs wrote the same [`results`], naming the first file that differs.
pub fn assert_same_results(a: &Path, b: &Path) {
    let (xa, xb) = (results(a), results(b));
    let names = |x: &[(String, Vec<u8>)]| x.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&xa), names(&xb), "{} and {}", a.display(), b.display());
    for (fa, fb) in xa.iter().zip(&xb) {
        assert!(fa.1 == fb.1, "{}: {} differs from {}'s", a.display(), fa.0, b.display());
    }
}

/// Asserts that every finished run of sweep `a` equals the same run of sweep `b`, and that both have the same
/// finished runs; returns how many there are.
pub fn assert_same_runs(a: &Path, b: &Path) -> usize {
    let names = runs(a);
    assert_eq!(names, runs(b));
    let mut finished = 0;
    for name in &names {
        let (ra, rb) = (a.join(name), b.join(name));
        assert_eq!(ra.join("summary.json").exists(), rb.join("summary.json").exists(), "{name}");
        if !ra.join("summary.json").exists() {
            continue;
        }
        assert_same_results(&ra, &rb);
        finished += 1;
    }
    finished
}

/// sweep_results_df.csv of a sweep.
pub fn results_table(sweep: &Path) -> String {
    bss2_ok(&["sweep", "collect", sweep.to_str().unwrap(), "--include-err-by-epoch"]);
    std::fs::read_to_string(sweep.join("sweep_results_df.csv")).unwrap()
}

/// `sweep status` output lines for the runs (without the totals line) and the totals line.
pub fn status(sweep: &Path) -> (Vec<String>, String) {
    let out = bss2_ok(&["sweep", "status", sweep.to_str().unwrap()]);
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    let totals = lines.pop().unwrap();
    (lines, totals)
}
