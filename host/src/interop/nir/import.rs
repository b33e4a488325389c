//! A NIR graph as a network and a config: the inverse of [`super::export`]. The graph must be a feed-forward
//! chain `Input -> ... -> Output` of the node patterns export writes (Delay before a Linear: axonal delays; Delay
//! between a Linear and a CubaLIF: dendritic delays; a 0/1 Linear repeating inputs: Multiplex). Anything the
//! exact model cannot represent is refused with the node's name and why.

use yaml_serde::{Mapping, Value};

use super::graph::{CubaLif, Graph, Meta, Node};
use crate::config::{Config, ConfigError, LayerKind};
use crate::network::{Layer, Network};

/// Why a graph cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The graph is not a chain from one Input to one Output.
    #[error("the graph is not a feed-forward chain from one Input to one Output: {0}")]
    NotAChain(String),
    /// A node the exact model cannot represent.
    #[error("node {node}: {why}")]
    Node {
        /// The node's name.
        node: String,
        /// Why.
        why: String,
    },
    /// The network does not fit the base config (data set, sizes).
    #[error("the imported network does not fit the base config (give one whose data set matches with --config)")]
    Config(#[source] ConfigError),
}

fn refuse(node: &str, why: impl Into<String>) -> ImportError {
    ImportError::Node { node: node.into(), why: why.into() }
}

/// The node names from the Input to the Output.
fn chain(graph: &Graph) -> Result<Vec<&str>, ImportError> {
    let inputs: Vec<&str> =
        graph.nodes.iter().filter(|(_, n)| matches!(n, Node::Input { .. })).map(|(k, _)| k.as_str()).collect();
    let [input] = inputs.as_slice() else {
        return Err(ImportError::NotAChain(format!("{} Input nodes", inputs.len())));
    };
    for (from, to) in &graph.edges {
        for name in [from, to] {
            if !graph.nodes.contains_key(name) {
                return Err(ImportError::NotAChain(format!("an edge names {name:?}, which is not a node")));
            }
        }
    }
    let mut order = vec![*input];
    while order.len() <= graph.nodes.len() {
        let here = *order.last().expect("starts with the input");
        if matches!(graph.nodes[here], Node::Output { .. }) {
            break;
        }
        let next: Vec<&str> = graph.edges.iter().filter(|(f, _)| f == here).map(|(_, t)| t.as_str()).collect();
        let [next] = next.as_slice() else {
            return Err(ImportError::NotAChain(format!("node {here} has {} outgoing edges", next.len())));
        };
        let into = graph.edges.iter().filter(|(_, t)| t == next).count();
        if into != 1 {
            return Err(ImportError::NotAChain(format!("node {next} has {into} incoming edges")));
        }
        order.push(next);
    }
    if order.len() != graph.nodes.len() || !matches!(graph.nodes[*order.last().unwrap()], Node::Output { .. }) {
        return Err(ImportError::NotAChain(format!(
            "{} of the {} nodes lie on the path from {input} to an Output (cycles and side branches are refused)",
            order.len(),
            graph.nodes.len()
        )));
    }
    Ok(order)
}

/// One layer of the network to build, with its values in model units.
enum Plan {
    Multiplex(usize),
    Delay { node: String, axonal: bool, delays: Vec<f64> },
    Neuron { weights: Vec<f64>, n_in: usize, size: usize, lif: CubaLif, threshold: f64 },
}

/// `[out, in]` and the weights of a Linear (or an Affine without bias).
type Weights = ([usize; 2], Vec<f64>);

/// Reads `[size, n_in]` weights, refusing a nonzero bias.
fn weights(name: &str, node: &Node) -> Option<Result<Weights, ImportError>> {
    match node {
        Node::Linear { shape, weight } => Some(Ok((*shape, weight.clone()))),
        Node::Affine { shape, weight, bias } if bias.iter().all(|&b| b == 0.0) => Some(Ok((*shape, weight.clone()))),
        Node::Affine { .. } => Some(Err(refuse(name, "a bias (a constant input current) has no counterpart"))),
        _ => None,
    }
}

/// The repeat factor of a 0/1 Linear that copies each of `n` inputs consecutively, if it is one.
fn multiplex_factor(shape: [usize; 2], weight: &[f64]) -> Option<usize> {
    let [rows, cols] = shape;
    if cols == 0 || rows % cols != 0 {
        return None;
    }
    let f = rows / cols;
    let ok = (0..rows).all(|r| (0..cols).all(|c| weight[r * cols + c] == if c == r / f { 1.0 } else { 0.0 }));
    ok.then_some(f)
}

