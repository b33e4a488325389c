//! Experiment configs: every shipped config loads with the facts the spec (§16) lists, round-trips through
//! `to_yaml` and takes overrides; broken variants of a valid config are rejected with an error naming the exact
//! key path and the problem; legacy keys the reference ignores are accepted; and the `bss2` binary turns a bad
//! config into one error line and exit status 1 without touching the output folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use bss2_host::config::{
    Config, ConfigError, DelayKind, LayerKind, LayerSpec, LossKind, NeuronLayerConfig, OptimizerConfig, Overrides,
    Positivity, SchedulerConfig,
};
use bss2_host::model::TauRatio;
use bss2_host::text::chain;
use yaml_serde::Value;

const CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs");
/// The config every broken variant starts from.
const BASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/yin_yang_H30_WS.yaml");

fn base_text() -> String {
    std::fs::read_to_string(BASE).unwrap()
}

fn base_config() -> Config {
    Config::load(Path::new(BASE)).unwrap()
}

fn yaml(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap_or_else(|e| panic!("bad YAML in the test itself: {text}: {e}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Editing a parsed document by key path (`network_layout.layers[1].size`).
// ---------------------------------------------------------------------------------------------------------------

/// Splits `a.b[2].c` into segments: keys and list indices.
fn segments(path: &str) -> Vec<Result<String, usize>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut pieces = part.split('[');
        let key = pieces.next().unwrap();
        if !key.is_empty() {
            out.push(Ok(key.to_string()));
        }
        for index in pieces {
            out.push(Err(index.trim_end_matches(']').parse().unwrap()));
        }
    }
    out
}

/// The value at the key path `segs` (of `path`), which must exist; a missing key in a mapping is created as null.
fn at_segments<'a>(doc: &'a mut Value, segs: &[Result<String, usize>], path: &str) -> &'a mut Value {
    let mut v = doc;
    for seg in segs {
        v = match seg {
            Ok(key) => {
                let map = v.as_mapping_mut().unwrap_or_else(|| panic!("{path}: {key} is not inside a mapping"));
                map.entry(Value::from(key.as_str())).or_insert(Value::Null)
            }
            Err(i) => {
                let seq = v.as_sequence_mut().unwrap_or_else(|| panic!("{path}: [{i}] is not inside a list"));
                assert!(*i < seq.len(), "{path}: index {i} out of range");
                &mut seq[*i]
            }
        };
    }
    v
}

fn at<'a>(doc: &'a mut Value, path: &str) -> &'a mut Value {
    at_segments(doc, &segments(path), path)
}

