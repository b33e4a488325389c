//! Networks exported to NIR and imported back: every kind the tool trains without delays and with axonal and
//! dendritic delays round-trips bit for bit in what the network computes with (weights, effective delays,
//! effective thresholds) and gives the same output times; what NIR cannot express is refused clearly.

use std::path::Path;
use std::process::Command;

use bss2_host::config::Config;
use bss2_host::data::Split;
use bss2_host::forward::Placement;
use bss2_host::inference;
use bss2_host::interop::nir::{ExportError, Graph, ImportError, from_graph, to_graph};
use bss2_host::network::{Layer, Network};
use bss2_host::train::run_dir::RunDir;

mod common;

const RUNS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reference-runs");
const CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs");

fn bss2() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bss2-e2e"))
}

/// What the network computes with, per layer: weights, effective thresholds, effective delays, multiplex factors.
fn computed(network: &Network) -> Vec<(String, Vec<f64>)> {
    network
        .layers
        .iter()
        .filter_map(|layer| match layer {
            Layer::Neuron(n) => {
                let p = n.config.neuron.params;
                let thresholds = n.threshold_offsets.iter().map(|o| p.threshold + o);
                let mut values: Vec<f64> = n.weights.data.iter().copied().chain(thresholds).collect();
                values.extend([p.tau_syn, p.tau_mem, p.g_leak, p.leak]);
                Some((format!("neuron {}x{}", n.weights.rows, n.weights.cols), values))
            }
            Layer::Delay(d) => Some((format!("{:?}", d.config.kind), d.effective().data)),
            Layer::Multiplex { factor } => Some(("multiplex".into(), vec![*factor as f64])),
            Layer::Broadcast { .. } | Layer::Biases { .. } => None,
        })
        .collect()
}

/// A results folder holding `network` under `config` at epoch 0.
fn write_run(dir: &Path, config: &Config, network: &Network) {
    let run = RunDir::new(dir);
    run.write(&run.config(), config.to_yaml().as_bytes()).unwrap();
    run.write(&run.network(0), &network.to_tensors().to_bytes().unwrap()).unwrap();
}

/// Export, write, read, import; the imported network computes exactly what the original does.
fn round_trip(name: &str, config: &Config, network: &Network, run_inference: bool) {
    let graph = to_graph(network, 1.0).unwrap_or_else(|e| panic!("{name}: {e}"));
    let read = Graph::from_hdf5(graph.to_hdf5().unwrap()).unwrap();
    assert_eq!(read, graph, "{name}: the file holds the graph");
    let (imported_config, imported) = from_graph(&read, config).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (want, got) = (computed(network), computed(&imported));
    assert_eq!(got.len(), want.len(), "{name}: layers {got:?}");
    for ((kind_w, w), (kind_g, g)) in want.iter().zip(&got) {
        assert_eq!(kind_g, kind_w, "{name}");
        assert_eq!(g, w, "{name}: {kind_w} differs");
    }
    // The delays' trainable parameters and their parametrisation come back too.
    for (a, b) in network.delay_layers().zip(imported.delay_layers()) {
        let (d, e) = (a.1, b.1);
        assert_eq!(e.raw, d.raw, "{name}: raw delays of layer {}", a.0);
        assert_eq!(e.config.positivity, d.config.positivity, "{name}: layer {}", a.0);
        let sharing = |c: &bss2_host::config::DelayConfig| (c.presyn_sharing_factor, c.postsyn_sharing_factor);
        assert_eq!(sharing(&e.config), sharing(&d.config), "{name}: layer {}", a.0);
    }
    if run_inference {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("original"), tmp.path().join("imported"));
        write_run(&a, config, network);
        write_run(&b, &imported_config, &imported);
        let outputs = |dir: &Path| {
            let (result, _) = inference::run(&RunDir::new(dir), None, Split::Test, Placement::Simulation).unwrap();
            (result.correct, common::read_npy_f64(&result.outputs_path))
        };
        let (original, back) = (outputs(&a), outputs(&b));
        assert_eq!(back, original, "{name}: output times differ");
        eprintln!("{name}: {} of 1000 correct, the same output times after the round trip", original.0);
    }
}

fn reference(name: &str) -> (Config, Network) {
    let read = bss2_host::interop::ReferenceRun::detect(&Path::new(RUNS).join(name)).unwrap().load(None).unwrap();
    (read.config, read.network)
}

fn own(file: &str, edit: impl Fn(String) -> String) -> (Config, Network) {
    let text = edit(std::fs::read_to_string(Path::new(CONFIGS).join(file)).unwrap());
    let config = Config::parse_str(&text).unwrap();
    let network = Network::new(&config.layout, 3);
    (config, network)
}

