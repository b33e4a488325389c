//! `bss2 inference` against `bss2 emulator serve` over TCP, UDP and a pseudo-terminal, with dropped and corrupted
//! frames: the output files equal the embedded emulator's bit for bit. Stalls and dead endpoints end in a clear
//! error after the configured retries, never a hang.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

const BSS2: &str = env!("CARGO_BIN_EXE_bss2-e2e");

fn inference(dir: &Path, substrate: &str, extra: &[&str]) -> std::process::Output {
    Command::new(BSS2)
        .args(["-q", "inference"])
        .arg(dir)
        .args(["--substrate", substrate, "--chip-seed", "3"])
        .args(extra)
        .output()
        .unwrap()
}

/// `inference` expected to give up after `retries` runs of `timeout_s` each: a hang is caught by an outer bound
/// of ten times the configured total (plus start-up), not by timing the run.
fn inference_giving_up(dir: &Path, substrate: &str, timeout_s: f64, retries: usize) -> std::process::Output {
    let (timeout, runs) = (timeout_s.to_string(), retries.to_string());
    let limit = Duration::from_secs_f64(10.0 * timeout_s * retries as f64 + 60.0);
    let mut command = Command::new(BSS2);
    command.args(["-q", "inference"]).arg(dir).args(["--substrate", substrate, "--chip-seed", "3"]);
    common::output_within(command.args(["--timeout", &timeout, "--retries", &runs]), limit)
}

fn outputs(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("epoch_200/test_output_times.npy")).unwrap()
}

#[test]
fn served_inference_with_link_faults_equals_the_embedded_run() {
    let doc = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    common::convert(&doc["yin_yang_chipready_W"], dir.path());
    let out = inference(dir.path(), "emulator", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let embedded = outputs(dir.path());
    for listen in ["tcp://127.0.0.1:0", "udp://127.0.0.1:0", "pty"] {
        let server = common::serve(listen, "drop=0.05,corrupt=0.01", 3);
        std::fs::remove_file(dir.path().join("epoch_200/test_output_times.npy")).unwrap();
        let out = inference(dir.path(), &server.endpoint, &[]);
        assert!(out.status.success(), "{listen}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(outputs(dir.path()) == embedded, "{listen}: the output times differ from the embedded run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("0 retries"), "{listen}: {stdout}");
    }
}

#[test]
fn a_stalling_chip_fails_after_the_retries_with_a_clear_error() {
    let doc = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    common::convert(&doc["yin_yang_chipready_W"], dir.path());
    let server = common::serve("tcp://127.0.0.1:0", "stall=1", 3);
    let out = inference_giving_up(dir.path(), &server.endpoint, 0.5, 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed 3 times") && stderr.contains("no complete response within 500ms"), "{stderr}");
    assert_eq!(common::failed_runs(&stderr), [(1, 3), (2, 3), (3, 3)], "each run tried once: {stderr}");
}

#[test]
fn a_dead_endpoint_fails_after_the_retries_with_a_clear_error() {
    let doc = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    common::convert(&doc["yin_yang_chipready_W"], dir.path());
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for endpoint in [format!("tcp://127.0.0.1:{port}"), format!("udp://127.0.0.1:{port}")] {
        let out = inference_giving_up(dir.path(), &endpoint, 0.5, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{endpoint}: {stderr}");
        assert!(stderr.contains("failed 2 times") && stderr.contains(&endpoint[6..]), "{endpoint}: {stderr}");
        assert_eq!(common::failed_runs(&stderr), [(1, 2), (2, 2)], "{endpoint}: each run tried once: {stderr}");
    }
}