/// The one value every neuron of a CubaLIF shares, or why not.
fn uniform(name: &str, field: &str, values: &[f64]) -> Result<f64, ImportError> {
    match values.first() {
        Some(&v) if values.iter().all(|&x| x == v) => Ok(v),
        Some(_) => Err(refuse(name, format!("{field} differs between neurons; the model shares it within a layer"))),
        None => Err(refuse(name, "a CubaLIF without neurons")),
    }
}

fn plans(graph: &Graph, order: &[&str], scale: f64) -> Result<Vec<Plan>, ImportError> {
    let mut plans = Vec::new();
    let Node::Input { shape } = &graph.nodes[order[0]] else { unreachable!("the chain starts at the input") };
    let mut width = match shape.as_slice() {
        [n] if *n > 0 => *n as usize,
        _ => return Err(refuse(order[0], format!("input shape {shape:?}: only flat inputs are read"))),
    };
    let mut k = 1;
    while k + 1 < order.len() {
        let name = order[k];
        let node = &graph.nodes[name];
        if let Some(w) = weights(name, node) {
            let (shape, weight) = w?;
            if shape[1] != width || weight.len() != shape[0] * shape[1] {
                return Err(refuse(name, format!("weight shape {shape:?} does not take the {width} inputs it gets")));
            }
            // A Linear whose values reach a CubaLIF (directly or through one Delay) is a NeuronLayer.
            let after = |j: usize| order.get(j).map(|n| &graph.nodes[*n]);
            let (dendritic, lif_at) = match (after(k + 1), after(k + 2)) {
                (Some(Node::Delay { .. }), Some(Node::CubaLif(_))) => (Some(order[k + 1]), k + 2),
                (Some(Node::CubaLif(_)), _) => (None, k + 1),
                _ => {
                    let factor = multiplex_factor(shape, &weight).ok_or_else(|| {
                        refuse(name, "a Linear that feeds no CubaLIF must copy each input consecutively (Multiplex)")
                    })?;
                    plans.push(Plan::Multiplex(factor));
                    width = shape[0];
                    k += 1;
                    continue;
                }
            };
            let size = shape[0];
            if size == 0 {
                return Err(refuse(name, "a Linear without outputs"));
            }
            if let Some(delay_name) = dendritic {
                let Node::Delay { delay } = &graph.nodes[delay_name] else { unreachable!("matched above") };
                if delay.len() != size {
                    return Err(refuse(delay_name, format!("{} delays for {size} neurons", delay.len())));
                }
                let delays = in_model_units(delay_name, delay, scale)?;
                plans.push(Plan::Delay { node: delay_name.into(), axonal: false, delays });
            }
            let lif_name = order[lif_at];
            let Node::CubaLif(lif) = &graph.nodes[lif_name] else { unreachable!("matched above") };
            if lif.v_threshold.len() != size {
                return Err(refuse(
                    lif_name,
                    format!("{} neurons after a Linear of {size} outputs", lif.v_threshold.len()),
                ));
            }
            // The nominal threshold export recorded, else the most common one (so no offsets when all agree).
            let threshold = match graph.metadata.get(&format!("bss2.threshold.{lif_name}")) {
                Some(Meta::Number(t)) => *t,
                _ => most_common(&lif.v_threshold),
            };
            // Transposed back to [n_in, size].
            let mut ours = vec![0.0; weight.len()];
            for j in 0..size {
                for i in 0..width {
                    ours[i * size + j] = weight[j * width + i];
                }
            }
            plans.push(Plan::Neuron { weights: ours, n_in: width, size, lif: lif.clone(), threshold });
            width = size;
            k = lif_at + 1;
            continue;
        }
        match node {
            Node::Delay { delay } => {
                if delay.len() != width {
                    return Err(refuse(name, format!("{} delays for {width} inputs", delay.len())));
                }
                let delays = in_model_units(name, delay, scale)?;
                plans.push(Plan::Delay { node: name.into(), axonal: true, delays });
            }
            Node::CubaLif(_) => return Err(refuse(name, "a CubaLIF must follow a Linear (its weights)")),
            Node::Input { .. } | Node::Output { .. } => {
                return Err(refuse(name, "an Input or Output inside the chain"));
            }
            Node::Linear { .. } | Node::Affine { .. } => unreachable!("handled above"),
        }
        k += 1;
    }
    if !matches!(plans.last(), Some(Plan::Neuron { .. })) {
        return Err(ImportError::NotAChain("the node before the Output must be a CubaLIF".into()));
    }
    Ok(plans)
}

fn in_model_units(name: &str, delays: &[f64], scale: f64) -> Result<Vec<f64>, ImportError> {
    if let Some(bad) = delays.iter().find(|d| !(**d >= 0.0 && d.is_finite())) {
        return Err(refuse(name, format!("delay {bad}: delays must be finite and not negative")));
    }
    Ok(delays.iter().map(|d| d / scale).collect())
}

