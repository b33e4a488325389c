//! Synapse quads (spec §1.3): weight-only and label-only words, and the combined two-word quad.
//!
//! Entry e of a quad sits in byte `3 - e` of a word. Weights are stored bit-permuted
//! ([`permute_weight_bits`]); labels are stored as they are.

use super::{Container, ContainerError, SynapseLabel, SynapseWeight, UInt, WritableContainer, check_reserved};
use crate::coords::SynapseQuadOnChip;

/// Omnibus base of the synapse memory of each hemisphere (top, bottom); also the weight-only space.
pub const SYNRAM_BASE: [u32; 2] = [0x02C0_0000, 0x03C0_0000];

/// Offset of the label-only space from [`SYNRAM_BASE`].
pub const SYNAPSE_LABEL_OFFSET: u32 = 0x4_0000;

/// Offset of the combined weight+label quad space from [`SYNRAM_BASE`].
pub const SYNAPSE_QUAD_OFFSET: u32 = 0xF_0000;

/// The weight bit permutation: bit 5 stays, bits 4..0 are mirrored (stored bit 4 = weight bit 0, ...,
/// stored bit 0 = weight bit 4). Its own inverse; only the low 6 bits of `w` are used.
pub const fn permute_weight_bits(w: u32) -> u32 {
    let low = w & 0x1F;
    (w & 0x20) | (low.reverse_bits() >> 27)
}

/// The shift of entry e's byte.
const fn shift(entry: usize) -> u32 {
    8 * (3 - entry as u32)
}

/// Word address in a single-word quad space: `base + row * 64 + q`.
fn single_word_address(offset: u32, coord: SynapseQuadOnChip) -> u32 {
    SYNRAM_BASE[coord.hemisphere.index()] + offset + coord.row.index() as u32 * 64 + coord.column.index() as u32
}

/// The weights of a synapse quad, written to the weight-only space (one word, `0x02C00000 / 0x03C00000 +
/// row * 64 + q`).
///
/// Word: byte `3 - e` bits `[5:0]` = permuted weight of entry e; bits `[7:6]` of every byte are reserved (written
/// 0, rejected by the decoder). Whether a weight-only write clears the calibration bits of the combined quad
/// is not documented (spec §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SynapseWeightQuad {
    /// Weights, indexed by entry on the quad.
    pub weights: [SynapseWeight; 4],
}

impl Container for SynapseWeightQuad {
    const NAME: &'static str = "SynapseWeightQuad";
    type Coord = SynapseQuadOnChip;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0x3F3F_3F3F];

    fn addresses(coord: SynapseQuadOnChip) -> [u32; 1] {
        [single_word_address(0, coord)]
    }

    fn encode(&self) -> [u32; 1] {
        let mut w = 0;
        for (e, weight) in self.weights.iter().enumerate() {
            w |= permute_weight_bits(weight.get()) << shift(e);
        }
        [w]
    }

    fn decode(words: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, words, &Self::DEFINED_BITS)?;
        let weights = std::array::from_fn(|e| UInt::masked(permute_weight_bits(words[0] >> shift(e))));
        Ok(SynapseWeightQuad { weights })
    }
}

impl WritableContainer for SynapseWeightQuad {}

/// The labels of a synapse quad, written to the label-only space (one word, `0x02C40000 / 0x03C40000 +
/// row * 64 + q`).
///
/// Word: byte `3 - e` bits `[5:0]` = label of entry e; bits `[7:6]` of every byte are reserved (written 0,
/// rejected by the decoder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SynapseLabelQuad {
    /// Labels, indexed by entry on the quad.
    pub labels: [SynapseLabel; 4],
}

impl Container for SynapseLabelQuad {
    const NAME: &'static str = "SynapseLabelQuad";
    type Coord = SynapseQuadOnChip;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0x3F3F_3F3F];

    fn addresses(coord: SynapseQuadOnChip) -> [u32; 1] {
        [single_word_address(SYNAPSE_LABEL_OFFSET, coord)]
    }

    fn encode(&self) -> [u32; 1] {
        let mut w = 0;
        for (e, label) in self.labels.iter().enumerate() {
            w |= label.get() << shift(e);
        }
        [w]
    }

    fn decode(words: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, words, &Self::DEFINED_BITS)?;
        Ok(SynapseLabelQuad { labels: std::array::from_fn(|e| UInt::masked(words[0] >> shift(e))) })
    }
}

impl WritableContainer for SynapseLabelQuad {}

