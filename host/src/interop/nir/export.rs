//! A network as a NIR graph.
//!
//! | this tool | NIR |
//! |---|---|
//! | NeuronLayer weights `[n_in, size]` | `Linear` `weight [size, n_in]` (transposed), named `linear_<i>` |
//! | its neurons | `CubaLIF` `lif_<i>`: `tau_syn`, `tau_mem` (times the time scale), `r = 1 / g_leak`, `v_leak = leak`, `v_threshold = threshold + threshold offset`, `v_reset = leak`, `w_in = tau_syn` |
//! | axonal delays (effective, one per input) | `Delay` `delay_<i>` before the Linear |
//! | dendritic delays (effective, one per neuron) | `Delay` `delay_<i>` between the Linear and the CubaLIF |
//! | Multiplex by `f` | `Linear` `multiplex_<i>` of 0s and 1s repeating each input `f` times consecutively |
//! | BroadcastLayer | nothing (a Linear reaches every neuron) |
//!
//! Why `w_in = tau_syn` and `r = 1 / g_leak`: the exact model is `C u' = -g_l (u - E_l) + I` with `C = g_l
//! tau_m` and a current that jumps by the weight at each input spike, `tau_s I' = -I + tau_s sum w delta`. NIR's
//! CubaLIF is `tau_mem v' = (v_leak - v) + r I` and `tau_syn I' = -I + w_in S`, which is the same with `r = 1/g_l`
//! and `w_in = tau_syn`. Only the first spike of each neuron is the model's output (metadata `bss2.coding`); the
//! reset, which the model never reaches, is set to the leak. Times are in model units (one unit = `tau_syn` =
//! 6 us on BrainScaleS-2, metadata `bss2.model_unit_s`) unless a time scale is given (`time_scale = 6e-6`
//! writes seconds); `bss2.time_scale` records it. Each delay layer's trainable parameters and their
//! parametrisation go into the metadata too, so import restores them exactly. Synaptic delays (one per synapse) and Biases have no NIR node
//! and are refused.

use super::graph::{CubaLif, Graph, Meta, Node};
use crate::chip::config::Scales;
use crate::config::DelayKind;
use crate::config::Positivity;
use crate::network::{DelayLayer, Layer, Network};

/// Why a network cannot be exported.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExportError {
    /// A layer with no NIR counterpart.
    #[error("layer {layer} ({name}): {why}")]
    Unsupported {
        /// Its index.
        layer: usize,
        /// Its reference name.
        name: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A time scale that is not a positive number.
    #[error("the time scale must be a positive number, found {0}")]
    TimeScale(f64),
}

/// What `bss2.coding` says.
pub const CODING: &str = "time-to-first-spike: inputs are spike times (one spike per input at most), the output of each neuron is the \
     time of its first spike, the predicted class is the output neuron that spikes first";

