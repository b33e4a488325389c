//! The omnibus memory map: every word the host can write, readable back. Synapse arrays are kept densely
//! (they are large and read on every routing rebuild); every other address lives in a sparse map.
//!
//! The sparse map is bounded: the chip's configuration blocks outside the synapse arrays ([`BLOCKS`]: MADC,
//! PADI and synapse drivers, neuron resets and spike counters, crossbar, CapMem, neuron configs and backends,
//! the FPGA's executor registers) hold about 107 000 words at most, and words at other addresses are stored up
//! to a limit ([`Limits::unmapped_words`](crate::Limits::unmapped_words)); a write beyond it fails. So a client
//! writing to random addresses cannot fill the memory, and it cannot lock others out of the real configuration.

use std::collections::HashMap;

use bss2_protocol::containers::{
    CROSSBAR_NODE_BASE, CROSSBAR_OUTPUT_CONFIG_ADDRESS, MADC_BASE, NEURON_BACKEND_CONFIG_BASE, NEURON_CONFIG_BASE,
    NEURON_RESET_BASE, PADI_BASE, SYNAPSE_LABEL_OFFSET, SYNAPSE_QUAD_OFFSET, SYNRAM_BASE,
};
use bss2_protocol::coords::CAPMEM_BASE;

use crate::limits::Exceeded;

/// Quads per synram: 256 rows x 64 quad columns.
pub const QUADS: usize = 256 * 64;

/// Offset of the causal CADC result quads from the synram base (spec §1.8), read-only.
pub const CADC_CAUSAL_OFFSET: u32 = 0x8_0000;

/// Number of crossbar nodes.
const CROSSBAR_NODES: u32 = 76;

/// A node word that forwards nothing (mask 0, target 1): the emulator's reset state of every crossbar node.
pub const CROSSBAR_NODE_DROP_ALL: u32 = 1 << 16;

/// The configuration blocks outside the synapse arrays, (first address, words), in address order: each
/// covers the containers at its base constant (e.g. the PADI block also holds the synapse drivers at +0x400,
/// the neuron-reset block the spike counters at +0x800 and +0xC00, a backend block its common config at
/// +0x800).
pub const BLOCKS: [(u32, u32); 16] = [
    (MADC_BASE, 2),
    (PADI_BASE[0], 0x1000),
    (PADI_BASE[1], 0x1000),
    (NEURON_RESET_BASE[0], 0x1000),
    (NEURON_RESET_BASE[1], 0x1000),
    (CROSSBAR_OUTPUT_CONFIG_ADDRESS, 0x100),
    (CAPMEM_BASE[0], 0x2000),
    (CAPMEM_BASE[1], 0x2000),
    (CAPMEM_BASE[2], 0x2000),
    (CAPMEM_BASE[3], 0x2000),
    (NEURON_CONFIG_BASE[0], 0x1000),
    (NEURON_CONFIG_BASE[1], 0x1000),
    (NEURON_CONFIG_BASE[2], 0x1000),
    (NEURON_CONFIG_BASE[3], 0x1000),
    (NEURON_BACKEND_CONFIG_BASE[0], 0x1000),
    (NEURON_BACKEND_CONFIG_BASE[1], 0x1000),
];

/// The FPGA's executor, event recording, polling, timeout, UT, PHY, SPI, I2C and event switch registers.
pub const FPGA_REGISTERS: (u32, u32) = (0x8800_0000, 0x8000);

/// Whether `address` lies in one of the configuration blocks ([`BLOCKS`], [`FPGA_REGISTERS`]).
pub fn is_mapped(address: u32) -> bool {
    let inside = |&(base, words): &(u32, u32)| (base..base + words).contains(&address);
    inside(&FPGA_REGISTERS) || BLOCKS.iter().any(inside)
}

/// Where an address points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// Weight-only quad word (synram, quad index).
    Weights(usize, usize),
    /// Label-only quad word.
    Labels(usize, usize),
    /// Combined quad, word A (weights + time calib) or B (labels + amp calib).
    Quad(usize, usize, bool),
    /// Causal CADC result quad (synram, quad column).
    Cadc(usize, usize),
    /// Anything else.
    Other,
}

