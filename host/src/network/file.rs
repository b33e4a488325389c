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

    /// Replaces the parameters by those in `file`; every shape must match this network's layout and every value
    /// must be finite. Threshold offsets are optional (absent means zero, as for networks trained without noise).
    /// Everything is checked before anything is replaced, so on error the network is unchanged.
    pub fn load_tensors(&mut self, file: &TensorFile) -> Result<(), TensorError> {
        let known: Vec<String> =
            (0..self.layers.len()).flat_map(|i| [weights_name(i), delays_name(i), offsets_name(i)]).collect();
        if let Some(extra) = file.tensors.keys().find(|k| k.starts_with("layers.") && !known.contains(k)) {
            return Err(TensorError::Unexpected(extra.clone()));
        }
        // (layer, values) per tensor: the parameters, and the offsets of NeuronLayers.
        let mut parameters = Vec::new();
        let mut offsets = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                Layer::Neuron(n) => {
                    let shape = [n.weights.rows, n.weights.cols];
                    parameters.push((i, file.get_finite(&weights_name(i), &shape)?.to_vec()));
                    let size = n.config.size;
                    offsets.push(match file.get_finite(&offsets_name(i), &[size]) {
                        Ok(v) => (i, v.to_vec()),
                        Err(TensorError::Missing(_)) => (i, vec![0.0; size]),
                        Err(e) => return Err(e),
                    });
                }
                Layer::Delay(d) => {
                    let shape = [d.raw.rows, d.raw.cols];
                    parameters.push((i, file.get_finite(&delays_name(i), &shape)?.to_vec()));
                }
                _ => {}
            }
        }
        for (i, values) in parameters {
            match &mut self.layers[i] {
                Layer::Neuron(n) => n.weights.data = values,
                Layer::Delay(d) => d.raw.data = values,
                _ => {}
            }
        }
        for (i, values) in offsets {
            if let Layer::Neuron(n) = &mut self.layers[i] {
                n.threshold_offsets = values;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn network() -> Network {
        let config = Config::parse_str(include_str!("../../../configs/yin_yang_H5_WS.yaml")).unwrap();
        Network::new(&config.layout, 1)
    }

    #[test]
    fn non_finite_or_foreign_tensors_are_refused_and_change_nothing() {
        let saved = network().to_tensors();
        let mut other =
            Network::new(&Config::parse_str(include_str!("../../../configs/yin_yang_H5_WS.yaml")).unwrap().layout, 2);
        let before = other.clone();
        for (name, index, value, shown) in [
            ("layers.3.weights", 5, f64::NAN, "[1, 2]"),
            ("layers.2.delays", 0, f64::INFINITY, "[0, 0]"),
            ("layers.3.threshold_offsets", 2, f64::NEG_INFINITY, "[2]"),
        ] {
            let mut file = saved.clone();
            file.tensors.get_mut(name).unwrap().1[index] = value;
            let e = other.load_tensors(&file).unwrap_err();
            assert!(e.to_string().contains(&format!("{name:?} holds {value} at index {shown}")), "{e}");
            // Layers before the bad tensor were not replaced either.
            assert_eq!(other, before);
        }
        let mut file = saved.clone();
        file.insert("layers.9.weights", vec![1], vec![0.0]);
        assert!(matches!(other.load_tensors(&file), Err(TensorError::Unexpected(n)) if n == "layers.9.weights"));
        other.load_tensors(&saved).unwrap();
        assert_eq!(other, network());
    }
}
