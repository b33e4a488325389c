//! The results folder of a run and everything written into it, always atomically (write a temporary file,
//! then rename), so a run killed at any moment leaves only complete files:
//!
//! ```text
//! DIR/config.yaml                  the effective config
//! DIR/metrics.csv                  one row per epoch (0 = before training), see `super::metrics`
//! DIR/resume.safetensors           the latest resume point, replaced after every epoch
//! DIR/epoch_<N>/network.safetensors   the network at each snapshot epoch and the last one
//! DIR/epoch_<N>/state.safetensors     a resume point at that epoch (for `bss2 continue --from N`)
//! DIR/epoch_<N>/test_output_times.npy, test_labels.npy   (last epoch)
//! DIR/summary.json                 test accuracy and loss, epochs, seconds
//! ```

use std::path::{Path, PathBuf};

use crate::io::{IoError, write_atomic};

/// Paths inside a results folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    /// The folder.
    pub root: PathBuf,
}

impl RunDir {
    /// A results folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    /// `config.yaml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.csv")
    }

    /// The latest resume point.
    pub fn resume(&self) -> PathBuf {
        self.root.join("resume.safetensors")
    }

    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.json")
    }

    /// `epoch_<N>/`.
    pub fn epoch(&self, epoch: usize) -> PathBuf {
        self.root.join(format!("epoch_{epoch}"))
    }

    /// `epoch_<N>/network.safetensors`.
    pub fn network(&self, epoch: usize) -> PathBuf {
        self.epoch(epoch).join("network.safetensors")
    }

    /// `epoch_<N>/state.safetensors`.
    pub fn snapshot_state(&self, epoch: usize) -> PathBuf {
        self.epoch(epoch).join("state.safetensors")
    }

    /// The epochs that have a saved network, ascending.
    pub fn saved_epochs(&self) -> Vec<usize> {
        epochs_with(&self.root, |e| self.network(e))
    }

    /// The calibration of the chip the run trains on (a copy, so a continued run uses the same one).
    pub fn calibration(&self) -> PathBuf {
        self.root.join("calibration.json")
    }

    /// Writes `bytes` to `path`, creating its folder.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), IoError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| IoError::Os { path: parent.to_path_buf(), source })?;
        }
        write_atomic(path, bytes)
    }
}

/// The N of every `root/epoch_<N>/` that holds the file `file(N)`, ascending.
pub fn epochs_with(root: &Path, file: impl Fn(usize) -> PathBuf) -> Vec<usize> {
    let mut epochs: Vec<usize> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.strip_prefix("epoch_")?.parse().ok())
        .filter(|&e| file(e).is_file())
        .collect();
    epochs.sort_unstable();
    epochs
}