#[test]
fn every_network_kind_round_trips_exactly() {
    // Trained networks of the reference: weights only, axonal delays, Multiplex with shared axonal delays and
    // threshold offsets, inputs tiled for the chip.
    // The hardware-aware ones draw fresh threshold noise at inference, which NIR does not carry: their
    // parameters are compared, not their outputs.
    for (name, deterministic) in [
        ("yin_yang_H30_W", true),
        ("yin_yang_H30_WA", true),
        ("yin_yang_hxpynn", true),
        ("yin_yang_hwAware_WA", false),
        ("yin_yang_hwAware_W", false),
    ] {
        let (config, network) = reference(name);
        round_trip(name, &config, &network, deterministic);
    }
    // Our configs, freshly drawn: dendritic delays, axonal and dendritic delays together, 16x16 MNIST's 256
    // inputs, Multiplex with grouped shared delays and threshold offsets.
    let dendritic = own("yin_yang_H30_WA.yaml", |t| t.replace("DelayAxonal", "DelayDendritic"));
    round_trip("dendritic", &dendritic.0, &dendritic.1, true);
    let both = own("yin_yang_H30_WA.yaml", |t| {
        let second = t.rfind("DelayAxonal").unwrap();
        format!("{}DelayDendritic{}", &t[..second], &t[second + "DelayAxonal".len()..])
    });
    round_trip("axonal then dendritic", &both.0, &both.1, true);
    bss2_host::data::mnist::set_data_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../host/tests/data/mnist").into());
    let mnist = own("16x16_mnist_chip.yaml", |t| t);
    round_trip("16x16_mnist_chip", &mnist.0, &mnist.1, false);
    let hardware_aware = own("yin_yang_hwAware.yaml", |t| t);
    round_trip("yin_yang_hwAware (fresh)", &hardware_aware.0, &hardware_aware.1, false);
}

#[test]
fn what_nir_cannot_express_is_refused() {
    let (config, network) = reference("yin_yang_H30_WS");
    let e = to_graph(&network, 1.0).unwrap_err();
    assert!(matches!(e, ExportError::Unsupported { layer: 0, .. }), "{e}");
    assert!(e.to_string().contains("synaptic delays"), "{e}");
    let chip = own("yin_yang_chip.yaml", |t| t);
    let e = to_graph(&chip.1, 1.0).unwrap_err();
    assert!(e.to_string().contains("Biases") && e.to_string().contains("bias spikes"), "{e}");
    bss2_host::data::mnist::set_data_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../host/tests/data/mnist").into());
    let mnist = own("16x16_mnist.yaml", |t| t);
    assert!(to_graph(&mnist.1, 1.0).unwrap_err().to_string().contains("layer 2 (Biases)"));
    assert!(matches!(to_graph(&network, 0.0), Err(ExportError::TimeScale(_))));

    // A graph edited into what the model cannot represent is refused naming the node.
    let (_, plain) = reference("yin_yang_H30_W");
    let graph = to_graph(&plain, 1.0).unwrap();
    let import_error = |edit: &dyn Fn(&mut Graph)| -> ImportError {
        let mut g = graph.clone();
        edit(&mut g);
        from_graph(&g, &config).unwrap_err()
    };
    let e = import_error(&|g| {
        if let Some(bss2_host::interop::nir::Node::CubaLif(lif)) = g.nodes.get_mut("lif_1") {
            lif.tau_mem[3] = 1.5;
        }
    });
    assert!(e.to_string().contains("node lif_1: tau_mem differs between neurons"), "{e}");
    let e = import_error(&|g| {
        if let Some(bss2_host::interop::nir::Node::CubaLif(lif)) = g.nodes.get_mut("lif_3") {
            lif.w_in = vec![2.0; 3];
        }
    });
    assert!(e.to_string().contains("node lif_3: w_in 2 differs from tau_syn 1"), "{e}");
    let e = import_error(&|g| g.edges.push(("input".into(), "lif_3".into())));
    assert!(matches!(e, ImportError::NotAChain(_)), "{e}");
    let e = import_error(&|g| {
        let weight = vec![0.0; 30 * 4];
        g.nodes.insert(
            "linear_1".into(),
            bss2_host::interop::nir::Node::Affine { shape: [30, 4], weight, bias: vec![0.5; 30] },
        );
    });
    assert!(e.to_string().contains("node linear_1: a bias"), "{e}");
    let e = import_error(&|g| {
        g.nodes.insert("linear_3".into(), bss2_host::interop::nir::Node::Linear { shape: [0, 30], weight: vec![] });
        if let Some(bss2_host::interop::nir::Node::CubaLif(lif)) = g.nodes.get_mut("lif_3") {
            for field in [&mut lif.tau_syn, &mut lif.tau_mem, &mut lif.r, &mut lif.v_leak, &mut lif.v_threshold] {
                field.clear();
            }
        }
    });
    assert!(e.to_string().contains("node linear_3: a Linear without outputs"), "{e}");
}

