//! Chip configuration containers as 32-bit omnibus words (spec §1.3-§1.9).
//!
//! Every container implements [`Container`]: its omnibus word addresses for a coordinate, `encode` to words
//! and `decode` from words. Writable containers also implement [`WritableContainer`], whose
//! [`writes`](WritableContainer::writes) gives the omnibus writes in the order they must be issued.
//!
//! # Reserved bits
//!
//! Decoders **reject** words with bits set outside the container's defined fields
//! ([`Container::DEFINED_BITS`]) with [`ContainerError::ReservedBits`]; nothing is silently dropped. Encoders
//! write those bits as 0. Hence `decode(encode(x)) == x` for every container value, and
//! `encode(decode(w)) == w` for every accepted `w`. Fields stored inverted or bit-reversed are converted
//! both ways, so the container fields always hold the logical values.
//!
//! Field values are range-checked by construction: n-bit fields are [`UInt<N>`], so `encode` cannot fail.

use std::fmt;

mod background;
mod capmem;
mod crossbar;
mod fpga;
mod madc;
mod neuron;
mod neuron_backend;
mod padi;
mod synapse;
mod synapse_driver;

pub use background::{BACKGROUND_SOURCE_BASE, BackgroundSpikeSource};
pub use capmem::CapMemValue;
pub use crossbar::{
    CROSSBAR_INPUT_DROP_COUNTER_BASE, CROSSBAR_NODE_BASE, CROSSBAR_OUTPUT_CONFIG_ADDRESS,
    CROSSBAR_OUTPUT_EVENT_COUNTER_BASE, CrossbarInputDropCounter, CrossbarNodeConfig, CrossbarOutputConfig,
    CrossbarOutputEventCounter,
};
pub use fpga::{
    EVENT_RECORDING_CONFIG_ADDRESS, EventRecordingConfig, POLLING_OMNIBUS_BLOCK_CONFIG_BASE, PollingOmnibusBlockConfig,
};
pub use madc::{MADC_BASE, MadcControl};
pub use neuron::{NEURON_CONFIG_BASE, NeuronConfig, ReadoutSource};
pub use neuron_backend::{
    COMMON_NEURON_BACKEND_CONFIG_BASE, CommonNeuronBackendConfig, NEURON_BACKEND_CONFIG_BASE, NEURON_RESET_BASE,
    NeuronBackendConfig, NeuronReset, RefractoryClock, SPIKE_COUNTER_READ_BASE, SPIKE_COUNTER_RESET_BASE,
    SpikeCounterRead, SpikeCounterReset,
};
pub use padi::{CommonPadiBusConfig, PADI_BASE, PadiEvent};
pub use synapse::{
    SYNAPSE_LABEL_OFFSET, SYNAPSE_QUAD_OFFSET, SYNRAM_BASE, Synapse, SynapseLabelQuad, SynapseQuad, SynapseWeightQuad,
    permute_weight_bits,
};
pub use synapse_driver::{RowMode, SYNAPSE_DRIVER_BASE, SynapseDriverConfig};

/// A word list that does not decode into a container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// Bits outside the container's defined fields are set in a word.
    #[error("{container} word {word}: reserved bits {bits:#010x} set (defined fields: {defined:#010x})")]
    ReservedBits {
        /// The container type.
        container: &'static str,
        /// Index of the offending word (0-based, in [`Container::addresses`] order).
        word: usize,
        /// The reserved bits that are set.
        bits: u32,
        /// The bits that belong to fields of this word.
        defined: u32,
    },
    /// The number of words does not match the container.
    #[error("{container}: expected {expected} words, got {got}")]
    WordCount {
        /// The container type.
        container: &'static str,
        /// The container's word count.
        expected: usize,
        /// The number of words given.
        got: usize,
    },
}

/// One omnibus word write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OmnibusWrite {
    /// The word address.
    pub address: u32,
    /// The data word.
    pub data: u32,
}

impl From<OmnibusWrite> for (u32, u32) {
    fn from(w: OmnibusWrite) -> (u32, u32) {
        (w.address, w.data)
    }
}