/// An edit of the base config.
#[derive(Clone, Copy, Debug)]
enum Edit {
    /// Set (or add) the key at a path to a YAML value.
    Set(&'static str, &'static str),
    /// Remove the key (or list item) at a path.
    Remove(&'static str),
    /// Append a YAML value to the list at a path.
    Push(&'static str, &'static str),
    /// Insert a YAML value into the list at a path, before the given index.
    Insert(&'static str, usize, &'static str),
    /// Replace the one occurrence of a string in the source text (applied before any other edit).
    Text(&'static str, &'static str),
}

use Edit::{Insert, Push, Remove, Set, Text};

fn apply_edits(edits: &[Edit]) -> String {
    let mut text = base_text();
    for edit in edits {
        if let Edit::Text(from, to) = edit {
            assert_eq!(text.matches(from).count(), 1, "{from:?} must occur exactly once in the base config");
            text = text.replacen(from, to, 1);
        }
    }
    let mut doc: Value = yaml_serde::from_str(&text).unwrap();
    for edit in edits {
        match *edit {
            Edit::Set(path, value) => *at(&mut doc, path) = yaml(value),
            Edit::Remove(path) => {
                let mut segs = segments(path);
                let last = segs.pop().unwrap();
                let parent = at_segments(&mut doc, &segs, path);
                match last {
                    Ok(key) => {
                        let removed = parent.as_mapping_mut().unwrap().shift_remove(key.as_str());
                        assert!(removed.is_some(), "{path} is not in the base config");
                    }
                    Err(i) => {
                        parent.as_sequence_mut().unwrap().remove(i);
                    }
                }
            }
            Edit::Push(path, value) => at(&mut doc, path).as_sequence_mut().unwrap().push(yaml(value)),
            Edit::Insert(path, i, value) => at(&mut doc, path).as_sequence_mut().unwrap().insert(i, yaml(value)),
            Edit::Text(..) => {}
        }
    }
    yaml_serde::to_string(&doc).unwrap()
}

/// The base config with `edits` applied, parsed.
fn parse_edited(edits: &[Edit]) -> Result<Config, ConfigError> {
    Config::parse_str(&apply_edits(edits))
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The shipped configs.
// ---------------------------------------------------------------------------------------------------------------

/// Points MNIST at the committed fixture: the MNIST configs need the four IDX files to load, and the fixture has
/// them (16 images each).
fn use_mnist_fixture() {
    bss2_host::data::mnist::set_data_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mnist"));
}

fn shipped_configs() -> Vec<PathBuf> {
    use_mnist_fixture();
    let mut files: Vec<PathBuf> = std::fs::read_dir(CONFIG_DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no configs in {CONFIG_DIR}");
    files
}

fn layer_names(layers: &[LayerSpec]) -> Vec<&'static str> {
    layers
        .iter()
        .map(|l| match &l.kind {
            LayerKind::Broadcast => "BroadcastLayer",
            LayerKind::Delay(d) => d.kind.name(),
            LayerKind::Neuron(_) => "NeuronLayer",
            LayerKind::Biases { .. } => "Biases",
            LayerKind::Multiplex { .. } => "Multiplex",
        })
        .collect()
}

fn neurons(config: &Config) -> Vec<&NeuronLayerConfig> {
    config
        .layout
        .layers
        .iter()
        .filter_map(|l| match &l.kind {
            LayerKind::Neuron(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// What spec §16 says about each shipped config.
struct Expected {
    layers: &'static [&'static str],
    sizes: &'static [usize],
    /// Learning rates of the NeuronLayers (None: global).
    weight_lr: Option<f64>,
    weights_mean: [f64; 2],
    ratio: TauRatio,
    delta_t: f64,
    batch: [usize; 2],
    epochs: usize,
    snapshots: &'static [usize],
    /// rounding_precision and clip_weights_max.
    hw_aware: bool,
}

const WS: &[&str] = &["DelaySynaptic", "NeuronLayer", "DelaySynaptic", "NeuronLayer"];
const SIM_COMMON: Expected = Expected {
    layers: WS,
    sizes: &[30, 3],
    weight_lr: Some(0.01),
    weights_mean: [1.0, 1.0],
    ratio: TauRatio::Two,
    delta_t: 0.2,
    batch: [150, 200],
    epochs: 300,
    snapshots: &[300],
    hw_aware: false,
};

fn expected(file: &str) -> Option<Expected> {
    Some(match file {
        "yin_yang.yaml" | "yin_yang_H30_WS.yaml" => SIM_COMMON,
        "yin_yang_H5_WS.yaml" => Expected { sizes: &[5, 3], weight_lr: Some(0.015), ..SIM_COMMON },
        "yin_yang_H30_WA.yaml" => Expected {
            layers: &["DelayAxonal", "NeuronLayer", "DelayAxonal", "NeuronLayer"],
            weight_lr: Some(0.005),
            ..SIM_COMMON
        },
        "yin_yang_H30_W.yaml" => Expected {
            layers: &["BroadcastLayer", "NeuronLayer", "BroadcastLayer", "NeuronLayer"],
            weight_lr: Some(0.02),
            weights_mean: [0.5, 0.5],
            ..SIM_COMMON
        },
        "yin_yang_chipready_W.yaml" => Expected {
            layers: &["Multiplex", "BroadcastLayer", "NeuronLayer", "BroadcastLayer", "NeuronLayer"],
            sizes: &[30, 3],
            weight_lr: None,
            weights_mean: [1.0, 0.075],
            ratio: TauRatio::One,
            delta_t: 0.3,
            batch: [40, 200],
            epochs: 200,
            snapshots: &[20, 50, 100, 200],
            hw_aware: true,
        },
        "yin_yang_hwAware.yaml" => Expected {
            layers: &["Multiplex", "DelayAxonal", "NeuronLayer", "DelayAxonal", "NeuronLayer"],
            sizes: &[30, 3],
            weight_lr: None,
            weights_mean: [1.0, 0.075],
            ratio: TauRatio::One,
            delta_t: 0.3,
            batch: [40, 200],
            epochs: 300,
            snapshots: &[20, 50, 100, 200, 300],
            hw_aware: true,
        },
        _ => return None,
    })
}

/// Facts every valid config has, whatever it is.
fn check_generic(name: &str, config: &Config) {
    let layers = &config.layout.layers;
    assert!(!layers.is_empty(), "{name}");
    assert_eq!(config.layout.n_inputs, config.dataset.n_inputs(), "{name}");
    assert_eq!(layers[0].feat_in, [config.layout.n_inputs, 1], "{name}");
    for pair in layers.windows(2) {
        assert_eq!(pair[1].feat_in, pair[0].feat_out, "{name}: {} -> {}", pair[0].path, pair[1].path);
    }
    for (i, layer) in layers.iter().enumerate() {
        assert_eq!(layer.path, format!("network_layout.layers[{i}]"), "{name}");
    }
    assert!(matches!(layers.last().unwrap().kind, LayerKind::Neuron(_)), "{name}: last layer");
    assert_eq!(config.layout.n_outputs(), config.dataset.n_classes(), "{name}");
    if !name.contains("mnist") {
        assert_eq!(config.dataset.name(), "yin_yang", "{name}");
    }
}

/// Facts of the configs under the reference's names: its seeds, optimiser, schedule, bumping, loss family.
fn check_reference_family(name: &str, config: &Config) {
    assert_eq!(config.training.substrate.to_string(), "sim", "{name}");
    assert_eq!(config.training.seed, 2000, "{name}");
    assert_eq!(config.training.numpy_seed, Some(12345), "{name}");
    assert_eq!(config.training.optimizer, OptimizerConfig::Adam, "{name}");
    assert_eq!(config.training.lr_scheduler, Some(SchedulerConfig::Step { step_size: 20, gamma: 0.95 }), "{name}");
    assert_eq!(config.training.training_noise, None, "{name}");
    assert_eq!(config.training.integrator, None, "{name}");
    assert!(config.training.loss.regularisers.is_empty(), "{name}");
    let bump = config.training.bumping;
    assert_eq!((bump.value, bump.exponential, bump.targeted), (0.0005, true, true), "{name}");
    for n in neurons(config) {
        assert_eq!(n.neuron.max_dw_norm, Some(0.2), "{name}");
        let p = n.neuron.params;
        assert_eq!(p.g_leak, p.tau_syn / p.tau_mem, "{name}: g_leak = tau_syn / tau_mem in simulation");
        assert!(n.trainable && n.monitor, "{name}");
    }
}

#[test]
fn the_chip_config_is_the_fast_and_deep_chip_setup() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/yin_yang_chip.yaml");
    let config = Config::load(&path).unwrap();
    check_generic("yin_yang_chip.yaml", &config);
    assert_eq!(config.training.substrate.to_string(), "emulator");
    assert_eq!(config.training.chip_seed, 1);
    assert_eq!(
        layer_names(&config.layout.layers),
        ["Biases", "Multiplex", "BroadcastLayer", "NeuronLayer", "BroadcastLayer", "NeuronLayer"]
    );
    let ns = neurons(&config);
    assert!(ns[0].size <= 120, "at most 120 hidden neurons");
    // The chip's weight range and grid, and its neuron model (tau_mem = tau_syn, threshold 2.6).
    assert_eq!(config.training.clip_weights_max, Some(2.1));
    assert_eq!(config.training.rounding_precision, Some(1.0 / 30.0));
    for n in &ns {
        let p = n.neuron.params;
        assert_eq!((p.tau_mem, p.tau_syn, p.threshold, p.leak), (1.0, 1.0, 2.6, 0.0));
    }
}

#[test]
fn every_shipped_config_loads_with_the_documented_facts() {
    let files = shipped_configs();
    let mut checked = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let config = Config::load(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Loading a file and parsing its text agree.
        assert_eq!(config, Config::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap(), "{name}");
        check_generic(name, &config);

        let Some(exp) = expected(name) else { continue };
        check_reference_family(name, &config);
        checked += 1;
        assert_eq!(layer_names(&config.layout.layers), exp.layers, "{name}");
        let ns = neurons(&config);
        assert_eq!(ns.iter().map(|n| n.size).collect::<Vec<_>>(), exp.sizes, "{name}");
        assert_eq!(ns.iter().map(|n| n.weights_mean).collect::<Vec<_>>(), exp.weights_mean, "{name}");
        for n in &ns {
            assert_eq!(n.learning_rate, exp.weight_lr, "{name}");
            assert_eq!(n.neuron.params.ratio, exp.ratio, "{name}");
        }
        assert_eq!(ns[0].max_num_missing_spikes, if exp.hw_aware { 0.05 } else { 0.3 }, "{name}");
        assert_eq!(config.layout.n_inputs, 4, "{name}");
        assert_eq!(config.layout.n_outputs(), 3, "{name}");
        assert_eq!(config.training.loss.kind, LossKind::ShiftInvariantMse { delta_t: exp.delta_t }, "{name}");
        assert_eq!([config.training.batch_size, config.training.batch_size_eval], exp.batch, "{name}");
        assert_eq!(config.training.epoch_number, exp.epochs, "{name}");
        assert_eq!(config.training.epoch_snapshots, exp.snapshots, "{name}");
        if exp.hw_aware {
            assert_eq!(config.training.clip_weights_max, Some(2.1), "{name}");
            assert_eq!(config.training.rounding_precision, Some(1.0 / 30.0), "{name}");
            assert_eq!(config.training.learning_rate, 0.002, "{name}");
            // Multiplex x5 makes 20 inputs, each seen by the 30 hidden neurons.
            assert_eq!(config.layout.layers[0].kind, LayerKind::Multiplex { factor: 5 }, "{name}");
            assert_eq!(config.layout.layers[1].feat_out, [20, 30], "{name}");
            assert_eq!(config.layout.layers[2].feat_in, [20, 30], "{name}");
            assert_eq!(ns[0].neuron.params.threshold, 2.6, "{name}");
        } else {
            assert_eq!(config.training.clip_weights_max, None, "{name}");
            assert_eq!(config.training.rounding_precision, None, "{name}");
            assert_eq!(config.training.learning_rate, 0.005, "{name}");
            assert_eq!(config.layout.layers[0].feat_out, [4, exp.sizes[0]], "{name}");
            assert_eq!(config.layout.layers[2].feat_out, [exp.sizes[0], 3], "{name}");
        }
    }
    assert!(checked >= 6, "only {checked} of the known configs were found in {CONFIG_DIR}");
}

#[test]
fn delay_layers_of_the_shipped_configs() {
    let ws = base_config();
    let LayerKind::Delay(d) = &ws.layout.layers[0].kind else { panic!("layer 0 of H30_WS is not a delay layer") };
    assert_eq!(d.kind, DelayKind::Synaptic);
    assert_eq!((d.delay_mean, d.delay_std), (0.0, 0.25));
    assert_eq!(d.positivity, Positivity::Sigmoid { shift: 0.0, scale: 1.0 });
    assert_eq!(d.learning_rate, Some(0.003));
    assert_eq!((d.presyn_sharing_factor, d.postsyn_sharing_factor), (1, 1));
    assert!(d.trainable && d.monitor);
    assert_eq!(d.jitter, 0.0);

    let hw = Config::load(&Path::new(CONFIG_DIR).join("yin_yang_hwAware.yaml")).unwrap();
    let LayerKind::Delay(d) = &hw.layout.layers[1].kind else { panic!("layer 1 of hwAware is not a delay layer") };
    assert_eq!(d.kind, DelayKind::Axonal);
    assert_eq!(d.positivity, Positivity::Sigmoid { shift: 2.0, scale: 1.5 });
    assert_eq!((d.presyn_sharing_factor, d.delay_std, d.jitter), (5, 0.5, 0.01));
    assert_eq!(d.learning_rate, None);
    let LayerKind::Neuron(n) = &hw.layout.layers[2].kind else { panic!("layer 2 of hwAware is not a NeuronLayer") };
    assert_eq!(n.neuron.noise.fp_mean, 0.13);
    assert_eq!(n.neuron.noise.fp_std, 0.08);
    assert_eq!(n.neuron.noise.b2b_std, 0.04);
    assert_eq!(n.neuron.noise.s2s_std, 0.0);
    assert_eq!(n.neuron.params.g_leak, 1.0);
}

#[test]
fn every_shipped_config_round_trips_through_to_yaml() {
    for path in shipped_configs() {
        let name = path.display();
        let config = Config::load(&path).unwrap();
        let text = config.to_yaml();
        assert!(!text.is_empty(), "{name}");
        let again = Config::parse_str(&text).unwrap_or_else(|e| panic!("{name}: to_yaml does not re-parse: {e}"));
        assert_eq!(again, config, "{name}");
        // And a second round is a fixed point of the text.
        assert_eq!(again.to_yaml(), text, "{name}");
    }
}

#[test]
fn overrides_change_epochs_and_seeds_and_nothing_else() {
    for path in shipped_configs() {
        let name = path.display();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.with_overrides(Overrides::default()).unwrap(), config, "{name}: empty overrides");

        let o = config.with_overrides(Overrides { epochs: Some(7), seed: Some(42), ..Default::default() }).unwrap();
        assert_eq!(o.training.epoch_number, 7, "{name}");
        assert_eq!(o.training.seed, 42, "{name}");
        assert_eq!(o.training.numpy_seed, Some(42), "{name}");
        // Snapshots past the new end are dropped; the last epoch is always one.
        let mut kept: Vec<usize> = config.training.epoch_snapshots.iter().copied().filter(|&e| e < 7).collect();
        kept.push(7);
        assert_eq!(o.training.epoch_snapshots, kept, "{name}");
        assert_eq!(o.layout, config.layout, "{name}");
        assert_eq!(o.dataset, config.dataset, "{name}");
        assert_eq!(o.training.loss, config.training.loss, "{name}");
        assert_eq!(o.training.batch_size, config.training.batch_size, "{name}");
        // The overrides are in the written config.
        let text = o.to_yaml();
        assert_eq!(Config::parse_str(&text).unwrap(), o, "{name}");
        let doc = yaml(&text);
        assert_eq!(doc["training_params"]["epoch_number"].as_u64(), Some(7), "{name}");
        assert_eq!(doc["training_params"]["torch_seed"].as_u64(), Some(42), "{name}");
        assert_eq!(doc["training_params"]["numpy_seed"].as_u64(), Some(42), "{name}");

        let only_seed =
            config.with_overrides(Overrides { epochs: None, seed: Some(u64::MAX), ..Default::default() }).unwrap();
        assert_eq!(only_seed.training.seed, u64::MAX, "{name}");
        assert_eq!(only_seed.training.epoch_number, config.training.epoch_number, "{name}");
        assert_eq!(only_seed.training.epoch_snapshots, config.training.epoch_snapshots, "{name}");

        let only_epochs =
            config.with_overrides(Overrides { epochs: Some(50), seed: None, ..Default::default() }).unwrap();
        assert_eq!(only_epochs.training.epoch_number, 50, "{name}");
        assert_eq!(only_epochs.training.seed, config.training.seed, "{name}");
        assert_eq!(only_epochs.training.numpy_seed, config.training.numpy_seed, "{name}");
        assert!(only_epochs.training.epoch_snapshots.iter().all(|&e| e <= 50), "{name}");
        assert_eq!(only_epochs.training.epoch_snapshots.last(), Some(&50), "{name}");
    }
    // Snapshots that fall inside the new length are kept.
    let hw = Config::load(&Path::new(CONFIG_DIR).join("yin_yang_hwAware.yaml")).unwrap();
    let o = hw.with_overrides(Overrides { epochs: Some(60), seed: None, ..Default::default() }).unwrap();
    assert_eq!(o.training.epoch_snapshots, [20, 50, 60]);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Broken variants of yin_yang_H30_WS.yaml.
//    Its layers: [0] DelaySynaptic, [1] NeuronLayer 30, [2] DelaySynaptic, [3] NeuronLayer 3.
// ---------------------------------------------------------------------------------------------------------------

/// A broken variant: the edits, the exact key path of the error, and fragments its message must contain.
struct Case {
    name: &'static str,
    edits: &'static [Edit],
    path: &'static str,
    message: &'static [&'static str],
}

const KNOWN_TOP: &str = "known here: dataset_params, default_neuron_params, network_layout, training_params";

#[rustfmt::skip]
const CASES: &[Case] = &[
    // ---- unknown keys
    Case { name: "unknown top-level key", edits: &[Set("colour", "blue")],
        path: "colour", message: &["unknown key", KNOWN_TOP] },
    Case { name: "misspelt top-level section", edits: &[Text("training_params:", "training_param:")],
        path: "training_param", message: &["unknown key", "training_params"] },
    Case { name: "unknown key in a NeuronLayer", edits: &[Set("network_layout.layers[1].weight_mean", "1.0")],
        path: "network_layout.layers[1].weight_mean", message: &["unknown key", "weights_mean", "max_num_missing_spikes"] },
    Case { name: "NeuronLayer key in a delay layer", edits: &[Set("network_layout.layers[0].size", "30")],
        path: "network_layout.layers[0].size", message: &["unknown key", "delay_mean", "presyn_sharing_factor"] },
    Case { name: "unknown key in a BroadcastLayer",
        edits: &[Set("network_layout.layers[0]", "{name: BroadcastLayer, delay_mean: 0.0}")],
        path: "network_layout.layers[0].delay_mean", message: &["unknown key", "feat_in", "name"] },
    Case { name: "unknown key in positivity", edits: &[Set("network_layout.layers[2].positivity.slope", "2")],
        path: "network_layout.layers[2].positivity.slope", message: &["unknown key", "scale", "shift"] },
    Case { name: "unknown key in a layer's neuron_params",
        edits: &[Set("network_layout.layers[3].neuron_params", "{tau_mem: 2.0, taus: 1.0}")],
        path: "network_layout.layers[3].neuron_params.taus", message: &["unknown key", "tau_syn"] },
    Case { name: "unknown key in default_neuron_params", edits: &[Set("default_neuron_params.tau_membrane", "2.0")],
        path: "default_neuron_params.tau_membrane", message: &["unknown key", "tau_mem"] },
    Case { name: "unknown key in network_layout", edits: &[Set("network_layout.n_outputs", "3")],
        path: "network_layout.n_outputs", message: &["unknown key", "layers, n_inputs, width_pixel"] },
    Case { name: "unknown key in training_params", edits: &[Set("training_params.epochs", "3")],
        path: "training_params.epochs", message: &["unknown key", "epoch_number"] },
    Case { name: "unknown key in loss", edits: &[Set("training_params.loss.delta", "0.2")],
        path: "training_params.loss.delta", message: &["unknown key", "delta_t"] },
    Case { name: "unknown key in lr_scheduler", edits: &[Set("training_params.lr_scheduler.steps", "20")],
        path: "training_params.lr_scheduler.steps", message: &["unknown key", "step_size"] },
    Case { name: "unknown key in training_noise", edits: &[Set("training_params.training_noise", "{mean: 0.0, std: 0.3}")],
        path: "training_params.training_noise.std", message: &["unknown key", "std_dev"] },
    Case { name: "key of another data set", edits: &[Set("dataset_params.noise_level", "0.1")],
        path: "dataset_params.noise_level", message: &["unknown key", "r_small"] },
    Case { name: "unknown key in a regulariser",
        edits: &[Set("training_params.loss.regulariser", "[{type: early_output, alpha: 0.1, beta: 2.0, gamma: 1}]")],
        path: "training_params.loss.regulariser[0].gamma", message: &["unknown key", "beta"] },
    Case { name: "non-string top-level key", edits: &[Text("dataset_params:\n", "1: one\ndataset_params:\n")],
        path: "config", message: &["keys must be strings", "an integer 1"] },

    // ---- unknown names
    Case { name: "unknown layer name", edits: &[Set("network_layout.layers[2].name", "DelaySynapse")],
        path: "network_layout.layers[2].name", message: &["unknown layer \"DelaySynapse\"", "DelaySynaptic", "NeuronLayer"] },
    Case { name: "layer without a name", edits: &[Remove("network_layout.layers[1].name")],
        path: "network_layout.layers[1].name", message: &["missing required key"] },
    Case { name: "unknown positivity", edits: &[Set("network_layout.layers[0].positivity.name", "relu")],
        path: "network_layout.layers[0].positivity.name", message: &["unknown positivity \"relu\"", "sigmoid, clip or shift"] },
    Case { name: "unknown data set", edits: &[Set("dataset_params.name", "moons")],
        path: "dataset_params.name", message: &["unknown data set \"moons\"", "yin_yang"] },
    Case { name: "unknown loss type", edits: &[Set("training_params.loss.type", "cross_entropy")],
        path: "training_params.loss.type", message: &["unknown loss \"cross_entropy\"", "TTFS, MSE or shift_invariant_MSE"] },
    Case { name: "unknown regulariser",
        edits: &[Set("training_params.loss.regulariser", "[{type: l1_weights, alpha: 0.1}]")],
        path: "training_params.loss.regulariser[0].type", message: &["unknown regulariser \"l1_weights\"", "early_output or l2_delay"] },
    Case { name: "unknown scheduler", edits: &[Set("training_params.lr_scheduler.type", "CosineAnnealingLR")],
        path: "training_params.lr_scheduler.type", message: &["unknown scheduler \"CosineAnnealingLR\"", "StepLR"] },
    Case { name: "unknown optimizer", edits: &[Set("training_params.optimizer", "rmsprop")],
        path: "training_params.optimizer", message: &["unknown optimizer \"rmsprop\"", "adam or sgd"] },
    Case { name: "sgd without momentum", edits: &[Set("training_params.optimizer", "sgd"), Remove("training_params.momentum")],
        path: "training_params.momentum", message: &["missing", "required for sgd"] },
    Case { name: "sgd with null momentum", edits: &[Set("training_params.optimizer", "sgd"), Set("training_params.momentum", "null")],
        path: "training_params.momentum", message: &["missing", "required for sgd"] },
    Case { name: "sgd with negative momentum", edits: &[Set("training_params.optimizer", "sgd"), Set("training_params.momentum", "-0.9")],
        path: "training_params.momentum", message: &["must be zero or positive, found -0.9"] },

    // ---- wrong types
    Case { name: "string where an integer is expected", edits: &[Set("network_layout.layers[1].size", "abc")],
        path: "network_layout.layers[1].size", message: &["expected a non-negative integer, found the string \"abc\""] },
    Case { name: "quoted integer", edits: &[Set("network_layout.layers[1].size", "'30'")],
        path: "network_layout.layers[1].size", message: &["expected a non-negative integer, found the string \"30\""] },
    Case { name: "fractional size", edits: &[Set("network_layout.layers[1].size", "2.5")],
        path: "network_layout.layers[1].size", message: &["expected a non-negative integer, found a float 2.5"] },
    Case { name: "string where a number is expected", edits: &[Set("training_params.learning_rate", "fast")],
        path: "training_params.learning_rate", message: &["expected a finite number, found the string \"fast\""] },
    Case { name: "boolean where a number is expected", edits: &[Set("default_neuron_params.tau_syn", "true")],
        path: "default_neuron_params.tau_syn", message: &["expected a finite number, found true"] },
    Case { name: "list where a number is expected", edits: &[Set("network_layout.layers[0].delay_mean", "[0.0]")],
        path: "network_layout.layers[0].delay_mean", message: &["expected a finite number, found a list"] },
    Case { name: "NaN", edits: &[Set("default_neuron_params.threshold", ".nan")],
        path: "default_neuron_params.threshold", message: &["expected a finite number"] },
    Case { name: "list where a mapping is expected (loss)", edits: &[Set("training_params.loss", "[shift_invariant_MSE, 0.2]")],
        path: "training_params.loss", message: &["expected a mapping, found a list"] },
    Case { name: "list where a mapping is expected (section)", edits: &[Set("default_neuron_params", "[1.0, 2.0]")],
        path: "default_neuron_params", message: &["expected a mapping, found a list"] },
    Case { name: "list where a mapping is expected (layer)", edits: &[Set("network_layout.layers[1]", "[NeuronLayer, 30]")],
        path: "network_layout.layers[1]", message: &["expected a mapping, found a list"] },
    Case { name: "list where a mapping is expected (positivity)", edits: &[Set("network_layout.layers[0].positivity", "[sigmoid]")],
        path: "network_layout.layers[0].positivity", message: &["expected a mapping, found a list"] },
    Case { name: "list where a mapping is expected (neuron_params)", edits: &[Set("network_layout.layers[1].neuron_params", "[1]")],
        path: "network_layout.layers[1].neuron_params", message: &["expected a mapping, found a list"] },
    Case { name: "mapping where a list is expected", edits: &[Set("network_layout.layers", "{name: NeuronLayer}")],
        path: "network_layout.layers", message: &["expected a list, found a mapping"] },
    Case { name: "integer where a list is expected", edits: &[Set("training_params.epoch_snapshots", "5")],
        path: "training_params.epoch_snapshots", message: &["expected a list, found an integer 5"] },
    Case { name: "string in epoch_snapshots", edits: &[Set("training_params.epoch_snapshots", "[10, ten]")],
        path: "training_params.epoch_snapshots[1]", message: &["expected a non-negative integer"] },
    Case { name: "string where a boolean is expected", edits: &[Set("training_params.weight_bumping_exp", "'yes'")],
        path: "training_params.weight_bumping_exp", message: &["expected true or false, found the string \"yes\""] },
    Case { name: "integer where a boolean is expected", edits: &[Set("network_layout.layers[1].trainable", "1")],
        path: "network_layout.layers[1].trainable", message: &["expected true or false, found an integer 1"] },
    Case { name: "integer where a string is expected", edits: &[Set("training_params.optimizer", "3")],
        path: "training_params.optimizer", message: &["expected a string, found an integer 3"] },
    Case { name: "max_dw_norm true", edits: &[Set("default_neuron_params.max_dw_norm", "true")],
        path: "default_neuron_params.max_dw_norm", message: &["expected a number or false, found true"] },

    // ---- impossible values
    Case { name: "negative size", edits: &[Set("network_layout.layers[1].size", "-3")],
        path: "network_layout.layers[1].size", message: &["expected a non-negative integer, found an integer -3"] },
    Case { name: "zero size", edits: &[Set("network_layout.layers[1].size", "0")],
        path: "network_layout.layers[1].size", message: &["must be at least 1"] },
    Case { name: "zero n_inputs", edits: &[Set("network_layout.n_inputs", "0")],
        path: "network_layout.n_inputs", message: &["must be at least 1"] },
    Case { name: "batch_size 0", edits: &[Set("training_params.batch_size", "0")],
        path: "training_params.batch_size", message: &["must be at least 1"] },
    Case { name: "batch_size_eval 0", edits: &[Set("training_params.batch_size_eval", "0")],
        path: "training_params.batch_size_eval", message: &["must be at least 1"] },
    Case { name: "negative learning rate", edits: &[Set("training_params.learning_rate", "-0.005")],
        path: "training_params.learning_rate", message: &["must be zero or positive, found -0.005"] },
    Case { name: "negative layer learning rate", edits: &[Set("network_layout.layers[1].learning_rate", "-0.01")],
        path: "network_layout.layers[1].learning_rate", message: &["must be zero or positive, found -0.01"] },
    Case { name: "negative delay learning rate", edits: &[Set("network_layout.layers[2].learning_rate", "-0.003")],
        path: "network_layout.layers[2].learning_rate", message: &["must be zero or positive, found -0.003"] },
    Case { name: "negative weights_std", edits: &[Set("network_layout.layers[3].weights_std", "-1.0")],
        path: "network_layout.layers[3].weights_std", message: &["must be zero or positive, found -1"] },
    Case { name: "negative delay_std", edits: &[Set("network_layout.layers[0].delay_std", "-0.25")],
        path: "network_layout.layers[0].delay_std", message: &["must be zero or positive, found -0.25"] },
    Case { name: "negative max_num_missing_spikes", edits: &[Set("network_layout.layers[1].max_num_missing_spikes", "-0.3")],
        path: "network_layout.layers[1].max_num_missing_spikes", message: &["must be zero or positive, found -0.3"] },
    Case { name: "negative delay jitter", edits: &[Set("network_layout.layers[0].jitter", "-0.01")],
        path: "network_layout.layers[0].jitter", message: &["must be zero or positive, found -0.01"] },
    Case { name: "zero sigmoid scale", edits: &[Set("network_layout.layers[0].positivity.scale", "0.0")],
        path: "network_layout.layers[0].positivity.scale", message: &["must be positive, found 0"] },
    Case { name: "monitored but not trainable", edits: &[Set("network_layout.layers[1].trainable", "false")],
        path: "network_layout.layers[1].monitor", message: &["only trainable layers can be monitored"] },
    Case { name: "frozen delay layer monitored", edits: &[Set("network_layout.layers[0].trainable", "false")],
        path: "network_layout.layers[0].monitor", message: &["only trainable layers can be monitored"] },
    Case { name: "frozen layer with bumping",
        edits: &[Set("network_layout.layers[1].trainable", "false"), Set("network_layout.layers[1].monitor", "false")],
        path: "network_layout.layers[1].max_num_missing_spikes", message: &["must be 1", "not trainable"] },
    Case { name: "tau ratio 3 without model_tau_ratio", edits: &[Set("default_neuron_params.tau_mem", "3.0")],
        path: "default_neuron_params.tau_mem", message: &["tau_mem / tau_syn = 3", "exactly 1 or 2"] },
    Case { name: "tau ratio 3 in a layer", edits: &[Set("network_layout.layers[3].neuron_params", "{tau_mem: 3.0, g_leak: 0.3333333333333333}")],
        path: "network_layout.layers[3].neuron_params.tau_mem", message: &["tau_mem / tau_syn = 3", "exactly 1 or 2"] },
    Case { name: "model_tau_ratio neither 1 nor 2", edits: &[Set("default_neuron_params.model_tau_ratio", "3")],
        path: "default_neuron_params.model_tau_ratio", message: &["must be 1 or 2, found 3"] },
    Case { name: "model_tau_ratio mismatching tau_mem in a layer",
        edits: &[Set("network_layout.layers[1].neuron_params", "{model_tau_ratio: 1}")],
        path: "network_layout.layers[1].neuron_params.model_tau_ratio", message: &["is 1 but tau_mem / tau_syn = 2"] },
    // The value is written in default_neuron_params: the error names it there, and the first layer inheriting it.
    Case { name: "model_tau_ratio mismatching tau_mem in the defaults", edits: &[Set("default_neuron_params.model_tau_ratio", "1")],
        path: "default_neuron_params.model_tau_ratio", message: &["is 1 but tau_mem / tau_syn = 2", "as inherited by network_layout.layers[1]"] },
    Case { name: "inherited model_tau_ratio mismatching a layer's tau_mem",
        edits: &[Set("default_neuron_params.model_tau_ratio", "2"), Set("network_layout.layers[3].neuron_params", "{tau_mem: 1.0, g_leak: 1.0}")],
        path: "network_layout.layers[3].neuron_params.model_tau_ratio", message: &["is 2 but tau_mem / tau_syn = 1"] },
    Case { name: "g_leak inconsistent in simulation (layer)",
        edits: &[Set("network_layout.layers[3].neuron_params", "{g_leak: 0.25}")],
        path: "network_layout.layers[3].neuron_params.g_leak", message: &["must equal tau_syn / tau_mem = 0.5 in simulation, found 0.25"] },
    Case { name: "g_leak inconsistent in simulation (defaults)", edits: &[Set("default_neuron_params.g_leak", "0.4")],
        path: "default_neuron_params.g_leak", message: &["must equal tau_syn / tau_mem = 0.5 in simulation, found 0.4", "as inherited by network_layout.layers[1]"] },
    Case { name: "threshold below leak", edits: &[Set("default_neuron_params.threshold", "-0.5")],
        path: "default_neuron_params.threshold", message: &["must lie above the leak potential 0, found -0.5"] },
    Case { name: "threshold equal to leak", edits: &[Set("default_neuron_params.leak", "1.0")],
        path: "default_neuron_params.threshold", message: &["must lie above the leak potential 1, found 1"] },
    Case { name: "layer leak above threshold", edits: &[Set("network_layout.layers[3].neuron_params", "{leak: 2.0}")],
        path: "network_layout.layers[3].neuron_params.threshold", message: &["must lie above the leak potential 2, found 1"] },
    Case { name: "zero tau_syn", edits: &[Set("default_neuron_params.tau_syn", "0")],
        path: "default_neuron_params.tau_syn", message: &["must be a positive number, found 0"] },
    Case { name: "infinite tau_mem", edits: &[Set("default_neuron_params.tau_mem", ".inf")],
        path: "default_neuron_params.tau_mem", message: &["expected a finite number"] },
    Case { name: "zero max_dw_norm", edits: &[Set("default_neuron_params.max_dw_norm", "0.0")],
        path: "default_neuron_params.max_dw_norm", message: &["must be positive or null, found 0"] },
    Case { name: "negative threshold noise", edits: &[Set("network_layout.layers[1].neuron_params", "{threshold_noise_fp_std: -0.1}")],
        path: "network_layout.layers[1].neuron_params.threshold_noise_fp_std", message: &["must be zero or positive, found -0.1"] },
    Case { name: "zero per-layer clip", edits: &[Set("network_layout.layers[1].neuron_params", "{clip_weights_max: 0.0}")],
        path: "network_layout.layers[1].neuron_params.clip_weights_max", message: &["must be positive, found 0"] },
    Case { name: "zero global clip", edits: &[Set("training_params.clip_weights_max", "0.0")],
        path: "training_params.clip_weights_max", message: &["must be positive or false, found 0"] },
    Case { name: "negative rounding precision", edits: &[Set("training_params.rounding_precision", "-0.03")],
        path: "training_params.rounding_precision", message: &["must be positive or false, found -0.03"] },
    Case { name: "zero integrator resolution", edits: &[Set("training_params.use_forward_integrator", "true"), Set("training_params.resolution", "0.0")],
        path: "training_params.resolution", message: &["must be a positive number, found 0"] },
    Case { name: "integrator without sim_time", edits: &[Set("training_params.use_forward_integrator", "true"), Remove("training_params.sim_time")],
        path: "training_params.sim_time", message: &["missing required key"] },
    Case { name: "scheduler gamma 0", edits: &[Set("training_params.lr_scheduler.gamma", "0.0")],
        path: "training_params.lr_scheduler.gamma", message: &["must be positive, found 0"] },
    Case { name: "scheduler step_size 0", edits: &[Set("training_params.lr_scheduler.step_size", "0")],
        path: "training_params.lr_scheduler.step_size", message: &["must be at least 1"] },
    Case { name: "TTFS without xi", edits: &[Set("training_params.loss", "{type: TTFS}")],
        path: "training_params.loss.xi", message: &["missing required key"] },
    Case { name: "TTFS with xi 0", edits: &[Set("training_params.loss", "{type: TTFS, xi: 0.0}")],
        path: "training_params.loss.xi", message: &["must be a positive number, found 0"] },
    Case { name: "negative training noise", edits: &[Set("training_params.training_noise", "{mean: 0.0, std_dev: -0.3}")],
        path: "training_params.training_noise.std_dev", message: &["must be zero or positive, found -0.3"] },
    Case { name: "negative torch_seed", edits: &[Set("training_params.torch_seed", "-1")],
        path: "training_params.torch_seed", message: &["expected a non-negative integer, found an integer -1"] },
    Case { name: "quoted torch_seed", edits: &[Set("training_params.torch_seed", "'2000'")],
        path: "training_params.torch_seed", message: &["expected a non-negative integer, found the string \"2000\""] },

    // ---- layer chain
    Case { name: "presyn sharing factor does not divide", edits: &[Set("network_layout.layers[0].presyn_sharing_factor", "3")],
        path: "network_layout.layers[0].presyn_sharing_factor", message: &["3 does not divide the 4 inputs"] },
    Case { name: "postsyn sharing factor does not divide", edits: &[Set("network_layout.layers[2].postsyn_sharing_factor", "2")],
        path: "network_layout.layers[2].postsyn_sharing_factor", message: &["2 does not divide the 3 neurons"] },
    Case { name: "postsyn sharing factor does not divide the hidden layer", edits: &[Set("network_layout.layers[0].postsyn_sharing_factor", "7")],
        path: "network_layout.layers[0].postsyn_sharing_factor", message: &["7 does not divide the 30 neurons"] },
    Case { name: "sharing factor 0", edits: &[Set("network_layout.layers[0].presyn_sharing_factor", "0")],
        path: "network_layout.layers[0].presyn_sharing_factor", message: &["must be at least 1"] },
    Case { name: "last layer is Biases", edits: &[Push("network_layout.layers", "{name: Biases, times: [0.5]}")],
        path: "network_layout.layers[4]", message: &["the last layer must be a NeuronLayer"] },
    Case { name: "last layer is a delay layer", edits: &[Remove("network_layout.layers[3]")],
        path: "network_layout.layers[2]", message: &["no NeuronLayer follows this layer"] },
    Case { name: "trailing BroadcastLayer", edits: &[Push("network_layout.layers", "{name: BroadcastLayer}")],
        path: "network_layout.layers[4]", message: &["no NeuronLayer follows this layer"] },
    Case { name: "NeuronLayer right after a NeuronLayer", edits: &[Remove("network_layout.layers[2]")],
        path: "network_layout.layers[2]", message: &["a NeuronLayer needs a BroadcastLayer or a Delay layer before it"] },
    Case { name: "NeuronLayer first", edits: &[Remove("network_layout.layers[0]")],
        path: "network_layout.layers[0]", message: &["a NeuronLayer needs a BroadcastLayer or a Delay layer before it"] },
    Case { name: "BroadcastLayer after a delay layer", edits: &[Insert("network_layout.layers", 1, "{name: BroadcastLayer}")],
        path: "network_layout.layers[1]", message: &["BroadcastLayer needs per-sample input", "already broadcast"] },
    Case { name: "no layers", edits: &[Set("network_layout.layers", "[]")],
        path: "network_layout.layers", message: &["needs at least one layer"] },
    Case { name: "Biases without times", edits: &[Insert("network_layout.layers", 0, "{name: Biases, times: []}")],
        path: "network_layout.layers[0].times", message: &["needs at least one bias time"] },
    Case { name: "Multiplex factor 0", edits: &[Insert("network_layout.layers", 0, "{name: Multiplex, factor: 0}")],
        path: "network_layout.layers[0].factor", message: &["must be at least 1"] },

    // ---- across sections
    Case { name: "n_inputs does not match the data set", edits: &[Set("network_layout.n_inputs", "5")],
        path: "network_layout.n_inputs", message: &["is 5 but the yin_yang data set has 4 inputs per sample"] },
    Case { name: "multiplied inputs do not match n_inputs", edits: &[Set("dataset_params.multiply_input_layer", "5")],
        path: "network_layout.n_inputs", message: &["is 4 but the yin_yang data set has 20 inputs per sample"] },
    Case { name: "Multiplex does not change n_inputs", edits: &[Insert("network_layout.layers", 0, "{name: Multiplex, factor: 2}"), Set("network_layout.n_inputs", "8")],
        path: "network_layout.n_inputs", message: &["is 8 but the yin_yang data set has 4 inputs per sample"] },
    // The error names the list rather than `layers[3].size` (see the report).
    Case { name: "output size does not match the classes", edits: &[Set("network_layout.layers[3].size", "4")],
        path: "network_layout.layers[3].size", message: &["the last layer has 4 neurons but the yin_yang data set has 3 classes"] },

    // ---- missing required keys
    Case { name: "missing default max_dw_norm", edits: &[Remove("default_neuron_params.max_dw_norm")],
        path: "default_neuron_params.max_dw_norm", message: &["missing required key", "use null to switch it off"] },
    Case { name: "missing default tau_syn", edits: &[Remove("default_neuron_params.tau_syn")],
        path: "default_neuron_params.tau_syn", message: &["missing required key"] },
    Case { name: "missing torch_seed", edits: &[Remove("training_params.torch_seed")],
        path: "training_params.torch_seed", message: &["missing required key"] },
    Case { name: "null torch_seed", edits: &[Set("training_params.torch_seed", "null")],
        path: "training_params.torch_seed", message: &["must be an integer", "null is not allowed"] },
    Case { name: "missing training_params", edits: &[Remove("training_params")],
        path: "training_params", message: &["missing required key"] },
    Case { name: "missing dataset_params", edits: &[Remove("dataset_params")],
        path: "dataset_params", message: &["missing required key"] },
    Case { name: "missing network_layout.n_inputs", edits: &[Remove("network_layout.n_inputs")],
        path: "network_layout.n_inputs", message: &["missing required key"] },
    Case { name: "missing layer size", edits: &[Remove("network_layout.layers[3].size")],
        path: "network_layout.layers[3].size", message: &["missing required key"] },
    Case { name: "missing weights_mean", edits: &[Remove("network_layout.layers[1].weights_mean")],
        path: "network_layout.layers[1].weights_mean", message: &["missing required key"] },
    Case { name: "missing max_num_missing_spikes", edits: &[Remove("network_layout.layers[1].max_num_missing_spikes")],
        path: "network_layout.layers[1].max_num_missing_spikes", message: &["missing required key"] },
    Case { name: "missing positivity", edits: &[Remove("network_layout.layers[2].positivity")],
        path: "network_layout.layers[2].positivity", message: &["missing required key"] },
    Case { name: "missing delay_mean", edits: &[Remove("network_layout.layers[0].delay_mean")],
        path: "network_layout.layers[0].delay_mean", message: &["missing required key"] },
    Case { name: "missing epoch_number", edits: &[Remove("training_params.epoch_number")],
        path: "training_params.epoch_number", message: &["missing required key"] },
    Case { name: "missing learning_rate", edits: &[Remove("training_params.learning_rate")],
        path: "training_params.learning_rate", message: &["missing required key"] },
    Case { name: "missing loss", edits: &[Remove("training_params.loss")],
        path: "training_params.loss", message: &["missing required key"] },
    Case { name: "missing loss type", edits: &[Remove("training_params.loss.type")],
        path: "training_params.loss.type", message: &["missing required key"] },
    Case { name: "missing weight_bumping_targeted", edits: &[Remove("training_params.weight_bumping_targeted")],
        path: "training_params.weight_bumping_targeted", message: &["missing required key"] },
    Case { name: "missing scheduler step_size", edits: &[Remove("training_params.lr_scheduler.step_size")],
        path: "training_params.lr_scheduler.step_size", message: &["missing required key"] },
    Case { name: "missing dataset name", edits: &[Remove("dataset_params.name")],
        path: "dataset_params.name", message: &["missing required key"] },
];

#[test]
fn broken_variants_are_rejected_naming_the_key() {
    let mut failures = Vec::new();
    for case in CASES {
        let text = apply_edits(case.edits);
        let result = std::panic::catch_unwind(|| Config::parse_str(&text));
        let problem = match result {
            Err(_) => Some("parse_str panicked".to_string()),
            Ok(Ok(_)) => Some("was accepted".to_string()),
            Ok(Err(ConfigError::Invalid { path, message })) => {
                let display = ConfigError::Invalid { path: path.clone(), message: message.clone() }.to_string();
                let missing: Vec<_> = case.message.iter().filter(|m| !message.contains(*m)).collect();
                if path != case.path {
                    Some(format!("path {path:?}, expected {:?} (message: {message})", case.path))
                } else if !missing.is_empty() {
                    Some(format!("message {message:?} lacks {missing:?}"))
                } else if !display.starts_with(&format!("{}: ", case.path)) {
                    Some(format!("display {display:?} does not start with the path"))
                } else {
                    None
                }
            }
            Ok(Err(other)) => Some(format!("wrong error variant: {other:?}")),
        };
        if let Some(p) = problem {
            failures.push(format!("{}: {p}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn the_error_message_of_the_brief_is_exact() {
    let err = parse_edited(&[Set("network_layout.layers[1].size", "abc")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "network_layout.layers[1].size: expected a non-negative integer, found the string \"abc\""
    );
    let err = parse_edited(&[Set("bogus", "1")]).unwrap_err();
    assert_eq!(err.to_string(), format!("bogus: unknown key ({KNOWN_TOP})"));
}

#[test]
fn overrides_accept_zero_epochs_and_seed_zero() {
    let config = base_config();
    // Zero epochs and seed 0 are valid values (the largest seed is checked above).
    let zero = config.with_overrides(Overrides { epochs: Some(0), seed: Some(0), ..Default::default() }).unwrap();
    assert_eq!(zero.training.epoch_number, 0);
    assert_eq!(zero.training.seed, 0);
    assert_eq!(zero.training.numpy_seed, Some(0));
}

#[test]
fn a_document_that_is_not_a_mapping_is_rejected() {
    for (text, found) in [("- 1\n- 2\n", "a list"), ("just a string\n", "a string"), ("42\n", "an integer")] {
        let err = Config::parse_str(text).unwrap_err();
        let ConfigError::Invalid { path, message } = &err else { panic!("{text:?}: {err:?}") };
        assert_eq!(
            (path.as_str(), message.clone()),
            ("config", format!("the config must be a mapping, found {found}"))
        );
    }
    // An empty file is not a config either.
    match Config::parse_str("") {
        Err(ConfigError::Invalid { path, message }) => {
            assert_eq!(path, "config");
            assert!(message.contains("must be a mapping"), "{message}");
        }
        Err(ConfigError::Syntax { .. }) => {}
        other => panic!("empty document: {other:?}"),
    }
}

// ---- syntax and I/O

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn malformed_yaml_is_a_syntax_error_with_its_line() {
    let text = base_text().replacen("  batch_size: 150\n", "  batch_size: 150: 3\n", 1);
    let line = line_of(&text, "batch_size: 150: 3");
    match Config::parse_str(&text) {
        Err(ConfigError::Syntax { path, source }) => {
            let message = source.to_string();
            assert_eq!(path, Path::new("<config>"));
            assert!(message.contains(&format!("line {line}")), "line {line} not in {message:?}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }

    // An unclosed flow list.
    let text = base_text().replacen("  epoch_snapshots: []\n", "  epoch_snapshots: [1, 2\n", 1);
    match Config::parse_str(&text) {
        Err(ConfigError::Syntax { source, .. }) => assert!(source.to_string().contains("line "), "{source:?}"),
        other => panic!("expected a syntax error, got {other:?}"),
    }

    // Through a file: the error names the file and the line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    let text = base_text().replacen("    size: 30\n", "    size: 30\n   bad_indent: 1\n", 1);
    std::fs::write(&file, &text).unwrap();
    match Config::load(&file) {
        Err(e @ ConfigError::Syntax { .. }) => {
            let ConfigError::Syntax { path, source } = &e else { unreachable!() };
            assert_eq!(path, &file);
            assert!(source.to_string().contains("line "), "{source:?}");
            let shown = chain(&e);
            assert!(shown.starts_with(&format!("{}: not valid YAML: ", file.display())), "{shown}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn duplicate_keys_are_rejected() {
    let text = base_text().replacen("  batch_size: 150\n", "  batch_size: 150\n  batch_size: 10\n", 1);
    let err = Config::parse_str(&text).expect_err("a duplicated key must not silently win");
    let ConfigError::Syntax { source, .. } = &err else { panic!("expected a syntax error, got {err:?}") };
    let message = source.to_string();
    assert!(message.contains("batch_size"), "{message:?}");
    // yaml_serde points at the start of the mapping holding the duplicate (here the first `batch_size`).
    assert!(message.contains(&format!("line {}", line_of(&text, "batch_size: 150"))), "{message:?}");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("no_such_config.yaml");
    let err = Config::load(&file).unwrap_err();
    let ConfigError::Read { path, source } = &err else { panic!("expected a read error, got {err:?}") };
    assert_eq!(path, &file);
    assert!(!source.to_string().is_empty());
    let shown = chain(&err);
    assert!(shown.starts_with(&format!("{}: cannot read config: ", file.display())), "{shown}");

    // A directory is not a config file either.
    let err = Config::load(dir.path()).unwrap_err();
    assert!(matches!(&err, ConfigError::Read { path, .. } if path == dir.path()), "{err:?}");
}

// ---- what must be accepted

#[test]
fn legacy_keys_the_reference_ignores_are_accepted() {
    let base = base_config();
    let legacy = parse_edited(&[
        Set("training_params.use_hicannx", "true"),
        Set("training_params.alpha", "0.005"),
        Set("training_params.beta", "1.0"),
        Set("training_params.xi", "0.2"),
        Set("training_params.max_num_missing_spikes", "[0.3, 0.0]"),
        Set("training_params.max_dw_norm", "false"),
        Set("network_layout.layers[1].biases", "[0.9]"),
        Set("network_layout.layers[3].biases", "[]"),
        Set("network_layout.layers[0].feat_in", "[4, 1]"),
        Set("network_layout.layers[0].feat_out", "[4, 30]"),
        Set("network_layout.layers[1].feat_in", "[4, 30]"),
        Set("network_layout.layers[1].feat_out", "[30, 1]"),
        Set("network_layout.layers[2].feat_in", "[30, 1]"),
        Set("network_layout.layers[2].feat_out", "[30, 3]"),
        Set("network_layout.layers[3].feat_in", "[30, 3]"),
        Set("network_layout.layers[3].feat_out", "[3, 1]"),
        Set("network_layout.width_pixel", "16"),
    ])
    .unwrap_or_else(|e| panic!("legacy keys rejected: {e}"));
    assert_eq!(legacy.layout, base.layout);
    assert_eq!(legacy.training, base.training);
    assert_eq!(legacy.dataset, base.dataset);
    // The legacy keys are written back untouched.
    let doc = yaml(&legacy.to_yaml());
    assert_eq!(doc["training_params"]["use_hicannx"], Value::Bool(true));
    assert_eq!(doc["network_layout"]["layers"][1]["feat_out"], yaml("[30, 1]"));

    // feat_in/feat_out on a BroadcastLayer too.
    let w = std::fs::read_to_string(Path::new(CONFIG_DIR).join("yin_yang_H30_W.yaml")).unwrap();
    let w = w.replacen(
        "  - name: BroadcastLayer\n",
        "  - name: BroadcastLayer\n    feat_in: [4, 1]\n    feat_out: [4, 30]\n",
        1,
    );
    Config::parse_str(&w).unwrap_or_else(|e| panic!("feat_in/feat_out on a BroadcastLayer: {e}"));
}

#[test]
fn max_dw_norm_false_or_null_means_off() {
    for value in ["false", "null", "~"] {
        let config = parse_edited(&[Set("default_neuron_params.max_dw_norm", value)])
            .unwrap_or_else(|e| panic!("max_dw_norm: {value}: {e}"));
        assert!(neurons(&config).iter().all(|n| n.neuron.max_dw_norm.is_none()), "{value}");
    }
    // A layer can switch it off while the default stays on, and the reverse.
    let config = parse_edited(&[Set("network_layout.layers[3].neuron_params", "{max_dw_norm: false}")]).unwrap();
    assert_eq!(neurons(&config).iter().map(|n| n.neuron.max_dw_norm).collect::<Vec<_>>(), [Some(0.2), None]);
    let config = parse_edited(&[
        Set("default_neuron_params.max_dw_norm", "false"),
        Set("network_layout.layers[1].neuron_params", "{max_dw_norm: 0.5}"),
    ])
    .unwrap();
    assert_eq!(neurons(&config).iter().map(|n| n.neuron.max_dw_norm).collect::<Vec<_>>(), [Some(0.5), None]);
}

#[test]
fn lenient_forms_the_reference_writes_are_accepted() {
    let base = base_config();
    // PyYAML writes some floats in forms YAML 1.2 reads as strings, and ints that went through a float as 30.0.
    let config = parse_edited(&[
        Set("training_params.learning_rate", "'5e-3'"),
        Set("network_layout.layers[1].size", "30.0"),
        Set("training_params.batch_size", "150.0"),
    ])
    .unwrap();
    assert_eq!(config.training.learning_rate, 0.005);
    assert_eq!(config.layout, base.layout);
    assert_eq!(config.training.batch_size, 150);
    // Optional keys can be absent: defaults as documented.
    let config = parse_edited(&[
        Remove("training_params.batch_size_eval"),
        Remove("training_params.optimizer"),
        Set("training_params.momentum", "0.9"),
        Remove("training_params.lr_scheduler"),
        Remove("training_params.numpy_seed"),
        Remove("network_layout.layers[1].learning_rate"),
        Remove("network_layout.layers[0].learning_rate"),
    ])
    .unwrap();
    assert_eq!(config.training.batch_size_eval, 150);
    assert_eq!(config.training.optimizer, OptimizerConfig::Sgd { momentum: 0.9 });
    assert_eq!(config.training.lr_scheduler, None);
    assert_eq!(config.training.numpy_seed, None);
    let LayerKind::Neuron(n) = &config.layout.layers[1].kind else { panic!() };
    assert_eq!(n.learning_rate, None);
    // An explicit learning rate of 0 freezes a layer; a seed may be any u64.
    let config = parse_edited(&[
        Set("network_layout.layers[1].learning_rate", "0"),
        Set("training_params.torch_seed", "18446744073709551615"),
    ])
    .unwrap();
    let LayerKind::Neuron(n) = &config.layout.layers[1].kind else { panic!() };
    assert_eq!(n.learning_rate, Some(0.0));
    assert_eq!(config.training.seed, u64::MAX);
    // A consistent explicit model_tau_ratio, overridden together with the ratio-1 neuron of one layer.
    let config = parse_edited(&[
        Set("default_neuron_params.model_tau_ratio", "2"),
        Set("network_layout.layers[3].neuron_params", "{tau_mem: 1.0, g_leak: 1.0, model_tau_ratio: 1}"),
    ])
    .unwrap();
    let ratios: Vec<_> = neurons(&config).iter().map(|n| n.neuron.params.ratio).collect();
    assert_eq!(ratios, [TauRatio::Two, TauRatio::One]);
    // A layer with the other ratio inferred from its own tau_mem (no explicit ratio anywhere).
    let config = parse_edited(&[Set("network_layout.layers[3].neuron_params", "{tau_mem: 1.0, g_leak: 1.0}")]).unwrap();
    let ratios: Vec<_> = neurons(&config).iter().map(|n| n.neuron.params.ratio).collect();
    assert_eq!(ratios, [TauRatio::Two, TauRatio::One]);
    // Ignored keys of the adam optimiser and the switched-off integrator may be anything.
    parse_edited(&[Set("training_params.momentum", "null"), Set("training_params.resolution", "false")]).unwrap();
}

// ---------------------------------------------------------------------------------------------------------------
// Panics on extreme values.
// ---------------------------------------------------------------------------------------------------------------

/// Values that make the shape arithmetic overflow must be errors, not panics.
#[test]
fn huge_counts_do_not_panic() {
    let cases: &[(&str, &[Edit])] = &[
        (
            "Multiplex factor 2^62",
            &[Insert("network_layout.layers", 0, "{name: Multiplex, factor: 4611686018427387904}")],
        ),
        ("multiply_input_layer 2^62", &[Set("dataset_params.multiply_input_layer", "4611686018427387904")]),
    ];
    let mut panics = Vec::new();
    for (name, edits) in cases {
        let text = apply_edits(edits);
        match std::panic::catch_unwind(|| Config::parse_str(&text)) {
            Err(_) => panics.push(*name),
            Ok(Ok(_)) => panic!("{name}: accepted"),
            Ok(Err(_)) => {}
        }
    }
    assert!(panics.is_empty(), "parse_str panicked on: {panics:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. End to end through the binary.
// ---------------------------------------------------------------------------------------------------------------

struct Failed {
    code: Option<i32>,
    stderr: String,
}

fn train(config: &Path, output: &Path, extra: &[&str]) -> Failed {
    let out = Command::new(env!("CARGO_BIN_EXE_bss2"))
        .arg("train")
        .arg(config)
        .arg("--output")
        .arg(output)
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    Failed { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
}

#[test]
fn the_binary_rejects_bad_configs_with_one_line_and_status_1() {
    let cases: &[(&str, &[Edit], &str)] = &[
        (
            "unknown_layer_key",
            &[Set("network_layout.layers[1].weight_mean", "1.0")],
            "network_layout.layers[1].weight_mean",
        ),
        ("wrong_type", &[Set("network_layout.layers[1].size", "abc")], "network_layout.layers[1].size"),
        ("null_seed", &[Set("training_params.torch_seed", "null")], "training_params.torch_seed"),
        ("bad_ratio", &[Set("default_neuron_params.tau_mem", "3.0")], "default_neuron_params.tau_mem"),
        ("outputs", &[Set("network_layout.layers[3].size", "4")], "network_layout.layers"),
        ("bad_chain", &[Remove("network_layout.layers[2]")], "network_layout.layers[2]"),
        ("unknown_top", &[Set("colour", "blue")], "colour"),
    ];
    let work = tempfile::tempdir().unwrap();
    for (name, edits, key) in cases {
        let config = work.path().join(format!("{name}.yaml"));
        std::fs::write(&config, apply_edits(edits)).unwrap();
        let output = tempfile::tempdir().unwrap();
        // Also with overrides: the file is checked before they are applied.
        for extra in [&[][..], &["--epochs", "2", "--seed", "5"][..]] {
            let run = train(&config, output.path(), extra);
            assert_eq!(run.code, Some(1), "{name} {extra:?}: {}", run.stderr);
            assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
            let line = run.stderr.lines().find(|l| l.contains(key));
            let line = line.unwrap_or_else(|| panic!("{name}: no line naming {key} in {:?}", run.stderr));
            assert!(line.starts_with("error: "), "{name}: {line}");
            assert!(dir_entries(output.path()).is_empty(), "{name}: the output folder was written to");
        }
        // An output folder that does not exist yet is not created.
        let fresh = output.path().join("run");
        let run = train(&config, &fresh, &[]);
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        assert!(!fresh.exists(), "{name}: the output folder was created");
    }
}

#[test]
fn the_binary_reports_syntax_errors_and_missing_files() {
    let work = tempfile::tempdir().unwrap();
    let output = work.path().join("out");

    let broken = work.path().join("broken.yaml");
    let text = base_text().replacen("  batch_size: 150\n", "  batch_size: 150: 3\n", 1);
    std::fs::write(&broken, &text).unwrap();
    let run = train(&broken, &output, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let expected = format!("error: {}: not valid YAML: ", broken.display());
    assert!(run.stderr.lines().any(|l| l.starts_with(&expected)), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("line {}", line_of(&text, "batch_size: 150: 3"))), "{}", run.stderr);
    assert!(!output.exists());

    let missing = work.path().join("missing.yaml");
    let run = train(&missing, &output, &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let expected = format!("error: {}: cannot read config: ", missing.display());
    assert!(run.stderr.lines().any(|l| l.starts_with(&expected)), "{}", run.stderr);
    assert!(!output.exists());
}

// ---------------------------------------------------------------------------------------------------------------
// Known defects of the config code: what should happen. Ignored so the suite stays green; run them with
// `cargo test -p bss2-host --test configs -- --ignored` once the config code is fixed.
// ---------------------------------------------------------------------------------------------------------------

/// Checks that every variant is rejected as `Invalid` at exactly the given path; lists the ones that are not.
fn expect_rejected(variants: &[(&[Edit], &str)]) {
    let mut wrong = Vec::new();
    for (edits, path) in variants {
        match parse_edited(edits) {
            Err(e) if e.key() == Some(*path) => {}
            Ok(_) => wrong.push(format!("{edits:?}: accepted, expected an error at {path}")),
            Err(e) => wrong.push(format!("{edits:?}: expected an error at {path}, got {e:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn an_unknown_substrate_is_rejected() {
    expect_rejected(&[
        (&[Set("training_params.substrate", "simm")], "training_params.substrate"),
        (&[Set("training_params.substrate", "SIM")], "training_params.substrate"),
        (
            &[Set("training_params.substrate", "simm"), Set("default_neuron_params.g_leak", "0.4")],
            "training_params.substrate",
        ),
    ]);
}

#[test]
fn a_scheduler_without_type_is_rejected() {
    expect_rejected(&[(&[Remove("training_params.lr_scheduler.type")], "training_params.lr_scheduler.type")]);
}

#[test]
fn non_finite_numbers_are_rejected() {
    expect_rejected(&[
        (&[Set("network_layout.layers[1].weights_mean", ".inf")], "network_layout.layers[1].weights_mean"),
        (&[Set("network_layout.layers[0].delay_mean", "-.inf")], "network_layout.layers[0].delay_mean"),
        (&[Set("network_layout.layers[0].positivity.scale", ".inf")], "network_layout.layers[0].positivity.scale"),
        (&[Set("network_layout.layers[0].positivity.shift", ".inf")], "network_layout.layers[0].positivity.shift"),
        (&[Set("default_neuron_params.threshold", ".inf")], "default_neuron_params.threshold"),
        (&[Set("default_neuron_params.leak", "-.inf")], "default_neuron_params.leak"),
        (
            &[Set("network_layout.layers[1].neuron_params", "{threshold_noise_fp_mean: .inf}")],
            "network_layout.layers[1].neuron_params.threshold_noise_fp_mean",
        ),
        (&[Set("training_params.loss.delta_t", ".inf")], "training_params.loss.delta_t"),
        (&[Set("training_params.weight_bumping_value", ".inf")], "training_params.weight_bumping_value"),
        (&[Set("training_params.clip_weights_max", ".inf")], "training_params.clip_weights_max"),
        (&[Set("training_params.rounding_precision", ".inf")], "training_params.rounding_precision"),
        (&[Set("training_params.training_noise", "{mean: .inf}")], "training_params.training_noise.mean"),
    ]);
}

#[test]
fn dataset_parameters_are_checked_with_the_config() {
    expect_rejected(&[
        (&[Set("dataset_params.r_small", "0.3")], "dataset_params.r_small"),
        (&[Set("dataset_params.r_big", "-0.5")], "dataset_params.r_big"),
        (&[Set("dataset_params.early", ".inf")], "dataset_params.early"),
    ]);
}

#[test]
fn the_binary_writes_nothing_for_bad_dataset_parameters() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("r_small.yaml");
    std::fs::write(&config, apply_edits(&[Set("dataset_params.r_small", "0.3")])).unwrap();
    let output = work.path().join("out");
    let run = train(&config, &output, &["--epochs", "1"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("dataset_params.r_small"), "{}", run.stderr);
    assert!(!output.exists(), "the output folder was created: {:?}", dir_entries(&output));
}

#[test]
fn the_binary_does_not_panic_on_huge_counts() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("huge.yaml");
    std::fs::write(&config, apply_edits(&[Set("dataset_params.multiply_input_layer", "4611686018427387904")])).unwrap();
    let run = train(&config, &work.path().join("out"), &[]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("dataset_params.multiply_input_layer"), "{}", run.stderr);
}

#[test]
fn a_huge_value_is_cut_in_the_message() {
    let huge = "y".repeat(10_000_000);
    let text = base_text().replacen("  batch_size: 150\n", &format!("  batch_size: {huge}\n"), 1);
    let shown = chain(&Config::parse_str(&text).unwrap_err());
    assert!(shown.len() < 300 && shown.contains("(10000000 bytes)"), "{}", &shown[..300.min(shown.len())]);
    let text = base_text().replacen("type: shift_invariant_MSE", &format!("type: {huge}"), 1);
    let shown = chain(&Config::parse_str(&text).unwrap_err());
    assert!(shown.len() < 300 && shown.contains("unknown loss"), "{}", &shown[..300.min(shown.len())]);
}

#[test]
fn the_mnist_configs_are_fast_and_deeps() {
    use_mnist_fixture();
    let load = |name: &str| Config::load(&Path::new(CONFIG_DIR).join(name)).unwrap();
    // (config, data set, inputs, layer sizes, batch, eval batch, epochs, integrator)
    let cases = [
        ("16x16_mnist.yaml", "16x16_mnist", 256, vec![128, 10], 50, 50, 200, false),
        ("mnist.yaml", "mnist", 784, vec![350, 10], 80, 150, 150, true),
        ("16x16_mnist_chip.yaml", "16x16_mnist", 256, vec![246, 10], 200, 1000, 200, false),
    ];
    for (file, dataset, inputs, sizes, batch, eval, epochs, integrator) in cases {
        let config = load(file);
        check_generic(file, &config);
        assert_eq!(config.dataset.name(), dataset, "{file}");
        assert_eq!(
            (config.layout.n_inputs, config.dataset.n_inputs(), config.dataset.n_classes()),
            (inputs, inputs, 10)
        );
        assert_eq!(neurons(&config).iter().map(|n| n.size).collect::<Vec<_>>(), sizes, "{file}");
        assert_eq!([config.training.batch_size, config.training.batch_size_eval], [batch, eval], "{file}");
        assert_eq!(config.training.epoch_number, epochs, "{file}");
        assert_eq!(config.training.integrator.is_some(), integrator, "{file}");
        for n in neurons(&config) {
            assert_eq!(n.neuron.params.ratio, TauRatio::One, "{file}");
        }
    }
    // The chip's network uses all 256 logical neurons, no bias.
    let chip = load("16x16_mnist_chip.yaml");
    assert_eq!(chip.training.substrate.to_string(), "emulator");
    assert!(!layer_names(&chip.layout.layers).contains(&"Biases"));
    assert_eq!(load("mnist.yaml").training.loss.kind, LossKind::Ttfs { xi: 0.2 });
    assert_eq!(load("16x16_mnist.yaml").training.loss.kind, LossKind::ShiftInvariantMse { delta_t: 0.7 });
}
