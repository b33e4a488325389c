//! Inference with networks trained by the reference implementation (`pretrained-networks.json`): converted to
//! our safetensors format, they must reproduce the reference's test-set output times and accuracy.

use bss2_host::data::Split;
use bss2_host::forward::Placement;
use bss2_host::inference;
use bss2_host::train::run_dir::RunDir;
use serde_json::Value;

mod common;
use common::{FIXTURE, convert, rows};

/// The networks whose test outputs are deterministic (hwAware_WA was trained and evaluated with noise).
const DETERMINISTIC: &[&str] =
    &["yin_yang_H30_W", "yin_yang_H30_WA", "yin_yang_H30_WS", "yin_yang_H5_WS", "yin_yang_chipready_W"];

#[test]
fn pretrained_networks_reproduce_the_reference_outputs() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    for name in DETERMINISTIC {
        let entry = &doc[*name];
        let dir = tempfile::tempdir().unwrap();
        let (_, epoch) = convert(entry, dir.path());
        let result = inference::run(&RunDir::new(dir.path()), None, Split::Test, Placement::Simulation).unwrap().0;
        assert_eq!(result.epoch, epoch);
        let (shape, outputs) = common::read_npy_f64(&result.outputs_path);
        let want = rows(&entry["test_output_times"]);
        assert_eq!(shape, vec![want.len(), want[0].len()], "{name}");
        let mut worst = 0.0f64;
        for (got, want) in outputs.iter().zip(want.concat()) {
            if want.is_infinite() {
                assert_eq!(*got, want, "{name}: missing spike");
            } else {
                worst = worst.max((got - want).abs() / want.abs());
            }
        }
        assert!(worst < 1e-12, "{name}: largest relative deviation {worst:e}");
        let accuracy = entry["test_accuracy"].as_f64().unwrap();
        assert_eq!(result.correct, (accuracy * 1000.0).round() as usize, "{name}: accuracy {}", result.accuracy);
        eprintln!("{name}: accuracy {} (reference {accuracy}), largest relative deviation {worst:e}", result.accuracy);
    }
}

/// `bss2 inference` on a folder holding only a reference config and a converted network.
#[test]
fn inference_command_on_a_reference_folder() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    convert(&doc["yin_yang_H30_WA"], dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bss2-e2e"))
        .args(["-q", "inference"])
        .arg(dir.path())
        .args(["--epoch", "300", "--split", "test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The upstream CI expects exactly 97.50 % for this network.
    assert!(stdout.contains("test accuracy 97.50% (975/1000)"), "{stdout}");
    assert!(dir.path().join("epoch_300/test_labels.npy").is_file());
}

/// `bss2 layer` on the reference's layer cases prints the reference's results.
#[test]
fn layer_command_reproduces_the_layer_cases() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../host/tests/data/reference/layer-cases.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bss2-e2e")).args(["layer", fixture]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let (got, want) = (got["cases"].as_array().unwrap(), want["cases"].as_array().unwrap());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["name"], w["name"]);
        for key in ["outputs", "grad_weights", "grad_inputs", "grad_delays"] {
            let (g, w) = (rows(&g[key]), rows(&w[key]));
            assert_eq!((g.len(), g[0].len()), (w.len(), w[0].len()), "{key}");
            for (a, b) in g.concat().iter().zip(w.concat()) {
                assert!(a == &b || (a - b).abs() <= 1e-10 * b.abs().max(1e-3), "{key}: {a} vs {b}");
            }
        }
    }
    // Malformed input: exit status 1 and a message naming the place, no panic.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"cases": [{"name": "x", "tau_syn": 1, "tau_mem": 1, "g_leak": 1, "leak": 0, "threshold": 1,
        "inputs": [[0.1]], "weights": [["a"]]}]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bss2-e2e")).arg("layer").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cases[0].weights[0][0]") && !stderr.contains("panicked"), "{stderr}");
}
