//! Resume points: the whole [`RunState`] (network, optimiser moments and rates, bump state, history) in one
//! safetensors file, so that a resumed run continues exactly where the saved one stopped. Random streams need
//! no saving: they are derived from the seed and the epoch (see `crate::rng`).

use serde::{Deserialize, Serialize};

use super::bumping::BumpState;
use super::optim::{GroupState, Optimizer};
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

/// A resume point as tensors and metadata.
pub fn save(state: &RunState, seed: u64) -> Result<Vec<u8>, TensorError> {
    let mut file = state.network.to_tensors();
    for (i, g) in state.optimizer.groups.iter().enumerate() {
        if !g.first.is_empty() {
            file.insert(format!("optimizer.{i}.first"), vec![g.first.len()], g.first.clone());
        }
        if !g.second.is_empty() {
            file.insert(format!("optimizer.{i}.second"), vec![g.second.len()], g.second.clone());
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
    let json = serde_json::to_string(&meta).map_err(|e| TensorError::Format(e.to_string()))?;
    file.metadata.insert("resume".into(), json);
    file.metadata.insert("epoch".into(), state.epoch.to_string());
    file.metadata.insert("seed".into(), seed.to_string());
    file.to_bytes()
}

/// Restores a resume point for `config` (whose layout must match the saved network).
pub fn load(bytes: &[u8], config: &Config) -> Result<RunState, TensorError> {
    let file = TensorFile::from_bytes(bytes)?;
    let json = file
        .metadata
        .get("resume")
        .ok_or_else(|| TensorError::Format("no resume metadata: not a resume point".into()))?;
    let meta: Meta = serde_json::from_str(json).map_err(|e| TensorError::Format(format!("resume metadata: {e}")))?;
    if meta.format != FORMAT {
        return Err(TensorError::Format(format!("resume point format {:?}, expected {FORMAT:?}", meta.format)));
    }
    let mut network = Network::new(&config.layout, config.training.seed);
    network.load_tensors(&file)?;
    let mut optimizer = Optimizer::new(config.training.optimizer, &network, meta.global_lr);
    if meta.groups.len() != optimizer.groups.len() {
        return Err(TensorError::Format(format!(
            "resume point has {} optimiser groups, the network has {} layers",
            meta.groups.len(),
            optimizer.groups.len()
        )));
    }
    for (i, (group, &(lr, steps))) in optimizer.groups.iter_mut().zip(&meta.groups).enumerate() {
        let size = network.layers[i].trainable_parameters().map_or(0, |p| p.data.len());
        let moment = |name: String| match file.get(&name, &[size]) {
            Ok(v) => Ok(v.to_vec()),
            Err(TensorError::Missing(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        };
        *group = GroupState {
            lr,
            steps,
            first: moment(format!("optimizer.{i}.first"))?,
            second: moment(format!("optimizer.{i}.second"))?,
        };
    }
    Ok(RunState {
        network,
        optimizer,
        bump: meta.bump,
        epoch: meta.epoch,
        history: meta.history.iter().map(from_row).collect(),
        chip_runs: meta.chip_runs,
    })
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
}
