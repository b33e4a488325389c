//! `bss2 sweep` on this machine: the reference's sweep config, runs equal to their own trainings, status in
//! every state, a sweep killed with SIGKILL and continued, the results table and the figures.

mod sweep_common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sweep_common::*;

/// The reference's own sweep over `yin_yang_H30_W.yaml`: 24 runs. The 12 that turn input and hidden Broadcast
/// layers into DelayAxonal fail, as they do in the reference (the base config has no delay parameters: its
/// DelayLayer raises "You have to specify a way to make the delays positive"); each keeps its config error.
#[test]
fn the_reference_sweep_runs_locally_and_every_run_equals_its_own_training() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base_config(tmp.path(), 2);
    let sweep = tmp.path().join("sweep");
    let out = bss2()
        .args(["sweep", "run", base.to_str().unwrap(), REFERENCE_SWEEP, "--jobs", "2", "--out"])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(!out.status.success(), "12 runs fail, so the sweep says so");
    assert!(text(&out).contains("12 runs failed"), "{}", text(&out));

    for file in ["initial_config.yaml", "sweep_config.yaml"] {
        assert!(sweep.join(file).is_file(), "{file}");
    }
    assert_eq!(std::fs::read(sweep.join("sweep_config.yaml")).unwrap(), std::fs::read(REFERENCE_SWEEP).unwrap());
    let names = runs(&sweep);
    assert_eq!(names.len(), 24);
    let (lines, totals) = status(&sweep);
    assert_eq!(totals, "24 runs: 12 finished, 0 running, 0 queued, 12 failed, 0 interrupted, 0 pending");
    for line in &lines {
        if line.contains("DelayAxonal") {
            assert!(line.contains("failed") && line.contains("network_layout.layers[0].positivity: missing"), "{line}");
        } else {
            assert!(line.contains("finished") && line.contains("test accuracy"), "{line}");
        }
    }

    // Each run is an ordinary results folder: the same files as `bss2 train` of its config.
    for name in [
        "run_0=1000_1=1000_2=BroadcastLayer_3=BroadcastLayer_4=30",
        "run_0=1001_1=1001_2=BroadcastLayer_3=BroadcastLayer_4=5",
    ] {
        let run = sweep.join(name);
        let alone = tmp.path().join(format!("alone_{name}"));
        bss2_ok(&["train", run.join("config.yaml").to_str().unwrap(), "--output", alone.to_str().unwrap()]);
        assert_same_results(&run, &alone);
        let updates = std::fs::read_to_string(run.join("sweep_updates.yaml")).unwrap();
        assert!(updates.contains("- path:\n  - network_layout\n  - layers\n  - 1\n  - size\n  value:"), "{updates}");
    }

    // The results table: the reference's column set, one row per hidden size, two seeds each.
    let table = results_table(&sweep);
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let expected =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sweep/reference_columns.txt"))
            .unwrap();
    let expected: Vec<&str> = expected.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(header, expected);
    let rows: Vec<Vec<&str>> = rows.map(|r| r.split(',').collect()).collect();
    assert_eq!(rows.len(), 6);
    let sizes: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(sizes, ["5", "10", "15", "20", "25", "30"]);
    assert!(rows.iter().all(|r| r[0] == "BroadcastLayer" && *r.last().unwrap() == "2"));
    // 4*H + 3*H weights (no biases in this config).
    let n_params = header.iter().position(|h| *h == "metrics/number_of_parameters_mean").unwrap();
    assert_eq!(rows[0][n_params], "35");
    // The test error's median is the mean of the two seeds' errors, from their summaries.
    let median = header.iter().position(|h| *h == "metrics/final_test_err_median").unwrap();
    let error = |name: &str| {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sweep.join(name).join("summary.json")).unwrap()).unwrap();
        1.0 - s["test_accuracy"].as_f64().unwrap()
    };
    let expected = (error("run_0=1000_1=1000_2=BroadcastLayer_3=BroadcastLayer_4=5")
        + error("run_0=1001_1=1001_2=BroadcastLayer_3=BroadcastLayer_4=5"))
        / 2.0;
    assert!((rows[0][median].parse::<f64>().unwrap() - expected).abs() < 1e-15);

    bss2_ok(&["sweep", "plot", sweep.to_str().unwrap()]);
    let png = png::Decoder::new(std::io::BufReader::new(File::open(sweep.join("sweep_errors.png")).unwrap()));
    let mut reader = png.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut pixels).unwrap();
    // The W line's colour (#1f77b4) is drawn.
    assert!(pixels.chunks(3).any(|p| p == [0x1f, 0x77, 0xb4]), "no W line in the figure");
    let csv = std::fs::read_to_string(sweep.join("sweep_errors.csv")).unwrap();
    assert_eq!(csv.lines().filter(|l| l.starts_with("hidden_size,W,")).count(), 6, "{csv}");
}

