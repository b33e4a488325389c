//! Experiment configs in the reference's YAML schema (spec §16), loaded unchanged and checked before any work.
//!
//! Every problem is reported as a [`ConfigError`] naming the key (e.g. `network_layout.layers[1].size`) and
//! what is wrong with it. Unknown keys are errors, except the legacy keys the reference itself ignores.

mod dataset;
mod layout;
mod neuron;
mod reader;
mod training;

use std::path::{Path, PathBuf};

use yaml_serde::Value;

pub use dataset::DatasetConfig;
pub use layout::{DelayConfig, DelayKind, LayerKind, LayerSpec, Layout, NeuronLayerConfig, Positivity};
pub use neuron::{LayerClip, NeuronSettings, ThresholdNoise};
pub use training::{
    BumpingConfig, IntegratorConfig, LossConfig, LossKind, OptimizerConfig, Regulariser, SchedulerConfig,
    TrainingConfig, TrainingNoise,
};

use neuron::PartialNeuronParams;
use reader::Section;

/// A problem with a config, located by its key path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key has a bad value, is missing or unknown.
    #[error("{path}: {message}")]
    Invalid {
        /// Dotted path of the key, e.g. `training_params.loss.type`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A data set's parameter, checked by the data set itself.
    #[error("{path}")]
    Data {
        /// Dotted path of the key.
        path: String,
        /// What the data set says.
        #[source]
        source: crate::data::DataError,
    },
    /// The substrate is not understood.
    #[error("{path}")]
    Substrate {
        /// Dotted path of the key.
        path: String,
        /// What is wrong with it.
        #[source]
        source: crate::substrate::SubstrateError,
    },
    /// The file could not be read.
    #[error("{}: cannot read config", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{}: not valid YAML", path.display())]
    Syntax {
        /// The file (`<config>` for text).
        path: PathBuf,
        /// The parser's complaint, with line and column.
        #[source]
        source: yaml_serde::Error,
    },
}

impl ConfigError {
    /// The dotted key path the error is about (None for errors of the whole file).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { path, .. }
            | ConfigError::Data { path, .. }
            | ConfigError::Substrate { path, .. } => Some(path),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }

    /// An error about the key at `path`.
    pub fn at(path: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: if path.is_empty() { "config".into() } else { path.into() },
            message: message.into(),
        }
    }
}

/// A checked experiment config.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `dataset_params`.
    pub dataset: DatasetConfig,
    /// `network_layout`, with neuron parameters merged into each layer.
    pub layout: Layout,
    /// `training_params`.
    pub training: TrainingConfig,
    /// The document as read (with any overrides applied), written back as the run's `config.yaml`.
    document: Value,
}

/// Changes applied on top of a config file (command-line options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `training_params.epoch_number`.
    pub epochs: Option<usize>,
    /// `training_params.torch_seed` (and `numpy_seed`).
    pub seed: Option<u64>,
    /// `training_params.substrate`.
    pub substrate: Option<crate::substrate::Substrate>,
    /// `training_params.chip_seed`.
    pub chip_seed: Option<u64>,
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse_str(&text).map_err(|e| match e {
            ConfigError::Syntax { source, .. } => ConfigError::Syntax { path: path.to_path_buf(), source },
            other => other,
        })
    }

    /// Parses and checks a config from YAML text.
    pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
        let document: Value = yaml_serde::from_str(text)
            .map_err(|source| ConfigError::Syntax { path: PathBuf::from("<config>"), source })?;
        Config::from_document(document)
    }

    fn from_document(document: Value) -> Result<Config, ConfigError> {
        let root = Section::root(&document)?;
        root.deny_unknown(&["dataset_params", "default_neuron_params", "network_layout", "training_params"])?;
        let training = TrainingConfig::parse(&root.section("training_params")?)?;
        let defaults_section = root.section("default_neuron_params")?;
        let defaults = PartialNeuronParams::parse(&defaults_section)?;
        // The defaults must be complete by themselves (layers may still override them).
        defaults.resolve(defaults_section.path(), false)?;
        let strict_leak = training.substrate.is_simulation();
        let layout = Layout::parse(&root.section("network_layout")?, &defaults, strict_leak)?;
        let dataset = DatasetConfig::parse(&root.section("dataset_params")?, layout.n_inputs)?;
        let config = Config { dataset, layout, training, document };
        config.check_consistency()?;
        Ok(config)
    }

    /// Checks that hold across sections.
    fn check_consistency(&self) -> Result<(), ConfigError> {
        let n = self.dataset.n_inputs();
        if n != self.layout.n_inputs {
            return Err(ConfigError::at(
                "network_layout.n_inputs",
                format!(
                    "is {} but the {} data set has {n} inputs per sample",
                    self.layout.n_inputs,
                    self.dataset.name()
                ),
            ));
        }
        let classes = self.dataset.n_classes();
        if classes != self.layout.n_outputs() {
            let last =
                self.layout.layers.last().map_or("network_layout.layers".to_string(), |l| format!("{}.size", l.path));
            return Err(ConfigError::at(
                &last,
                format!(
                    "the last layer has {} neurons but the {} data set has {classes} classes",
                    self.layout.n_outputs(),
                    self.dataset.name()
                ),
            ));
        }
        Ok(())
    }

    /// The config with command-line overrides applied (re-checked).
    pub fn with_overrides(&self, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut document = self.document.clone();
        if let Some(training) = document.get_mut("training_params").and_then(Value::as_mapping_mut) {
            if let Some(epochs) = overrides.epochs {
                training.insert("epoch_number".into(), Value::from(epochs as u64));
            }
            if let Some(seed) = overrides.seed {
                training.insert("torch_seed".into(), Value::from(seed));
                training.insert("numpy_seed".into(), Value::from(seed));
            }
            if let Some(substrate) = overrides.substrate {
                training.insert("substrate".into(), Value::from(substrate.to_string()));
            }
            if let Some(chip_seed) = overrides.chip_seed {
                training.insert("chip_seed".into(), Value::from(chip_seed));
            }
        }
        Config::from_document(document)
    }

    /// The config with its `network_layout` replaced by `layout` (re-checked).
    pub fn with_network_layout(&self, layout: Value) -> Result<Config, ConfigError> {
        let mut document = self.document.clone();
        if let Some(root) = document.as_mapping_mut() {
            root.insert("network_layout".into(), layout);
        }
        Config::from_document(document)
    }

    /// The config with `network_layout.layers[layer].<key>` set to `value` (re-checked).
    pub fn with_layer_value(&self, layer: usize, key: &str, value: impl Into<Value>) -> Result<Config, ConfigError> {
        let mut document = self.document.clone();
        let entry = document
            .get_mut("network_layout")
            .and_then(|layout| layout.get_mut("layers"))
            .and_then(|layers| layers.get_mut(layer))
            .and_then(Value::as_mapping_mut)
            .ok_or_else(|| ConfigError::at(&format!("network_layout.layers[{layer}]"), "no such layer".to_string()))?;
        entry.insert(key.into(), value.into());
        Config::from_document(document)
    }

    /// The effective config as YAML, loadable by this tool and by the reference.
    pub fn to_yaml(&self) -> String {
        yaml_serde::to_string(&self.document).unwrap_or_default()
    }
}
