//! The reference implementation's results folders as it ships them (`../shared/data/reference-runs/`: config.yaml
//! and `epoch_300/yin_yang_network.pt`, a pickled PyTorch module): read unchanged by `bss2 inference` and
//! `bss2 convert`, reproducing the stored test outputs; hostile and broken `.pt` files refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use bss2_host::data::Split;
use bss2_host::forward::Placement;
use bss2_host::inference;
use bss2_host::interop::ReferenceRun;
use bss2_host::interop::pt::PtFile;
use bss2_host::network::Layer;
use bss2_host::train::run_dir::RunDir;

mod common;

const RUNS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/reference-runs");

/// Deterministic networks: trained and evaluated without noise, in simulation.
const DETERMINISTIC: &[&str] = &["yin_yang_H30_W", "yin_yang_H30_WA", "yin_yang_H30_WS", "yin_yang_H5_WS"];

/// Trained in simulation with the hardware noise model (and evaluated with fresh noise): the stored outputs carry
/// noise, so only the accuracy is compared, within this many test samples (of 1000).
const NOISY: &[(&str, usize)] = &[("yin_yang_hwAware_W", 25), ("yin_yang_hwAware_WA", 25)];

/// Trained in the loop on a real BrainScaleS-2 chip: the stored outputs are that chip's measurements.
const CHIP_TRAINED: &[&str] = &["yin_yang_hxpynn", "yin_yang_hxpynn_W"];

fn bss2() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bss2-e2e"))
}

