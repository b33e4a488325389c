//! Mapping a network onto the chip: which source slot feeds each weight row, which logical neurons each layer
//! occupies, and the synapse arrays that realise the (quantised, signed) weights.

use std::collections::HashMap;

use crate::model::{Matrix, NeuronParams};
use crate::network::{Layer, Network};

use super::ChipError;
use super::layout::{self, LOGICAL_NEURONS, SLOTS};

/// What an external source slot injects in every sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum External {
    /// The network input of this column.
    Input(usize),
    /// A bias spike at this time (model units after the sample start).
    Bias(f64),
}

/// A source on the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// An external slot (spikes sent by the FPGA).
    External(usize),
    /// An on-chip logical neuron.
    Neuron(usize),
}

impl Source {
    /// (slot, external) of this source.
    pub fn slot(self, neuron_slots: &[usize; LOGICAL_NEURONS]) -> (usize, bool) {
        match self {
            Source::External(k) => (k, true),
            Source::Neuron(b) => (neuron_slots[b], false),
        }
    }
}

/// A NeuronLayer on the chip.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedLayer {
    /// Its index in the network's layer chain.
    pub chain_index: usize,
    /// Its first logical neuron; the layer occupies `first..first + size`.
    pub first: usize,
    /// Number of neurons.
    pub size: usize,
    /// The source of each weight row.
    pub row_sources: Vec<Source>,
    /// The model parameters the chip must realise.
    pub params: NeuronParams,
}

/// A network's placement on the chip.
#[derive(Clone, Debug, PartialEq)]
pub struct ChipMapping {
    /// External slots in slot order.
    pub externals: Vec<External>,
    /// The NeuronLayers in chain order.
    pub layers: Vec<MappedLayer>,
    /// Slot of every logical neuron.
    pub neuron_slots: [usize; LOGICAL_NEURONS],
}

/// One column of the signal flowing through the chain.
#[derive(Clone, Copy, Debug)]
enum Column {
    Input(usize),
    Bias(f64),
    Neuron(usize),
}

impl ChipMapping {
    /// Places a network: NeuronLayers on consecutive logical neurons, every input or bias copy on its own
    /// external slot (as the reference does), repeated on-chip neurons (Multiplex between layers) summed into one
    /// source. Delay layers cannot run on this chip path.
    pub fn new(network: &Network) -> Result<ChipMapping, ChipError> {
        let mut columns: Vec<Column> = (0..network.n_inputs).map(Column::Input).collect();
        let mut externals = Vec::new();
        let mut layers = Vec::new();
        let mut next_neuron = 0;
        for (index, layer) in network.layers.iter().enumerate() {
            match layer {
                Layer::Broadcast { .. } => {}
                Layer::Biases { times } => columns.extend(times.iter().map(|&t| Column::Bias(t))),
                Layer::Multiplex { factor } => {
                    columns = columns.iter().flat_map(|&c| std::iter::repeat_n(c, *factor)).collect();
                }
                Layer::Delay(d) => {
                    return Err(ChipError::Unsupported(format!(
                        "layer {index} ({}): synaptic delays cannot run on the chip backend; train without delays \
                         or evaluate with --substrate sim",
                        d.config.kind.name()
                    )));
                }
                Layer::Neuron(n) => {
                    let size = n.config.size;
                    if next_neuron + size > LOGICAL_NEURONS {
                        return Err(ChipError::Capacity(format!(
                            "layer {index}: {} neurons in all, the chip has {LOGICAL_NEURONS}",
                            next_neuron + size
                        )));
                    }
                    let mut row_sources = Vec::with_capacity(columns.len());
                    for column in &columns {
                        row_sources.push(match *column {
                            Column::Neuron(b) => Source::Neuron(b),
                            Column::Input(_) | Column::Bias(_) => {
                                if externals.len() == SLOTS {
                                    return Err(ChipError::Capacity(format!(
                                        "layer {index}: more than {SLOTS} external inputs and bias copies"
                                    )));
                                }
                                externals.push(match *column {
                                    Column::Input(i) => External::Input(i),
                                    Column::Bias(t) => External::Bias(t),
                                    Column::Neuron(_) => unreachable!("handled above"),
                                });
                                Source::External(externals.len() - 1)
                            }
                        });
                    }
                    layers.push(MappedLayer {
                        chain_index: index,
                        first: next_neuron,
                        size,
                        row_sources,
                        params: n.config.neuron.params,
                    });
                    columns = (next_neuron..next_neuron + size).map(Column::Neuron).collect();
                    next_neuron += size;
                }
            }
        }
        let mapping = ChipMapping { externals, layers, neuron_slots: layout::neuron_slots() };
        mapping.check_synapse_conflicts()?;
        Ok(mapping)
    }

    /// Logical neurons in use.
    pub fn neurons(&self) -> usize {
        self.layers.last().map_or(0, |l| l.first + l.size)
    }

    /// An external slot and an on-chip neuron slot with the same index share synapses; a layer cannot listen to
    /// both.
    fn check_synapse_conflicts(&self) -> Result<(), ChipError> {
        for layer in &self.layers {
            let mut kinds: HashMap<usize, bool> = HashMap::new();
            for source in &layer.row_sources {
                let (slot, external) = source.slot(&self.neuron_slots);
                if let Some(&other) = kinds.get(&slot)
                    && other != external
                {
                    return Err(ChipError::Unsupported(format!(
                        "layer {}: receives both an external input and an on-chip neuron on slot {slot}; biases \
                         are only supported before the first NeuronLayer",
                        layer.chain_index
                    )));
                }
                kinds.insert(slot, external);
            }
        }
        Ok(())
    }
}

