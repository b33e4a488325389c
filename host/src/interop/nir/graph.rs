//! NIR graphs (the Neuromorphic Intermediate Representation) of the nodes this tool maps, and their HDF5 file
//! as the `nir` Python package writes and reads it: `/version`, `/node/type = "NIRGraph"`, `/node/nodes/<name>/`
//! (a `type` string and one float64 dataset per parameter), `/node/edges` (`[n, 2]` strings) and
//! `/node/metadata/<key>`. Strings are variable-length UTF-8 scalars, as h5py writes them.

use std::collections::BTreeMap;

use hdf5_pure::{File, FileBuilder, GroupBuilder};

/// The NIR format version written.
pub const NIR_VERSION: &str = "1.0.8";

/// A node of the graph (only the kinds a network of this tool maps to).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// The graph's input of `shape` features.
    Input {
        /// Its shape.
        shape: Vec<i64>,
    },
    /// The graph's output.
    Output {
        /// Its shape.
        shape: Vec<i64>,
    },
    /// `y = W x`, `weight` `[out, in]` row-major.
    Linear {
        /// `[out, in]`.
        shape: [usize; 2],
        /// The weights.
        weight: Vec<f64>,
    },
    /// `y = W x + b`.
    Affine {
        /// `[out, in]`.
        shape: [usize; 2],
        /// The weights.
        weight: Vec<f64>,
        /// The bias.
        bias: Vec<f64>,
    },
    /// Delays every element `i` by `delay[i]`.
    Delay {
        /// The delays.
        delay: Vec<f64>,
    },
    /// Current-based LIF neurons: `tau_syn I' = -I + w_in S`, `tau_mem v' = (v_leak - v) + r I`, a spike when
    /// `v > v_threshold`, then `v = v_reset`.
    CubaLif(CubaLif),
}

/// The parameters of a CubaLIF node, one per neuron.
#[derive(Clone, Debug, PartialEq)]
pub struct CubaLif {
    /// Synaptic time constants.
    pub tau_syn: Vec<f64>,
    /// Membrane time constants.
    pub tau_mem: Vec<f64>,
    /// Resistances.
    pub r: Vec<f64>,
    /// Leak potentials.
    pub v_leak: Vec<f64>,
    /// Thresholds.
    pub v_threshold: Vec<f64>,
    /// Reset potentials.
    pub v_reset: Vec<f64>,
    /// Input current weights.
    pub w_in: Vec<f64>,
}

impl CubaLif {
    /// The fields with their NIR names.
    pub fn fields(&self) -> [(&'static str, &Vec<f64>); 7] {
        [
            ("tau_syn", &self.tau_syn),
            ("tau_mem", &self.tau_mem),
            ("r", &self.r),
            ("v_leak", &self.v_leak),
            ("v_threshold", &self.v_threshold),
            ("v_reset", &self.v_reset),
            ("w_in", &self.w_in),
        ]
    }
}

impl Node {
    /// The node's NIR type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Input { .. } => "Input",
            Node::Output { .. } => "Output",
            Node::Linear { .. } => "Linear",
            Node::Affine { .. } => "Affine",
            Node::Delay { .. } => "Delay",
            Node::CubaLif(_) => "CubaLIF",
        }
    }
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
    /// A vector of numbers.
    Numbers(Vec<f64>),
}

/// A NIR graph: named nodes, directed edges, metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// The nodes by name (HDF5 keeps groups sorted by name, so order carries no meaning).
    pub nodes: BTreeMap<String, Node>,
    /// `(from, to)` edges.
    pub edges: Vec<(String, String)>,
    /// Graph metadata.
    pub metadata: BTreeMap<String, Meta>,
}

/// Why a NIR file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NirFileError {
    /// Not a readable HDF5 file.
    #[error("not a readable HDF5 file")]
    Hdf5(#[source] hdf5_pure::Error),
    /// The HDF5 file is not laid out as a NIR graph.
    #[error("{path}: {what}")]
    Layout {
        /// The object in the file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// A node type this tool cannot represent.
    #[error(
        "node {node}: NIR type {kind} has no counterpart in this tool's networks (it maps Input, Output, Linear, Affine without bias, Delay and CubaLIF)"
    )]
    UnsupportedNode {
        /// The node's name.
        node: String,
        /// Its type.
        kind: String,
    },
}

fn scalar_string(group: &mut GroupBuilder, name: &str, value: &str) {
    group.create_dataset(name).with_vlen_strings(&[value]).with_shape(&[]);
}

fn floats(group: &mut GroupBuilder, name: &str, shape: &[usize], values: &[f64]) {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    group.create_dataset(name).with_f64_data(values).with_shape(&shape);
}

