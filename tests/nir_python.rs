//! A network exported to NIR, read by the `nir` Python package (installed by this test from the package
//! registry into a virtual environment under the target folder): it has the nodes, shapes and parameters bss2
//! meant to write, and a small independent simulation of the graph (fine-step integration of NIR's CubaLIF
//! equations, `tests/python/nir_check.py`) gives first-spike times within its step of bss2's.

use std::path::{Path, PathBuf};
use std::process::Command;

use bss2_host::config::Config;
use bss2_host::data::Split;
use bss2_host::forward::Placement;
use bss2_host::inference;
use bss2_host::interop::ReferenceRun;
use bss2_host::interop::nir::{Node, to_graph};
use bss2_host::network::Network;
use bss2_host::train::run_dir::RunDir;
use serde_json::{Value, json};

const RUNS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reference-runs");
const CHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/nir_check.py");
/// The `nir` release the check runs against (its HDF5 layout is what export writes).
const NIR_PACKAGE: &str = "nir==1.0.8";

/// A virtual environment with `nir` (and numpy, h5py), made once per target folder.
fn python() -> PathBuf {
    // The tests of this file run in parallel threads: one makes the environment, the others wait for it.
    static MADE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _made = MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nir-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(".installed");
    if !ready.exists() {
        let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 runs");
        assert!(status.success(), "python3 -m venv {}", venv.display());
        let out = Command::new(&python).args(["-m", "pip", "install", "--quiet", NIR_PACKAGE]).output().unwrap();
        assert!(out.status.success(), "pip install {NIR_PACKAGE}: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(&ready, NIR_PACKAGE).unwrap();
    }
    python
}

/// `[shape, values]` of a vector or matrix.
fn field(shape: &[usize], values: &[f64]) -> Value {
    json!([shape, values])
}

fn expected(graph: &bss2_host::interop::nir::Graph) -> Value {
    let mut nodes = serde_json::Map::new();
    for (name, node) in &graph.nodes {
        let mut entry = serde_json::Map::new();
        entry.insert("type".into(), json!(node.type_name()));
        match node {
            Node::Linear { shape, weight } => {
                entry.insert("weight".into(), field(shape, weight));
            }
            Node::Delay { delay } => {
                entry.insert("delay".into(), field(&[delay.len()], delay));
            }
            Node::CubaLif(lif) => {
                for (key, values) in lif.fields() {
                    entry.insert(key.into(), field(&[values.len()], values));
                }
            }
            _ => {}
        }
        nodes.insert(name.clone(), Value::Object(entry));
    }
    json!({"nodes": nodes, "edges": graph.edges})
}

#[test]
fn the_nir_package_reads_the_export_and_its_simulation_agrees() {
    let python = python();
    // Trained by the reference: weights only, and axonal delays; freshly drawn: dendritic delays.
    let mut cases: Vec<(&str, Config, Network)> = ["yin_yang_H30_W", "yin_yang_H30_WA"]
        .into_iter()
        .map(|name| {
            let read = ReferenceRun::detect(&Path::new(RUNS).join(name)).unwrap().load(None).unwrap();
            (name, read.config, read.network)
        })
        .collect();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_H30_WA.yaml"));
    let dendritic = Config::parse_str(&text.unwrap().replace("DelayAxonal", "DelayDendritic")).unwrap();
    let network = Network::new(&dendritic.layout, 3);
    cases.push(("dendritic", dendritic, network));
    for (name, config, network) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let graph = to_graph(&network, 1.0).unwrap();
        let nir_file = tmp.path().join("network.nir");
        std::fs::write(&nir_file, graph.to_hdf5().unwrap()).unwrap();
        let expected_file = tmp.path().join("expected.json");
        std::fs::write(&expected_file, expected(&graph).to_string()).unwrap();

        // bss2's test inputs and outputs for this network.
        let run = tmp.path().join("run");
        let dir = RunDir::new(&run);
        dir.write(&dir.config(), config.to_yaml().as_bytes()).unwrap();
        dir.write(&dir.network(0), &network.to_tensors().to_bytes().unwrap()).unwrap();
        let (result, _) = inference::run(&dir, None, Split::Test, Placement::Simulation).unwrap();
        let inputs = tmp.path().join("inputs.npy");
        let out = Command::new(env!("CARGO_BIN_EXE_bss2-e2e"))
            .args(["-q", "data"])
            .arg(dir.config())
            .args(["--split", "test", "--out"])
            .arg(&inputs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        let step = "0.001";
        let out = Command::new(&python)
            .arg(CHECK)
            .args([&nir_file, &expected_file, &inputs, &result.outputs_path])
            .args([step, "200"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("{name}: {stdout}");
    }
}

/// h5py's gzip-compressed datasets are read too: a graph copied by h5py with every array compressed imports to
/// the same network.
#[test]
fn gzip_compressed_graphs_written_by_h5py_are_read() {
    let python = python();
    let tmp = tempfile::tempdir().unwrap();
    let read = ReferenceRun::detect(&Path::new(RUNS).join("yin_yang_H30_WA")).unwrap().load(None).unwrap();
    let graph = to_graph(&read.network, 1.0).unwrap();
    let (plain, packed) = (tmp.path().join("plain.nir"), tmp.path().join("gzip.nir"));
    std::fs::write(&plain, graph.to_hdf5().unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/gzip_copy.py");
    let out = Command::new(&python).arg(script).arg(&plain).arg(&packed).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.starts_with("0 "), "{stdout}");
    let back = bss2_host::interop::nir::Graph::from_hdf5(std::fs::read(&packed).unwrap()).unwrap();
    assert_eq!(back, graph);
}