#[test]
fn a_sweep_killed_part_way_and_continued_ends_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base_config(tmp.path(), 16);
    let spec = six_run_sweep(tmp.path());
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    bss2_ok(&[
        "sweep",
        "run",
        base.to_str().unwrap(),
        spec.to_str().unwrap(),
        "--jobs",
        "2",
        "--out",
        whole.to_str().unwrap(),
    ]);

    // The runner in its own process group, so one kill takes it and its trainings.
    let mut runner = bss2()
        .args(["sweep", "run", base.to_str().unwrap(), spec.to_str().unwrap(), "--jobs", "2", "--out"])
        .arg(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // Killed once a run has trained a few epochs (checked every 10 ms, at most 3000 times).
    let started = (0..3000).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        runs_or_empty(&killed).iter().any(|name| epochs_in(&killed.join(name)) >= 3)
    });
    assert!(started, "no run trained 3 epochs");
    let group = runner.id();
    kill_group(group);
    runner.wait().unwrap();
    // Wait until the group's last process is gone (at most 500 checks).
    assert!((0..500).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        group_members(group).is_empty()
    }));

    let (_, totals) = status(&killed);
    assert!(totals.starts_with("6 runs:") && totals.contains(" 0 running"), "{totals}");
    assert!(!totals.contains(" 0 interrupted"), "a run was stopped part-way: {totals}");
    assert!(!totals.contains(", 6 finished"), "the sweep was stopped before the end: {totals}");

    let out = bss2_ok(&["sweep", "continue", killed.to_str().unwrap(), "--jobs", "2"]);
    assert!(!out.starts_with("0 of"), "{out}");
    assert_eq!(assert_same_runs(&whole, &killed), 6);
    assert_eq!(results_table(&whole), results_table(&killed));
    // Nothing left to do: finished runs are never trained again.
    let again = bss2_ok(&["sweep", "continue", killed.to_str().unwrap()]);
    assert!(again.starts_with("0 of 6 runs to train"), "{again}");
}

/// The processes of process group `group` (from /proc).
fn group_members(group: u32) -> Vec<String> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so split after its ')'.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string() {
            pids.push(name);
        }
    }
    pids
}

/// SIGKILL to every process of group `group`, one by one by its pid (never a negative pid: a mistake there
/// would reach far more than the test's processes).
fn kill_group(group: u32) {
    let pids = group_members(group);
    assert!(pids.iter().any(|p| *p == group.to_string()), "the runner is not in its own group");
    let status = std::process::Command::new("kill").arg("-KILL").args(&pids).stderr(Stdio::null()).status().unwrap();
    let _ = status;
}

fn runs_or_empty(sweep: &Path) -> Vec<String> {
    if sweep.join("sweep_config.yaml").exists() { runs(sweep) } else { Vec::new() }
}