impl Graph {
    /// The graph as the bytes of a NIR HDF5 file.
    pub fn to_hdf5(&self) -> Result<Vec<u8>, hdf5_pure::Error> {
        let mut file = FileBuilder::new();
        file.create_dataset("version").with_vlen_strings(&[NIR_VERSION]).with_shape(&[]);
        let mut graph = file.create_group("node");
        scalar_string(&mut graph, "type", "NIRGraph");
        let mut nodes = graph.create_group("nodes");
        for (name, node) in &self.nodes {
            let mut g = nodes.create_group(name);
            scalar_string(&mut g, "type", node.type_name());
            match node {
                Node::Input { shape } | Node::Output { shape } => {
                    g.create_dataset("shape").with_i64_data(shape).with_shape(&[shape.len() as u64]);
                }
                Node::Linear { shape, weight } => floats(&mut g, "weight", shape, weight),
                Node::Affine { shape, weight, bias } => {
                    floats(&mut g, "weight", shape, weight);
                    floats(&mut g, "bias", &[bias.len()], bias);
                }
                Node::Delay { delay } => floats(&mut g, "delay", &[delay.len()], delay),
                Node::CubaLif(lif) => {
                    for (field, values) in lif.fields() {
                        floats(&mut g, field, &[values.len()], values);
                    }
                }
            }
            nodes.add_group(g.finish());
        }
        graph.add_group(nodes.finish());
        let flat: Vec<&str> = self.edges.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
        graph.create_dataset("edges").with_vlen_strings(&flat).with_shape(&[self.edges.len() as u64, 2]);
        let mut metadata = graph.create_group("metadata");
        for (key, value) in &self.metadata {
            match value {
                Meta::Text(text) => scalar_string(&mut metadata, key, text),
                Meta::Number(x) => {
                    metadata.create_dataset(key).with_f64_data(&[*x]).with_shape(&[]);
                }
                Meta::Numbers(x) => floats(&mut metadata, key, &[x.len()], x),
            }
        }
        graph.add_group(metadata.finish());
        file.add_group(graph.finish());
        file.finish()
    }

    /// Reads a NIR HDF5 file. Nodes of other types are refused by name; nested graphs too.
    pub fn from_hdf5(bytes: Vec<u8>) -> Result<Graph, NirFileError> {
        let file = File::from_bytes(bytes).map_err(NirFileError::Hdf5)?;
        let layout = |path: &str, what: &str| NirFileError::Layout { path: path.into(), what: what.into() };
        let root = file.root();
        let graph = root.group("node").map_err(|_| layout("/", "no group `node`: not a NIR graph file"))?;
        let kind = read_type(&graph, "/node")?;
        if kind != "NIRGraph" {
            return Err(layout("/node", &format!("type {kind:?}, expected \"NIRGraph\"")));
        }
        let nodes_group = graph.group("nodes").map_err(|_| layout("/node", "no group `nodes`"))?;
        let mut nodes = BTreeMap::new();
        for name in nodes_group.groups().map_err(NirFileError::Hdf5)? {
            let path = format!("/node/nodes/{name}");
            let g = nodes_group.group(&name).map_err(NirFileError::Hdf5)?;
            let kind = read_type(&g, &path)?;
            let values = |field: &str| -> Result<(Vec<usize>, Vec<f64>), NirFileError> {
                let ds = g.dataset(field).map_err(|_| layout(&path, &format!("no dataset `{field}` ({kind})")))?;
                let shape = ds.shape().map_err(NirFileError::Hdf5)?.iter().map(|&d| d as usize).collect();
                let data = ds.read_f64().map_err(|_| layout(&format!("{path}/{field}"), "not numeric"))?;
                Ok((shape, data))
            };
            let vector = |field: &str| -> Result<Vec<f64>, NirFileError> {
                let (shape, data) = values(field)?;
                if shape.len() > 1 {
                    return Err(layout(&format!("{path}/{field}"), &format!("shape {shape:?}, expected a vector")));
                }
                Ok(data)
            };
            let matrix = |field: &str| -> Result<([usize; 2], Vec<f64>), NirFileError> {
                match values(field)? {
                    (shape, data) if shape.len() == 2 => Ok(([shape[0], shape[1]], data)),
                    (shape, _) => Err(layout(&format!("{path}/{field}"), &format!("shape {shape:?}, expected 2-D"))),
                }
            };
            let node = match kind.as_str() {
                "Input" | "Output" => {
                    let ds = g.dataset("shape").map_err(|_| layout(&path, "no dataset `shape`"))?;
                    let shape = ds.read_i64().map_err(|_| layout(&format!("{path}/shape"), "not integers"))?;
                    if kind == "Input" { Node::Input { shape } } else { Node::Output { shape } }
                }
                "Linear" => {
                    let (shape, weight) = matrix("weight")?;
                    Node::Linear { shape, weight }
                }
                "Affine" => {
                    let (shape, weight) = matrix("weight")?;
                    Node::Affine { shape, weight, bias: vector("bias")? }
                }
                "Delay" => Node::Delay { delay: vector("delay")? },
                "CubaLIF" => {
                    let v_threshold = vector("v_threshold")?;
                    let v_reset = match g.dataset("v_reset") {
                        Ok(_) => vector("v_reset")?,
                        Err(_) => vec![0.0; v_threshold.len()],
                    };
                    Node::CubaLif(CubaLif {
                        tau_syn: vector("tau_syn")?,
                        tau_mem: vector("tau_mem")?,
                        r: vector("r")?,
                        v_leak: vector("v_leak")?,
                        w_in: vector("w_in")?,
                        v_threshold,
                        v_reset,
                    })
                }
                _ => return Err(NirFileError::UnsupportedNode { node: name, kind }),
            };
            nodes.insert(name, node);
        }
        let edges_ds = graph.dataset("edges").map_err(|_| layout("/node", "no dataset `edges`"))?;
        let flat = edges_ds.read_string().map_err(|_| layout("/node/edges", "not strings"))?;
        if flat.len() % 2 != 0 {
            return Err(layout("/node/edges", "not pairs of node names"));
        }
        let edges = flat.chunks_exact(2).map(|p| (p[0].clone(), p[1].clone())).collect();
        let mut metadata = BTreeMap::new();
        if let Ok(meta) = graph.group("metadata") {
            for key in meta.datasets().map_err(NirFileError::Hdf5)? {
                let ds = meta.dataset(&key).map_err(NirFileError::Hdf5)?;
                let value = match ds.read_string() {
                    Ok(mut text) if text.len() == 1 => Meta::Text(text.remove(0)),
                    _ => match (ds.shape(), ds.read_f64()) {
                        (Ok(shape), Ok(x)) if shape.is_empty() && x.len() == 1 => Meta::Number(x[0]),
                        (Ok(shape), Ok(x)) if shape.len() == 1 => Meta::Numbers(x),
                        _ => continue,
                    },
                };
                metadata.insert(key, value);
            }
        }
        Ok(Graph { nodes, edges, metadata })
    }
}

