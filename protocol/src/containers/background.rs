//! Background spike sources (spec §1.4, §1.8, §1.9).

use super::{
    Container, ContainerError, NeuronLabel, OmnibusWrite, UInt, WritableContainer, bit, check_reserved, field, put,
};
use crate::coords::BackgroundSource;

/// Omnibus address of background source 0; source j occupies `+ 3j + 0..3`.
pub const BACKGROUND_SOURCE_BASE: u32 = 0x13_0001;

/// A background spike source: 3 words at `0x130001 + 3j + k`.
///
/// | k | bits |
/// |---|---|
/// | 0 | `[0]` enable, `[1]` random (Poisson) mode, `[31:16]` period |
/// | 1 | `[31:0]` seed |
/// | 2 | `[7:0]` mask, `[15:8]` rate, `[29:16]` neuron label |
///
/// [`WritableContainer::writes`] issues the words in the order +1, +2, +0, so that the enable word goes last.
/// Reserved (written 0, rejected by the decoder): word 0 bits `[15:2]`, word 2 bits `[31:30]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BackgroundSpikeSource {
    /// Word 0 bit 0: the source runs (the period counter and the generator seed load on enable).
    pub enable: bool,
    /// Word 0 bit 1: binned-Poisson mode instead of regular.
    pub enable_random: bool,
    /// Word 0 bits `[31:16]`: inter-spike interval (regular) or bin width (Poisson), in clock cycles.
    pub period: u16,
    /// Word 1: generator seed.
    pub seed: u32,
    /// Word 2 bits `[7:0]`: label bits `[7:0]` replaced by random bits on every spike.
    pub mask: u8,
    /// Word 2 bits `[15:8]`: Poisson rate (a spike per bin if a random byte <= rate; 0 = off).
    pub rate: u8,
    /// Word 2 bits `[29:16]`: the base neuron label of the emitted spikes.
    pub neuron_label: NeuronLabel,
}

impl Container for BackgroundSpikeSource {
    const NAME: &'static str = "BackgroundSpikeSource";
    type Coord = BackgroundSource;
    type Words = [u32; 3];
    const DEFINED_BITS: [u32; 3] = [0xFFFF_0003, 0xFFFF_FFFF, 0x3FFF_FFFF];

    fn addresses(source: BackgroundSource) -> [u32; 3] {
        let base = BACKGROUND_SOURCE_BASE + 3 * source.index() as u32;
        [base, base + 1, base + 2]
    }

    fn encode(&self) -> [u32; 3] {
        [
            put(self.enable, 0) | put(self.enable_random, 1) | u32::from(self.period) << 16,
            self.seed,
            u32::from(self.mask) | u32::from(self.rate) << 8 | self.neuron_label.get() << 16,
        ]
    }

    fn decode(w: &[u32; 3]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(BackgroundSpikeSource {
            enable: bit(w[0], 0),
            enable_random: bit(w[0], 1),
            period: field(w[0], 16, 16) as u16,
            seed: w[1],
            mask: field(w[2], 0, 8) as u8,
            rate: field(w[2], 8, 8) as u8,
            neuron_label: UInt::masked(field(w[2], 16, 14)),
        })
    }
}

impl WritableContainer for BackgroundSpikeSource {
    /// Words +1, +2, then +0 (the enable word last).
    fn writes(&self, source: BackgroundSource) -> Vec<OmnibusWrite> {
        let (addresses, words) = (Self::addresses(source), self.encode());
        [1, 2, 0].into_iter().map(|k| OmnibusWrite { address: addresses[k], data: words[k] }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden() {
        // Spec §1.9 test vector (source 3): seed 14 -> 14; mask 15, rate 13, label 16 -> 15 | 13 << 8 | 16 << 16;
        // enable, period 12 -> 1 | 12 << 16, written last.
        let s = BackgroundSpikeSource {
            enable: true,
            enable_random: false,
            period: 12,
            seed: 14,
            mask: 15,
            rate: 13,
            neuron_label: UInt::new(16).unwrap(),
        };
        let source = BackgroundSource::new(3).unwrap();
        assert_eq!(BackgroundSpikeSource::addresses(source), [0x13_000A, 0x13_000B, 0x13_000C]);
        assert_eq!(s.encode(), [1 | 12 << 16, 14, 15 | 13 << 8 | 16 << 16]);
        assert_eq!(pairs(&s, source), vec![(0x13_000B, 14), (0x13_000C, 0x0010_0D0F), (0x13_000A, 0x000C_0001)]);
        assert_eq!(BackgroundSpikeSource::decode(&s.encode()), Ok(s));
        assert_eq!(BackgroundSpikeSource::addresses(BackgroundSource::new(0).unwrap())[0], 0x13_0001);
        assert_eq!(BackgroundSpikeSource::addresses(BackgroundSource::new(7).unwrap())[2], 0x13_0018);
        assert!(BackgroundSpikeSource::decode(&[0x4, 0, 0]).is_err());
        assert!(BackgroundSpikeSource::decode(&[0, 0, 0x4000_0000]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(raw in any::<[u32; 8]>()) {
            let mut b = Bits::new(raw);
            let s = BackgroundSpikeSource {
                enable: b.bool(),
                enable_random: b.bool(),
                period: b.take(16) as u16,
                seed: b.take(32),
                mask: b.take(8) as u8,
                rate: b.take(8) as u8,
                neuron_label: b.uint(),
            };
            value_round_trip(&s);
            words_round_trip::<BackgroundSpikeSource>(raw);
            // The writes are a permutation of (addresses, words) with the enable word last.
            let source = BackgroundSource::new((raw[0] % 8) as usize).unwrap();
            let mut w = pairs(&s, source);
            prop_assert_eq!(w[2].0, BackgroundSpikeSource::addresses(source)[0]);
            w.sort();
            let expected: Vec<_> = BackgroundSpikeSource::addresses(source).into_iter().zip(s.encode()).collect();
            prop_assert_eq!(w, expected);
        }
    }
}