/// A chip or FPGA configuration container: a fixed number of 32-bit omnibus words at coordinate-dependent
/// addresses.
pub trait Container: Sized {
    /// The container's name (used in errors).
    const NAME: &'static str;

    /// The coordinate that selects one instance (`()` for single-instance registers).
    type Coord: Copy;

    /// The word array, `[u32; N]` with N the container's word count.
    type Words: Copy + fmt::Debug + Eq + Default + AsRef<[u32]> + AsMut<[u32]> + for<'a> TryFrom<&'a [u32]>;

    /// Per word, the bits that belong to fields; [`Container::decode`] rejects any other set bit.
    const DEFINED_BITS: Self::Words;

    /// The omnibus word addresses of the instance at `coord`, word k at index k.
    fn addresses(coord: Self::Coord) -> Self::Words;

    /// The words (reserved bits 0).
    fn encode(&self) -> Self::Words;

    /// The container from its words; [`ContainerError::ReservedBits`] if a bit outside a field is set.
    fn decode(words: &Self::Words) -> Result<Self, ContainerError>;

    /// Number of words.
    fn word_count() -> usize {
        Self::DEFINED_BITS.as_ref().len()
    }

    /// Like [`Container::decode`], from a slice that must have exactly the container's word count.
    fn decode_slice(words: &[u32]) -> Result<Self, ContainerError> {
        let array = Self::Words::try_from(words).map_err(|_| ContainerError::WordCount {
            container: Self::NAME,
            expected: Self::word_count(),
            got: words.len(),
        })?;
        Self::decode(&array)
    }
}

/// A container that can be written: the omnibus writes that configure it.
pub trait WritableContainer: Container {
    /// The omnibus writes that store `self` at `coord`, in the order they must be issued (address order
    /// unless the container says otherwise).
    fn writes(&self, coord: Self::Coord) -> Vec<OmnibusWrite> {
        let (addresses, words) = (Self::addresses(coord), self.encode());
        addresses.as_ref().iter().zip(words.as_ref()).map(|(&address, &data)| OmnibusWrite { address, data }).collect()
    }
}

/// Checks every word against the defined bits.
pub(crate) fn check_reserved(container: &'static str, words: &[u32], defined: &[u32]) -> Result<(), ContainerError> {
    for (word, (&w, &d)) in words.iter().zip(defined).enumerate() {
        if w & !d != 0 {
            return Err(ContainerError::ReservedBits { container, word, bits: w & !d, defined: d });
        }
    }
    Ok(())
}

/// Bit `i` of `w`.
pub(crate) const fn bit(w: u32, i: u32) -> bool {
    (w >> i) & 1 == 1
}

/// `v` at bit `i`.
pub(crate) const fn put(v: bool, i: u32) -> u32 {
    (v as u32) << i
}

/// The `width`-bit field of `w` starting at bit `lsb`.
pub(crate) const fn field(w: u32, lsb: u32, width: u32) -> u32 {
    (w >> lsb) & ((1 << width) - 1)
}

/// An unsigned integer of `BITS` bits (1..=31), range-checked on construction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UInt<const BITS: u32>(u32);

/// A value that does not fit in its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("value {value} does not fit in {bits} bits")]
pub struct FieldOverflow {
    /// The rejected value.
    pub value: u32,
    /// The field width.
    pub bits: u32,
}

impl<const BITS: u32> UInt<BITS> {
    /// The largest value, `2^BITS - 1`.
    pub const MAX: u32 = {
        assert!(BITS >= 1 && BITS <= 31, "UInt width must be 1..=31");
        (1 << BITS) - 1
    };

    /// Zero.
    pub const ZERO: Self = UInt(0);

    /// The value; `None` if it does not fit in `BITS` bits.
    pub const fn new(value: u32) -> Option<Self> {
        if value <= Self::MAX { Some(UInt(value)) } else { None }
    }

    /// The low `BITS` bits of `value` (for decoders, after the reserved-bit check).
    pub(crate) const fn masked(value: u32) -> Self {
        UInt(value & Self::MAX)
    }

    /// The value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl<const BITS: u32> TryFrom<u32> for UInt<BITS> {
    type Error = FieldOverflow;