fn read_type(group: &hdf5_pure::Group, path: &str) -> Result<String, NirFileError> {
    let layout = |what: &str| NirFileError::Layout { path: path.into(), what: what.into() };
    let ds = group.dataset("type").map_err(|_| layout("no dataset `type`"))?;
    let mut text = ds.read_string().map_err(|_| layout("`type` is not a string"))?;
    if text.len() != 1 {
        return Err(layout("`type` is not one string"));
    }
    Ok(text.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_graph_survives_its_file() {
        let mut graph = Graph::default();
        graph.nodes.insert("input".into(), Node::Input { shape: vec![2] });
        graph.nodes.insert("delay".into(), Node::Delay { delay: vec![0.5, 0.25] });
        graph.nodes.insert("fc".into(), Node::Linear { shape: [3, 2], weight: vec![1.0, -2.0, 3.5, 0.1, 0.2, 0.3] });
        let lif = CubaLif {
            tau_syn: vec![1.0; 3],
            tau_mem: vec![2.0; 3],
            r: vec![2.0; 3],
            v_leak: vec![0.0; 3],
            v_threshold: vec![1.0, 1.1, 0.9],
            v_reset: vec![0.0; 3],
            w_in: vec![1.0; 3],
        };
        graph.nodes.insert("lif".into(), Node::CubaLif(lif));
        graph.nodes.insert("output".into(), Node::Output { shape: vec![3] });
        for (a, b) in [("input", "delay"), ("delay", "fc"), ("fc", "lif"), ("lif", "output")] {
            graph.edges.push((a.into(), b.into()));
        }
        graph.metadata.insert("coding".into(), Meta::Text("first spike".into()));
        graph.metadata.insert("unit".into(), Meta::Number(6e-6));
        graph.metadata.insert("raw".into(), Meta::Numbers(vec![0.5, -1.25]));
        let back = Graph::from_hdf5(graph.to_hdf5().unwrap()).unwrap();
        assert_eq!(back, graph);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(Graph::from_hdf5(b"not hdf5".to_vec()), Err(NirFileError::Hdf5(_))));
        let mut graph = Graph::default();
        graph.nodes.insert("input".into(), Node::Input { shape: vec![2] });
        let bytes = graph.to_hdf5().unwrap();
        for cut in [8, bytes.len() / 2, bytes.len() - 1] {
            assert!(Graph::from_hdf5(bytes[..cut].to_vec()).is_err(), "cut at {cut}");
        }
    }
}