/// One synapse of a combined quad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Synapse {
    /// Weight (0..64).
    pub weight: SynapseWeight,
    /// Label ("address", 0..64), compared with spike label bits `[5:0]`.
    pub label: SynapseLabel,
    /// Timing calibration (2 bit).
    pub time_calib: UInt<2>,
    /// Amplitude calibration (2 bit).
    pub amp_calib: UInt<2>,
}

/// A synapse quad with weights, labels and calibration bits (haldls `SynapseQuad`): two words, A at
/// `0x02CF0000 / 0x03CF0000 + row * 128 + q`, B at the same + 64.
///
/// Word A: byte `3 - e` = `time_calib << 6 | permuted weight` of entry e. Word B: byte `3 - e` =
/// `amp_calib << 6 | label`. Every bit is a field bit, so every word pair decodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SynapseQuad {
    /// The synapses, indexed by entry on the quad.
    pub synapses: [Synapse; 4],
}

impl Container for SynapseQuad {
    const NAME: &'static str = "SynapseQuad";
    type Coord = SynapseQuadOnChip;
    type Words = [u32; 2];
    const DEFINED_BITS: [u32; 2] = [u32::MAX; 2];

    fn addresses(coord: SynapseQuadOnChip) -> [u32; 2] {
        let a = SYNRAM_BASE[coord.hemisphere.index()]
            + SYNAPSE_QUAD_OFFSET
            + coord.row.index() as u32 * 128
            + coord.column.index() as u32;
        [a, a + 64]
    }

    fn encode(&self) -> [u32; 2] {
        let (mut a, mut b) = (0, 0);
        for (e, s) in self.synapses.iter().enumerate() {
            a |= (s.time_calib.get() << 6 | permute_weight_bits(s.weight.get())) << shift(e);
            b |= (s.amp_calib.get() << 6 | s.label.get()) << shift(e);
        }
        [a, b]
    }

    fn decode(words: &[u32; 2]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, words, &Self::DEFINED_BITS)?;
        let synapses = std::array::from_fn(|e| {
            let (a, b) = (words[0] >> shift(e), words[1] >> shift(e));
            Synapse {
                weight: UInt::masked(permute_weight_bits(a)),
                label: UInt::masked(b),
                time_calib: UInt::masked(a >> 6),
                amp_calib: UInt::masked(b >> 6),
            }
        });
        Ok(SynapseQuad { synapses })
    }
}

impl WritableContainer for SynapseQuad {}

impl SynapseQuad {
    /// The weight-only part.
    pub fn weights(&self) -> SynapseWeightQuad {
        SynapseWeightQuad { weights: self.synapses.map(|s| s.weight) }
    }