fn most_common(values: &[f64]) -> f64 {
    let mut best = (0, values[0]);
    for &v in values {
        let count = values.iter().filter(|&&x| x == v).count();
        if count > best.0 {
            best = (count, v);
        }
    }
    best.1
}

/// The network of `graph` and its config: `base` with `network_layout` replaced. Weights and thresholds are read
/// exactly; delays with the trainable parameters and parametrisation export recorded in the metadata when they
/// give exactly the graph's delays, else with positivity `clip` (raw = delay).
pub fn from_graph(graph: &Graph, base: &Config) -> Result<(Config, Network), ImportError> {
    let order = chain(graph)?;
    let scale = match graph.metadata.get("bss2.time_scale") {
        Some(Meta::Number(s)) if *s > 0.0 && s.is_finite() => *s,
        _ => 1.0,
    };
    let plans = plans(graph, &order, scale)?;
    // The delays' own parametrisation where export recorded it and it gives exactly the graph's delays, else
    // positivity clip with raw = delay.
    match assemble(graph, base, &order, &plans, scale, true)? {
        (config, network, true) => Ok((config, network)),
        _ => assemble(graph, base, &order, &plans, scale, false).map(|(config, network, _)| (config, network)),
    }
}

/// The trainable delay parameters and their parametrisation, as export recorded them for `node`.
struct Recorded {
    positivity: Mapping,
    sharing: (usize, usize),
    raw: Vec<f64>,
}

fn recorded(graph: &Graph, node: &str) -> Option<Recorded> {
    let get = |field: &str| graph.metadata.get(&format!("bss2.{node}.{field}"));
    let mut positivity = Mapping::new();
    match get("positivity")? {
        Meta::Text(name) if name == "sigmoid" => {
            let Some(Meta::Numbers(v)) = get("sigmoid_shift_scale") else { return None };
            let [shift, scale] = v.as_slice() else { return None };
            positivity.insert("name".into(), "sigmoid".into());
            positivity.insert("shift".into(), Value::from(*shift));
            positivity.insert("scale".into(), Value::from(*scale));
        }
        Meta::Text(name) if name == "clip" || name == "shift" => {
            positivity.insert("name".into(), name.as_str().into());
        }
        _ => return None,
    }
    let count = |x: f64| (x >= 1.0 && x.fract() == 0.0 && x < 1e9).then_some(x as usize);
    let Some(Meta::Numbers(sharing)) = get("sharing") else { return None };
    let [pre, post] = sharing.as_slice() else { return None };
    let Some(Meta::Numbers(raw)) = get("raw") else { return None };
    Some(Recorded { positivity, sharing: (count(*pre)?, count(*post)?), raw: raw.clone() })
}

