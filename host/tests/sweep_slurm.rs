//! `bss2 sweep --slurm` on a real single-node Slurm cluster (slurmctld, slurmd and munge from Debian's
//! packages), started for these tests in a temporary folder by `scripts/slurm-test-cluster.sh` and stopped after
//! them. The packages must be installed (`scripts/slurm-test-cluster.sh install`; `.ci/run` does it).
//!
//! Both tests share the one cluster and run one after the other.

mod sweep_common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use sweep_common::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/slurm-test-cluster.sh");

/// One cluster at a time: the tests take turns.
static CLUSTER: Mutex<()> = Mutex::new(());

/// A running test cluster, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    conf: String,
}

impl Cluster {
    fn start() -> Cluster {
        let sbatch = Command::new("sh")
            .args(["-c", "command -v sbatch slurmctld slurmd munged || PATH=$PATH:/usr/sbin command -v slurmctld"])
            .output()
            .unwrap();
        assert!(
            sbatch.status.success(),
            "Slurm is not installed here: run `scripts/slurm-test-cluster.sh install` (Debian's slurmctld, slurmd, \
             slurm-client and munge), as .ci/run does"
        );
        // A short path: munge's and Slurm's sockets live in it.
        let dir = tempfile::Builder::new().prefix("slurm").tempdir_in("/tmp").unwrap();
        let out = Command::new("bash").arg(SCRIPT).arg("start").arg(dir.path()).output().unwrap();
        assert!(out.status.success(), "starting the test cluster: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let conf =
            stdout.trim().strip_prefix("export SLURM_CONF=").expect("the script prints the export line").to_string();
        Cluster { dir, conf }
    }

    /// `bss2` with the cluster's config.
    fn bss2(&self) -> Command {
        let mut cmd = bss2();
        cmd.env("SLURM_CONF", &self.conf).env("PATH", path_with_sbin());
        cmd
    }

    fn bss2_ok(&self, args: &[&str]) -> String {
        let out = self.bss2().args(args).output().unwrap();
        assert!(out.status.success(), "bss2 {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The totals line of `sweep status`.
    fn totals(&self, sweep: &Path) -> String {
        self.bss2_ok(&["sweep", "status", sweep.to_str().unwrap()]).lines().last().unwrap().to_string()
    }

    /// Waits until no run of `sweep` is queued or running (checked every 250 ms, at most 2400 times) and
    /// returns the totals line.
    fn wait_idle(&self, sweep: &Path) -> String {
        for _ in 0..2400 {
            let totals = self.totals(sweep);
            if totals.contains(" 0 running, 0 queued") {
                return totals;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("the sweep in {} did not end: {}", sweep.display(), self.totals(sweep));
    }

    fn scancel(&self, tasks: &[String]) {
        let out = Command::new("scancel")
            .args(tasks)
            .env("SLURM_CONF", &self.conf)
            .env("PATH", path_with_sbin())
            .output()
            .unwrap();
        assert!(out.status.success(), "scancel: {}", text(&out));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(SCRIPT).arg("stop").arg(self.dir.path()).output();
    }
}

fn path_with_sbin() -> String {
    format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default())
}

fn local_sweep(base: &Path, spec: &Path, out: &Path) {
    let status = bss2()
        .args(["sweep", "run", base.to_str().unwrap(), spec.to_str().unwrap(), "--jobs", "2", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let _ = status; // The reference sweep's DelayAxonal runs fail by design; the comparison below checks the rest.
}

#[test]
fn the_reference_sweep_on_slurm_equals_the_local_one() {
    let _turn = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let base = base_config(tmp.path(), 2);
    let (on_slurm, local) = (tmp.path().join("slurm"), tmp.path().join("local"));
    let out = cluster.bss2_ok(&[
        "sweep",
        "run",
        base.to_str().unwrap(),
        REFERENCE_SWEEP,
        "--slurm",
        "--cpus-per-task",
        "1",
        "--time",
        "10:00",
        "--out",
        on_slurm.to_str().unwrap(),
    ]);
    assert!(out.contains("submitted 24 runs as Slurm job array"), "{out}");
    let script = std::fs::read_to_string(on_slurm.join("slurm/array_0.sh")).unwrap();
    assert!(script.contains("#SBATCH --array=0-23\n") && script.contains("#SBATCH --time=10:00\n"), "{script}");
    let totals = cluster.wait_idle(&on_slurm);
    assert_eq!(totals, "24 runs: 12 finished, 0 running, 0 queued, 12 failed, 0 interrupted, 0 pending");

    local_sweep(&base, Path::new(REFERENCE_SWEEP), &local);
    assert_eq!(assert_same_runs(&on_slurm, &local), 12);
    assert_eq!(results_table(&on_slurm), results_table(&local));
    // The failed runs keep the same config error on both.
    let failed = on_slurm.join("run_0=1000_1=1000_2=DelayAxonal_3=DelayAxonal_4=30/error.txt");
    assert!(
        std::fs::read_to_string(failed).unwrap().contains("network_layout.layers[0].positivity: missing required key")
    );
}

#[test]
fn a_slurm_sweep_with_cancelled_tasks_continued_ends_as_an_uninterrupted_one() {
    let _turn = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let tmp = tempfile::tempdir().unwrap();
    let base = base_config(tmp.path(), 40);
    let spec = six_run_sweep(tmp.path());
    let (on_slurm, local) = (tmp.path().join("slurm"), tmp.path().join("local"));
    cluster.bss2_ok(&[
        "sweep",
        "run",
        base.to_str().unwrap(),
        spec.to_str().unwrap(),
        "--slurm",
        "--max-parallel",
        "2",
        "--out",
        on_slurm.to_str().unwrap(),
    ]);
    let job = std::fs::read_to_string(on_slurm.join("slurm/array_0.jobid")).unwrap().trim().to_string();
    // Once the first run has trained a few epochs (checked every 20 ms, at most 3000 times), cancel it while it
    // runs, and the last task while it waits.
    let first = on_slurm.join("run_0=1_1=1_2=10");
    let trained = (0..3000).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        epochs_in(&first) >= 3
    });
    assert!(trained, "the first task did not start: {}", cluster.totals(&on_slurm));
    cluster.scancel(&[format!("{job}_0"), format!("{job}_5")]);
    let totals = cluster.wait_idle(&on_slurm);
    assert!(totals.starts_with("6 runs: 4 finished"), "{totals}");
    let status = cluster.bss2_ok(&["sweep", "status", on_slurm.to_str().unwrap()]);
    let line = |name: &str| status.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap().to_string();
    assert!(line("run_0=1_1=1_2=10").contains("interrupted"), "{status}");
    assert!(line("run_0=3_1=3_2=5").contains("pending"), "{status}");

    // continue submits only the two, and the cancelled one resumes from its resume point.
    let out = cluster.bss2_ok(&["sweep", "continue", on_slurm.to_str().unwrap(), "--slurm"]);
    assert!(out.starts_with("2 of 6 runs to train") && out.contains("submitted 2 runs"), "{out}");
    let totals = cluster.wait_idle(&on_slurm);
    assert_eq!(totals, "6 runs: 6 finished, 0 running, 0 queued, 0 failed, 0 interrupted, 0 pending");
    let log = std::fs::read_to_string(first.join("output.log")).unwrap();
    assert_eq!(log.matches("== bss2 sweep task (Slurm job").count(), 2, "{log}");
    assert!(log.contains("continuing training"), "{log}");

    local_sweep(&base, &spec, &local);
    assert_eq!(assert_same_runs(&on_slurm, &local), 6);
    assert_eq!(results_table(&on_slurm), results_table(&local));
}
