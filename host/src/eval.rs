//! `bss2 eval`: the plots of a run (spec §13), written with their numbers into `DIR/epoch_<N>/plots/`.
//!
//! The network of `epoch_<N>` runs the training and test sets once, in simulation or, with a chip substrate, on
//! the chip (then the simulation runs the test set too, for the measured-vs-ideal plot). Every plot is a PNG
//! with its numbers beside it under the same stem (`.csv`, or `.npy` for matrices):
//!
//! | stem | content |
//! |---|---|
//! | `curves` | loss and accuracy over epochs from `metrics.csv` (learning-rate changes and bump epochs marked) |
//! | `plane_{train,test}` | Yin-Yang only: samples at (x, y) coloured by prediction, errors crossed |
//! | `confusion_{train,test}` | confusion matrices |
//! | `output_histograms`, `output_sorted`, `output_differences` | test-set output spike times |
//! | `hidden_raster_layer_<i>`, `hidden_histogram_layer_<i>` | test-set spike times of each hidden NeuronLayer `i` |
//! | `weights_histogram_layer_<i>`, `weights_matrix_layer_<i>` | each NeuronLayer's weights |
//! | `delays_layer_<i>` | each delay layer's effective delays |
//! | `summary` | curves, plane, confusion matrices and output times on one page |
//! | `measured_vs_ideal` | chip only: chip vs simulated spike times of every NeuronLayer and axonal delay layer, test set |
//! | `membrane_neuron_<K>` | chip with `record_neuron`: MADC traces of logical neuron K |

use std::path::{Path, PathBuf};

use tracing::info;

use crate::chip::{ChipError, ChipStats};
use crate::config::Config;
use crate::data::{Dataset, DatasetSpec, yin_yang};
use crate::forward::{ForwardPass, Placement, Simulation};
use crate::inference::load_network;
use crate::interop::ReferenceRun;
use crate::io::read_npy_f64;
use crate::model::Matrix;
use crate::network::{Layer, Network};
use crate::plot::{self, Classified, Curves, NeuronTimes, PlotError, SummaryPanels};
use crate::rng::{self, Purpose};
use crate::train::evaluate::batch_inputs;
use crate::train::loss::Loss;
use crate::train::metrics::{self, EpochMetrics, MetricsError};
use crate::train::run_dir::RunDir;
use crate::train::runner::RunError;
use crate::train::session::Splits;

/// Samples whose membrane is recorded with `record_neuron`.
pub const TRACE_SAMPLES: usize = 3;

/// Why `eval` failed. Messages name the file or folder concerned.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The results folder does not exist.
    #[error("{0}: no such results folder")]
    NoFolder(PathBuf),
    /// No saved network at all, or not the one asked for.
    #[error("{path}: not found; {dir} has {saved}")]
    NotSaved {
        /// The network file looked for.
        path: PathBuf,
        /// The results folder.
        dir: PathBuf,
        /// The saved epochs, in words.
        saved: String,
    },
    /// The plots folder cannot be made.
    #[error("cannot create the folder {}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `metrics.csv` is missing or malformed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Loading the run failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The chip failed.
    #[error(transparent)]
    Chip(#[from] ChipError),
    /// A membrane recording asked of the simulation.
    #[error("recording neuron {0}'s membrane needs a chip (--substrate)")]
    RecordNeedsChip(usize),
    /// A plot could not be written.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// What `eval` did.
#[derive(Clone, Debug)]
pub struct EvalReport {
    /// The epoch evaluated.
    pub epoch: usize,
    /// The plots folder.
    pub folder: PathBuf,
    /// Every PNG written.
    pub plots: Vec<PathBuf>,
    /// Accuracy on the training set.
    pub train_accuracy: f64,
    /// Accuracy on the test set.
    pub test_accuracy: f64,
    /// The chip's counters (chip runs).
    pub chip: Option<ChipStats>,
}

/// Every NeuronLayer's output times over a whole data set, with the predictions.
struct Record {
    /// `[samples, size]` per NeuronLayer in chain order.
    layers: Vec<Matrix>,
    /// `[samples, n]` per axonal delay layer in chain order: the delayed spikes.
    delays: Vec<Matrix>,
    predictions: Vec<i64>,
}

/// Appends the rows of each of `parts` to the matrix of the same index in `all` (created empty at first).
fn append_rows(all: &mut Vec<Matrix>, parts: Vec<Matrix>) {
    if all.is_empty() {
        *all = parts.iter().map(|m| Matrix { rows: 0, cols: m.cols, data: Vec::new() }).collect();
    }
    for (all, m) in all.iter_mut().zip(parts) {
        all.rows += m.rows;
        all.data.extend(m.data);
    }
}

impl Record {
    fn outputs(&self) -> &Matrix {
        self.layers.last().expect("a network has a NeuronLayer")
    }
}

/// Runs `data` in order in batches of `batch`, collecting every NeuronLayer's times from `forward` (the noise
/// stream of inference at `epoch`, as `bss2 inference` draws it).
fn record(
    forward: &mut dyn ForwardPass,
    network: &Network,
    config: &Config,
    loss: &Loss,
    data: &Dataset,
    epoch: usize,
) -> Result<Record, ChipError> {
    let mut noise = rng::stream(config.training.seed, Purpose::Inference, epoch as u64);
    let batch = config.training.batch_size_eval;
    let (mut layers, mut delays) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch.max(1)) {
        let (out, delayed) = forward.layers_and_delays(network, &batch_inputs(data, chunk), &mut noise)?;
        append_rows(&mut layers, out);
        append_rows(&mut delays, delayed);
    }
    let predictions = layers.last().map(|m| loss.predictions(m)).unwrap_or_default();
    Ok(Record { layers, delays, predictions })
}

