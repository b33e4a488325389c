//! Resume points: the whole [`RunState`] (network, optimiser moments and rates, bump state, history) in one
//! safetensors file, so that a resumed run continues exactly where the saved one stopped. Random streams need
//! no saving: they are derived from the seed and the epoch (see `crate::rng`).

use serde::{Deserialize, Serialize};

use super::bumping::BumpState;
use super::optim::{self, GroupState, Optimizer};
use super::session::{EpochMetrics, RunState};
use crate::config::Config;
use crate::network::Network;
use crate::tensors::{TensorError, TensorFile};

/// Version of the resume-point layout.
const FORMAT: &str = "bss2-resume-1";

/// The non-tensor part of a resume point, stored as JSON in the file's metadata.
#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    seed: u64,
    epoch: usize,
    bump: BumpState,
    global_lr: f64,
    /// (learning rate, steps) per parameter group.
    groups: Vec<(f64, u64)>,
    history: Vec<MetricsRow>,
    /// Programs the embedded emulator had run (absent in files of runs in simulation).
    #[serde(default)]
    chip_runs: u64,
}

/// [`EpochMetrics`] with NaN written as null (JSON has no NaN).
#[derive(Serialize, Deserialize)]
struct MetricsRow {
    epoch: usize,
    values: [Option<f64>; 6],
    bumped_batches: usize,
    /// chip, protocol and math seconds (absent in older files).
    #[serde(default)]
    timings: [f64; 3],
    #[serde(default)]
    retries: u64,
}

fn to_row(m: &EpochMetrics) -> MetricsRow {
    let v = [m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, m.learning_rate, m.seconds];
    MetricsRow {
        epoch: m.epoch,
        values: v.map(|x| (!x.is_nan()).then_some(x)),
        bumped_batches: m.bumped_batches,
        timings: [m.chip_seconds, m.protocol_seconds, m.math_seconds],
        retries: m.retries,
    }
}

fn from_row(r: &MetricsRow) -> EpochMetrics {
    let v = r.values.map(|x| x.unwrap_or(f64::NAN));
    EpochMetrics {
        epoch: r.epoch,
        train_loss: v[0],
        train_accuracy: v[1],
        val_loss: v[2],
        val_accuracy: v[3],
        learning_rate: v[4],
        seconds: v[5],
        bumped_batches: r.bumped_batches,
        chip_seconds: r.timings[0],
        protocol_seconds: r.timings[1],
        math_seconds: r.timings[2],
        retries: r.retries,
    }
}

/// The tensor names of a group's optimiser moments.
fn moment_name(group: usize, which: &str) -> String {
    format!("optimizer.{group}.{which}")
}

/// A resume point as tensors and metadata.
pub fn save(state: &RunState, seed: u64) -> Result<Vec<u8>, TensorError> {
    let mut file = state.network.to_tensors();
    for (i, g) in state.optimizer.groups.iter().enumerate() {
        if !g.first.is_empty() {
            file.insert(moment_name(i, "first"), vec![g.first.len()], g.first.clone());
        }
        if !g.second.is_empty() {
            file.insert(moment_name(i, "second"), vec![g.second.len()], g.second.clone());
        }
    }
    let meta = Meta {
        format: FORMAT.into(),
        seed,
        epoch: state.epoch,
        bump: state.bump,
        global_lr: state.optimizer.global_lr,
        groups: state.optimizer.groups.iter().map(|g| (g.lr, g.steps)).collect(),
        history: state.history.iter().map(to_row).collect(),
        chip_runs: state.chip_runs,
    };
    let json = serde_json::to_string(&meta).map_err(TensorError::ResumeMetadata)?;
    file.metadata.insert("resume".into(), json);
    file.metadata.insert("epoch".into(), state.epoch.to_string());
    file.metadata.insert("seed".into(), seed.to_string());
    file.to_bytes()
}

