//! Bad requests through the `bss2` binary are refused up front with a clear error, and nothing already in a
//! results folder is changed: training into a folder that holds part of a run, zero epochs, continuing to fewer
//! epochs than trained, impossible layer sizes, chip settings out of range.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const XOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/xor_10_hidden.yaml");

fn bss2(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bss2")).arg("-q").args(args).output().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Exit status 1 and stderr (which must not show a panic).
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

fn train_xor(dir: &Path, epochs: &str) {
    let out = bss2(&["train", XOR, "--epochs", epochs, "--output", path(dir)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn train_never_writes_into_a_folder_that_holds_part_of_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder with a config and a network but no resume point (a reference config with converted weights).
    let run = tmp.path().join("run");
    train_xor(&run, "2");
    std::fs::remove_file(run.join("resume.safetensors")).unwrap();
    let before = snapshot(&run);
    let stderr = refused(&bss2(&["train", XOR, "--epochs", "3", "--output", path(&run)]));
    assert!(stderr.contains("already holds a run") && stderr.contains("config.yaml"), "{stderr}");
    assert_eq!(snapshot(&run), before, "nothing in the folder changed");
    // Only a snapshot folder is enough to refuse.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("epoch_7")).unwrap();
    let stderr = refused(&bss2(&["train", XOR, "--epochs", "3", "--output", path(&other)]));
    assert!(stderr.contains("epoch_7"), "{stderr}");
    // An empty folder is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    train_xor(&empty, "1");
}

#[test]
fn zero_epochs_and_continuing_backwards_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let never = tmp.path().join("never");
    let stderr = refused(&bss2(&["train", XOR, "--epochs", "0", "--output", path(&never)]));
    assert!(stderr.contains("epoch_number is 0"), "{stderr}");
    assert!(!never.exists(), "no folder is left behind");

    let run = tmp.path().join("run");
    train_xor(&run, "3");
    let before = snapshot(&run);
    let stderr = refused(&bss2(&["continue", path(&run), "--epochs", "2"]));
    assert!(stderr.contains("--epochs 2") && stderr.contains("trained 3 epochs"), "{stderr}");
    assert_eq!(snapshot(&run), before, "config.yaml keeps its epoch_number, nothing else changed");
    // The same number of epochs finishes the run again (a run killed after its last epoch).
    let out = bss2(&["continue", path(&run), "--epochs", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn impossible_layer_sizes_are_refused_before_anything_is_allocated() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(XOR).unwrap();
    for (size, message) in [("100000000", "more than the 1048576 a layer may have"), ("1000000", "weights and delays")]
    {
        let config = tmp.path().join(format!("xor_{size}.yaml"));
        // The second hidden layer: 10 x 10^6 and 10^6 x 2 weights pass; a third layer of 10^6 x 10^6 does not.
        let layers = if size == "1000000" {
            text.replace(
                "  - {name: NeuronLayer, size: 10,",
                "  - {name: NeuronLayer, size: 1000000, weights_mean: 1.0, weights_std: 1.0, max_num_missing_spikes: 0.3}\n  - {name: BroadcastLayer}\n  \
                 - {name: NeuronLayer, size: 1000000,",
            )
        } else {
            text.replace("size: 10,", &format!("size: {size},"))
        };
        std::fs::write(&config, layers).unwrap();
        let out_dir = tmp.path().join(format!("out_{size}"));
        let stderr = refused(&bss2(&["train", path(&config), "--output", path(&out_dir)]));
        assert!(stderr.contains("network_layout.layers") && stderr.contains(message), "{stderr}");
        assert!(!out_dir.exists(), "no run folder is created");
    }
}

#[test]
fn chip_settings_out_of_range_are_refused_naming_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train_xor(&run, "1");
    for (flag, value, named) in [
        ("--window", "1e308", "window"),
        ("--time-unit-us", "1e12", "window"),
        ("--window", "0", "window"),
        ("--time-unit-us", "-6", "time unit"),
        ("--window", "NaN", "window"),
    ] {
        let out = bss2(&["inference", path(&run), "--substrate", "emulator:ideal", &format!("{flag}={value}")]);
        let stderr = refused(&out);
        assert!(stderr.contains(named), "{flag} {value}: {stderr}");
        assert!(!stderr.contains("accuracy"), "{flag} {value}: nothing was evaluated: {stderr}");
    }
}

#[test]
fn a_run_that_fails_before_its_first_resume_point_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let substrate = format!("tcp://127.0.0.1:{port}");
    let chip_ready = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_chipready_W.yaml");
    let args =
        ["train", chip_ready, "--substrate", &substrate, "--no-calibration", "--retries", "1", "--output", path(&run)];
    let stderr = refused(&bss2(&args));
    assert!(stderr.contains("epoch 0") && stderr.contains(&substrate), "{stderr}");
    assert!(!run.exists(), "the folder the failed run created is gone");
    // In a folder that existed, only what the run wrote is removed.
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    refused(&bss2(&args));
    assert_eq!(snapshot(&run).into_keys().collect::<Vec<_>>(), [run.join("notes.txt")]);
}