    /// The label-only part.
    pub fn labels(&self) -> SynapseLabelQuad {
        SynapseLabelQuad { labels: self.synapses.map(|s| s.label) }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use crate::coords::{EntryOnQuad, Hemisphere, NeuronColumn, SynapseQuadColumn, SynapseRow};
    use proptest::prelude::*;

    fn coord(h: Hemisphere, row: usize, q: usize) -> SynapseQuadOnChip {
        SynapseQuadOnChip {
            hemisphere: h,
            row: SynapseRow::new(row).unwrap(),
            column: SynapseQuadColumn::new(q).unwrap(),
        }
    }

    #[test]
    fn weight_permutation() {
        assert_eq!(permute_weight_bits(61), 55);
        assert_eq!(permute_weight_bits(55), 61);
        assert_eq!(permute_weight_bits(0b000001), 0b010000);
        assert_eq!(permute_weight_bits(0b000010), 0b001000);
        assert_eq!(permute_weight_bits(0b000100), 0b000100);
        assert_eq!(permute_weight_bits(0b001000), 0b000010);
        assert_eq!(permute_weight_bits(0b010000), 0b000001);
        assert_eq!(permute_weight_bits(0b100000), 0b100000);
        let mut seen = [false; 64];
        for w in 0..64 {
            let p = permute_weight_bits(w);
            assert!(p < 64);
            assert_eq!(permute_weight_bits(p), w, "self-inverse");
            seen[p as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn golden_synapse_quad() {
        // Spec §1.3: top synram, quad column 3, row 1, entry 2: weight 61, time_calib 2, label 63, amp_calib 1.
        let mut quad = SynapseQuad::default();
        quad.synapses[2] = Synapse {
            weight: UInt::new(61).unwrap(),
            label: UInt::new(63).unwrap(),
            time_calib: UInt::new(2).unwrap(),
            amp_calib: UInt::new(1).unwrap(),
        };
        let c = coord(Hemisphere::Top, 1, 3);
        assert_eq!(quad.encode(), [0x0000_B700, 0x0000_7F00]);
        assert_eq!(SynapseQuad::addresses(c), [0x02CF_0083, 0x02CF_00C3]);
        assert_eq!(pairs(&quad, c), vec![(0x02CF_0083, 0x0000_B700), (0x02CF_00C3, 0x0000_7F00)]);
        assert_eq!(SynapseQuad::decode(&[0x0000_B700, 0x0000_7F00]), Ok(quad));
        assert_eq!(SynapseQuad::addresses(coord(Hemisphere::Bottom, 255, 63)), [0x03CF_7FBF, 0x03CF_7FFF]);
    }

    #[test]
    fn golden_weight_and_label_quads() {
        // w = 61 is stored as 55 = 0x37; entry e in byte 3 - e.
        let w = |v| UInt::new(v).unwrap();
        let q = SynapseWeightQuad { weights: [w(61), w(0), w(1), w(61)] };
        assert_eq!(q.encode(), [0x3700_1037]);
        assert_eq!(SynapseWeightQuad::decode(&[0x3700_1037]), Ok(q));
        let l = SynapseLabelQuad { labels: [w(1), w(2), w(3), w(63)] };
        assert_eq!(l.encode(), [0x0102_033F]);
        let c = coord(Hemisphere::Top, 1, 3);
        assert_eq!(SynapseWeightQuad::addresses(c), [0x02C0_0043]);
        assert_eq!(SynapseLabelQuad::addresses(c), [0x02C4_0043]);
        let c = coord(Hemisphere::Bottom, 255, 63);
        assert_eq!(SynapseWeightQuad::addresses(c), [0x03C0_3FFF]);
        assert_eq!(SynapseLabelQuad::addresses(c), [0x03C4_3FFF]);
        assert!(SynapseWeightQuad::decode(&[0x8000_0000]).is_err());
        assert!(SynapseLabelQuad::decode(&[0x0000_0040]).is_err());
        // The split parts carry the same bits as the combined quad without calib bits.
        let mut quad = SynapseQuad::default();
        quad.synapses[1].weight = w(61);
        quad.synapses[1].label = w(5);
        quad.synapses[1].time_calib = UInt::new(3).unwrap();
        let [a, b] = quad.encode();
        assert_eq!(quad.weights().encode(), [a & 0x3F3F_3F3F]);
        assert_eq!(quad.labels().encode(), [b & 0x3F3F_3F3F]);
    }

    #[test]
    fn synapse_of_column() {
        // Neuron column 13 is entry 2 of quad 33 (odd columns in quads 32..64).
        let (quad, entry) =
            SynapseQuadOnChip::of_synapse(Hemisphere::Top, SynapseRow::new(0).unwrap(), NeuronColumn::new(13).unwrap());
        assert_eq!(entry, EntryOnQuad::new(2).unwrap());
        let mut q = SynapseWeightQuad::default();
        q.weights[entry.index()] = UInt::new(1).unwrap();
        assert_eq!(SynapseWeightQuad::addresses(quad), [0x02C0_0021]);
        assert_eq!(q.encode(), [0x0000_1000]);
    }

    fn synapse(b: &mut Bits) -> Synapse {
        Synapse { weight: b.uint(), label: b.uint(), time_calib: b.uint(), amp_calib: b.uint() }
    }

    proptest! {
        #[test]
        fn weight_quad_round_trips(raw in any::<[u32; 8]>()) {
            let mut b = Bits::new(raw);
            value_round_trip(&SynapseWeightQuad { weights: std::array::from_fn(|_| b.uint()) });
            words_round_trip::<SynapseWeightQuad>(raw);
        }

        #[test]
        fn label_quad_round_trips(raw in any::<[u32; 8]>()) {
            let mut b = Bits::new(raw);
            value_round_trip(&SynapseLabelQuad { labels: std::array::from_fn(|_| b.uint()) });
            words_round_trip::<SynapseLabelQuad>(raw);
        }

        #[test]
        fn synapse_quad_round_trips(raw in any::<[u32; 8]>()) {
            let mut b = Bits::new(raw);
            let quad = SynapseQuad { synapses: std::array::from_fn(|_| synapse(&mut b)) };
            value_round_trip(&quad);
            words_round_trip::<SynapseQuad>(raw);
        }
    }
}