/// Classifies an address.
pub fn region(address: u32) -> Region {
    for (synram, &base) in SYNRAM_BASE.iter().enumerate() {
        if address < base || address >= base + 0x10_0000 {
            continue;
        }
        let offset = address - base;
        let in_space = |start: u32, len: u32| (start..start + len).contains(&offset).then(|| (offset - start) as usize);
        if let Some(i) = in_space(0, QUADS as u32) {
            return Region::Weights(synram, i);
        }
        if let Some(i) = in_space(SYNAPSE_LABEL_OFFSET, QUADS as u32) {
            return Region::Labels(synram, i);
        }
        if let Some(i) = in_space(CADC_CAUSAL_OFFSET, 64) {
            return Region::Cadc(synram, i);
        }
        if let Some(i) = in_space(SYNAPSE_QUAD_OFFSET, 2 * QUADS as u32) {
            let (row, rest) = (i / 128, i % 128);
            return Region::Quad(synram, row * 64 + rest % 64, rest >= 64);
        }
    }
    Region::Other
}

/// The memory image.
#[derive(Clone, Debug)]
pub struct Memory {
    /// Per synram, word A of every quad: permuted weights in bits [5:0] and time calib in [7:6] of each byte.
    pub weight_words: [Vec<u32>; 2],
    /// Per synram, word B of every quad: labels in bits [5:0] and amp calib in [7:6] of each byte.
    pub label_words: [Vec<u32>; 2],
    other: HashMap<u32, u32>,
    /// Words of `other` outside the configuration blocks, and how many there may be.
    unmapped: usize,
    unmapped_limit: usize,
}

impl Default for Memory {
    /// The reset state, with [`Limits::default`](crate::Limits::default)'s bound on unmapped words.
    fn default() -> Self {
        Memory::with_unmapped_limit(crate::Limits::default().unmapped_words)
    }
}

impl Memory {
    /// The reset state, storing at most `limit` words outside the configuration blocks.
    pub fn with_unmapped_limit(limit: usize) -> Memory {
        Memory {
            weight_words: [vec![0; QUADS], vec![0; QUADS]],
            label_words: [vec![0; QUADS], vec![0; QUADS]],
            other: HashMap::new(),
            unmapped: 0,
            unmapped_limit: limit,
        }
    }

    /// Changes the bound on words outside the configuration blocks (words stored already stay).
    pub fn set_unmapped_limit(&mut self, limit: usize) {
        self.unmapped_limit = limit;
    }

    /// Words stored outside the synapse arrays.
    pub fn sparse_words(&self) -> usize {
        self.other.len()
    }

    /// Reads a stored word (CADC results are not stored: the caller measures them).
    pub fn read(&self, address: u32) -> u32 {
        const SIX_BITS: u32 = 0x3F3F_3F3F;
        match region(address) {
            Region::Weights(s, i) => self.weight_words[s][i] & SIX_BITS,
            Region::Labels(s, i) => self.label_words[s][i] & SIX_BITS,
            Region::Quad(s, i, false) => self.weight_words[s][i],
            Region::Quad(s, i, true) => self.label_words[s][i],
            Region::Cadc(..) => 0,
            Region::Other => self.other.get(&address).copied().unwrap_or_else(|| Self::reset_value(address)),
        }
    }