/// A copy of a shipped folder (inference writes its outputs next to the network).
fn copy_run(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_tree(&Path::new(RUNS).join(name), &dir);
    (tmp, dir)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The stored test outputs and labels of a shipped folder.
fn stored_outputs(dir: &Path) -> (Vec<usize>, Vec<f64>, Vec<i64>) {
    let (shape, times) = common::read_npy_f64(&dir.join("epoch_300/yin_yang_test_spiketimes.npy"));
    let bytes = std::fs::read(dir.join("epoch_300/yin_yang_test_labels.npy")).unwrap();
    let labels = npyz::NpyFile::new(bytes.as_slice()).unwrap().into_vec::<i64>().unwrap();
    (shape, times, labels)
}

/// Correct predictions: the earliest output spike (first index on ties, no spike = never).
fn correct(times: &[f64], labels: &[i64]) -> usize {
    let k = times.len() / labels.len();
    times
        .chunks(k)
        .zip(labels)
        .filter(|(row, label)| {
            let first = (0..k).fold(0, |best, j| if row[j] < row[best] { j } else { best });
            row[first].is_finite() && first as i64 == **label
        })
        .count()
}

#[test]
fn shipped_folders_reproduce_their_stored_test_outputs() {
    for name in DETERMINISTIC {
        let (_tmp, dir) = copy_run(name);
        let (result, _) = inference::run(&RunDir::new(&dir), None, Split::Test, Placement::Simulation)
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(result.epoch, 300);
        let (shape, want, labels) = stored_outputs(&dir);
        let (got_shape, got) = common::read_npy_f64(&result.outputs_path);
        assert_eq!(got_shape, shape, "{name}");
        let mut worst = 0.0f64;
        for (g, w) in got.iter().zip(&want) {
            if w.is_infinite() {
                assert_eq!(g, w, "{name}: a spike where the reference has none");
            } else {
                worst = worst.max((g - w).abs() / w.abs());
            }
        }
        assert!(worst < 1e-9, "{name}: largest relative deviation {worst:e}");
        assert_eq!(result.correct, correct(&want, &labels), "{name}: accuracy {}", result.accuracy);
        eprintln!("{name}: accuracy {}, largest relative deviation {worst:e}", result.accuracy);
    }
}

#[test]
fn noisy_folders_keep_their_accuracy() {
    for (name, tolerance) in NOISY {
        let (_tmp, dir) = copy_run(name);
        let (result, _) = inference::run(&RunDir::new(&dir), Some(300), Split::Test, Placement::Simulation)
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let (_, want, labels) = stored_outputs(&dir);
        let stored = correct(&want, &labels);
        eprintln!("{name}: {} correct in simulation, {stored} stored", result.correct);
        assert!(result.correct.abs_diff(stored) <= *tolerance, "{name}: {} vs stored {stored}", result.correct);
    }
}

/// The networks trained on a real chip run in simulation on exactly the inputs the chip received (the stored
/// `test_inputs.npy`: the Yin-Yang coordinates tiled 5 times); their outputs follow the chip's measurements
/// only loosely, because in-the-loop training adapted the weights to that chip's fixed-pattern deviations,
/// which the simulation does not have (measured: 63.6 % and 72.2 % in simulation against the chip's 92.6 % and
/// 84.9 %).
#[test]
fn chip_trained_folders_run_on_the_inputs_the_chip_received() {
    for name in CHIP_TRAINED {
        let (_tmp, dir) = copy_run(name);
        let inputs = dir.join("our_inputs.npy");
        let mut command = bss2();
        command.args(["-q", "data"]).arg(dir.join("config.yaml")).args(["--split", "test", "--out"]).arg(&inputs);
        let out = command.output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let ours = common::read_npy_f64(&inputs);
        let chip = common::read_npy_f64(&dir.join("epoch_300/yin_yang_test_inputs.npy"));
        assert_eq!(ours.0, chip.0, "{name}");
        for (a, b) in ours.1.iter().zip(&chip.1) {
            assert!((a - b).abs() <= 1e-12, "{name}: input {a} vs the chip's {b}");
        }
        let (result, _) = inference::run(&RunDir::new(&dir), Some(300), Split::Test, Placement::Simulation)
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let (_, measured, labels) = stored_outputs(&dir);
        let (_, simulated) = common::read_npy_f64(&result.outputs_path);
        let k = labels.len();
        let agree = correct(&simulated, &predictions(&measured, k));
        eprintln!(
            "{name}: {} correct in simulation, {} on the chip; the same class as the chip for {agree}",
            result.correct,
            correct(&measured, &labels)
        );
        assert!(result.correct > 600 && agree > 600, "{name}: {} correct, {agree} agree with the chip", result.correct);
    }
}

/// The class each row's earliest output names.
fn predictions(times: &[f64], samples: usize) -> Vec<i64> {
    let k = times.len() / samples;
    times.chunks(k).map(|row| (0..k).fold(0, |best, j| if row[j] < row[best] { j } else { best }) as i64).collect()
}

/// The tensors read from every `.pt` file equal what torch itself reads from it (`state_dict()` and the
/// threshold offsets, dumped by `scripts/dump_reference_state_dicts.py`), bit for bit; the network built from
/// them holds exactly those values.
#[test]
fn parameters_equal_torchs_state_dict() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../host/tests/data/reference/reference-runs-state-dicts.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let networks = doc["networks"].as_object().unwrap();
    assert_eq!(networks.len(), 8);
    for (name, want) in networks {
        let dir = Path::new(RUNS).join(name);
        let pt = PtFile::open(&dir.join("epoch_300/yin_yang_network.pt")).unwrap();
        let values = |v: &serde_json::Value| -> Vec<f64> {
            v["values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
        };
        let state = pt.state_dict().unwrap();
        let torch_names: Vec<&String> =
            want.as_object().unwrap().keys().filter(|k| !k.contains("neuron_params")).collect();
        let our_names: Vec<&String> = state.iter().map(|(n, _)| n).collect();
        assert_eq!(our_names, torch_names, "{name}");
        for (tensor_name, tensor) in &state {
            let shape: Vec<usize> =
                want[tensor_name]["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            assert_eq!(tensor.shape, shape, "{name} {tensor_name}");
            assert_eq!(pt.values_f64(tensor).unwrap(), values(&want[tensor_name]), "{name} {tensor_name}");
        }
        let read = ReferenceRun::detect(&dir).unwrap().load(Some(300)).unwrap();
        let mut layers = 0;
        for (i, layer) in read.network.layers.iter().enumerate() {
            match layer {
                Layer::Neuron(n) => {
                    assert_eq!(n.weights.data, values(&want[format!("layers.{i}.weights")]), "{name} {i}");
                    let fp = &want[format!("layers.{i}.neuron_params.threshold_noise_fp")];
                    assert_eq!(n.threshold_offsets, values(fp), "{name} {i}");
                    layers += 1;
                }
                Layer::Delay(d) => {
                    let raw = values(&want[format!("layers.{i}._delay_parameters")]);
                    // Tiled sharing is read expanded: row p is the file's row p mod its rows.
                    let per_row = d.raw.cols;
                    let rows = raw.len() / per_row;
                    for p in 0..d.raw.rows {
                        let (got, want) =
                            (&d.raw.data[p * per_row..][..per_row], &raw[(p % rows) * per_row..][..per_row]);
                        assert_eq!(got, want, "{name} layer {i} row {p}");
                    }
                    layers += 1;
                }
                _ => {}
            }
        }
        assert!(layers >= 2, "{name}");
    }
}

/// The effective delays equal the reference's own dump (`pretrained-networks.json`, the delays after its
/// positivity function and sharing, as its forward pass applies them).
#[test]
fn effective_delays_equal_the_reference_dump() {
    let doc = common::fixture();
    for name in ["yin_yang_H30_WA", "yin_yang_H30_WS", "yin_yang_H5_WS", "yin_yang_hwAware_WA"] {
        let read = ReferenceRun::detect(&Path::new(RUNS).join(name)).expect(name).load(Some(300)).unwrap();
        for (i, layer) in doc[name]["layers"].as_array().unwrap().iter().enumerate() {
            if let (Layer::Delay(d), Some(eff)) = (&read.network.layers[i], layer.get("effective_delays")) {
                let (shape, want) = common::flat(eff);
                let got = d.effective();
                assert_eq!(vec![got.rows, got.cols], shape, "{name} layer {i}");
                for (g, w) in got.data.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-15, "{name} layer {i}: delay {g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn tiled_delay_sharing_is_read_as_the_reference_applies_it() {
    let read = ReferenceRun::detect(&Path::new(RUNS).join("yin_yang_hwAware_WA")).unwrap().load(None).unwrap();
    assert_eq!(read.expanded_sharing, vec![1]);
    let Layer::Delay(d) = &read.network.layers[1] else { panic!("layer 1 is not a delay layer") };
    assert_eq!((d.raw.rows, d.config.presyn_sharing_factor), (20, 1));
    // Input p (copy p % 5 of feature p / 5 after Multiplex) uses raw row p mod 4, as the reference tiles it.
    for p in 0..20 {
        assert_eq!(d.raw.data[p], d.raw.data[p % 4], "input {p}");
    }
    assert!(read.config.to_yaml().contains("presyn_sharing_factor: 1"));
}

#[test]
fn inference_command_with_a_positional_epoch() {
    let (_tmp, dir) = copy_run("yin_yang_H30_WA");
    let out = bss2().args(["-q", "inference"]).arg(&dir).arg("300").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The reference's CI expects exactly 97.50 % for this folder.
    assert!(stdout.contains("test accuracy 97.50% (975/1000)"), "{stdout}");
    // A chip-trained folder runs on the emulator when asked.
    let (_tmp, dir) = copy_run("yin_yang_hxpynn_W");
    let out = bss2().args(["-q", "inference"]).arg(&dir).args(["--substrate", "sim"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn convert_writes_one_of_our_folders_with_the_same_tensors() {
    let (_tmp, dir) = copy_run("yin_yang_H30_WS");
    let out_dir = dir.parent().unwrap().join("converted");
    let out = bss2().args(["-q", "convert"]).arg(&dir).arg("--out").arg(&out_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let converted = RunDir::new(&out_dir);
    assert_eq!(converted.saved_epochs(), vec![300]);
    let ours = inference::load_saved(&converted, None).unwrap();
    let theirs = inference::load_saved(&RunDir::new(&dir), None).unwrap();
    assert_eq!(ours.2, theirs.2, "the converted network is the one read from the .pt");
    let (a, _) = inference::run(&converted, None, Split::Test, Placement::Simulation).unwrap();
    let (b, _) = inference::run(&RunDir::new(&dir), None, Split::Test, Placement::Simulation).unwrap();
    assert_eq!(common::read_npy_f64(&a.outputs_path), common::read_npy_f64(&b.outputs_path));
    // Converting again into the same folder is refused rather than overwriting a run.
    let again = bss2().args(["-q", "convert"]).arg(&dir).arg("--out").arg(&out_dir).output().unwrap();
    assert!(!again.status.success());
}

/// A ZIP archive laid out as torch.save writes it, with `pickle` as data.pkl (stored entries).
fn pt_with_pickle(path: &Path, pickle: &[u8]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", stored).unwrap();
    zip.write_all(pickle).unwrap();
    zip.start_file("archive/byteorder", stored).unwrap();
    zip.write_all(b"little").unwrap();
    zip.finish().unwrap();
}

#[test]
fn hostile_and_broken_pt_files_are_refused() {
    let (_tmp, dir) = copy_run("yin_yang_H30_W");
    let network = dir.join("epoch_300/yin_yang_network.pt");
    let marker = dir.join("pwned");
    let run = |what: &str| {
        let out = bss2().args(["-q", "inference"]).arg(&dir).arg("300").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{what}: accepted");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        stderr
    };
    // os.system('touch <marker>'), protocol 2.
    let command = format!("touch {}", marker.display());
    let mut pickle = b"\x80\x02cos\nsystem\nq\x00X".to_vec();
    pickle.extend((command.len() as u32).to_le_bytes());
    pickle.extend(command.as_bytes());
    pickle.extend(b"\x85R.");
    pt_with_pickle(&network, &pickle);
    let stderr = run("os.system");
    assert!(stderr.contains("refuses the global os.system"), "{stderr}");
    assert!(!marker.exists(), "the pickle's command ran");
    // The same call hidden behind an allowed-looking module path is refused too.
    pt_with_pickle(&network, b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1q\x00\x85R.");
    assert!(run("builtins.eval").contains("refuses the global builtins.eval"));

    let original = std::fs::read(Path::new(RUNS).join("yin_yang_H30_W/epoch_300/yin_yang_network.pt")).unwrap();
    for cut in [10, original.len() / 3, original.len() - 30] {
        std::fs::write(&network, &original[..cut]).unwrap();
        let stderr = run(&format!("truncated at {cut}"));
        assert!(stderr.contains("yin_yang_network.pt"), "{stderr}");
    }
    std::fs::write(&network, b"this is not a zip archive").unwrap();
    assert!(run("not a zip").contains("not a PyTorch file"));
}

#[test]
fn eval_plots_a_shipped_folder_with_its_validation_curve() {
    let (_tmp, dir) = copy_run("yin_yang_H30_WA");
    let out = bss2().args(["-q", "eval"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("epoch 300:") && stdout.contains("test accuracy 97.50%"), "{stdout}");
    let curves = std::fs::read_to_string(dir.join("epoch_300/plots/curves.csv")).unwrap();
    // Epochs 0..=300 from yin_yang_val_accuracies.npy; the last row's validation accuracy is the file's.
    assert_eq!(curves.lines().count(), 1 + 301, "{}", &curves[..200]);
    let (_, accuracies) = common::read_npy_f64(&dir.join("epoch_300/yin_yang_val_accuracies.npy"));
    let header: Vec<&str> = curves.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "val_accuracy").unwrap();
    let last: f64 = curves.lines().last().unwrap().split(',').nth(column).unwrap().parse().unwrap();
    assert_eq!(last, accuracies[300]);
}
