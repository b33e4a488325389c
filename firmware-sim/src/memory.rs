//! The omnibus memory map: every word the host can write, readable back. Synapse arrays are kept densely
//! (they are large and read on every routing rebuild); every other address lives in a sparse map.

use std::collections::HashMap;

use bss2_protocol::containers::{CROSSBAR_NODE_BASE, SYNAPSE_LABEL_OFFSET, SYNAPSE_QUAD_OFFSET, SYNRAM_BASE};

/// Quads per synram: 256 rows x 64 quad columns.
pub const QUADS: usize = 256 * 64;

/// Offset of the causal CADC result quads from the synram base (spec §1.8), read-only.
pub const CADC_CAUSAL_OFFSET: u32 = 0x8_0000;

/// Number of crossbar nodes.
const CROSSBAR_NODES: u32 = 76;

/// A node word that forwards nothing (mask 0, target 1): the emulator's reset state of every crossbar node.
pub const CROSSBAR_NODE_DROP_ALL: u32 = 1 << 16;

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
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            weight_words: [vec![0; QUADS], vec![0; QUADS]],
            label_words: [vec![0; QUADS], vec![0; QUADS]],
            other: HashMap::new(),
        }
    }
}

impl Memory {
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
    /// the calibration bits [7:6] of each byte.
    pub fn write(&mut self, address: u32, data: u32, byte_enables: u8) {
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
                self.other.insert(address, merge(old, data, 0));
            }
        }
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

    #[test]
    fn the_three_synapse_spaces_alias_the_same_synapses() {
        let mut m = Memory::default();
        // Combined quad word A of the spec's golden vector: top synram, quad column 3, row 1.
        m.write(0x02CF_0083, 0x0000_B700, 0xF);
        assert_eq!(m.read(0x02C0_0000 + 64 + 3), 0x0000_3700);
        m.write(0x02C0_0000 + 64 + 3, 0x0000_0100, 0xF);
        assert_eq!(m.read(0x02CF_0083), 0x0000_8100, "weight-only writes keep the calib bits");
        m.write(0x0014_0002, 0x1234, 0b0001);
        assert_eq!(m.read(0x0014_0002), 0x34);
        assert_eq!(m.read(CROSSBAR_NODE_BASE + 5), CROSSBAR_NODE_DROP_ALL);
        assert_eq!(region(0x03C8_0005), Region::Cadc(1, 5));
    }
}