/// Builds the config and network of `plans`; with `restore`, delay layers take their recorded parametrisation.
/// The flag says whether every restored delay layer gives exactly the graph's delays.
fn assemble(
    graph: &Graph,
    base: &Config,
    order: &[&str],
    plans: &[Plan],
    scale: f64,
    restore: bool,
) -> Result<(Config, Network, bool), ImportError> {
    let lifs: Vec<&str> = order.iter().copied().filter(|n| matches!(graph.nodes[*n], Node::CubaLif(_))).collect();
    let base_neurons: Vec<&crate::config::NeuronLayerConfig> = base
        .layout
        .layers
        .iter()
        .filter_map(|l| if let LayerKind::Neuron(n) = &l.kind { Some(n) } else { None })
        .collect();
    let mut layers = Vec::new();
    let mut delayed = false;
    let mut neuron_index = 0;
    let n_neuron_layers = plans.iter().filter(|p| matches!(p, Plan::Neuron { .. })).count();
    for plan in plans {
        let mut entry = Mapping::new();
        match plan {
            Plan::Multiplex(f) => {
                entry.insert("name".into(), "Multiplex".into());
                entry.insert("factor".into(), Value::from(*f as u64));
            }
            Plan::Delay { node, axonal, .. } => {
                entry.insert("name".into(), (if *axonal { "DelayAxonal" } else { "DelayDendritic" }).into());
                entry.insert("delay_mean".into(), Value::from(0.0));
                entry.insert("delay_std".into(), Value::from(0.0));
                match recorded(graph, node).filter(|_| restore) {
                    Some(r) => {
                        entry.insert("positivity".into(), Value::Mapping(r.positivity));
                        entry.insert("presyn_sharing_factor".into(), Value::from(r.sharing.0 as u64));
                        entry.insert("postsyn_sharing_factor".into(), Value::from(r.sharing.1 as u64));
                    }
                    None => {
                        let mut positivity = Mapping::new();
                        positivity.insert("name".into(), "clip".into());
                        entry.insert("positivity".into(), Value::Mapping(positivity));
                    }
                }
                delayed = true;
            }
            Plan::Neuron { size, lif, threshold, .. } => {
                if !delayed {
                    let mut broadcast = Mapping::new();
                    broadcast.insert("name".into(), "BroadcastLayer".into());
                    layers.push(Value::Mapping(broadcast));
                }
                delayed = false;
                let name = lifs[neuron_index];
                let tau_syn = uniform(name, "tau_syn", &lif.tau_syn)? / scale;
                let tau_mem = uniform(name, "tau_mem", &lif.tau_mem)? / scale;
                let r = uniform(name, "r", &lif.r)?;
                let v_leak = uniform(name, "v_leak", &lif.v_leak)?;
                let w_in = uniform(name, "w_in", &lif.w_in)? / scale;
                if w_in != tau_syn {
                    return Err(refuse(
                        name,
                        format!(
                            "w_in {w_in} differs from tau_syn {tau_syn}: the exact model's input current jumps by the weight (w_in = tau_syn)"
                        ),
                    ));
                }
                if !(r > 0.0 && r.is_finite()) {
                    return Err(refuse(name, format!("r {r} must be positive")));
                }
                // The hidden layers take the base's first NeuronLayer's settings, the last layer its last's.
                let last = neuron_index + 1 == n_neuron_layers;
                let template = if last { base_neurons.last() } else { base_neurons.first() };
                entry.insert("name".into(), "NeuronLayer".into());
                entry.insert("size".into(), Value::from(*size as u64));
                entry.insert("weights_mean".into(), Value::from(template.map_or(0.0, |t| t.weights_mean)));
                entry.insert("weights_std".into(), Value::from(template.map_or(1.0, |t| t.weights_std)));
                entry.insert(
                    "max_num_missing_spikes".into(),
                    Value::from(template.map_or(0.3, |t| t.max_num_missing_spikes)),
                );
                let mut params = Mapping::new();
                params.insert("tau_syn".into(), Value::from(tau_syn));
                params.insert("tau_mem".into(), Value::from(tau_mem));
                params.insert("g_leak".into(), Value::from(1.0 / r));
                params.insert("leak".into(), Value::from(v_leak));
                params.insert("threshold".into(), Value::from(*threshold));
                entry.insert("neuron_params".into(), Value::Mapping(params));
                neuron_index += 1;
            }
        }
        layers.push(Value::Mapping(entry));
    }
    let Node::Input { shape } = &graph.nodes[order[0]] else { unreachable!("the chain starts at the input") };
    let mut layout = Mapping::new();
    layout.insert("n_inputs".into(), Value::from(shape[0] as u64));
    layout.insert("layers".into(), Value::Sequence(layers));
    let config = match base.with_network_layout(Value::Mapping(layout)) {
        Ok(config) => config,
        // A recorded parametrisation that does not fit (edited metadata): fall back to the plain reading.
        Err(_) if restore => return Ok((base.clone(), Network { n_inputs: 0, layers: Vec::new() }, false)),
        Err(e) => return Err(ImportError::Config(e)),
    };
    let mut network = Network::new(&config.layout, config.training.seed);
    let mut exact = true;
    let mut values = plans.iter();
    for layer in &mut network.layers {
        match layer {
            Layer::Broadcast { .. } => continue,
            Layer::Neuron(n) => {
                let Some(Plan::Neuron { weights, n_in, size, lif, threshold }) = values.next() else {
                    unreachable!("one plan per layer")
                };
                debug_assert_eq!((n.weights.rows, n.weights.cols), (*n_in, *size));
                n.weights.data.clone_from(weights);
                n.threshold_offsets = lif.v_threshold.iter().map(|v| v - threshold).collect();
            }
            Layer::Delay(d) => {
                let Some(Plan::Delay { node, delays, .. }) = values.next() else { unreachable!("one plan per layer") };
                match recorded(graph, node).filter(|r| restore && r.raw.len() == d.raw.data.len()) {
                    Some(r) => {
                        d.raw.data = r.raw;
                        exact &= d.effective().data == *delays;
                    }
                    None => {
                        exact &= !restore || recorded(graph, node).is_none();
                        d.raw.data.clone_from(delays);
                    }
                }
            }
            Layer::Multiplex { .. } => {
                values.next();
            }
            Layer::Biases { .. } => unreachable!("never generated"),
        }
    }
    Ok((config, network, exact))
}
