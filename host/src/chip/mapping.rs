//! Mapping a network onto the chip: which source slot feeds each weight row, which logical neurons each layer
//! occupies, and the synapse arrays that realise the (quantised, signed) weights.

use std::collections::HashMap;

use bss2_protocol::delay_pair::DelayPair;

use crate::config::DelayKind;
use crate::model::{Matrix, NeuronParams};
use crate::network::{DelayLayer, Layer, Network, NeuronLayer};

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
    /// The trigger of a delay pair: the delayed spike of its input.
    Pair(DelayPair),
}

impl Source {
    /// (slot, external) of this source.
    pub fn slot(self, neuron_slots: &[usize; LOGICAL_NEURONS]) -> (usize, bool) {
        match self {
            Source::External(k) => (k, true),
            Source::Neuron(b) => (neuron_slots[b], false),
            Source::Pair(p) => (neuron_slots[layout::pair_position(p)], false),
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
    /// Its outputs leave through delay pairs (a dendritic delay before it): what the chip measures of the layer
    /// are the pairs' delayed spikes.
    pub delayed_outputs: bool,
}

/// A delay layer realised by delay pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedDelay {
    /// Its index in the network's layer chain.
    pub chain_index: usize,
    /// Axonal (one pair per column of the signal) or dendritic (one pair per neuron of the next NeuronLayer).
    pub kind: DelayKind,
    /// Entries of its effective delays (columns for axonal, neurons for dendritic).
    pub entries: usize,
}

/// What a delay pair's delayed spike is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairOutput {
    /// Column `column` of an axonal delay layer's output (index into [`ChipMapping::delays`]).
    Delayed {
        /// The delay layer.
        delay: usize,
        /// The column.
        column: usize,
    },
    /// The output of neuron `neuron` of NeuronLayer `layer` (index into [`ChipMapping::layers`]).
    LayerOutput {
        /// The layer.
        layer: usize,
        /// The neuron in it.
        neuron: usize,
    },
}

/// A delay pair in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedPair {
    /// The chip's pair.
    pub pair: DelayPair,
    /// What it delays (an external slot or an on-chip neuron).
    pub input: Source,
    /// The delay layer (index into [`ChipMapping::delays`]) and the entry of its effective delays it realises.
    pub delay: usize,
    /// See `delay`.
    pub entry: usize,
    /// What its spike stands for.
    pub output: PairOutput,
}

/// A network's placement on the chip.
#[derive(Clone, Debug, PartialEq)]
pub struct ChipMapping {
    /// External slots in slot order.
    pub externals: Vec<External>,
    /// The NeuronLayers in chain order.
    pub layers: Vec<MappedLayer>,
    /// The delay layers in chain order.
    pub delays: Vec<MappedDelay>,
    /// The delay pairs in use.
    pub pairs: Vec<MappedPair>,
    /// Slot of every logical neuron.
    pub neuron_slots: [usize; LOGICAL_NEURONS],
}

/// One column of the signal flowing through the chain.
#[derive(Clone, Copy, Debug)]
enum Column {
    Input(usize),
    Bias(f64),
    Neuron(usize),
    Pair(DelayPair),
}

/// Logical neurons the network may use when it has delays: the top half; the bottom half holds the pairs.
pub const NEURONS_WITH_DELAYS: usize = LOGICAL_NEURONS / 2;

/// Places networks on the chip, layer by layer.
struct Placer<'a> {
    columns: Vec<Column>,
    externals: Vec<External>,
    layers: Vec<MappedLayer>,
    delays: Vec<MappedDelay>,
    pairs: Vec<MappedPair>,
    /// Pairs that may be used, in the order they are taken.
    usable: &'a [DelayPair],
    /// Pairs the network needs in all (counted even once `usable` runs out, for the error).
    pairs_needed: usize,
    next_neuron: usize,
    /// A dendritic delay waits for its NeuronLayer (index into `delays`).
    dendritic: Option<usize>,
}