/// The curves of `metrics.csv`, read by column name. Files of older versions have no `bumped_batches`: their
/// bumps are unknown (not drawn).
fn read_curves(path: &Path) -> Result<Curves, MetricsError> {
    let file = metrics::read(path)?;
    let column = |f: fn(&EpochMetrics) -> f64| file.rows.iter().map(f).collect::<Vec<f64>>();
    let bumps_known = file.has("bumped_batches");
    if !bumps_known {
        info!("{}: no bumped_batches column (an older version wrote it): bumps are not drawn", path.display());
    }
    Ok(Curves {
        epochs: column(|m| m.epoch as f64),
        train_loss: column(|m| m.train_loss),
        train_accuracy: column(|m| m.train_accuracy),
        val_loss: column(|m| m.val_loss),
        val_accuracy: column(|m| m.val_accuracy),
        learning_rate: column(|m| m.learning_rate),
        bumped_batches: if bumps_known { column(|m| m.bumped_batches as f64) } else { column(|_| f64::NAN) },
        batches_per_epoch: None,
    })
}

/// The saved epoch to evaluate, of those `saved`; `network` names an epoch's file for the error.
fn choose_epoch(
    dir: &RunDir,
    saved: &[usize],
    epoch: Option<usize>,
    network: impl Fn(usize) -> PathBuf,
) -> Result<usize, EvalError> {
    let words = if saved.is_empty() {
        "no saved network (epoch_<N>/network.safetensors)".to_string()
    } else {
        format!("saved epochs {}", saved.iter().map(usize::to_string).collect::<Vec<_>>().join(", "))
    };
    let not_saved = |e: usize| EvalError::NotSaved { path: network(e), dir: dir.root.clone(), saved: words.clone() };
    match epoch {
        Some(e) if saved.contains(&e) => Ok(e),
        Some(e) => Err(not_saved(e)),
        None => saved.last().copied().ok_or_else(|| not_saved(0)),
    }
}

/// The curves of a reference folder: its `<dataset>_val_accuracies.npy` (one value per epoch from 0); the
/// reference keeps no other per-epoch numbers there.
fn reference_curves(path: &Path) -> Result<Curves, EvalError> {
    let (_, val_accuracy) = read_npy_f64(path).map_err(RunError::from)?;
    let nan = vec![f64::NAN; val_accuracy.len()];
    Ok(Curves {
        epochs: (0..val_accuracy.len()).map(|e| e as f64).collect(),
        train_loss: nan.clone(),
        train_accuracy: nan.clone(),
        val_loss: nan.clone(),
        val_accuracy,
        learning_rate: nan.clone(),
        bumped_batches: nan,
        batches_per_epoch: None,
    })
}

