//! Whole runs: a fresh training, or a continued one, with snapshots, resume points, metrics and the final test.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tracing::info;

use super::checkpoint;
use super::chip_run::{self, ChipOptions};
use super::metrics;
use super::run_dir::RunDir;
use super::session::{Session, Splits, TrainError};
use super::writer::{EpochWriter, Files};
use crate::config::{Config, ConfigError, Overrides};
use crate::data::DataError;
use crate::io::{IoError, remove_stale_temporaries, write_npy_f64, write_npy_i64};
use crate::network::Network;
use crate::tensors::TensorError;

/// Why a run failed. Each variant names the folder or file concerned; the source says why.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data set could not be built.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A file could not be written or read.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A saved network or resume point is unusable.
    #[error("{}", path.display())]
    Tensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: TensorError,
    },
    /// A saved network or resume point cannot be read.
    #[error("cannot read the {what} {}", path.display())]
    Read {
        /// What the file is ("network", "resume point").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A results folder of the reference implementation could not be read.
    #[error(transparent)]
    Reference(#[from] crate::interop::ReferenceError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// `train` into a folder that already holds (part of) a run: use `bss2 continue` or another `--output`.
    #[error("{} already holds a run ({} exists); use `bss2 continue` or choose another --output", dir.display(), found.display())]
    RunExists {
        /// The results folder.
        dir: PathBuf,
        /// The first file of a run found in it.
        found: PathBuf,
    },
    /// A run folder without any saved network.
    #[error("{}: no epoch_<N>/network.safetensors found", dir.display())]
    NoSavedNetwork {
        /// The results folder.
        dir: PathBuf,
    },
    /// `continue --epochs N` with N not above the epochs already trained.
    #[error("--epochs {until}: the run has trained {done} epochs already; ask for more to continue it")]
    NothingToTrain {
        /// Epochs asked for in total.
        until: usize,
        /// Epochs trained.
        done: usize,
    },
    /// `train --epochs 0` or a config with `epoch_number: 0`.
    #[error("epoch_number is 0: a run trains at least one epoch")]
    NoEpochs,
    /// The chip could not run the network.
    #[error(transparent)]
    Chip(#[from] crate::chip::ChipError),
}

/// What `summary.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Accuracy on the test set with the final network.
    pub test_accuracy: f64,
    /// Mean loss on the test set.
    pub test_loss: f64,
    /// Validation accuracy after the last epoch.
    pub final_val_accuracy: f64,
    /// Epochs trained.
    pub epochs: usize,
    /// Wall time of all epochs (training and validation), summed over interruptions.
    pub seconds: f64,
    /// Batches bumped instead of stepped, over the whole run.
    pub bumped_batches: usize,
    /// The run's seed.
    pub seed: u64,
}

/// The first file or folder of a run in `dir`, if any: a folder holding one is never written into by `train`.
pub fn existing_run_file(dir: &RunDir) -> Option<PathBuf> {
    [dir.config(), dir.calibration()].into_iter().find(|f| f.exists()).or_else(|| trained_file(dir))
}

/// The first file or folder in `dir` that training writes after its start (metrics, resume point, summary,
/// snapshots), if any.
fn trained_file(dir: &RunDir) -> Option<PathBuf> {
    let files = [dir.metrics(), dir.resume(), dir.summary()];
    files.into_iter().find(|f| f.exists()).or_else(|| {
        let entries = std::fs::read_dir(&dir.root).ok()?;
        entries
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("epoch_")) && p.is_dir())
    })
}

/// Starts a run in `dir` (created; must not hold any part of a run), in simulation or on the config's chip. A
/// run that fails before its first resume point (a chip that does not answer epoch 0, say) removes what it wrote,
/// so the same command can be given again.
pub fn train(config: Config, dir: &RunDir, chip: &ChipOptions) -> Result<Summary, RunError> {
    train_from(config, dir, chip, None)
}

/// As [`train`], starting from `initial` (a saved network of this config's layout) instead of parameters drawn
/// from the seed.
pub fn train_from(
    config: Config,
    dir: &RunDir,
    chip: &ChipOptions,
    initial: Option<Network>,
) -> Result<Summary, RunError> {
    if let Some(found) = existing_run_file(dir) {
        return Err(RunError::RunExists { dir: dir.root.clone(), found });
    }
    if config.training.epoch_number == 0 {
        return Err(RunError::NoEpochs);
    }
    let created = !dir.root.exists();
    match start(config, dir, chip, true, initial) {
        Ok(session) => drive(session, dir),
        Err(e) => {
            abandon(dir, created);
            Err(e)
        }
    }
}