impl Placer<'_> {
    fn external(&mut self, index: usize, column: Column) -> Result<Source, ChipError> {
        if self.externals.len() == SLOTS {
            return Err(ChipError::Capacity(format!(
                "layer {index}: more than {SLOTS} external inputs and bias copies"
            )));
        }
        self.externals.push(match column {
            Column::Input(i) => External::Input(i),
            Column::Bias(t) => External::Bias(t),
            Column::Neuron(_) | Column::Pair(_) => unreachable!("only inputs and biases are external"),
        });
        Ok(Source::External(self.externals.len() - 1))
    }

    fn source(&mut self, index: usize, column: Column) -> Result<Source, ChipError> {
        match column {
            Column::Neuron(b) => Ok(Source::Neuron(b)),
            Column::Pair(p) => Ok(Source::Pair(p)),
            Column::Input(_) | Column::Bias(_) => self.external(index, column),
        }
    }

    /// Takes the next pair for `input`; None (counted) once the usable pairs run out.
    fn pair(&mut self, input: Source, delay: usize, entry: usize, output: PairOutput) -> Option<DelayPair> {
        self.pairs_needed += 1;
        let pair = *self.usable.get(self.pairs.len())?;
        self.pairs.push(MappedPair { pair, input, delay, entry, output });
        Some(pair)
    }

    fn delay(&mut self, index: usize, d: &DelayLayer) -> Result<(), ChipError> {
        let refuse = |why: &str| {
            Err(ChipError::Unsupported(format!(
                "layer {index} ({}): {why}; train without it or run with --substrate sim",
                d.config.kind.name()
            )))
        };
        if self.dendritic.is_some() || matches!(self.columns.first(), Some(Column::Pair(_))) {
            return refuse("two delay layers in a row cannot be realised by the chip's delay pairs");
        }
        match d.config.kind {
            DelayKind::Synaptic => refuse(
                "a delay per synapse has no delay element on the chip (its delay pairs delay a neuron's or an input's spikes)",
            ),
            DelayKind::Axonal => {
                let delay = self.delays.len();
                self.delays.push(MappedDelay {
                    chain_index: index,
                    kind: DelayKind::Axonal,
                    entries: self.columns.len(),
                });
                let columns = std::mem::take(&mut self.columns);
                for (column, &c) in columns.iter().enumerate() {
                    let input = self.source(index, c)?;
                    let output = PairOutput::Delayed { delay, column };
                    let delayed = match self.pair(input, delay, column, output) {
                        Some(p) => Column::Pair(p),
                        None => c,
                    };
                    self.columns.push(delayed);
                }
                Ok(())
            }
            DelayKind::Dendritic => {
                self.delays.push(MappedDelay { chain_index: index, kind: DelayKind::Dendritic, entries: d.n_post });
                self.dendritic = Some(self.delays.len() - 1);
                Ok(())
            }
        }
    }

    fn neuron(&mut self, index: usize, n: &NeuronLayer) -> Result<(), ChipError> {
        let size = n.config.size;
        if self.next_neuron + size > LOGICAL_NEURONS {
            return Err(ChipError::Capacity(format!(
                "layer {index}: {} neurons in all, the chip has {LOGICAL_NEURONS}",
                self.next_neuron + size
            )));
        }
        let mut row_sources = Vec::with_capacity(self.columns.len());
        for c in std::mem::take(&mut self.columns) {
            row_sources.push(self.source(index, c)?);
        }
        let first = self.next_neuron;
        let layer = self.layers.len();
        self.layers.push(MappedLayer {
            chain_index: index,
            first,
            size,
            row_sources,
            params: n.config.neuron.params,
            delayed_outputs: self.dendritic.is_some(),
        });
        self.columns = (first..first + size).map(Column::Neuron).collect();
        if let Some(delay) = self.dendritic.take() {
            for neuron in 0..size {
                let output = PairOutput::LayerOutput { layer, neuron };
                if let Some(p) = self.pair(Source::Neuron(first + neuron), delay, neuron, output) {
                    self.columns[neuron] = Column::Pair(p);
                }
            }
        }
        self.next_neuron += size;
        Ok(())
    }

    /// With delays, the network's neurons must sit on the top half (the pairs' half is the bottom one), and the
    /// pairs' inputs must reach the delay compartments (even columns: slots below 128).
    fn check_delays(&self) -> Result<(), ChipError> {
        if self.pairs_needed == 0 {
            return Ok(());
        }
        if self.pairs_needed > self.usable.len() {
            return Err(ChipError::Capacity(format!(
                "its delays need {} delay pairs (one per delayed input, bias copy or neuron, {} circuits), the chip \
                 has {} usable pairs ({} circuits)",
                self.pairs_needed,
                2 * self.pairs_needed,
                self.usable.len(),
                2 * self.usable.len()
            )));
        }
        if self.next_neuron > NEURONS_WITH_DELAYS {
            return Err(ChipError::Capacity(format!(
                "with delays the network's neurons share the chip with the delay pairs: {} neurons ({} circuits), at \
                 most {NEURONS_WITH_DELAYS} ({} circuits) fit beside the pairs",
                self.next_neuron,
                2 * self.next_neuron,
                2 * NEURONS_WITH_DELAYS
            )));
        }
        if let Some(k) = self.pairs.iter().find_map(|p| match p.input {
            Source::External(k) if k >= SLOTS / 2 => Some(k),
            _ => None,
        }) {
            return Err(ChipError::Capacity(format!(
                "external input slot {k} is delayed, but only the first {} external inputs and bias copies reach the \
                 delay pairs",
                SLOTS / 2
            )));
        }
        Ok(())
    }
}

