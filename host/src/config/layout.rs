//! `network_layout`: the layer chain, with every layer's input and output feature shapes checked.

use super::ConfigError;
use super::neuron::{NeuronSettings, PartialNeuronParams};
use super::reader::Section;
use crate::text::Excerpt;

/// Where a delay layer puts its delays (spec §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelayKind {
    /// One delay per input, `(n_in / presyn, 1)` raw parameters.
    Axonal,
    /// One delay per synapse, `(n_in / presyn, n_out / postsyn)`.
    Synaptic,
    /// One delay per neuron, `(1, n_out / postsyn)`.
    Dendritic,
}

impl DelayKind {
    /// The reference's layer name.
    pub fn name(self) -> &'static str {
        match self {
            DelayKind::Axonal => "DelayAxonal",
            DelayKind::Synaptic => "DelaySynaptic",
            DelayKind::Dendritic => "DelayDendritic",
        }
    }
}

/// How raw delay parameters become non-negative delays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Positivity {
    /// `D = shift + scale * sigmoid(raw)`.
    Sigmoid {
        /// Offset added.
        shift: f64,
        /// Range of the sigmoid.
        scale: f64,
    },
    /// `D = raw`, and `raw <- max(raw, 0)` after every optimiser step and at construction.
    Clip,
    /// `D = raw`, and the whole tensor is shifted up so its minimum is >= 0, after every step and at construction.
    Shift,
}

/// A delay layer.
#[derive(Clone, Debug, PartialEq)]
pub struct DelayConfig {
    /// Axonal, synaptic or dendritic.
    pub kind: DelayKind,
    /// Mean of the raw initial values.
    pub delay_mean: f64,
    /// Standard deviation of the raw initial values.
    pub delay_std: f64,
    /// Positivity function.
    pub positivity: Positivity,
    /// Groups of this many consecutive inputs share one delay.
    pub presyn_sharing_factor: usize,
    /// Postsynaptic neurons j and j + m/factor share one delay.
    pub postsyn_sharing_factor: usize,
    /// Whether the delays are trained.
    pub trainable: bool,
    /// Whether the effective delays are recorded every epoch.
    pub monitor: bool,
    /// Own learning rate (0 freezes), else the global one.
    pub learning_rate: Option<f64>,
    /// Standard deviation of noise added to every delayed time.
    pub jitter: f64,
}

/// A layer of neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronLayerConfig {
    /// Number of neurons.
    pub size: usize,
    /// Mean of the initial weights.
    pub weights_mean: f64,
    /// Standard deviation of the initial weights.
    pub weights_std: f64,
    /// Fraction of missing spikes over a batch above which this layer's weights are bumped.
    pub max_num_missing_spikes: f64,
    /// Whether the weights are trained.
    pub trainable: bool,
    /// Whether the weights are recorded every epoch.
    pub monitor: bool,
    /// Own learning rate (0 freezes), else the global one.
    pub learning_rate: Option<f64>,
    /// Neuron parameters after merging with the defaults.
    pub neuron: NeuronSettings,
}

/// One entry of `network_layout.layers`.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerKind {
    /// Copies the inputs to every neuron of the next layer.
    Broadcast,
    /// Adds trainable delays.
    Delay(DelayConfig),
    /// Leaky integrate-and-fire neurons.
    Neuron(NeuronLayerConfig),
    /// Appends fixed bias spike times.
    Biases {
        /// The bias times.
        times: Vec<f64>,
    },
    /// Repeats every input `factor` times consecutively.
    Multiplex {
        /// Copies per input.
        factor: usize,
    },
}

/// A layer with its place in the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSpec {
    /// What it is.
    pub kind: LayerKind,
    /// `[n, m]` of its input: n inputs, each seen by m neurons (m = 1: not yet broadcast).
    pub feat_in: [usize; 2],
    /// `[n, m]` of its output.
    pub feat_out: [usize; 2],
    /// Its path in the config, for messages.
    pub path: String,
}

/// `network_layout`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// Number of input spike times per sample.
    pub n_inputs: usize,
    /// The layers in order.
    pub layers: Vec<LayerSpec>,
}

impl Layout {
    /// Number of output neurons (the last layer's size).
    pub fn n_outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.feat_out[0])
    }
}

/// More inputs than any layer could sensibly have (and far from overflowing the shape arithmetic).
const MAX_INPUTS: usize = 1 << 24;

/// The most neurons a NeuronLayer may have (a batch's output times of one layer then still fit in memory).
pub const MAX_NEURONS: usize = 1 << 20;

/// The most trainable values (weights and delays) a network may have: 2^28 float64 are 2 GiB per copy, and
/// training holds about five copies (parameters, gradients, two optimiser moments, the chip's held weights).
/// A mistyped size is refused here, before anything is allocated.
pub const MAX_PARAMETERS: usize = 1 << 28;

/// Keys every layer may carry besides its own: the shapes the reference writes back into saved configs.
const WRITTEN_BACK: &[&str] = &["name", "feat_in", "feat_out"];