/// Restores a resume point for `config` (whose layout must match the saved network).
///
/// The whole file is checked before anything is returned: every tensor the network and the optimiser need is
/// present with its shape and finite, no tensor is left over, and the metadata agrees with itself, the tensors
/// and the config. Nothing that reads a resume point needs to check again (or can panic on it).
pub fn load(bytes: &[u8], config: &Config) -> Result<RunState, TensorError> {
    let file = TensorFile::from_bytes(bytes)?;
    let json = file.metadata.get("resume").ok_or(TensorError::NotAResumePoint)?;
    let meta: Meta = serde_json::from_str(json).map_err(TensorError::ResumeMetadata)?;
    if meta.format != FORMAT {
        return Err(TensorError::ResumeFormat { found: meta.format, expected: FORMAT });
    }
    check_meta(&meta, &file, config)?;
    let mut network = Network::new(&config.layout, config.training.seed);
    network.load_tensors(&file)?;
    if meta.groups.len() != network.layers.len() {
        return Err(inconsistent(format!(
            "{} optimiser groups, but the network has {} layers",
            meta.groups.len(),
            network.layers.len()
        )));
    }
    let kind = config.training.optimizer;
    let mut groups = Vec::with_capacity(meta.groups.len());
    let mut expected_moments = Vec::new();
    for (i, (layer, &(lr, steps))) in network.layers.iter().zip(&meta.groups).enumerate() {
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(inconsistent(format!("optimiser group {i} has the learning rate {lr}")));
        }
        let size = layer.trainable_parameters().map_or(0, |p| p.data.len());
        let held = optim::moments_held(kind, steps, size);
        let moment = |which: &str, held: bool| -> Result<Vec<f64>, TensorError> {
            let name = moment_name(i, which);
            match (held, file.tensors.contains_key(&name)) {
                (true, _) => Ok(file.get_finite(&name, &[size])?.to_vec()),
                (false, false) => Ok(Vec::new()),
                (false, true) => Err(inconsistent(format!(
                    "tensor {name:?} is present, but after {steps} steps of {kind:?} on {size} parameters the \
                     optimiser holds no such moment"
                ))),
            }
        };
        let (first, second) = (moment("first", held.first)?, moment("second", held.second)?);
        if let Some(k) = second.iter().position(|&v| v < 0.0) {
            return Err(inconsistent(format!(
                "tensor {:?} holds {} at index [{k}], but a second moment is never negative",
                moment_name(i, "second"),
                second[k]
            )));
        }
        expected_moments.extend([moment_name(i, "first"), moment_name(i, "second")]);
        groups.push(GroupState { lr, steps, first, second });
    }
    if let Some(extra) =
        file.tensors.keys().find(|name| !name.starts_with("layers.") && !expected_moments.contains(name))
    {
        return Err(inconsistent(format!("tensor {extra:?} is not part of a resume point of this network")));
    }
    let mut optimizer = Optimizer::new(kind, &network, meta.global_lr);
    optimizer.groups = groups;
    Ok(RunState {
        network,
        optimizer,
        bump: meta.bump,
        epoch: meta.epoch,
        history: meta.history.iter().map(from_row).collect(),
        chip_runs: meta.chip_runs,
    })
}

fn inconsistent(what: String) -> TensorError {
    TensorError::Inconsistent(what)
}

/// The checks of the metadata alone: against the plain `epoch` and `seed` keys, the history and the config.
fn check_meta(meta: &Meta, file: &TensorFile, config: &Config) -> Result<(), TensorError> {
    for (key, value) in [("epoch", meta.epoch.to_string()), ("seed", meta.seed.to_string())] {
        if let Some(plain) = file.metadata.get(key)
            && *plain != value
        {
            return Err(inconsistent(format!("the metadata says {key} {:?}, the resume record {value}", cut(plain))));
        }
    }
    if meta.seed != config.training.seed {
        return Err(inconsistent(format!(
            "it was written by a run with seed {}, but the config has seed {}",
            meta.seed, config.training.seed
        )));
    }
    if !(meta.global_lr >= 0.0 && meta.global_lr.is_finite()) {
        return Err(inconsistent(format!("the global learning rate is {}", meta.global_lr)));
    }
    if !meta.bump.value.is_finite() {
        return Err(inconsistent(format!("the bump size is {}", meta.bump.value)));
    }
    let epochs: Vec<usize> = meta.history.iter().map(|r| r.epoch).collect();
    if epochs.len() != meta.epoch + 1 || epochs.iter().enumerate().any(|(k, &e)| k != e) {
        return Err(inconsistent(format!(
            "after {} epochs the history must hold epochs 0 to {}, it holds {} rows{}",
            meta.epoch,
            meta.epoch,
            epochs.len(),
            epochs
                .iter()
                .enumerate()
                .find(|(k, e)| k != *e)
                .map_or(String::new(), |(k, e)| format!(" (row {k} is epoch {e})"))
        )));
    }
    Ok(())
}