impl ChipMapping {
    /// Places a network: NeuronLayers on consecutive logical neurons, every input or bias copy on its own
    /// external slot (as the reference does), repeated on-chip neurons (Multiplex between layers) summed into one
    /// source. Axonal delays put a delay pair on every delayed column (input, bias copy or neuron), dendritic ones
    /// one after every neuron of their NeuronLayer (a delay of all of a neuron's inputs is a delay of its output);
    /// the pairs are taken from `usable` in order.
    pub fn new(network: &Network) -> Result<ChipMapping, ChipError> {
        let all: Vec<DelayPair> = DelayPair::all().collect();
        ChipMapping::with_pairs(network, &all)
    }

    /// [`ChipMapping::new`] with only the pairs in `usable` (those a delay calibration found working).
    pub fn with_pairs(network: &Network, usable: &[DelayPair]) -> Result<ChipMapping, ChipError> {
        let mut placer = Placer {
            columns: (0..network.n_inputs).map(Column::Input).collect(),
            externals: Vec::new(),
            layers: Vec::new(),
            delays: Vec::new(),
            pairs: Vec::new(),
            usable,
            pairs_needed: 0,
            next_neuron: 0,
            dendritic: None,
        };
        for (index, layer) in network.layers.iter().enumerate() {
            match layer {
                Layer::Broadcast { .. } => {}
                Layer::Biases { times } => placer.columns.extend(times.iter().map(|&t| Column::Bias(t))),
                Layer::Multiplex { factor } => {
                    placer.columns = placer.columns.iter().flat_map(|&c| std::iter::repeat_n(c, *factor)).collect();
                }
                Layer::Delay(d) => placer.delay(index, d)?,
                Layer::Neuron(n) => placer.neuron(index, n)?,
            }
        }
        placer.check_delays()?;
        let Placer { externals, layers, delays, pairs, .. } = placer;
        let mapping = ChipMapping { externals, layers, delays, pairs, neuron_slots: layout::neuron_slots() };
        mapping.check_synapse_conflicts()?;
        Ok(mapping)
    }

