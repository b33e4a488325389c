//! Inference with a saved network: output times, predictions and accuracy on one split.

use std::path::PathBuf;

use crate::chip::ChipStats;
use crate::config::Config;
use crate::data::{Dataset, Split};
use crate::forward::Placement;
use crate::interop::ReferenceRun;
use crate::io::{write_npy_f64, write_npy_i64};
use crate::network::Network;
use crate::rng::{self, Purpose};
use crate::tensors::TensorFile;
use crate::train::evaluate::{Evaluation, evaluate};
use crate::train::loss::Loss;
use crate::train::run_dir::RunDir;
use crate::train::runner::RunError;
use crate::train::session::Splits;

/// The result of `bss2 inference`.
#[derive(Clone, Debug, PartialEq)]
pub struct InferenceResult {
    /// The epoch whose network was used.
    pub epoch: usize,
    /// Accuracy on the split.
    pub accuracy: f64,
    /// Number of correct predictions.
    pub correct: usize,
    /// Number of samples.
    pub samples: usize,
    /// Mean loss.
    pub loss: f64,
    /// Where the output times were written.
    pub outputs_path: PathBuf,
}

/// The name a split has on the command line and in file names.
pub fn split_label(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Validation => "val",
        Split::Test => "test",
    }
}

/// Runs `split` through the network of `epoch_<epoch>` (default: the latest saved) of the run in `dir`, placed
/// in simulation or on a chip, and writes `<split>_output_times.npy` (float64 `[samples, outputs]`, +inf = no
/// spike) and `<split>_labels.npy` (int64) next to the network. Needs only `dir/config.yaml` and
/// `dir/epoch_<N>/network.safetensors`. Returns the chip's counters too (zero in simulation).
pub fn run(
    dir: &RunDir,
    epoch: Option<usize>,
    split: Split,
    placement: Placement,
) -> Result<(InferenceResult, ChipStats), RunError> {
    let saved = SavedRun::load(dir, epoch, split)?;
    let mut forward = placement.open(&saved.network, &saved.config.training)?;
    let loss = Loss::for_config(&saved.config);
    let mut noise = rng::stream(saved.config.training.seed, Purpose::Inference, saved.epoch as u64);
    let result = evaluate(forward.as_mut(), &saved.network, &saved.config, &loss, saved.set(), &mut noise)?;
    Ok((saved.write(dir, split, &result)?, forward.stats()))
}

/// Reads a saved network (`epoch_<N>/network.safetensors`) of a run with this config.
pub fn load_network(config: &Config, path: &std::path::Path) -> Result<Network, RunError> {
    let bytes = std::fs::read(path).map_err(|source| RunError::Read { what: "network", path: path.into(), source })?;
    let file = TensorFile::from_bytes(&bytes).map_err(|source| RunError::Tensors { path: path.into(), source })?;
    let mut network = Network::new(&config.layout, config.training.seed);
    network.load_tensors(&file).map_err(|source| RunError::Tensors { path: path.into(), source })?;
    Ok(network)
}

/// The config, epoch and network of `epoch_<epoch>` (default: the latest saved) of a results folder: one of
/// this tool's (`network.safetensors`) or, as it ships, one of the reference implementation's
/// (`<dataset>_network.pt`, see [`crate::interop::reference_run`]).
pub fn load_saved(dir: &RunDir, epoch: Option<usize>) -> Result<(Config, usize, Network), RunError> {
    if let Some(reference) = ReferenceRun::detect(&dir.root) {
        let read = reference.load(epoch)?;
        for layer in &read.expanded_sharing {
            tracing::info!(
                "layer {layer}: the reference's tiled presynaptic delay sharing is read as one delay per input"
            );
        }
        return Ok((read.config, read.epoch, read.network));
    }
    let config = Config::load(&dir.config())?;
    let epoch = match epoch {
        Some(e) => e,
        None => *dir.saved_epochs().last().ok_or_else(|| RunError::NoSavedNetwork { dir: dir.root.clone() })?,
    };
    let network = load_network(&config, &dir.network(epoch))?;
    Ok((config, epoch, network))
}

/// A saved network with its config and data.
struct SavedRun {
    config: Config,
    epoch: usize,
    network: Network,
    data: Splits,
    split: Split,
}

impl SavedRun {
    fn load(dir: &RunDir, epoch: Option<usize>, split: Split) -> Result<SavedRun, RunError> {
        let (config, epoch, network) = load_saved(dir, epoch)?;
        let data = Splits::build(&config)?;
        Ok(SavedRun { config, epoch, network, data, split })
    }

    fn set(&self) -> &Dataset {
        match self.split {
            Split::Train => &self.data.train,
            Split::Validation => &self.data.validation,
            Split::Test => &self.data.test,
        }
    }

    /// Writes the output times and labels; the result.
    fn write(&self, dir: &RunDir, split: Split, result: &Evaluation) -> Result<InferenceResult, RunError> {
        let (epoch, set) = (self.epoch, self.set());
        let label = split_label(split);
        let outputs_path = dir.epoch(epoch).join(format!("{label}_output_times.npy"));
        write_npy_f64(&outputs_path, &[result.outputs.rows, result.outputs.cols], &result.outputs.data)?;
        let labels: Vec<i64> = set.labels.iter().map(|&l| l as i64).collect();
        write_npy_i64(&dir.epoch(epoch).join(format!("{label}_labels.npy")), &[labels.len()], &labels)?;
        let correct = result.predictions.iter().zip(&set.labels).filter(|(p, l)| **p == **l as i64).count();
        Ok(InferenceResult {
            epoch,
            accuracy: result.accuracy,
            correct,
            samples: set.len(),
            loss: result.loss,
            outputs_path,
        })
    }
}
