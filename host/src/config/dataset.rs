//! `dataset_params`.

use super::ConfigError;
use super::reader::Section;

/// Placeholder until the data module lands.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetConfig {
    name: String,
}

impl DatasetConfig {
    /// Reads `dataset_params`.
    pub fn parse(s: &Section) -> Result<DatasetConfig, ConfigError> {
        let name = s.str("name")?.to_string();
        for k in ["multiply_input_layer", "early", "late", "r_small", "r_big"] {
            let _ = s.raw(k);
        }
        s.deny_unknown(&[])?;
        Ok(DatasetConfig { name })
    }

    /// The data set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Inputs per sample, where fixed by the data set.
    pub fn n_inputs(&self) -> Option<usize> {
        None
    }

    /// Number of classes, where fixed by the data set.
    pub fn n_classes(&self) -> Option<usize> {
        None
    }
}