    /// Writes a word under a byte-enable mask (bit k enables byte k). Weight-only and label-only writes keep
    /// the calibration bits [7:6] of each byte. Fails (storing nothing) if the word would be a new one outside
    /// the configuration blocks beyond the limit.
    pub fn write(&mut self, address: u32, data: u32, byte_enables: u8) -> Result<(), Exceeded> {
        let mask = (0..4).filter(|k| byte_enables >> k & 1 == 1).fold(0u32, |m, k| m | 0xFF << (8 * k));
        let merge = |old: u32, new: u32, keep: u32| (old & (!mask | keep)) | (new & mask & !keep);
        const CALIB_BITS: u32 = 0xC0C0_C0C0;
        match region(address) {
            Region::Weights(s, i) => self.weight_words[s][i] = merge(self.weight_words[s][i], data, CALIB_BITS),
            Region::Labels(s, i) => self.label_words[s][i] = merge(self.label_words[s][i], data, CALIB_BITS),
            Region::Quad(s, i, false) => self.weight_words[s][i] = merge(self.weight_words[s][i], data, 0),
            Region::Quad(s, i, true) => self.label_words[s][i] = merge(self.label_words[s][i], data, 0),
            Region::Cadc(..) => {}
            Region::Other => {
                let old = self.read(address);
                match self.other.entry(address) {
                    std::collections::hash_map::Entry::Occupied(mut word) => *word.get_mut() = merge(old, data, 0),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        if !is_mapped(address) {
                            if self.unmapped >= self.unmapped_limit {
                                return Err(Exceeded::UnmappedWords(self.unmapped));
                            }
                            self.unmapped += 1;
                        }
                        slot.insert(merge(old, data, 0));
                    }
                }
            }
        }
        Ok(())
    }

    /// The value of a word never written.
    fn reset_value(address: u32) -> u32 {
        if (CROSSBAR_NODE_BASE..CROSSBAR_NODE_BASE + CROSSBAR_NODES).contains(&address) {
            CROSSBAR_NODE_DROP_ALL
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bss2_protocol::containers::EVENT_RECORDING_CONFIG_ADDRESS;

    #[test]
    fn the_three_synapse_spaces_alias_the_same_synapses() {
        let mut m = Memory::default();
        // Combined quad word A of the spec's golden vector: top synram, quad column 3, row 1.
        m.write(0x02CF_0083, 0x0000_B700, 0xF).unwrap();
        assert_eq!(m.read(0x02C0_0000 + 64 + 3), 0x0000_3700);
        m.write(0x02C0_0000 + 64 + 3, 0x0000_0100, 0xF).unwrap();
        assert_eq!(m.read(0x02CF_0083), 0x0000_8100, "weight-only writes keep the calib bits");
        m.write(0x0014_0002, 0x1234, 0b0001).unwrap();
        assert_eq!(m.read(0x0014_0002), 0x34);
        assert_eq!(m.read(CROSSBAR_NODE_BASE + 5), CROSSBAR_NODE_DROP_ALL);
        assert_eq!(region(0x03C8_0005), Region::Cadc(1, 5));
    }

    #[test]
    fn words_outside_the_configuration_blocks_are_bounded() {
        let mut m = Memory::with_unmapped_limit(3);
        for a in 0..3 {
            m.write(0x0100_0000 + a, 7, 0xF).unwrap();
        }
        // Rewriting a stored word, and any configuration word, still works; a new unmapped word does not.
        m.write(0x0100_0001, 9, 0xF).unwrap();
        assert_eq!(m.read(0x0100_0001), 9);
        assert_eq!(m.write(0x0100_0003, 1, 0xF), Err(Exceeded::UnmappedWords(3)));
        assert_eq!(m.read(0x0100_0003), 0);
        for &(base, words) in &BLOCKS {
            m.write(base + words - 1, 5, 0xF).unwrap();
        }
        m.write(EVENT_RECORDING_CONFIG_ADDRESS, 1, 0xF).unwrap();
        assert_eq!(m.sparse_words(), 3 + BLOCKS.len() + 1);
        // The blocks are disjoint, in order, and outside the synapse arrays.
        assert!(BLOCKS.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
        assert!(BLOCKS.iter().all(|&(b, n)| region(b) == Region::Other && region(b + n - 1) == Region::Other));
    }

    /// Every word of every container the protocol defines lies in a configuration block.
    #[test]
    fn every_container_is_in_a_block() {
        use bss2_protocol::containers::*;
        use bss2_protocol::coords::*;
        let mut addresses: Vec<u32> = Vec::new();
        let mut add = |words: &[u32]| addresses.extend_from_slice(words);
        add(&MadcControl::addresses(()));
        add(&EventRecordingConfig::addresses(()));
        add(&PollingOmnibusBlockConfig::addresses(()));
        add(&CrossbarOutputConfig::addresses(()));
        for neuron in Neuron::all() {
            add(&NeuronConfig::addresses(neuron));
            add(&NeuronBackendConfig::addresses(neuron));
            add(&NeuronReset::addresses(neuron));
            add(&SpikeCounterRead::addresses(neuron));
            add(&SpikeCounterReset::addresses(neuron));
        }
        for block in BackendBlock::ALL {
            add(&CommonNeuronBackendConfig::addresses(block));
        }
        for hemisphere in Hemisphere::ALL {
            add(&PadiEvent::addresses(hemisphere));
            add(&CommonPadiBusConfig::addresses(hemisphere));
            for driver in SynapseDriver::all() {
                add(&SynapseDriverConfig::addresses(SynapseDriverOnChip { hemisphere, driver }));
            }
        }
        for block in Quadrant::ALL {
            for column in 0..CapMemColumn::SIZE {
                for row in 0..CapMemRow::SIZE {
                    add(&CapMemValue::addresses(CapMemCell::new(block, column, row).unwrap()));
                }
            }
        }
        for source in BackgroundSource::all() {
            add(&BackgroundSpikeSource::addresses(source));
        }
        for node in CrossbarNode::all() {
            add(&CrossbarNodeConfig::addresses(node));
        }
        for input in CrossbarInput::all() {
            add(&CrossbarInputDropCounter::addresses(input));
        }
        for output in CrossbarOutput::all() {
            add(&CrossbarOutputEventCounter::addresses(output));
        }
        let unmapped: Vec<String> =
            addresses.iter().filter(|&&a| !is_mapped(a)).map(|a| format!("{a:#010x}")).collect();
        assert!(unmapped.is_empty(), "outside the blocks: {unmapped:?}");
        assert!(addresses.len() > 20_000);
    }
}
