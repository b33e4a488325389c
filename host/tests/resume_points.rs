//! Damaged resume points and networks through the `bss2` binary: refused with an error naming the tensor, before
//! anything in the results folder changes, never a panic.

use std::path::Path;
use std::process::{Command, Output};

use bss2_host::tensors::TensorFile;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_H5_WS.yaml");

fn bss2() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bss2"));
    cmd.arg("-q");
    cmd
}

/// One epoch of yin_yang_H5_WS (Adam) in `dir`.
fn trained(dir: &Path) {
    let out = bss2().args(["train", CONFIG, "--epochs", "1", "--output"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn edit(path: &Path, change: impl FnOnce(&mut TensorFile)) {
    let mut file = TensorFile::from_bytes(&std::fs::read(path).unwrap()).unwrap();
    change(&mut file);
    std::fs::write(path, file.to_bytes().unwrap()).unwrap();
}

/// Every file of a results folder with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(contents(&path));
        } else {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

/// The command failed with exit status 1 and one error naming `needle`, without a panic.
fn refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(needle) && !stderr.contains("panicked"), "expected {needle:?} in: {stderr}");
}

#[test]
fn continue_refuses_a_resume_point_with_missing_moments_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    trained(&dir);
    let intact = std::fs::read(dir.join("resume.safetensors")).unwrap();
    for (moment, epochs) in [("optimizer.1.second", "2"), ("optimizer.3.first", "3")] {
        std::fs::write(dir.join("resume.safetensors"), &intact).unwrap();
        edit(&dir.join("resume.safetensors"), |f| {
            f.tensors.remove(moment).unwrap();
        });
        let before = contents(&dir);
        // Asking for more epochs would rewrite config.yaml if the run could go on.
        let out = bss2().arg("continue").arg(&dir).args(["--epochs", epochs]).output().unwrap();
        refused(&out, &format!("tensor \"{moment}\" is missing"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("resume.safetensors"));
        assert!(before == contents(&dir), "the results folder changed");
    }
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor_and_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    trained(&dir);
    edit(&dir.join("epoch_1/network.safetensors"), |f| f.tensors.get_mut("layers.1.weights").unwrap().1[6] = f64::NAN);
    let out = bss2().arg("inference").arg(&dir).output().unwrap();
    refused(&out, "\"layers.1.weights\" holds NaN at index [1, 1]");
    edit(&dir.join("resume.safetensors"), |f| f.tensors.get_mut("layers.2.delays").unwrap().1[0] = f64::INFINITY);
    let out = bss2().arg("continue").arg(&dir).args(["--epochs", "2"]).output().unwrap();
    refused(&out, "\"layers.2.delays\" holds inf at index [0, 0]");
}