    /// Logical neurons in use by the network's NeuronLayers.
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
    // A pair's input reaches its delay compartment (the even column of the pair's logical position) through one
    // excitatory synapse; any weight fires the bypass.
    for p in &mapping.pairs {
        synapses.push((layout::pair_position(p.pair), p.input, MAX_WEIGHT));
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

    const CHIP_DELAYS: &str = include_str!("../../../configs/yin_yang_chip_delays.yaml");

    #[test]
    fn axonal_delays_put_a_pair_on_every_input_copy_and_hidden_neuron() {
        let config = Config::parse_str(CHIP_DELAYS).unwrap();
        let network = Network::new(&config.layout, 1);
        let mapping = ChipMapping::new(&network).unwrap();
        assert_eq!(mapping.externals.len(), 20);
        assert_eq!(mapping.pairs.len(), 50);
        assert_eq!(mapping.delays.iter().map(|d| d.entries).collect::<Vec<_>>(), vec![20, 30]);
        let p = &mapping.pairs[7];
        assert_eq!((p.pair.index(), p.input, p.delay, p.entry), (7, Source::External(7), 0, 7));
        let p = &mapping.pairs[25];
        assert_eq!((p.input, p.output), (Source::Neuron(5), PairOutput::Delayed { delay: 1, column: 5 }));
        assert_eq!(mapping.layers[0].row_sources[3], Source::Pair(DelayPair::new(3).unwrap()));
        assert_eq!(mapping.layers[1].row_sources[5], Source::Pair(DelayPair::new(25).unwrap()));
        // Each pair's input drives its delay compartment (the even column of its position) with one synapse.
        let q = quantise(&mapping, &[&Matrix::zeros(20, 30), &Matrix::zeros(30, 3)], 30.0);
        let image = SynapseImage::new(&mapping, &q);
        let slot = mapping.neuron_slots[5];
        let (exc, _) = layout::synapse_rows(slot);
        assert_eq!(image.weights[1][exc * 256 + 2 * 25], 63);
        assert_eq!(image.labels[1][exc * 256 + 2 * 25], layout::synapse_label(slot, false));
        let nonzero: usize = image.weights.iter().map(|w| w.iter().filter(|&&x| x > 0).count()).sum();
        assert_eq!(nonzero, 50);
        // Pairs the calibration rejected are skipped.
        let usable: Vec<DelayPair> = DelayPair::all().filter(|p| p.index() != 2).collect();
        let mapping = ChipMapping::with_pairs(&network, &usable).unwrap();
        assert_eq!(mapping.pairs[2].pair.index(), 3);
    }

    /// A network of the chip-delays config's training settings with these layers (`N<size>`, `A`xonal,
    /// `D`endritic, `S`ynaptic delays, `B`roadcast).
    fn with_layers(layers: &[&str]) -> Network {
        let mut yaml = String::from("network_layout:\n  layers:\n");
        for layer in layers {
            yaml += &match (&layer[..1], &layer[1..]) {
                ("N", size) => format!(
                    "  - {{name: NeuronLayer, size: {size}, trainable: true, weights_mean: 1, weights_std: 1, \
                     max_num_missing_spikes: 0.5}}\n"
                ),
                ("B", _) => "  - name: BroadcastLayer\n".into(),
                (kind, _) => {
                    let name = match kind {
                        "A" => "DelayAxonal",
                        "D" => "DelayDendritic",
                        _ => "DelaySynaptic",
                    };
                    format!(
                        "  - {{name: {name}, trainable: true, delay_mean: 0, delay_std: 1, positivity: {{name: clip}}}}\n"
                    )
                }
            };
        }
        let (start, end) = (CHIP_DELAYS.find("network_layout:").unwrap(), CHIP_DELAYS.find("  n_inputs: 4").unwrap());
        let config = Config::parse_str(&CHIP_DELAYS.replace(&CHIP_DELAYS[start..end], &yaml)).unwrap();
        Network::new(&config.layout, 1)
    }

    #[test]
    fn a_dendritic_delay_delays_the_outputs_of_its_neuron_layer() {
        let mapping = ChipMapping::new(&with_layers(&["B", "N10", "D", "N3"])).unwrap();
        assert_eq!(mapping.pairs.len(), 3);
        assert!(mapping.layers[1].delayed_outputs && !mapping.layers[0].delayed_outputs);
        assert_eq!(mapping.pairs[1].input, Source::Neuron(11));
        assert_eq!(mapping.pairs[1].output, PairOutput::LayerOutput { layer: 1, neuron: 1 });
    }

    #[test]
    fn delays_the_pairs_cannot_realise_are_refused_naming_the_layer() {
        let e = ChipMapping::new(&with_layers(&["S", "N3"])).unwrap_err().to_string();
        assert!(e.contains("layer 0 (DelaySynaptic)") && e.contains("delay per synapse"), "{e}");
        let e = ChipMapping::new(&with_layers(&["A", "A", "N3"])).unwrap_err().to_string();
        assert!(e.contains("layer 1 (DelayAxonal)") && e.contains("two delay layers"), "{e}");
        // 150 delayed hidden neurons: more pairs than the chip has.
        let e = ChipMapping::new(&with_layers(&["B", "N150", "A", "N3"])).unwrap_err().to_string();
        assert!(e.contains("150 delay pairs") && e.contains("300 circuits") && e.contains("128 usable pairs"), "{e}");
        // 130 neurons do not fit beside the pairs.
        let e = ChipMapping::new(&with_layers(&["A", "N127", "B", "N3"])).unwrap_err().to_string();
        assert!(e.contains("130 neurons") && e.contains("at most 128"), "{e}");
    }

    #[test]
    fn the_16x16_mnist_network_fills_the_chip_exactly() {
        crate::data::mnist::set_data_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/mnist").into());
        let config = Config::parse_str(include_str!("../../../configs/16x16_mnist_chip.yaml")).unwrap();
        let network = Network::new(&config.layout, 1);
        let mapping = ChipMapping::new(&network).unwrap();
        assert_eq!(mapping.externals.len(), 256, "every pixel its own external slot");
        assert_eq!((mapping.layers[0].first, mapping.layers[0].size), (0, 246));
        assert_eq!((mapping.layers[1].first, mapping.layers[1].size), (246, 10));
        assert_eq!(mapping.neurons(), LOGICAL_NEURONS);
        assert_eq!(mapping.layers[0].row_sources.len(), 256);
        assert_eq!(mapping.layers[1].row_sources[245], Source::Neuron(245));
        // One neuron more does not fit.
        let yaml = include_str!("../../../configs/16x16_mnist_chip.yaml").replace("size: 246", "size: 247");
        let bigger = Config::parse_str(&yaml).unwrap().layout;
        let e = ChipMapping::new(&Network::new(&bigger, 1)).unwrap_err().to_string();
        assert!(e.contains("257 neurons in all, the chip has 256"), "{e}");
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