/// The graph of `network`, with every time multiplied by `time_scale` (1: model units).
pub fn to_graph(network: &Network, time_scale: f64) -> Result<Graph, ExportError> {
    if !(time_scale > 0.0 && time_scale.is_finite()) {
        return Err(ExportError::TimeScale(time_scale));
    }
    let mut graph = Graph::default();
    let mut last = "input".to_string();
    let mut width = network.n_inputs;
    graph.nodes.insert(last.clone(), Node::Input { shape: vec![width as i64] });
    let push = |graph: &mut Graph, last: &mut String, name: String, node: Node| {
        graph.edges.push((last.clone(), name.clone()));
        graph.nodes.insert(name.clone(), node);
        *last = name;
    };
    // Dendritic delays wait for the Linear of their NeuronLayer.
    let mut dendritic: Option<(usize, Vec<f64>)> = None;
    for (i, layer) in network.layers.iter().enumerate() {
        let unsupported = |why| ExportError::Unsupported { layer: i, name: layer.name(), why };
        match layer {
            Layer::Broadcast { .. } => {}
            Layer::Biases { .. } => {
                return Err(unsupported("bias spikes at fixed times have no NIR node; refused"));
            }
            Layer::Multiplex { factor } => {
                let rows = width * factor;
                let mut weight = vec![0.0; rows * width];
                for r in 0..rows {
                    weight[r * width + r / factor] = 1.0;
                }
                push(&mut graph, &mut last, format!("multiplex_{i}"), Node::Linear { shape: [rows, width], weight });
                width = rows;
            }
            Layer::Delay(d) => {
                record_parametrisation(&mut graph, &format!("delay_{i}"), d);
                let effective = d.effective();
                let delay: Vec<f64> = effective.data.iter().map(|x| x * time_scale).collect();
                match d.config.kind {
                    DelayKind::Axonal => push(&mut graph, &mut last, format!("delay_{i}"), Node::Delay { delay }),
                    DelayKind::Dendritic => {
                        if dendritic.is_some() {
                            return Err(unsupported("a second dendritic delay layer before one NeuronLayer"));
                        }
                        dendritic = Some((i, delay));
                    }
                    DelayKind::Synaptic => {
                        return Err(unsupported(
                            "synaptic delays (one per synapse) have no NIR node (NIR delays one value per \
                             element); refused rather than expanded",
                        ));
                    }
                }
            }
            Layer::Neuron(n) => {
                let (n_in, size) = (n.weights.rows, n.weights.cols);
                let weight = (0..size).flat_map(|j| (0..n_in).map(move |k| (j, k))).map(|(j, k)| n.weights.get(k, j));
                let node = Node::Linear { shape: [size, n_in], weight: weight.collect() };
                push(&mut graph, &mut last, format!("linear_{i}"), node);
                if let Some((d, delay)) = dendritic.take() {
                    push(&mut graph, &mut last, format!("delay_{d}"), Node::Delay { delay });
                }
                let p = &n.config.neuron.params;
                let each = |x: f64| vec![x; size];
                let lif = CubaLif {
                    tau_syn: each(p.tau_syn * time_scale),
                    tau_mem: each(p.tau_mem * time_scale),
                    r: each(1.0 / p.g_leak),
                    v_leak: each(p.leak),
                    v_threshold: n.threshold_offsets.iter().map(|o| p.threshold + o).collect(),
                    v_reset: each(p.leak),
                    w_in: each(p.tau_syn * time_scale),
                };
                push(&mut graph, &mut last, format!("lif_{i}"), Node::CubaLif(lif));
                graph.metadata.insert(format!("bss2.threshold.lif_{i}"), Meta::Number(p.threshold));
                width = size;
            }
        }
    }
    let output = Node::Output { shape: vec![width as i64] };
    push(&mut graph, &mut last, "output".to_string(), output);
    graph.metadata.insert("bss2.coding".into(), Meta::Text(CODING.into()));
    graph.metadata.insert("bss2.time_scale".into(), Meta::Number(time_scale));
    graph.metadata.insert("bss2.model_unit_s".into(), Meta::Number(Scales::REFERENCE.time_unit_us * 1e-6));
    graph.metadata.insert("bss2.tool".into(), Meta::Text(format!("bss2 {}", env!("CARGO_PKG_VERSION"))));
    Ok(graph)
}

/// Records how a delay layer's trainable parameters give its delays (`bss2.<node>.raw`, `.raw_shape`,
/// `.positivity`, `.sharing`), so import restores the parameters themselves, not only the delays.
fn record_parametrisation(graph: &mut Graph, node: &str, d: &DelayLayer) {
    let key = |field: &str| format!("bss2.{node}.{field}");
    let (positivity, shift_scale) = match d.config.positivity {
        Positivity::Sigmoid { shift, scale } => ("sigmoid", vec![shift, scale]),
        Positivity::Clip => ("clip", vec![]),
        Positivity::Shift => ("shift", vec![]),
    };
    graph.metadata.insert(key("positivity"), Meta::Text(positivity.into()));
    if !shift_scale.is_empty() {
        graph.metadata.insert(key("sigmoid_shift_scale"), Meta::Numbers(shift_scale));
    }
    graph.metadata.insert(key("raw"), Meta::Numbers(d.raw.data.clone()));
    graph.metadata.insert(key("raw_shape"), Meta::Numbers(vec![d.raw.rows as f64, d.raw.cols as f64]));
    let sharing = vec![d.config.presyn_sharing_factor as f64, d.config.postsyn_sharing_factor as f64];
    graph.metadata.insert(key("sharing"), Meta::Numbers(sharing));
}
