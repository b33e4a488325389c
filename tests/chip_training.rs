//! In-the-loop training through the `bss2` binary: on the embedded emulator, against `bss2 emulator serve` with a
//! faulty link (the same numbers), killed and continued (the same final network), and with a server that dies
//! (a clear error, an intact resume point, and `bss2 continue` once it is back); stalls are retried and counted.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bss2_host::tensors::TensorFile;

mod common;

const EPOCHS: usize = 3;

fn bss2() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bss2-e2e"));
    cmd.arg("-q");
    cmd
}

/// The reference's chip-ready Yin-Yang network (30 hidden, weights only) with `substrate`.
fn config(dir: &Path, substrate: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_chipready_W.yaml"))
        .unwrap()
        .replace("substrate: sim", &format!("substrate: {substrate}"))
        .replace("epoch_number: 200", &format!("epoch_number: {EPOCHS}"));
    let path = dir.join(format!("{}.yaml", substrate.replace([':', '/'], "_")));
    std::fs::write(&path, text).unwrap();
    path
}

fn train(config: &Path, out: &Path, extra: &[&str]) -> Output {
    bss2()
        .arg("train")
        .arg(config)
        .args(["--chip-seed", "2", "--no-calibration", "--output"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn succeeded(out: &Output) {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// metrics.csv rows without the wall-time columns (seconds, chip, protocol, math); retries and bumped_batches stay.
fn metrics(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    text.lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            [&fields[..6], &fields[10..]].concat().join(",")
        })
        .collect()
}

fn metrics_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("metrics.csv")).map_or(0, |t| t.lines().count())
}

fn network(dir: &Path) -> TensorFile {
    TensorFile::from_bytes(&std::fs::read(dir.join(format!("epoch_{EPOCHS}/network.safetensors"))).unwrap()).unwrap()
}

#[test]
fn served_training_with_link_faults_equals_the_embedded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config(tmp.path(), "emulator");
    let embedded = tmp.path().join("embedded");
    succeeded(&train(&config, &embedded, &[]));
    let server = common::serve("udp://127.0.0.1:0", "drop=0.05,corrupt=0.01", 2);
    let served = tmp.path().join("served");
    succeeded(&train(&config, &served, &["--substrate", &server.endpoint]));
    let (a, b) = (metrics(&embedded), metrics(&served));
    assert_eq!(a.len(), EPOCHS + 2);
    assert_eq!(a, b, "metrics differ between the embedded and the served chip");
    assert_eq!(network(&embedded).tensors, network(&served).tensors);
    // The chip did the forward passes: its time is recorded, and the link's faults cost no chip retries.
    let text = std::fs::read_to_string(served.join("metrics.csv")).unwrap();
    for row in text.lines().skip(2) {
        let fields: Vec<f64> = row.split(',').map(|x| x.parse().unwrap()).collect();
        assert!(fields[7] > 0.0 && fields[9] > 0.0 && fields[10] == 0.0, "{row}");
    }
    // Training learns on the chip.
    let last = a.last().unwrap().split(',').nth(4).unwrap().parse::<f64>().unwrap();
    assert!(last > 0.6, "validation accuracy after {EPOCHS} epochs: {last}");
}

/// Trains `config` with `args` into `whole`, and again into `killed`, SIGKILLed at a moment that varies from run
/// to run after epoch 1 was saved, then continued (with `continue_args`): both end with the same metrics and
/// network. Calibrations are cached in `cache`.
fn kill_and_continue(config: &Path, args: &[&str], continue_args: &[&str], cache: &Path, whole: &Path, killed: &Path) {
    let bss2 = || {
        let mut cmd = bss2();
        cmd.env("BSS2_CACHE_DIR", cache);
        cmd
    };
    succeeded(&bss2().arg("train").arg(config).args(args).arg("--output").arg(whole).output().unwrap());
    let mut child = bss2().arg("train").arg(config).args(args).arg("--output").arg(killed).spawn().unwrap();
    let pid = std::process::id() as u64;
    let started = Instant::now();
    while metrics_rows(killed) < 3 && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(pid % 300));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists(), "the run finished before it was killed; the test proves nothing");
    succeeded(&bss2().arg("continue").arg(killed).args(continue_args).output().unwrap());
    assert_eq!(metrics(whole), metrics(killed));
    assert_eq!(network(whole).tensors, network(killed).tensors);
}

