//! Weight bumping (spec §8 step 3): when too many neurons of a layer stay silent in a batch, raise their
//! incoming weights instead of taking a gradient step.

use serde::{Deserialize, Serialize};

use crate::config::BumpingConfig;
use crate::model::Matrix;
use crate::network::{Layer, Network};

/// Code of a batch without a bump.
pub const NO_BUMP: i64 = -2;
/// Code of a bump of the label (last) layer.
pub const LABEL_LAYER: i64 = -1;

/// Bump size and the previous batch's code; both carry over between epochs within a snapshot segment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BumpState {
    /// The current bump size.
    pub value: f64,
    /// The code of the previous batch: layer index, [`LABEL_LAYER`] or [`NO_BUMP`].
    pub last: i64,
}

impl BumpState {
    /// The state at the start of a segment.
    pub fn fresh(config: &BumpingConfig) -> BumpState {
        BumpState { value: config.value, last: NO_BUMP }
    }
}

fn missing(times: &Matrix) -> usize {
    times.data.iter().filter(|t| t.is_infinite() || t.is_nan()).count()
}

/// Which layer to bump, given the NeuronLayer outputs of a forward pass (by layer index): the first hidden
/// layer whose fraction of missing spikes over the batch exceeds its `max_num_missing_spikes`, else the label
/// layer if it does; None if no layer does. Returns the layer index.
pub fn layer_to_bump(network: &Network, outputs: &[Option<Matrix>]) -> Option<usize> {
    let last = network.layers.len() - 1;
    let offending = |index: usize| -> bool {
        let (Layer::Neuron(n), Some(times)) = (&network.layers[index], &outputs[index]) else { return false };
        let fraction = missing(times) as f64 / times.data.len().max(1) as f64;
        fraction > n.config.max_num_missing_spikes
    };
    (0..last).find(|&i| offending(i)).or_else(|| offending(last).then_some(last))
}

/// Applies the bump for `index` (if any), updates the state and returns the batch's code.
pub fn bump(
    network: &mut Network,
    outputs: &[Option<Matrix>],
    index: Option<usize>,
    config: &BumpingConfig,
    state: &mut BumpState,
) -> i64 {
    let last = network.layers.len() - 1;
    let code = match index {
        None => NO_BUMP,
        Some(i) if i == last => LABEL_LAYER,
        Some(i) => i as i64,
    };
    if let Some(i) = index {
        state.value = if config.exponential && code == state.last { 2.0 * state.value } else { config.value };
        if let (Layer::Neuron(layer), Some(times)) = (&mut network.layers[i], &outputs[i]) {
            let size = layer.config.size;
            let silent: Vec<bool> =
                (0..size).map(|j| !config.targeted || (0..times.rows).any(|b| !times.get(b, j).is_finite())).collect();
            let w = &mut layer.weights;
            for r in 0..w.rows {
                for (j, &bump_it) in silent.iter().enumerate() {
                    if bump_it {
                        *w.get_mut(r, j) += state.value;
                    }
                }
            }
        }
    }
    state.last = code;
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn bumps_the_first_offending_layer_and_doubles_on_repeats() {
        let config = Config::parse_str(include_str!("../../../configs/yin_yang_H30_W.yaml")).unwrap();
        let mut net = Network::new(&config.layout, 3);
        let bumping = config.training.bumping;
        let inf = f64::INFINITY;
        // Hidden layer (index 1): neuron 2 silent in one of two samples: 1/60 missing, below 0.3.
        let mut hidden = Matrix::filled(2, 30, 1.0);
        *hidden.get_mut(0, 2) = inf;
        let mut label = Matrix::filled(2, 3, 1.0);
        *label.get_mut(1, 0) = inf;
        let outputs = vec![None, Some(hidden.clone()), None, Some(label)];
        // Label layer: 1/6 missing > 0.0.
        assert_eq!(layer_to_bump(&net, &outputs), Some(3));
        let mut state = BumpState::fresh(&bumping);
        let before = net.clone();
        assert_eq!(bump(&mut net, &outputs, Some(3), &bumping, &mut state), LABEL_LAYER);
        let (Layer::Neuron(a), Layer::Neuron(b)) = (&before.layers[3], &net.layers[3]) else { panic!() };
        for r in 0..30 {
            assert_eq!(b.weights.get(r, 0), a.weights.get(r, 0) + 0.0005);
            assert_eq!(b.weights.get(r, 1), a.weights.get(r, 1));
        }
        // The same layer again doubles; a batch in between without a bump restarts.
        bump(&mut net, &outputs, Some(3), &bumping, &mut state);
        assert_eq!(state.value, 0.001);
        bump(&mut net, &outputs, None, &bumping, &mut state);
        bump(&mut net, &outputs, Some(3), &bumping, &mut state);
        assert_eq!(state.value, 0.0005);
        // A hidden layer over its limit is handled first.
        let mut hidden = Matrix::filled(2, 30, inf);
        *hidden.get_mut(0, 0) = 1.0;
        let outputs = vec![None, Some(hidden), None, Some(Matrix::filled(2, 3, inf))];
        assert_eq!(layer_to_bump(&net, &outputs), Some(1));
    }
}