/// Signed integer weights per (target logical neuron, source), after rounding to 1/scale and summing
/// repeated sources; and how many were clipped to the 6-bit range.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantisedWeights {
    /// (target neuron, source, weight in LSB, -63..=63).
    pub synapses: Vec<(usize, Source, i32)>,
    /// Synapses whose weight exceeded +-63 LSB.
    pub clipped: usize,
}

/// The largest weight magnitude a synapse holds.
pub const MAX_WEIGHT: i32 = 63;

/// Rounds the float weights to the chip's grid (to nearest, ties to even, as the model's `rounding_precision`),
/// sums repeated sources and clips to +-63.
pub fn quantise(mapping: &ChipMapping, weights: &[&Matrix], scale: f64) -> QuantisedWeights {
    let mut synapses = Vec::new();
    let mut clipped = 0;
    for (layer, w) in mapping.layers.iter().zip(weights) {
        for j in 0..layer.size {
            let mut sums: Vec<(Source, i64)> = Vec::new();
            for (r, &source) in layer.row_sources.iter().enumerate() {
                let lsb = (w.data[r * w.cols + j] / (1.0 / scale)).round_ties_even();
                let lsb = if lsb.is_finite() { lsb.clamp(-1e9, 1e9) as i64 } else { 0 };
                match sums.iter_mut().find(|(s, _)| *s == source) {
                    Some((_, sum)) => *sum += lsb,
                    None => sums.push((source, lsb)),
                }
            }
            for (source, sum) in sums {
                if sum.abs() > i64::from(MAX_WEIGHT) {
                    clipped += 1;
                }
                let value = sum.clamp(-i64::from(MAX_WEIGHT), i64::from(MAX_WEIGHT)) as i32;
                synapses.push((layer.first + j, source, value));
            }
        }
    }
    QuantisedWeights { synapses, clipped }
}

/// The two synapse arrays: per synram, row and column, the 6-bit weight and label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynapseImage {
    /// `[synram][row * 256 + column]`.
    pub weights: [Vec<u8>; 2],
    /// `[synram][row * 256 + column]`.
    pub labels: [Vec<u8>; 2],
}

impl SynapseImage {
    /// The arrays realising quantised weights: the magnitude on the source's excitatory or inhibitory row, the
    /// source's label on both.
    pub fn new(mapping: &ChipMapping, weights: &QuantisedWeights) -> SynapseImage {
        let mut image =
            SynapseImage { weights: [vec![0; 65536], vec![0; 65536]], labels: [vec![0; 65536], vec![0; 65536]] };
        for &(target, source, w) in &weights.synapses {
            let (slot, external) = source.slot(&mapping.neuron_slots);
            let synram = layout::hemisphere(target);
            let column = layout::synapse_column(slot, target);
            let (exc, inh) = layout::synapse_rows(slot);
            let label = layout::synapse_label(slot, external);
            for (row, magnitude) in [(exc, w.max(0)), (inh, (-w).max(0))] {
                image.weights[synram][row * 256 + column] = magnitude as u8;
                image.labels[synram][row * 256 + column] = label;
            }
        }
        image
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CHIP_READY: &str = include_str!("../../../configs/yin_yang_chipready_W.yaml");

    #[test]
    fn the_chip_ready_network_maps_inputs_to_external_slots_and_layers_to_neurons() {
        let config = Config::parse_str(CHIP_READY).unwrap();
        let network = Network::new(&config.layout, 1);
        let mapping = ChipMapping::new(&network).unwrap();
        assert_eq!(mapping.externals.len(), 20);
        assert_eq!(mapping.externals[6], External::Input(1), "Multiplex repeats each input consecutively");
        assert_eq!((mapping.layers[0].first, mapping.layers[0].size), (0, 30));
        assert_eq!((mapping.layers[1].first, mapping.layers[1].size), (30, 3));
        assert_eq!(mapping.layers[1].row_sources[29], Source::Neuron(29));
        assert_eq!(mapping.neurons(), 33);
    }

    #[test]
    fn repeated_neuron_sources_are_summed_and_large_weights_clipped() {
        let config = Config::parse_str(CHIP_READY).unwrap();
        let network = Network::new(&config.layout, 1);
        let mut mapping = ChipMapping::new(&network).unwrap();
        mapping.layers.truncate(1);
        mapping.layers[0].size = 1;
        mapping.layers[0].row_sources = vec![Source::Neuron(40), Source::Neuron(40), Source::External(0)];
        let w = Matrix { rows: 3, cols: 1, data: vec![1.0, 1.2, -3.0] };
        let q = quantise(&mapping, &[&w], 30.0);
        assert_eq!(q.synapses, vec![(0, Source::Neuron(40), 63), (0, Source::External(0), -63)]);
        assert_eq!(q.clipped, 2);
        let image = SynapseImage::new(&mapping, &q);
        let (exc, inh) = layout::synapse_rows(0);
        assert_eq!(image.weights[0][inh * 256 + layout::synapse_column(0, 0)], 63);
        assert_eq!(image.weights[0][exc * 256 + layout::synapse_column(0, 0)], 0);
        assert_eq!(image.labels[0][exc * 256 + layout::synapse_column(0, 0)], layout::synapse_label(0, true));
    }
}