#[test]
fn a_killed_chip_run_continues_to_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config(tmp.path(), "emulator");
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    let args = ["--chip-seed", "2", "--no-calibration"];
    kill_and_continue(&config, &args, &["--no-calibration"], &tmp.path().join("cache"), &whole, &killed);

    // Inference of a chip-trained run runs on its chip (chip seed 2) by default: the test accuracy comes back
    // within the chip's run-to-run noise (another chip seed would lose tens of points uncalibrated).
    let out = bss2().arg("inference").arg(&whole).output().unwrap();
    succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("chip: "), "{stdout}");
    let at = stdout.find("test accuracy ").unwrap() + "test accuracy ".len();
    let inferred: f64 = stdout[at..].split('%').next().unwrap().parse().unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("summary.json")).unwrap()).unwrap();
    let trained = 100.0 * summary["test_accuracy"].as_f64().unwrap();
    assert!((inferred - trained).abs() < 3.0, "inference {inferred} % vs training's test {trained} %");
}

#[test]
fn a_dead_server_stops_the_training_clearly_and_continue_resumes_once_it_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    // The reference's `hx` substrate: the chip at BSS2_ENDPOINT.
    let config = config(tmp.path(), "hx");
    let dir = tmp.path().join("run");
    let out = bss2().arg("train").arg(&config).arg("--output").arg(&dir).env_remove("BSS2_ENDPOINT").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("BSS2_ENDPOINT") && !stderr.contains("panicked"), "{stderr}");

    let server = common::serve("tcp://127.0.0.1:0", "none", 2);
    let endpoint = server.endpoint.clone();
    let child = bss2()
        .arg("train")
        .arg(&config)
        // A timeout long enough that a loaded machine never trips it while the server lives (a killed server
        // is noticed at once: the connection closes, then is refused).
        .args(["--chip-seed", "2", "--no-calibration", "--timeout", "10", "--retries", "2", "--output"])
        .arg(&dir)
        .env("BSS2_ENDPOINT", &endpoint)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while metrics_rows(&dir) < 3 && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(server);
    // 2 runs of at most 10 s: a generous outer bound catches a hang; the attempts are counted in the log.
    let out = common::wait_within(child, Duration::from_secs(2 * 10 + 60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed 2 times") && stderr.contains(&endpoint[6..]), "{stderr}");
    assert_eq!(common::failed_runs(&stderr), [(1, 2), (2, 2)], "each run tried once: {stderr}");
    TensorFile::from_bytes(&std::fs::read(dir.join("resume.safetensors")).unwrap()).unwrap();
    assert!(!dir.join("summary.json").exists());

    // The same endpoint back: the run continues to its end.
    let listen = endpoint.clone();
    let _server = common::serve(&listen, "none", 2);
    let out =
        bss2().arg("continue").arg(&dir).arg("--no-calibration").env("BSS2_ENDPOINT", &endpoint).output().unwrap();
    succeeded(&out);
    assert_eq!(metrics_rows(&dir), EPOCHS + 2);
    assert!(dir.join("summary.json").exists());
}

#[test]
fn stalled_programs_are_retried_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config(tmp.path(), "emulator");
    let server = common::serve("tcp://127.0.0.1:0", "stall=0.02", 2);
    let dir = tmp.path().join("run");
    let out = train(&config, &dir, &["--substrate", &server.endpoint, "--timeout", "0.3", "--epochs", "1"]);
    succeeded(&out);
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    // Column 10 is `retries`.
    let retries: u64 = text.lines().skip(1).map(|row| row.split(',').nth(10).unwrap().parse::<u64>().unwrap()).sum();
    // About 130 programs at 2 %; the server's stall stream is seeded, so this is one fixed draw (with stalls).
    assert!(retries > 0, "no retries recorded:\n{text}");
}