/// The (x, y) of every sample of a data set that has an input plane (Yin-Yang), else None.
fn plane_points(config: &Config, data: &Dataset) -> Option<Vec<(f64, f64)>> {
    let DatasetSpec::YinYang { early, late, .. } = *config.dataset.spec() else { return None };
    let span = late - early;
    Some(
        (0..data.len())
            .map(|i| (data.sample(i)[0] - early, data.sample(i)[1] - early))
            .map(|(x, y)| (x / span, y / span))
            .collect(),
    )
}

/// Makes every plot of the run in `dir` at `epoch` (default: the latest saved) into `epoch_<N>/plots/`, with
/// the network placed in simulation or on a chip; on a chip, `record_neuron`'s membrane is recorded for the
/// first [`TRACE_SAMPLES`] test samples.
pub fn run(
    dir: &RunDir,
    epoch: Option<usize>,
    placement: Placement,
    record_neuron: Option<usize>,
) -> Result<EvalReport, EvalError> {
    if !dir.root.is_dir() {
        return Err(EvalError::NoFolder(dir.root.clone()));
    }
    let (config, epoch, network, mut curves) = match ReferenceRun::detect(&dir.root) {
        Some(reference) => {
            let epoch = choose_epoch(dir, &reference.saved_epochs(), epoch, |e| reference.network_path(e))?;
            let read = reference.load(Some(epoch)).map_err(RunError::from)?;
            let curves = reference_curves(&reference.validation_accuracies(epoch))?;
            (read.config, epoch, read.network, curves)
        }
        None => {
            let config = Config::load(&dir.config()).map_err(RunError::from)?;
            let epoch = choose_epoch(dir, &dir.saved_epochs(), epoch, |e| dir.network(e))?;
            let network = load_network(&config, &dir.network(epoch))?;
            (config, epoch, network, read_curves(&dir.metrics())?)
        }
    };
    let data = Splits::build(&config).map_err(RunError::from)?;
    curves.batches_per_epoch = Some(data.train.len().div_ceil(config.training.batch_size.max(1)) as f64);
    let loss = Loss::for_config(&config);
    let folder = dir.epoch(epoch).join("plots");
    std::fs::create_dir_all(&folder).map_err(|source| EvalError::Folder { path: folder.clone(), source })?;

    let mut forward = placement.open(&network, &config.training)?;
    let train = record(forward.as_mut(), &network, &config, &loss, &data.train, epoch)?;
    let test = record(forward.as_mut(), &network, &config, &loss, &data.test, epoch)?;
    let traces = match (record_neuron, forward.as_chip()) {
        (None, _) => None,
        (Some(k), None) => return Err(EvalError::RecordNeedsChip(k)),
        (Some(k), Some(chip)) => {
            let rows: Vec<usize> = (0..TRACE_SAMPLES.min(data.test.len())).collect();
            Some((k, chip.record_membrane(&network, &batch_inputs(&data.test, &rows), k)?))
        }
    };
    // On a chip, the simulation's times of the test set for the measured-vs-ideal plot.
    let on_chip = forward.as_chip().is_some();
    let (sim_test, stats) = if on_chip {
        let mut simulation = Simulation::new(&config.training);
        (Some(record(&mut simulation, &network, &config, &loss, &data.test, epoch)?), Some(forward.stats()))
    } else {
        (None, None)
    };

    let class_names: Vec<String> = match config.dataset.spec() {
        DatasetSpec::YinYang { .. } => yin_yang::CLASS_NAMES.iter().map(|s| (*s).to_string()).collect(),
        _ => (0..data.test.n_classes).map(|c| c.to_string()).collect(),
    };
    let c_train = Classified { labels: &data.train.labels, predictions: &train.predictions, class_names: &class_names };
    let c_test = Classified { labels: &data.test.labels, predictions: &test.predictions, class_names: &class_names };
    let on = if on_chip { " (chip)" } else { "" };
    let mut plots = Vec::new();
    let mut stem = |name: &str| {
        let s = folder.join(name);
        plots.push(s.with_extension("png"));
        s
    };

    plot::training_curves(&stem("curves"), &curves)?;
    let (plane_train, plane_test) = (plane_points(&config, &data.train), plane_points(&config, &data.test));
    match (&plane_train, &plane_test) {
        (Some(xy_train), Some(xy_test)) => {
            plot::plane(&stem("plane_train"), &format!("Training set{on}"), xy_train, &c_train)?;
            plot::plane(&stem("plane_test"), &format!("Test set{on}"), xy_test, &c_test)?;
        }
        _ => info!("the {} data set has no 2-D input plane: plane plots skipped", config.dataset.name()),
    }
    plot::confusion_matrix(&stem("confusion_train"), &format!("Training set{on}"), &c_train)?;
    plot::confusion_matrix(&stem("confusion_test"), &format!("Test set{on}"), &c_test)?;
    plot::output_histograms(&stem("output_histograms"), test.outputs(), &c_test)?;
    plot::sorted_output_times(&stem("output_sorted"), test.outputs(), &c_test)?;
    plot::time_differences(&stem("output_differences"), test.outputs(), &c_test)?;

    let neuron_layers: Vec<(usize, &crate::network::NeuronLayer)> = network.neuron_layers().collect();
    for (k, (i, layer)) in neuron_layers.iter().enumerate() {
        if k + 1 < neuron_layers.len() {
            let title = format!("Hidden layer {i}, test set{on}");
            plot::hidden_raster(&stem(&format!("hidden_raster_layer_{i}")), &title, &test.layers[k], &c_test)?;
            plot::hidden_histogram(&stem(&format!("hidden_histogram_layer_{i}")), &title, &test.layers[k], &c_test)?;
        }
        let title = format!("Weights of NeuronLayer {i} ({} x {})", layer.weights.rows, layer.weights.cols);
        plot::weight_histogram(&stem(&format!("weights_histogram_layer_{i}")), &title, &layer.weights)?;
        plot::weight_matrix(&stem(&format!("weights_matrix_layer_{i}")), &title, &layer.weights)?;
    }
    for (i, delays) in network.delay_layers() {
        let title = format!("Delays of {} {i}", Layer::Delay(delays.clone()).name());
        plot::delay_distribution(&stem(&format!("delays_layer_{i}")), &title, &delays.effective())?;
    }
    if let Some(sim) = &sim_test {
        let labels: Vec<String> = neuron_layers
            .iter()
            .enumerate()
            .map(|(k, (i, _))| format!("layer {i} ({})", if k + 1 < neuron_layers.len() { "hidden" } else { "output" }))
            .collect();
        let delay_labels: Vec<String> = network
            .delay_layers()
            .filter(|(_, d)| d.config.kind == crate::config::DelayKind::Axonal)
            .map(|(i, _)| format!("layer {i} (delayed spikes)"))
            .collect();
        let layers: Vec<NeuronTimes> = labels
            .iter()
            .zip(sim.layers.iter().zip(&test.layers))
            .chain(delay_labels.iter().zip(sim.delays.iter().zip(&test.delays)))
            .map(|(label, (sim, chip))| NeuronTimes { label, sim, chip })
            .collect();
        plot::measured_vs_ideal(&stem("measured_vs_ideal"), &layers)?;
    }
    if let Some((k, traces)) = &traces {
        let title = format!("Membrane of neuron {k}");
        plot::membrane_traces(&stem(&format!("membrane_neuron_{k}")), &title, traces)?;
    }
    let title = format!(
        "{}, epoch {epoch}{on}: test accuracy {:.2}%",
        dir.root.file_name().map_or_else(|| dir.root.display().to_string(), |n| n.to_string_lossy().into_owned()),
        100.0 * c_test.accuracy()
    );
    let panels = SummaryPanels {
        title: &title,
        curves: &curves,
        plane: plane_test.as_deref(),
        test: c_test,
        train: c_train,
        test_outputs: test.outputs(),
    };
    plot::summary(&stem("summary"), &panels)?;
    Ok(EvalReport {
        epoch,
        folder,
        plots,
        train_accuracy: c_train.accuracy(),
        test_accuracy: c_test.accuracy(),
        chip: stats,
    })
}