/// At most 40 characters of a metadata value, for messages.
fn cut(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::session::{Session, Splits};

    #[test]
    fn a_resume_point_restores_the_state_bit_for_bit() {
        let text = include_str!("../../../configs/yin_yang_H5_WS.yaml").replace("epoch_number: 300", "epoch_number: 2");
        let config = Config::parse_str(&text).unwrap();
        let mut session = Session::new(config.clone(), Splits::build(&config).unwrap());
        session.train_epoch(|| {}).unwrap();
        let bytes = save(&session.state, 2000).unwrap();
        let restored = load(&bytes, &config).unwrap();
        assert_eq!(restored.network, session.state.network);
        assert_eq!(restored.optimizer, session.state.optimizer);
        assert_eq!(restored.bump, session.state.bump);
        assert_eq!(restored.epoch, 1);
        // Bit-for-bit (NaN included), not just approximately.
        let bits = |h: &[EpochMetrics]| -> Vec<u64> {
            h.iter()
                .flat_map(|m| [m.train_loss, m.val_loss, m.val_accuracy, m.learning_rate, m.seconds])
                .map(f64::to_bits)
                .collect()
        };
        assert_eq!(bits(&restored.history), bits(&session.state.history));
        // A network file is not a resume point.
        let network_only = session.state.network.to_tensors().to_bytes().unwrap();
        assert!(load(&network_only, &config).is_err());
    }

    /// The config and a resume point after one epoch of yin_yang_H5_WS (Adam; layers: delays 0, neurons 1,
    /// delays 2, neurons 3).
    fn resume_point() -> (Config, TensorFile) {
        let text = include_str!("../../../configs/yin_yang_H5_WS.yaml").replace("epoch_number: 300", "epoch_number: 2");
        let config = Config::parse_str(&text).unwrap();
        let mut session = Session::new(config.clone(), Splits::build(&config).unwrap());
        session.train_epoch(|| {}).unwrap();
        let file = TensorFile::from_bytes(&save(&session.state, 2000).unwrap()).unwrap();
        (config, file)
    }

    /// Loads `file` after `edit`, expecting an error.
    fn refused(config: &Config, file: &TensorFile, edit: impl FnOnce(&mut TensorFile)) -> TensorError {
        let mut file = file.clone();
        edit(&mut file);
        match load(&file.to_bytes().unwrap(), config) {
            Ok(_) => panic!("an edited resume point was accepted"),
            Err(e) => e,
        }
    }

    /// Rewrites the JSON resume record.
    fn edit_meta(file: &mut TensorFile, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut meta: serde_json::Value = serde_json::from_str(&file.metadata["resume"]).unwrap();
        edit(&mut meta);
        file.metadata.insert("resume".into(), meta.to_string());
    }

    fn set(file: &mut TensorFile, name: &str, index: usize, value: f64) {
        file.tensors.get_mut(name).unwrap_or_else(|| panic!("no tensor {name}")).1[index] = value;
    }

    #[test]
    fn missing_or_misshapen_moments_are_refused() {
        let (config, file) = resume_point();
        assert!(load(&file.to_bytes().unwrap(), &config).is_ok());
        // Once the cause of a panic in the optimiser, and of a silent restart of Adam.
        for name in ["optimizer.1.second", "optimizer.1.first", "optimizer.0.second", "optimizer.3.first"] {
            let e = refused(&config, &file, |f| {
                f.tensors.remove(name);
            });
            assert!(matches!(&e, TensorError::Missing(n) if n == name), "{name}: {e:?}");
        }
        let e = refused(&config, &file, |f| {
            f.insert("optimizer.1.first", vec![3], vec![0.0; 3]);
        });
        assert!(matches!(&e, TensorError::Shape { name, found, .. } if name == "optimizer.1.first" && found == &[3]));
        let e = refused(&config, &file, |f| {
            let (shape, values) = f.tensors["optimizer.1.second"].clone();
            f.insert("optimizer.9.second", shape, values);
        });
        assert!(e.to_string().contains("tensor \"optimizer.9.second\" is not part of a resume point"), "{e}");
        // Moments without a step taken.
        let e = refused(&config, &file, |f| edit_meta(f, |m| m["groups"][1][1] = 0.into()));
        assert!(e.to_string().contains("\"optimizer.1.first\" is present, but after 0 steps"), "{e}");
    }

    #[test]
    fn non_finite_parameters_and_moments_are_refused_naming_the_first_bad_index() {
        let (config, file) = resume_point();
        let cases: [(&str, usize, f64, &str); 6] = [
            ("layers.1.weights", 7, f64::NAN, "\"layers.1.weights\" holds NaN at index [1, 2]"),
            ("layers.0.delays", 0, f64::INFINITY, "\"layers.0.delays\" holds inf at index [0, 0]"),
            (
                "layers.1.threshold_offsets",
                4,
                f64::NEG_INFINITY,
                "\"layers.1.threshold_offsets\" holds -inf at index [4]",
            ),
            ("optimizer.3.first", 2, f64::NAN, "\"optimizer.3.first\" holds NaN at index [2]"),
            ("optimizer.2.second", 1, f64::INFINITY, "\"optimizer.2.second\" holds inf at index [1]"),
            ("optimizer.2.second", 3, -1e-9, "\"optimizer.2.second\" holds -0.000000001 at index [3]"),
        ];
        for (name, index, value, message) in cases {
            let e = refused(&config, &file, |f| set(f, name, index, value));
            assert!(e.to_string().contains(message), "{name}: {e}");
        }
        // The first bad one is named, not a later one.
        let e = refused(&config, &file, |f| {
            set(f, "layers.3.weights", 4, f64::NAN);
            set(f, "layers.3.weights", 2, f64::INFINITY);
        });
        assert!(
            matches!(&e, TensorError::NonFinite { index, value, .. } if index == &[0, 2] && *value == f64::INFINITY)
        );
    }

    #[test]
    fn inconsistent_metadata_is_refused() {
        let (config, file) = resume_point();
        let message =
            |edit: &dyn Fn(&mut serde_json::Value)| refused(&config, &file, |f| edit_meta(f, |m| edit(m))).to_string();
        assert!(message(&|m| m["format"] = "bss2-resume-0".into()).contains("format \"bss2-resume-0\""));
        assert!(message(&|m| m["epoch"] = 2.into()).contains("the metadata says epoch \"1\""));
        let e = refused(&config, &file, |f| {
            edit_meta(f, |m| m["epoch"] = 2.into());
            f.metadata.insert("epoch".into(), "2".into());
        });
        assert!(e.to_string().contains("must hold epochs 0 to 2, it holds 2 rows"), "{e}");
        assert!(message(&|m| m["history"][1]["epoch"] = 5.into()).contains("(row 1 is epoch 5)"));
        assert!(
            message(&|m| {
                m["groups"].as_array_mut().unwrap().pop();
            })
            .contains("3 optimiser groups, but the network has 4 layers")
        );
        assert!(message(&|m| m["groups"][3][0] = (-0.5).into()).contains("group 3 has the learning rate -0.5"));
        assert!(message(&|m| m["global_lr"] = (-1.0).into()).contains("global learning rate is -1"));
        assert!(matches!(
            refused(&config, &file, |f| edit_meta(f, |m| m["bump"] = "big".into())),
            TensorError::ResumeMetadata(_)
        ));
        let e = refused(&config, &file, |f| {
            f.metadata.remove("resume");
        });
        assert!(matches!(e, TensorError::NotAResumePoint));
        // Another run's resume point.
        let other = Config::parse_str(&config.to_yaml().replace("torch_seed: 2000", "torch_seed: 7")).unwrap();
        let e = load(&file.to_bytes().unwrap(), &other).unwrap_err();
        assert!(e.to_string().contains("seed 2000, but the config has seed 7"), "{e}");
    }
}
