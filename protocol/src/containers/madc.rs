//! The MADC's recording control (spec §1.6: one 10-bit ADC, two multiplexer inputs, up to 65535 samples or
//! continuous). The spec gives the MADC base address (0x0C0000) but not haldls' word layout; this two-word
//! control is the emulator's (`bss2-firmware-sim`), so that calibration programs can record traces there.

use super::{Container, ContainerError, UInt, WritableContainer, bit, check_reserved, put};

/// Omnibus address of the MADC (spec §1.8).
pub const MADC_BASE: u32 = 0x0C_0000;

/// MADC recording control (2 words at `0x0C0000`).
///
/// | k | bits |
/// |---|---|
/// | 0 | `[0]` sampling on (a write with 1 starts a recording, with 0 stops it), `[1]` multiplexer channel |
/// | 1 | `[15:0]` number of samples (0: until stopped), `[23:16]` sample period in 8 ns FPGA cycles (0: the default rate, 34 ns) |
///
/// The recorded circuit is the lowest-numbered one with readout enabled in its `NeuronConfig` (its
/// `readout_source` picks membrane or synaptic input). Samples are returned as MADC packs while event recording
/// is on. Reserved bits are rejected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MadcControl {
    /// Sampling on.
    pub enable_sampling: bool,
    /// Multiplexer channel reported with each sample.
    pub channel: bool,
    /// Samples per recording (0: until stopped).
    pub number_of_samples: UInt<16>,
    /// Sample period in FPGA cycles (0: 34 ns).
    pub sample_period: UInt<8>,
}

impl Container for MadcControl {
    const NAME: &'static str = "MadcControl";
    type Coord = ();
    type Words = [u32; 2];
    const DEFINED_BITS: [u32; 2] = [0b11, 0xFF_FFFF];

    fn addresses((): ()) -> [u32; 2] {
        [MADC_BASE, MADC_BASE + 1]
    }

    fn encode(&self) -> [u32; 2] {
        [
            put(self.enable_sampling, 0) | put(self.channel, 1),
            self.number_of_samples.get() | self.sample_period.get() << 16,
        ]
    }

    fn decode(w: &[u32; 2]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(MadcControl {
            enable_sampling: bit(w[0], 0),
            channel: bit(w[0], 1),
            number_of_samples: UInt::masked(w[1] & 0xFFFF),
            sample_period: UInt::masked(w[1] >> 16),
        })
    }
}

/// Written in reverse order, so that the start bit comes after the sample settings.
impl WritableContainer for MadcControl {
    fn writes(&self, coord: ()) -> Vec<super::OmnibusWrite> {
        let (addresses, words) = (Self::addresses(coord), self.encode());
        (0..2).rev().map(|k| super::OmnibusWrite { address: addresses[k], data: words[k] }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::testutil::{pairs, value_round_trip, words_round_trip};

    #[test]
    fn madc_control_words() {
        let c = MadcControl {
            enable_sampling: true,
            channel: false,
            number_of_samples: UInt::new(3000).unwrap(),
            sample_period: UInt::new(5).unwrap(),
        };
        assert_eq!(pairs(&c, ()), vec![(0x0C_0001, 3000 | 5 << 16), (0x0C_0000, 1)]);
        value_round_trip(&c);
        words_round_trip::<MadcControl>([0b10, 0x12_3456, 0, 0, 0, 0, 0, 0]);
        assert!(MadcControl::decode(&[0b100, 0]).is_err());
    }
}