    fn try_from(value: u32) -> Result<Self, FieldOverflow> {
        Self::new(value).ok_or(FieldOverflow { value, bits: BITS })
    }
}

impl<const BITS: u32> From<UInt<BITS>> for u32 {
    fn from(value: UInt<BITS>) -> u32 {
        value.0
    }
}

impl<const BITS: u32> fmt::Display for UInt<BITS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A 6-bit synapse weight (0..64).
pub type SynapseWeight = UInt<6>;

/// A 6-bit synapse label ("address", 0..64): matched against spike label bits `[5:0]`.
pub type SynapseLabel = UInt<6>;

/// A 14-bit neuron label (spike label bits `[13:0]`), as matched by crossbar nodes.
pub type NeuronLabel = UInt<14>;

#[cfg(test)]
pub(crate) mod testutil {
    //! Random container values from raw random bits, independent of the decoders, and the generic
    //! round-trip properties.

    use super::*;

    /// A cursor over random bits.
    pub struct Bits {
        words: [u32; 8],
        pos: u32,
    }

    impl Bits {
        pub fn new(words: [u32; 8]) -> Bits {
            Bits { words, pos: 0 }
        }

        /// The next `n` (1..=32) bits.
        pub fn take(&mut self, n: u32) -> u32 {
            let mut v = 0u64;
            for _ in 0..n {
                let (w, b) = ((self.pos / 32) as usize % 8, self.pos % 32);
                v = v << 1 | u64::from(self.words[w] >> b & 1);
                self.pos += 1;
            }
            v as u32
        }

        pub fn bool(&mut self) -> bool {
            self.take(1) == 1
        }

        pub fn uint<const N: u32>(&mut self) -> UInt<N> {
            UInt::new(self.take(N)).unwrap()
        }

        pub fn bools<const K: usize>(&mut self) -> [bool; K] {
            std::array::from_fn(|_| self.bool())
        }
    }

    /// `decode(encode(x)) == x`.
    pub fn value_round_trip<C: Container + PartialEq + fmt::Debug>(x: &C) {
        let words = x.encode();
        for (w, d) in words.as_ref().iter().zip(C::DEFINED_BITS.as_ref()) {
            assert_eq!(w & !d, 0, "{} encodes a reserved bit", C::NAME);
        }
        assert_eq!(C::decode(&words).as_ref(), Ok(x));
        assert_eq!(C::decode_slice(words.as_ref()).as_ref(), Ok(x));
    }

    /// For raw words: masked to the defined bits they decode and re-encode identically; with a reserved bit
    /// set they are rejected, naming the first offending word.
    pub fn words_round_trip<C: Container + fmt::Debug>(raw: [u32; 8]) {
        let defined = C::DEFINED_BITS;
        let mut masked = C::Words::default();
        for (k, w) in masked.as_mut().iter_mut().enumerate() {
            *w = raw[k] & defined.as_ref()[k];
        }
        let x = C::decode(&masked).unwrap();
        assert_eq!(x.encode(), masked);

        let mut dirty = C::Words::default();
        for (k, w) in dirty.as_mut().iter_mut().enumerate() {
            *w = raw[k];
        }
        let first_bad = dirty.as_ref().iter().zip(defined.as_ref()).position(|(w, d)| w & !d != 0);
        match first_bad {
            None => assert_eq!(C::decode(&dirty).unwrap().encode(), dirty),
            Some(k) => {
                let bits = dirty.as_ref()[k] & !defined.as_ref()[k];
                assert_eq!(
                    C::decode(&dirty).unwrap_err(),
                    ContainerError::ReservedBits { container: C::NAME, word: k, bits, defined: defined.as_ref()[k] }
                );
            }
        }
        assert!(matches!(
            C::decode_slice(&raw[..C::word_count() + 1]),
            Err(ContainerError::WordCount { got, .. }) if got == C::word_count() + 1
        ));
    }

