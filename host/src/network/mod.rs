//! A network: the layer chain of a config with its parameters, forward and backward passes.

mod delay;
mod file;
mod pass;

pub use delay::DelayLayer;
pub use pass::{Forward, ForwardOptions, Gradients, Signal};

use crate::config::{LayerKind, Layout, NeuronLayerConfig};
use crate::model::Matrix;
use crate::rng::{self, Purpose};

/// A layer of LIF neurons with its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronLayer {
    /// Settings from the config (size, neuron parameters, learning rate, ...).
    pub config: NeuronLayerConfig,
    /// Float ("shadow") weights `[n_in, size]`.
    pub weights: Matrix,
    /// Fixed-pattern threshold offset of every neuron, drawn once when the layer is built.
    pub threshold_offsets: Vec<f64>,
}

/// One layer of the chain.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// Copies each input to every neuron of the next NeuronLayer.
    Broadcast {
        /// Number of neurons.
        n_post: usize,
    },
    /// Adds delays.
    Delay(DelayLayer),
    /// LIF neurons.
    Neuron(NeuronLayer),
    /// Appends fixed bias spikes.
    Biases {
        /// The bias times.
        times: Vec<f64>,
    },
    /// Repeats each input consecutively.
    Multiplex {
        /// Copies per input.
        factor: usize,
    },
}

impl Layer {
    /// The trainable parameter tensor, if the layer has one and it is trainable.
    pub fn trainable_parameters(&self) -> Option<&Matrix> {
        match self {
            Layer::Neuron(n) if n.config.trainable => Some(&n.weights),
            Layer::Delay(d) if d.config.trainable => Some(&d.raw),
            _ => None,
        }
    }

    /// Mutable access to the trainable parameter tensor.
    pub fn trainable_parameters_mut(&mut self) -> Option<&mut Matrix> {
        match self {
            Layer::Neuron(n) if n.config.trainable => Some(&mut n.weights),
            Layer::Delay(d) if d.config.trainable => Some(&mut d.raw),
            _ => None,
        }
    }

    /// The layer's own learning rate, if it overrides the global one.
    pub fn learning_rate(&self) -> Option<f64> {
        match self {
            Layer::Neuron(n) => n.config.learning_rate,
            Layer::Delay(d) => d.config.learning_rate,
            _ => None,
        }
    }

    /// The reference's layer name.
    pub fn name(&self) -> &'static str {
        match self {
            Layer::Broadcast { .. } => "BroadcastLayer",
            Layer::Delay(d) => d.config.kind.name(),
            Layer::Neuron(_) => "NeuronLayer",
            Layer::Biases { .. } => "Biases",
            Layer::Multiplex { .. } => "Multiplex",
        }
    }
}

/// A network built from a config's `network_layout`.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Inputs per sample.
    pub n_inputs: usize,
    /// The layers in config order.
    pub layers: Vec<Layer>,
}

impl Network {
    /// Builds the network, drawing initial parameters from the run's seed, layer by layer in config order:
    /// a NeuronLayer's weights `N(weights_mean, weights_std^2)` then its fixed-pattern threshold offsets, a
    /// delay layer's raw parameters `N(delay_mean, delay_std^2)` (then rectified for clip/shift).
    pub fn new(layout: &Layout, seed: u64) -> Network {
        let mut rng = rng::stream(seed, Purpose::Init, 0);
        let layers = layout
            .layers
            .iter()
            .map(|spec| match &spec.kind {
                LayerKind::Broadcast => Layer::Broadcast { n_post: spec.feat_out[1] },
                LayerKind::Biases { times } => Layer::Biases { times: times.clone() },
                LayerKind::Multiplex { factor } => Layer::Multiplex { factor: *factor },
                LayerKind::Neuron(config) => {
                    let n_in = spec.feat_in[0];
                    let data = (0..n_in * config.size)
                        .map(|_| rng::normal(&mut rng, config.weights_mean, config.weights_std))
                        .collect();
                    let noise = config.neuron.noise;
                    let threshold_offsets = (0..config.size)
                        .map(|_| noise.fp_mean + noise.fp_std * rng::normal(&mut rng, 0.0, 1.0))
                        .collect();
                    Layer::Neuron(NeuronLayer {
                        config: config.clone(),
                        weights: Matrix { rows: n_in, cols: config.size, data },
                        threshold_offsets,
                    })
                }
                LayerKind::Delay(config) => {
                    let (n_pre, n_post) = (spec.feat_out[0], spec.feat_out[1]);
                    let (rows, cols) = DelayLayer::raw_shape(config, n_pre, n_post);
                    let data =
                        (0..rows * cols).map(|_| rng::normal(&mut rng, config.delay_mean, config.delay_std)).collect();
                    let mut layer =
                        DelayLayer { config: config.clone(), raw: Matrix { rows, cols, data }, n_pre, n_post };
                    layer.rectify();
                    Layer::Delay(layer)
                }
            })
            .collect();
        Network { n_inputs: layout.n_inputs, layers }
    }

    /// Number of outputs (the last layer's size).
    pub fn n_outputs(&self) -> usize {
        match self.layers.last() {
            Some(Layer::Neuron(n)) => n.config.size,
            _ => 0,
        }
    }

    /// The NeuronLayers with their indices in the chain.
    pub fn neuron_layers(&self) -> impl Iterator<Item = (usize, &NeuronLayer)> {
        self.layers.iter().enumerate().filter_map(|(i, l)| if let Layer::Neuron(n) = l { Some((i, n)) } else { None })
    }

    /// The delay layers with their indices in the chain.
    pub fn delay_layers(&self) -> impl Iterator<Item = (usize, &DelayLayer)> {
        self.layers.iter().enumerate().filter_map(|(i, l)| if let Layer::Delay(d) = l { Some((i, d)) } else { None })
    }
}