/// Starts the run prepared in `dir`: a folder holding its `config.yaml` (and perhaps the calibration an
/// interrupted start made), as a sweep lays out its runs. The config file is the folder's own and stays as it is;
/// a start that fails leaves the folder as it was, so the run can be started again.
pub fn train_prepared(dir: &RunDir, chip: &ChipOptions) -> Result<Summary, RunError> {
    let config = Config::load(&dir.config())?;
    if let Some(found) = trained_file(dir) {
        return Err(RunError::RunExists { dir: dir.root.clone(), found });
    }
    if config.training.epoch_number == 0 {
        return Err(RunError::NoEpochs);
    }
    let session = start(config, dir, chip, false, None)?;
    drive(session, dir)
}

/// A new run up to its first resume point (epoch 0 evaluated and saved); `write_config` records the effective
/// config as `config.yaml`.
fn start(
    config: Config,
    dir: &RunDir,
    chip: &ChipOptions,
    write_config: bool,
    initial: Option<Network>,
) -> Result<Session, RunError> {
    let data = Splits::build(&config)?;
    // The chip (and its calibration) is opened before the config is written, so a network it cannot run leaves
    // no folder behind.
    let forward = chip_run::open(&config, dir, chip)?;
    if write_config {
        dir.write(&dir.config(), config.to_yaml().as_bytes())?;
    }
    info!(dir = %dir.root.display(), train = data.train.len(), validation = data.validation.len(), test = data.test.len(), "starting training");
    let session = match initial {
        Some(network) => Session::start_from(config, data, forward, network)?,
        None => Session::start(config, data, forward)?,
    };
    let first = &session.state.history[0];
    info!(epoch = 0, val_loss = first.val_loss, val_accuracy = first.val_accuracy, "before training");
    save_progress(&session, dir)?;
    Ok(session)
}

/// Removes what a run that failed before its first resume point wrote into `dir` (which held no part of a run
/// when it began): its config and calibration, and the folder itself if the run created it and it is empty.
fn abandon(dir: &RunDir, created: bool) {
    if dir.resume().exists() {
        return;
    }
    for file in [dir.config(), dir.metrics(), dir.calibration()] {
        let _ = std::fs::remove_file(file);
    }
    if created {
        let _ = std::fs::remove_dir(&dir.root);
    }
}

/// Continues the run in `dir` from `epoch_<from>` (or the latest resume point) until `until` epochs (default:
/// the config's `epoch_number`); `substrate` and `chip_seed` move it to another chip (or to the simulation).
/// Everything is read and checked (config, resume point, chip) before anything in the folder changes.
pub fn resume(dir: &RunDir, from: Option<usize>, changes: Overrides, chip: &ChipOptions) -> Result<Summary, RunError> {
    let mut config = Config::load(&dir.config())?;
    let changes = Overrides {
        epochs: changes.epochs.filter(|&e| e != config.training.epoch_number),
        substrate: changes.substrate.filter(|s| *s != config.training.substrate),
        chip_seed: changes.chip_seed.filter(|&s| s != config.training.chip_seed),
        ..changes
    };
    let changed = changes != Overrides::default();
    if changed {
        config = config.with_overrides(changes)?;
    }
    let path = match from {
        Some(e) => dir.snapshot_state(e),
        None => dir.resume(),
    };
    let bytes =
        std::fs::read(&path).map_err(|source| RunError::Read { what: "resume point", path: path.clone(), source })?;
    let mut state =
        checkpoint::load(&bytes, &config).map_err(|source| RunError::Tensors { path: path.clone(), source })?;
    if config.training.epoch_number < state.epoch {
        return Err(RunError::NothingToTrain { until: config.training.epoch_number, done: state.epoch });
    }
    state.history.truncate(state.epoch + 1);
    let data = Splits::build(&config)?;
    info!(dir = %dir.root.display(), from = state.epoch, until = config.training.epoch_number, "continuing training");
    let forward = chip_run::open(&config, dir, chip)?;
    // A run killed while writing leaves temporary files beside the intact ones; clear them up.
    let stale = remove_stale_temporaries(&dir.root)
        + dir.saved_epochs().into_iter().map(|e| remove_stale_temporaries(&dir.epoch(e))).sum::<usize>();
    if stale > 0 {
        info!(files = stale, "removed temporary files of an interrupted write");
    }
    // Only a run that can go on records its new settings.
    if changed {
        dir.write(&dir.config(), config.to_yaml().as_bytes())?;
    }
    let session = Session::resume_on(config, data, state, forward);
    save_progress(&session, dir)?;
    drive(session, dir)
}

