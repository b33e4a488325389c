//! A network's parameters as a tensor file (`network.safetensors`): `layers.<i>.weights` `[n_in, n_out]` for
//! NeuronLayers, `layers.<i>.delays` (raw trainable parameters) for delay layers, and
//! `layers.<i>.threshold_offsets` (the fixed-pattern threshold noise, part of the network as in the reference).

use super::{Layer, Network};
use crate::tensors::{TensorError, TensorFile};

fn weights_name(i: usize) -> String {
    format!("layers.{i}.weights")
}

fn delays_name(i: usize) -> String {
    format!("layers.{i}.delays")
}

fn offsets_name(i: usize) -> String {
    format!("layers.{i}.threshold_offsets")
}

impl Network {
    /// The parameters as named tensors.
    pub fn to_tensors(&self) -> TensorFile {
        let mut file = TensorFile::default();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                Layer::Neuron(n) => {
                    file.insert(weights_name(i), vec![n.weights.rows, n.weights.cols], n.weights.data.clone());
                    file.insert(offsets_name(i), vec![n.threshold_offsets.len()], n.threshold_offsets.clone());
                }
                Layer::Delay(d) => file.insert(delays_name(i), vec![d.raw.rows, d.raw.cols], d.raw.data.clone()),
                _ => {}
            }
        }
        file
    }

    /// Replaces the parameters by those in `file`; every shape must match this network's layout.
    /// Threshold offsets are optional (absent means zero, as for networks trained without noise).
    pub fn load_tensors(&mut self, file: &TensorFile) -> Result<(), TensorError> {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            match layer {
                Layer::Neuron(n) => {
                    let shape = [n.weights.rows, n.weights.cols];
                    n.weights.data = file.get(&weights_name(i), &shape)?.to_vec();
                    n.threshold_offsets = match file.get(&offsets_name(i), &[n.config.size]) {
                        Ok(v) => v.to_vec(),
                        Err(TensorError::Missing(_)) => vec![0.0; n.config.size],
                        Err(e) => return Err(e),
                    };
                }
                Layer::Delay(d) => {
                    let shape = [d.raw.rows, d.raw.cols];
                    d.raw.data = file.get(&delays_name(i), &shape)?.to_vec();
                }
                _ => {}
            }
        }
        let known: Vec<String> =
            (0..self.layers.len()).flat_map(|i| [weights_name(i), delays_name(i), offsets_name(i)]).collect();
        if let Some(extra) = file.tensors.keys().find(|k| k.starts_with("layers.") && !known.contains(k)) {
            return Err(TensorError::Invalid {
                name: extra.clone(),
                message: "does not belong to any layer of this network".into(),
            });
        }
        Ok(())
    }
}