#[test]
fn export_and_import_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("wa.nir");
    let out = bss2()
        .args(["-q", "export"])
        .arg(Path::new(RUNS).join("yin_yang_H30_WA"))
        .arg("--nir")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tmp.path().join("imported");
    let out = bss2().args(["-q", "import"]).arg(&file).arg("--out").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bss2().args(["-q", "inference"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("test accuracy 97.50% (975/1000)"), "{stdout}");
    // The imported network trains on: `train --init` starts from it (epoch 0's validation accuracy is its own).
    let run = tmp.path().join("trained");
    let out = bss2()
        .args(["-q", "train"])
        .arg(dir.join("config.yaml"))
        .arg("--init")
        .arg(dir.join("epoch_0/network.safetensors"))
        .args(["--epochs", "1", "--output"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bss2().args(["-q", "inference"]).arg(&dir).args(["--split", "val"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = stdout.find("accuracy ").unwrap() + "accuracy ".len();
    let val: f64 = stdout[at..].split('%').next().unwrap().parse().unwrap();
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "val_accuracy").unwrap();
    let epoch0: f64 = metrics.lines().nth(1).unwrap().split(',').nth(column).unwrap().parse().unwrap();
    assert!((100.0 * epoch0 - val).abs() < 0.006, "epoch 0 {epoch0} vs the imported network's {val} %");
    // Importing into a run again is refused; a file that is not NIR gives a clear error.
    let again = bss2().args(["-q", "import"]).arg(&file).arg("--out").arg(&dir).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
    let bad = tmp.path().join("bad.nir");
    std::fs::write(&bad, b"not hdf5 at all").unwrap();
    let out = bss2().args(["-q", "import"]).arg(&bad).arg("--out").arg(tmp.path().join("x")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("bad.nir") && stderr.contains("not a readable HDF5 file"),
        "{stderr}"
    );
    let bytes = std::fs::read(&file).unwrap();
    // Truncated files: an error (or, where only unused trailing bytes are cut, the same import), never a panic.
    for (k, cut) in [100, bytes.len() / 2, bytes.len() - 10].into_iter().enumerate() {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        let target = tmp.path().join(format!("cut{k}"));
        let out = bss2().args(["-q", "import"]).arg(&bad).arg("--out").arg(&target).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "cut {cut}: {stderr}");
        if cut < bytes.len() / 2 + 1 {
            assert!(!out.status.success(), "cut {cut}: accepted");
        } else if out.status.success() {
            let same = std::fs::read(target.join("epoch_0/network.safetensors")).unwrap();
            assert_eq!(same, std::fs::read(dir.join("epoch_0/network.safetensors")).unwrap(), "cut {cut}");
        }
    }
    // A synaptic-delay network is refused by the command with the layer named.
    let out = bss2()
        .args(["-q", "export"])
        .arg(Path::new(RUNS).join("yin_yang_H30_WS"))
        .arg("--nir")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("layer 0 (DelaySynaptic)"), "{stderr}");
}

/// Exported in seconds (the BrainScaleS-2 scale, 6 us per model unit), the graph's times are the model's times
/// 6e-6 and import divides them back: equal to the last digits, not bit for bit (multiplying by 6e-6 rounds).
#[test]
fn a_graph_in_seconds_imports_to_the_same_network() {
    let (config, network) = reference("yin_yang_H30_WA");
    let graph = to_graph(&network, 6e-6).unwrap();
    let Some(bss2_host::interop::nir::Node::CubaLif(lif)) = graph.nodes.get("lif_1") else { panic!("no lif_1") };
    assert_eq!((lif.tau_syn[0], lif.tau_mem[0], lif.w_in[0]), (6e-6, 12e-6, 6e-6));
    let (_, back) = from_graph(&Graph::from_hdf5(graph.to_hdf5().unwrap()).unwrap(), &config).unwrap();
    for ((kind, want), (_, got)) in computed(&network).iter().zip(computed(&back)) {
        for (w, g) in want.iter().zip(&got) {
            assert!((w - g).abs() <= 4.0 * f64::EPSILON * w.abs(), "{kind}: {g} vs {w}");
        }
    }
}

/// Metadata that no longer matches the Delay node (edited by hand or by another tool) is not trusted: the
/// delays come in as the node gives them, with positivity clip.
#[test]
fn inconsistent_delay_metadata_falls_back_to_the_node() {
    let (config, network) = reference("yin_yang_H30_WA");
    let mut graph = to_graph(&network, 1.0).unwrap();
    if let Some(bss2_host::interop::nir::Meta::Numbers(raw)) = graph.metadata.get_mut("bss2.delay_0.raw") {
        raw[0] += 1.0;
    }
    let (_, back) = from_graph(&graph, &config).unwrap();
    let Layer::Delay(d) = &back.layers[0] else { panic!("layer 0 is not a delay layer") };
    assert_eq!(d.config.positivity, bss2_host::config::Positivity::Clip);
    let Layer::Delay(original) = &network.layers[0] else { panic!("layer 0 is not a delay layer") };
    assert_eq!(d.effective().data, original.effective().data);
}