#[test]
fn a_network_trained_in_simulation_is_fine_tuned_on_the_chip() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config(tmp.path(), "sim");
    let dir = tmp.path().join("run");
    succeeded(&bss2().arg("train").arg(&config).args(["--epochs", "1", "--output"]).arg(&dir).output().unwrap());
    let out = bss2()
        .arg("continue")
        .arg(&dir)
        .args(["--substrate", "emulator", "--chip-seed", "2", "--no-calibration", "--epochs", "2"])
        .output()
        .unwrap();
    succeeded(&out);
    // The second epoch ran on the chip, and the run now says so.
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let chip_seconds: Vec<f64> = text.lines().skip(1).map(|r| r.split(',').nth(7).unwrap().parse().unwrap()).collect();
    assert_eq!(chip_seconds.len(), 3);
    assert!(chip_seconds[0] == 0.0 && chip_seconds[1] == 0.0 && chip_seconds[2] > 0.0, "{text}");
    let saved = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    assert!(saved.contains("substrate: emulator") && saved.contains("chip_seed: 2"), "{saved}");

    // A network with synaptic delays cannot go to this chip (its delay pairs delay spikes, not synapses): a clear error before any calibration or training.
    let delays = tmp.path().join("delays");
    let h5 = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_H5_WS.yaml");
    succeeded(&bss2().args(["train", h5, "--epochs", "1", "--output"]).arg(&delays).output().unwrap());
    let out = bss2().arg("continue").arg(&delays).args(["--substrate", "emulator", "--epochs", "2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("DelaySynaptic): a delay per synapse has no delay element on the chip")
            && !stderr.contains("panicked"),
        "{stderr}"
    );
    // ... and the run keeps its simulation settings.
    let saved = std::fs::read_to_string(delays.join("config.yaml")).unwrap();
    assert!(saved.contains("substrate: sim"), "{saved}");
}

/// DelGrad's hardware experiment (configs/yin_yang_chip_delays.yaml) at EPOCHS epochs.
fn delays_config(dir: &Path, hidden: usize) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_chip_delays.yaml"))
        .unwrap()
        .replace("epoch_number: 300", &format!("epoch_number: {EPOCHS}"))
        .replace("size: 30", &format!("size: {hidden}"));
    let path = dir.join(format!("delays_{hidden}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_killed_delay_run_on_a_calibrated_chip_continues_to_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let config = delays_config(tmp.path(), 30);
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    // Both runs calibrate the default chip's neurons and delay pairs (once: the second finds them in the cache).
    kill_and_continue(&config, &["--chip-seed", "2"], &[], &tmp.path().join("cache"), &whole, &killed);
    let calibration: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("calibration.json")).unwrap()).unwrap();
    let pairs = calibration["delays"]["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 128);
    // The network learns on the chip.
    let last = metrics(&whole).last().unwrap().split(',').nth(4).unwrap().parse::<f64>().unwrap();
    assert!(last > 0.6, "validation accuracy after {EPOCHS} epochs: {last}");
    // Inference and eval run it on its chip with the run's delay calibration; eval's measured-vs-ideal plot has
    // the delayed spikes of both delay layers.
    let out = bss2().arg("inference").arg(&whole).env("BSS2_CACHE_DIR", tmp.path().join("cache")).output().unwrap();
    succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("chip: "));
    succeeded(&bss2().arg("eval").arg(&whole).env("BSS2_CACHE_DIR", tmp.path().join("cache")).output().unwrap());
    let csv = std::fs::read_to_string(whole.join(format!("epoch_{EPOCHS}/plots/measured_vs_ideal.csv"))).unwrap();
    let layers: std::collections::BTreeSet<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    assert_eq!(layers.len(), 4, "two NeuronLayers and two delay layers: {layers:?}");
}

#[test]
fn a_network_needing_more_delay_pairs_than_the_chip_has_is_refused_before_calibrating() {
    let tmp = tempfile::tempdir().unwrap();
    // 150 delayed hidden neurons and 20 delayed input copies: 170 pairs, and 153 neurons beside them.
    let config = delays_config(tmp.path(), 150);
    let out = bss2()
        .arg("train")
        .arg(&config)
        .arg("--output")
        .arg(tmp.path().join("run"))
        .env("BSS2_CACHE_DIR", tmp.path().join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("170 delay pairs") && stderr.contains("128 usable pairs"), "{stderr}");
    assert!(!stderr.contains("panicked") && !tmp.path().join("cache").exists(), "nothing was calibrated: {stderr}");
}