    /// The (address, data) list of a container's writes.
    pub fn pairs<C: WritableContainer>(x: &C, coord: C::Coord) -> Vec<(u32, u32)> {
        x.writes(coord).into_iter().map(Into::into).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coords::*;
    use std::collections::HashMap;

    #[test]
    fn uint_range() {
        assert_eq!(UInt::<6>::MAX, 63);
        assert_eq!(UInt::<6>::new(63).map(UInt::get), Some(63));
        assert!(UInt::<6>::new(64).is_none());
        assert_eq!(UInt::<14>::try_from(1 << 14), Err(FieldOverflow { value: 1 << 14, bits: 14 }));
        assert_eq!(u32::from(UInt::<31>::new(u32::MAX >> 1).unwrap()), u32::MAX >> 1);
        assert_eq!(UInt::<4>::masked(0x1F).get(), 0xF);
        assert_eq!(UInt::<3>::new(5).unwrap().to_string(), "5");
    }

    #[test]
    fn error_messages() {
        let e = SynapseWeightQuad::decode(&[0x0000_00C0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SynapseWeightQuad word 0: reserved bits 0x000000c0 set (defined fields: 0x3f3f3f3f)"
        );
        let e = NeuronConfig::decode_slice(&[0; 5]).unwrap_err();
        assert_eq!(e.to_string(), "NeuronConfig: expected 6 words, got 5");
    }

    /// Every address of every container instance, with its owner; no two owners share an address.
    #[test]
    fn address_map_has_no_overlaps() {
        let mut map: HashMap<u32, String> = HashMap::new();
        let mut add = |owner: String, addresses: &[u32]| {
            for &a in addresses {
                if let Some(prev) = map.insert(a, owner.clone()) {
                    panic!("{a:#x}: {prev} and {owner}");
                }
            }
        };
        for hemisphere in Hemisphere::ALL {
            for row in SynapseRow::all() {
                for column in SynapseQuadColumn::all() {
                    let c = SynapseQuadOnChip { hemisphere, row, column };
                    add(format!("weight {c:?}"), &SynapseWeightQuad::addresses(c));
                    add(format!("label {c:?}"), &SynapseLabelQuad::addresses(c));
                    add(format!("quad {c:?}"), &SynapseQuad::addresses(c));
                }
            }
            for driver in SynapseDriver::all() {
                let c = SynapseDriverOnChip { hemisphere, driver };
                add(format!("{c:?}"), &SynapseDriverConfig::addresses(c));
            }
            add(format!("padi bus {hemisphere}"), &CommonPadiBusConfig::addresses(hemisphere));
            add(format!("padi event {hemisphere}"), &PadiEvent::addresses(hemisphere));
        }
        for block in Quadrant::ALL {
            for column in CapMemColumn::all() {
                for row in CapMemRow::all() {
                    let c = CapMemCell { block, column, row };
                    add(format!("{c:?}"), &CapMemValue::addresses(c));
                }
            }
        }
        for n in Neuron::all() {
            add(format!("config {n}"), &NeuronConfig::addresses(n));
            add(format!("backend {n}"), &NeuronBackendConfig::addresses(n));
            add(format!("reset {n}"), &NeuronReset::addresses(n));
            add(format!("counter read {n}"), &SpikeCounterRead::addresses(n));
            add(format!("counter reset {n}"), &SpikeCounterReset::addresses(n));
        }
        for b in BackendBlock::ALL {
            add(format!("common backend {b}"), &CommonNeuronBackendConfig::addresses(b));
        }
        add("crossbar output config".into(), &CrossbarOutputConfig::addresses(()));
        for j in BackgroundSource::all() {
            add(format!("{j}"), &BackgroundSpikeSource::addresses(j));
        }
        for n in CrossbarNode::all() {
            add(format!("{n}"), &CrossbarNodeConfig::addresses(n));
        }
        for i in CrossbarInput::all() {
            add(format!("drop counter {i}"), &CrossbarInputDropCounter::addresses(i));
        }
        for o in CrossbarOutput::all() {
            add(format!("event counter {o}"), &CrossbarOutputEventCounter::addresses(o));
        }
        add("event recording".into(), &EventRecordingConfig::addresses(()));
        add("polling".into(), &PollingOmnibusBlockConfig::addresses(()));
        // The event fabric block is contiguous: 0x130000 ..= 0x130084.
        assert!((0x13_0000..=0x13_0084).all(|a| map.contains_key(&a)));
        assert!(!map.contains_key(&0x13_0085));
    }
}
