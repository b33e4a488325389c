//! A results folder of the reference implementation, read as it ships: `config.yaml`,
//! `epoch_<N>/config.yaml` and `epoch_<N>/<dataset>_network.pt` (the whole module pickled by `torch.save`).
//!
//! The network's parameters come from the module's state dict (`layers.<i>.weights`,
//! `layers.<i>._delay_parameters`) and each NeuronLayer's `neuron_params['threshold_noise_fp']` (the fixed-pattern
//! threshold offsets, our `threshold_offsets`). The layer chain and the neuron parameters come from the config;
//! the module's own `neuron_params` must agree with it.
//!
//! One difference of convention is bridged: the reference tiles shared presynaptic delays (input `p` uses raw
//! row `p mod (n / factor)`), this tool groups them (row `p / factor`, the fix of reference quirk 14). A delay
//! layer with `presyn_sharing_factor > 1` is therefore read with its raw delays expanded to one per input
//! (tiled, exactly as the reference applies them) and the factor set to 1, so the network computes exactly what
//! the reference's did; the converted config says so.

use std::path::{Path, PathBuf};

use super::pt::{PtError, PtFile};
use crate::config::{Config, ConfigError, LayerKind};
use crate::network::{Layer, Network};
use crate::tensors::{TensorError, TensorFile};

/// Why a reference results folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// No `epoch_<N>/<dataset>_network.pt`.
    #[error("{}: no epoch_<N>/{file} of the reference found", dir.display())]
    NoNetwork {
        /// The folder.
        dir: PathBuf,
        /// The file name looked for.
        file: String,
    },
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The `.pt` file is unreadable or refused (boxed: it is large and rare).
    #[error(transparent)]
    Pt(Box<PtError>),
    /// The module does not match the config's layer chain.
    #[error("{}: {what}", path.display())]
    Mismatch {
        /// The `.pt` file.
        path: PathBuf,
        /// What differs.
        what: String,
    },
    /// The parameters do not fit the network.
    #[error("{}", path.display())]
    Tensors {
        /// The `.pt` file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: TensorError,
    },
}

impl From<PtError> for ReferenceError {
    fn from(e: PtError) -> Self {
        ReferenceError::Pt(Box::new(e))
    }
}

/// A reference results folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceRun {
    /// The folder.
    pub root: PathBuf,
    /// `<dataset>_network.pt`, the file name of the saved networks.
    file: String,
}

/// A network read from a reference folder, with the config it runs under.
#[derive(Clone, Debug)]
pub struct ReferenceNetwork {
    /// The config, with tiled delay sharing expanded (see the module docs).
    pub config: Config,
    /// The network.
    pub network: Network,
    /// The epoch read.
    pub epoch: usize,
    /// Delay layers whose tiled sharing was expanded to one delay per input.
    pub expanded_sharing: Vec<usize>,
}

impl ReferenceRun {
    /// The reference folder at `dir`, if it is one: a `config.yaml` naming a data set whose
    /// `epoch_<N>/<dataset>_network.pt` exists for some N, and no network of this tool's own.
    pub fn detect(dir: &Path) -> Option<ReferenceRun> {
        let config = Config::load(&dir.join("config.yaml")).ok()?;
        let run = ReferenceRun { root: dir.into(), file: format!("{}_network.pt", config.dataset.name()) };
        let ours = crate::train::run_dir::RunDir::new(dir);
        (!run.saved_epochs().is_empty() && ours.saved_epochs().is_empty()).then_some(run)
    }

    /// `epoch_<N>/<dataset>_network.pt`.
    pub fn network_path(&self, epoch: usize) -> PathBuf {
        self.root.join(format!("epoch_{epoch}")).join(&self.file)
    }

    /// The epochs with a saved network, ascending.
    pub fn saved_epochs(&self) -> Vec<usize> {
        crate::train::run_dir::epochs_with(&self.root, |e| self.network_path(e))
    }

    /// `epoch_<N>/<dataset>_val_accuracies.npy`: the validation accuracy of every epoch up to N, from 0.
    pub fn validation_accuracies(&self, epoch: usize) -> PathBuf {
        let dataset = self.file.trim_end_matches("_network.pt");
        self.root.join(format!("epoch_{epoch}")).join(format!("{dataset}_val_accuracies.npy"))
    }

    /// The config of `epoch` (`epoch_<N>/config.yaml`, the effective one the reference wrote with the network),
    /// else the folder's `config.yaml`.
    fn config(&self, epoch: usize) -> Result<Config, ConfigError> {
        let at_epoch = self.root.join(format!("epoch_{epoch}")).join("config.yaml");
        Config::load(&if at_epoch.is_file() { at_epoch } else { self.root.join("config.yaml") })
    }

    /// Reads the network of `epoch` (default: the latest saved).
    pub fn load(&self, epoch: Option<usize>) -> Result<ReferenceNetwork, ReferenceError> {
        let no_network = || ReferenceError::NoNetwork { dir: self.root.clone(), file: self.file.clone() };
        let epoch = match epoch {
            Some(e) => e,
            None => *self.saved_epochs().last().ok_or_else(no_network)?,
        };
        let path = self.network_path(epoch);
        if !path.is_file() {
            return Err(no_network());
        }
        let pt = PtFile::open(&path)?;
        let mut config = self.config(epoch)?;
        let mismatch = |what: String| ReferenceError::Mismatch { path: path.clone(), what };
        let modules = reference_layers(&pt).map_err(&mismatch)?;
        if modules.len() != config.layout.layers.len() {
            return Err(mismatch(format!(
                "the module has {} layers, the config {}",
                modules.len(),
                config.layout.layers.len()
            )));
        }
        let expanded_sharing: Vec<usize> = config
            .layout
            .layers
            .iter()
            .enumerate()
            .filter(|(_, spec)| matches!(&spec.kind, LayerKind::Delay(d) if d.presyn_sharing_factor > 1))
            .map(|(i, _)| i)
            .collect();
        for &i in &expanded_sharing {
            config = config.with_layer_value(i, "presyn_sharing_factor", 1)?;
        }
        let mut network = Network::new(&config.layout, config.training.seed);
        let tensors = self.tensors(&pt, &network, &modules).map_err(&mismatch)?;
        network.load_tensors(&tensors).map_err(|source| ReferenceError::Tensors { path: path.clone(), source })?;
        Ok(ReferenceNetwork { config, network, epoch, expanded_sharing })
    }