/// Writes the resume point and metrics (at a run's start, before the epoch loop).
fn save_progress(session: &Session, dir: &RunDir) -> Result<(), RunError> {
    for (path, bytes) in progress_files(session, dir)? {
        dir.write(&path, &bytes)?;
    }
    Ok(())
}

/// The resume point and metrics after an epoch.
fn progress_files(session: &Session, dir: &RunDir) -> Result<Files, RunError> {
    let state = &session.state;
    let resume = checkpoint::save(state, session.config.training.seed)
        .map_err(|source| RunError::Tensors { path: dir.resume(), source })?;
    let mut metrics = Vec::new();
    metrics::write(&mut metrics, &state.history).map_err(|e| IoError::os(&dir.metrics(), e))?;
    Ok(vec![(dir.resume(), resume), (dir.metrics(), metrics)])
}

fn progress_bar(session: &Session, epochs: usize) -> ProgressBar {
    let batches = session.data.train.len().div_ceil(session.config.training.batch_size);
    let bar = ProgressBar::new((epochs * batches) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} epoch {msg} [{bar:30}] {percent}% {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn drive(mut session: Session, dir: &RunDir) -> Result<Summary, RunError> {
    let until = session.config.training.epoch_number;
    let snapshots = session.config.training.epoch_snapshots.clone();
    let print_every = ((until as f64 * session.config.training.print_step_percent / 100.0) as usize).max(1);
    let bar = progress_bar(&session, until.saturating_sub(session.state.epoch));
    let mut writer = EpochWriter::new(dir.clone());
    while session.state.epoch < until {
        bar.set_message(format!("{}/{until}", session.state.epoch + 1));
        let m = session.train_epoch(|| bar.inc(1))?.clone();
        if m.epoch % print_every == 0 || m.epoch == until {
            bar.suspend(|| {
                info!(
                    epoch = m.epoch,
                    train_loss = m.train_loss,
                    train_accuracy = m.train_accuracy,
                    val_loss = m.val_loss,
                    val_accuracy = m.val_accuracy,
                    learning_rate = m.learning_rate,
                    bumped = m.bumped_batches,
                    seconds = m.seconds,
                    chip_seconds = m.chip_seconds,
                    protocol_seconds = m.protocol_seconds,
                    math_seconds = m.math_seconds,
                    retries = m.retries,
                    "epoch finished"
                )
            });
        }
        let mut files = Files::new();
        if snapshots.contains(&m.epoch) || m.epoch == until {
            files.extend(snapshot_files(&session, dir, m.epoch)?);
        }
        files.extend(progress_files(&session, dir)?);
        writer.write(dir, files)?;
    }
    writer.finish()?;
    bar.finish_and_clear();
    let start = Instant::now();
    let test = session.test()?;
    let epoch = session.state.epoch;
    let labels: Vec<i64> = session.data.test.labels.iter().map(|&l| l as i64).collect();
    write_npy_f64(
        &dir.epoch(epoch).join("test_output_times.npy"),
        &[test.outputs.rows, test.outputs.cols],
        &test.outputs.data,
    )?;
    write_npy_i64(&dir.epoch(epoch).join("test_labels.npy"), &[labels.len()], &labels)?;
    let history = &session.state.history;
    let summary = Summary {
        test_accuracy: test.accuracy,
        test_loss: test.loss,
        final_val_accuracy: history.last().map_or(f64::NAN, |m| m.val_accuracy),
        epochs: epoch,
        seconds: history.iter().map(|m| m.seconds).sum::<f64>() + start.elapsed().as_secs_f64(),
        bumped_batches: history.iter().map(|m| m.bumped_batches).sum(),
        seed: session.config.training.seed,
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    dir.write(&dir.summary(), json.as_bytes())?;
    info!(
        test_accuracy = summary.test_accuracy,
        test_loss = summary.test_loss,
        seconds = summary.seconds,
        "training finished"
    );
    Ok(summary)
}

/// The network and resume point of snapshot `epoch`.
fn snapshot_files(session: &Session, dir: &RunDir, epoch: usize) -> Result<Files, RunError> {
    let seed = session.config.training.seed;
    let mut network = session.state.network.to_tensors();
    network.metadata.insert("epoch".into(), epoch.to_string());
    network.metadata.insert("seed".into(), seed.to_string());
    let bytes = network.to_bytes().map_err(|source| RunError::Tensors { path: dir.network(epoch), source })?;
    let state = checkpoint::save(&session.state, seed)
        .map_err(|source| RunError::Tensors { path: dir.snapshot_state(epoch), source })?;
    Ok(vec![(dir.network(epoch), bytes), (dir.snapshot_state(epoch), state)])
}