fn keys(own: &[&'static str]) -> Vec<&'static str> {
    own.iter().chain(WRITTEN_BACK).copied().collect()
}

fn parse_delay(s: &Section, kind: DelayKind) -> Result<DelayConfig, ConfigError> {
    let pos = s.section("positivity")?;
    let positivity = match pos.str("name")? {
        "sigmoid" => {
            let shift = pos.opt_f64("shift")?.unwrap_or(0.0);
            let scale = pos.opt_f64("scale")?.unwrap_or(1.0);
            if !(scale > 0.0) {
                return Err(pos.error("scale", format!("must be positive, found {scale}")));
            }
            pos.deny_unknown(&["name", "shift", "scale"])?;
            Positivity::Sigmoid { shift, scale }
        }
        "clip" => {
            pos.deny_unknown(&["name"])?;
            Positivity::Clip
        }
        "shift" => {
            pos.deny_unknown(&["name"])?;
            Positivity::Shift
        }
        other => {
            return Err(pos.error(
                "name",
                format!("unknown positivity {} (expected sigmoid, clip or shift)", Excerpt::new(other)),
            ));
        }
    };
    let config = DelayConfig {
        kind,
        delay_mean: s.f64("delay_mean")?,
        delay_std: s.nonnegative_f64("delay_std")?,
        positivity,
        presyn_sharing_factor: s.opt_count("presyn_sharing_factor")?.unwrap_or(1),
        postsyn_sharing_factor: s.opt_count("postsyn_sharing_factor")?.unwrap_or(1),
        trainable: s.bool_or("trainable", true)?,
        monitor: s.bool_or("monitor", false)?,
        learning_rate: s.opt_nonnegative_f64("learning_rate")?,
        jitter: s.opt_nonnegative_f64("jitter")?.unwrap_or(0.0),
    };
    if config.monitor && !config.trainable {
        return Err(s.error("monitor", "only trainable layers can be monitored"));
    }
    s.deny_unknown(&keys(&[
        "delay_mean",
        "delay_std",
        "positivity",
        "presyn_sharing_factor",
        "postsyn_sharing_factor",
        "trainable",
        "monitor",
        "learning_rate",
        "jitter",
    ]))?;
    Ok(config)
}

fn parse_neuron(
    s: &Section,
    defaults: &PartialNeuronParams,
    strict_leak: bool,
) -> Result<NeuronLayerConfig, ConfigError> {
    let own = match s.opt_section("neuron_params")? {
        Some(section) => PartialNeuronParams::parse(&section)?,
        None => PartialNeuronParams::default(),
    };
    let own_path = s.key_path("neuron_params");
    let neuron = defaults.merged(&own).resolve(&own_path, strict_leak).map_err(|e| own.locate(e, &own_path))?;
    let config = NeuronLayerConfig {
        size: match s.count("size")? {
            n if n > MAX_NEURONS => {
                return Err(s.error("size", format!("{n} neurons are more than the {MAX_NEURONS} a layer may have")));
            }
            n => n,
        },
        weights_mean: s.f64("weights_mean")?,
        weights_std: s.nonnegative_f64("weights_std")?,
        max_num_missing_spikes: s.nonnegative_f64("max_num_missing_spikes")?,
        trainable: s.bool_or("trainable", true)?,
        monitor: s.bool_or("monitor", false)?,
        learning_rate: s.opt_nonnegative_f64("learning_rate")?,
        neuron,
    };
    if config.monitor && !config.trainable {
        return Err(s.error("monitor", "only trainable layers can be monitored"));
    }
    if !config.trainable && config.max_num_missing_spikes != 1.0 {
        return Err(
            s.error("max_num_missing_spikes", "must be 1 for a layer that is not trainable (it cannot be bumped)")
        );
    }
    // `biases` is a legacy (Fast & Deep era) key the reference ignores.
    s.deny_unknown(&keys(&[
        "size",
        "weights_mean",
        "weights_std",
        "max_num_missing_spikes",
        "trainable",
        "monitor",
        "learning_rate",
        "neuron_params",
        "biases",
    ]))?;
    Ok(config)
}

impl Layout {
    /// Reads `network_layout` and checks that the chain of shapes works.
    pub fn parse(s: &Section, defaults: &PartialNeuronParams, strict_leak: bool) -> Result<Layout, ConfigError> {
        let n_inputs = s.count("n_inputs")?;
        let items = s.list("layers")?;
        if items.is_empty() {
            return Err(s.error("layers", "needs at least one layer"));
        }
        let mut kinds = Vec::with_capacity(items.len());
        for (path, value) in items {
            let layer = Section::item_section(path.clone(), value)?;
            let kind = match layer.str("name")? {
                "BroadcastLayer" => {
                    layer.deny_unknown(WRITTEN_BACK)?;
                    LayerKind::Broadcast
                }
                "DelayAxonal" => LayerKind::Delay(parse_delay(&layer, DelayKind::Axonal)?),
                "DelaySynaptic" => LayerKind::Delay(parse_delay(&layer, DelayKind::Synaptic)?),
                "DelayDendritic" => LayerKind::Delay(parse_delay(&layer, DelayKind::Dendritic)?),
                "NeuronLayer" => LayerKind::Neuron(parse_neuron(&layer, defaults, strict_leak)?),
                "Biases" => {
                    let times = layer.f64_list("times")?;
                    if times.is_empty() {
                        return Err(layer.error("times", "needs at least one bias time"));
                    }
                    layer.deny_unknown(&keys(&["times"]))?;
                    LayerKind::Biases { times }
                }
                "Multiplex" => {
                    let factor = layer.count("factor")?;
                    layer.deny_unknown(&keys(&["factor"]))?;
                    LayerKind::Multiplex { factor }
                }
                other => {
                    return Err(layer.error(
                        "name",
                        format!(
                            "unknown layer {} (known: BroadcastLayer, DelayAxonal, DelaySynaptic, DelayDendritic, NeuronLayer, Biases, Multiplex)", Excerpt::new(other)),
                    ));
                }
            };
            kinds.push((path, kind));
        }
        let layers = shape_chain(n_inputs, kinds)?;
        s.deny_unknown(&["n_inputs", "layers", "width_pixel"])?;
        Ok(Layout { n_inputs, layers })
    }
}

/// Walks the chain of feature shapes `[n, m]` from `[n_inputs, 1]`, as the reference does, and checks that
/// every layer gets the input form it needs.
fn shape_chain(n_inputs: usize, kinds: Vec<(String, LayerKind)>) -> Result<Vec<LayerSpec>, ConfigError> {
    let next_size = |from: usize| {
        kinds[from..].iter().find_map(|(_, k)| match k {
            LayerKind::Neuron(n) => Some(n.size),
            _ => None,
        })
    };
    let mut shape = [n_inputs, 1];
    let mut broadcast = false;
    let mut layers = Vec::with_capacity(kinds.len());
    for (index, (path, kind)) in kinds.iter().enumerate() {
        let err = |msg: String| ConfigError::at(path, msg);
        let feat_in = shape;
        let feat_out = match kind {
            LayerKind::Broadcast | LayerKind::Delay(_) => {
                if matches!(kind, LayerKind::Broadcast) && broadcast {
                    return Err(err(
                        "a BroadcastLayer needs per-sample input, but its input is already broadcast".into()
                    ));
                }
                let m = next_size(index).ok_or_else(|| err("no NeuronLayer follows this layer".into()))?;
                if broadcast && shape[1] != m {
                    return Err(err(format!(
                        "input is broadcast to {} neurons but the next NeuronLayer has {m}",
                        shape[1]
                    )));
                }
                broadcast = true;
                [shape[0], m]
            }
            LayerKind::Neuron(n) => {
                if !broadcast {
                    return Err(err("a NeuronLayer needs a BroadcastLayer or a Delay layer before it".into()));
                }
                broadcast = false;
                [n.size, 1]
            }
            LayerKind::Biases { times } => [shape[0] + times.len(), shape[1]],
            LayerKind::Multiplex { factor } => match shape[0].checked_mul(*factor) {
                Some(n) if n <= MAX_INPUTS => [n, shape[1]],
                _ => {
                    return Err(ConfigError::at(
                        &format!("{path}.factor"),
                        format!("{factor} copies of {} inputs are too many", shape[0]),
                    ));
                }
            },
        };
        if let LayerKind::Delay(d) = kind {
            let (n, m) = (feat_out[0], feat_out[1]);
            if d.kind != DelayKind::Dendritic && n % d.presyn_sharing_factor != 0 {
                return Err(ConfigError::at(
                    &format!("{path}.presyn_sharing_factor"),
                    format!("{} does not divide the {n} inputs", d.presyn_sharing_factor),
                ));
            }
            if d.kind != DelayKind::Axonal && m % d.postsyn_sharing_factor != 0 {
                return Err(ConfigError::at(
                    &format!("{path}.postsyn_sharing_factor"),
                    format!("{} does not divide the {m} neurons", d.postsyn_sharing_factor),
                ));
            }
        }
        shape = feat_out;
        layers.push(LayerSpec { kind: kind.clone(), feat_in, feat_out, path: path.clone() });
    }
    let parameters = layers.iter().fold(0usize, |sum, l| {
        let values = match l.kind {
            // Delay layers hold at most one delay per (input, neuron) pair.
            LayerKind::Neuron(_) | LayerKind::Delay(_) => l.feat_in[0].saturating_mul(l.feat_out[1].max(l.feat_in[1])),
            _ => 0,
        };
        sum.saturating_add(values)
    });
    if parameters > MAX_PARAMETERS {
        return Err(ConfigError::at(
            "network_layout.layers",
            format!("the network has {parameters} weights and delays, more than the {MAX_PARAMETERS} this tool trains"),
        ));
    }
    match layers.last() {
        Some(LayerSpec { kind: LayerKind::Neuron(_), .. }) => Ok(layers),
        Some(last) => Err(ConfigError::at(&last.path, "the last layer must be a NeuronLayer".to_string())),
        None => unreachable!("layers is not empty"),
    }
}