    /// Our named tensors from the module's layers, checked against the network built from the config.
    fn tensors(&self, pt: &PtFile, network: &Network, modules: &[(String, usize)]) -> Result<TensorFile, String> {
        let state = pt.state_dict().map_err(|e| e.to_string())?;
        let mut file = TensorFile::default();
        let read = |name: &str| -> Result<(Vec<usize>, Vec<f64>), String> {
            let (_, tensor) = state.iter().find(|(n, _)| n == name).ok_or_else(|| format!("no tensor {name}"))?;
            Ok((tensor.shape.clone(), pt.values_f64(tensor).map_err(|e| e.to_string())?))
        };
        for (i, ((class, module), layer)) in modules.iter().zip(&network.layers).enumerate() {
            let expected = match layer {
                Layer::Broadcast { .. } => "utils.BroadcastLayer",
                Layer::Delay(_) => "utils.DelayLayer",
                Layer::Neuron(_) => "utils.NeuronLayer",
                Layer::Multiplex { .. } => "utils.MultiplexLayer",
                Layer::Biases { .. } => "Biases",
            };
            if class != expected {
                return Err(format!("layer {i} is a {class}, the config has a {}", layer.name()));
            }
            match layer {
                Layer::Neuron(n) => {
                    let (shape, weights) = read(&format!("layers.{i}.weights"))?;
                    file.insert(format!("layers.{i}.weights"), shape, weights);
                    check_neuron_params(pt, *module, n).map_err(|e| format!("layer {i}: {e}"))?;
                    let offsets = threshold_offsets(pt, *module).map_err(|e| format!("layer {i}: {e}"))?;
                    file.insert(format!("layers.{i}.threshold_offsets"), vec![offsets.len()], offsets);
                }
                Layer::Delay(d) => {
                    let (shape, raw) = read(&format!("layers.{i}._delay_parameters"))?;
                    let (rows, cols) = (d.raw.rows, d.raw.cols);
                    let (shape, raw) = match shape.as_slice() {
                        // Tiled sharing expanded: row p is raw row p mod (rows of the file).
                        [r, c] if *r > 0 && *c == cols && rows % r == 0 => (
                            vec![rows, cols],
                            (0..rows).flat_map(|p| raw[(p % r) * c..(p % r + 1) * c].to_vec()).collect(),
                        ),
                        _ => (shape, raw),
                    };
                    file.insert(format!("layers.{i}.delays"), shape, raw);
                }
                _ => {}
            }
        }
        Ok(file)
    }
}

/// `(class, module)` of every entry of the network's `layers` ModuleList.
fn reference_layers(pt: &PtFile) -> Result<Vec<(String, usize)>, String> {
    let root = pt.root();
    let class = pt.class_of(root).unwrap_or_else(|| "not a module".into());
    if !class.starts_with("networks.") {
        return Err(format!("the file holds a {class}, not a network of the reference (networks.Net)"));
    }
    let (_, layers) = pt
        .children(root)
        .into_iter()
        .find(|(name, _)| name == "layers")
        .ok_or("the network has no `layers` ModuleList")?;
    Ok(pt
        .children(layers)
        .into_iter()
        .map(|(_, module)| (pt.class_of(module).unwrap_or_else(|| "non-module".into()), module))
        .collect())
}

/// The module's `neuron_params['threshold_noise_fp']`.
fn threshold_offsets(pt: &PtFile, module: usize) -> Result<Vec<f64>, String> {
    let p = pt.pickle();
    let params = pt.attribute(module, "neuron_params").ok_or("no neuron_params")?;
    let fp = p.dict_get(params, "threshold_noise_fp").ok_or("no neuron_params['threshold_noise_fp']")?;
    let tensor = pt.tensor(fp).map_err(|e| e.to_string())?;
    pt.values_f64(&tensor).map_err(|e| e.to_string())
}

/// The module's own neuron parameters must be the config's (a folder whose config was edited after training
/// would otherwise run a different network silently).
fn check_neuron_params(pt: &PtFile, module: usize, layer: &crate::network::NeuronLayer) -> Result<(), String> {
    let p = pt.pickle();
    let params = pt.attribute(module, "neuron_params").ok_or("no neuron_params")?;
    let ours = &layer.config.neuron.params;
    for (key, want) in [
        ("tau_syn", ours.tau_syn),
        ("tau_mem", ours.tau_mem),
        ("g_leak", ours.g_leak),
        ("leak", ours.leak),
        ("threshold", ours.threshold),
    ] {
        let Some(value) = p.dict_get(params, key) else { continue };
        let got = match p.get(value) {
            super::pickle::Value::Float(f) => *f,
            super::pickle::Value::Int(i) => *i as f64,
            _ => return Err(format!("neuron_params['{key}'] is not a number")),
        };
        if got != want {
            return Err(format!("the network was trained with {key} = {got}, the config says {want}"));
        }
    }
    Ok(())
}