#[test]
fn status_tells_every_state_from_the_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base_config(tmp.path(), 3);
    let spec = sweep_config(tmp.path(), &[("network_layout/layers/1/size", "[4, 'many', 6, 7]")]);
    let sweep = tmp.path().join("s");
    // Lay the sweep out without training: a runner that cannot start any training.
    let out = bss2()
        .args(["sweep", "run", base.to_str().unwrap(), spec.to_str().unwrap(), "--jobs", "1", "--out"])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let (lines, totals) = status(&sweep);
    assert_eq!(totals, "4 runs: 3 finished, 0 running, 0 queued, 1 failed, 0 interrupted, 0 pending");
    let failed = lines.iter().find(|l| l.starts_with("run_0=many ")).unwrap();
    assert!(failed.contains("failed") && failed.contains("network_layout.layers[1].size"), "{failed}");

    // Interrupted: a run killed after its last epoch's resume point, before its test (no summary, no test
    // outputs); pending: a run
    // with only its config and updates; running: a run whose lock another process holds.
    let interrupted = sweep.join("run_0=4");
    std::fs::remove_file(interrupted.join("summary.json")).unwrap();
    for file in ["test_output_times.npy", "test_labels.npy"] {
        std::fs::remove_file(interrupted.join("epoch_3").join(file)).unwrap();
    }
    let pending = sweep.join("run_0=6");
    for entry in std::fs::read_dir(&pending).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !["config.yaml", "sweep_updates.yaml"].contains(&name.as_str()) {
            let p = entry.path();
            if p.is_dir() { std::fs::remove_dir_all(p).unwrap() } else { std::fs::remove_file(p).unwrap() }
        }
    }
    let running = sweep.join("run_0=7");
    std::fs::remove_file(running.join("summary.json")).unwrap();
    let lock = File::create(running.join(".lock")).unwrap();
    lock.lock().unwrap();
    let (lines, totals) = status(&sweep);
    assert_eq!(totals, "4 runs: 0 finished, 1 running, 0 queued, 1 failed, 1 interrupted, 1 pending");
    let line = |name: &str| lines.iter().find(|l| l.starts_with(&format!("{name} "))).unwrap().clone();
    assert!(line("run_0=4").contains("interrupted") && line("run_0=4").contains("after 3 epochs"), "{lines:?}");
    assert!(line("run_0=6").contains("pending"), "{lines:?}");
    assert!(line("run_0=7").contains("running"), "{lines:?}");

    // continue leaves the running one to its process and trains the others; the failed one fails again.
    let out = bss2().args(["sweep", "continue", sweep.to_str().unwrap(), "--jobs", "2"]).output().unwrap();
    assert!(!out.status.success() && text(&out).contains("3 of 4 runs to train"), "{}", text(&out));
    let (_, totals) = status(&sweep);
    assert_eq!(totals, "4 runs: 2 finished, 1 running, 0 queued, 1 failed, 0 interrupted, 0 pending");
    drop(lock);
    let (_, totals) = status(&sweep);
    assert_eq!(totals, "4 runs: 2 finished, 0 running, 0 queued, 1 failed, 1 interrupted, 0 pending");
}

#[test]
fn a_sweep_path_missing_from_the_base_config_is_refused_before_any_run() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base_config(tmp.path(), 1);
    let spec = sweep_config(
        tmp.path(),
        &[("training_params/learning_rate", "[0.1]"), ("network_layout/layers/9/size", "[3]")],
    );
    let sweep = tmp.path().join("s");
    let out = bss2()
        .args(["sweep", "run", base.to_str().unwrap(), spec.to_str().unwrap(), "--out"])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("parameters[1]: the base config has no network_layout/layers/9/size: network_layout/layers has 4 entries, no index 9"),
        "{}",
        text(&out)
    );
    assert!(!sweep.exists(), "nothing is written");
    let status = bss2().args(["sweep", "status"]).arg(tmp.path()).output().unwrap();
    assert!(!status.status.success() && text(&status).contains("is not a sweep folder"), "{}", text(&status));
}
