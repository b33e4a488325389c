//! Neuron backends (spec §1.2, §1.8, §1.9): per-neuron digital backend config, the common config of a
//! backend block, and the per-neuron strobes and spike counters.

use super::{Container, ContainerError, UInt, WritableContainer, bit, check_reserved, field, put};
use crate::coords::{BackendBlock, Neuron};

/// Omnibus base of the per-neuron backend configs of each backend block (west, east); 4 words per neuron at
/// `base + 4 * index_in_backend_block + k`.
pub const NEURON_BACKEND_CONFIG_BASE: [u32; 2] = [0x1A_1000, 0x1A_9000];

/// Omnibus base of the common backend config of each backend block (west, east); 2 words.
pub const COMMON_NEURON_BACKEND_CONFIG_BASE: [u32; 2] = [0x1A_1800, 0x1A_9800];

/// Omnibus base of the neuron reset strobes (west, east); 1 word per neuron at `base + 4 * index`.
pub const NEURON_RESET_BASE: [u32; 2] = [0x12_2000, 0x12_A000];

/// Omnibus base of the spike counter read registers (west, east); 1 word per neuron at `base + 4 * index`.
pub const SPIKE_COUNTER_READ_BASE: [u32; 2] = [0x12_2800, 0x12_A800];

/// Omnibus base of the spike counter reset strobes (west, east); 1 word per neuron at `base + 4 * index`.
pub const SPIKE_COUNTER_RESET_BASE: [u32; 2] = [0x12_2C00, 0x12_AC00];

/// The per-neuron strobe / counter address `base[block] + 4 * index_in_backend_block`.
fn strobe_address(base: &[u32; 2], neuron: Neuron) -> u32 {
    base[neuron.backend_block().index()] + 4 * neuron.index_in_backend_block() as u32
}

/// Which of its common backend's two clocks drives a neuron's refractory counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RefractoryClock {
    /// The slow clock (`select_input_clock` = 0).
    #[default]
    Slow = 0,
    /// The fast clock (`select_input_clock` = 1).
    Fast = 1,
}

/// The digital backend of one neuron: 4 words at `0x1A1000 / 0x1A9000 + 4 * index_in_backend_block + k`.
///
/// | k | bits |
/// |---|---|
/// | 0 | `[5:0]` `address_out[7:2]` inverted, `[7:6]` `reset_holdoff[1:0]` |
/// | 1 | `[3:0]` `refractory_time[7:4]` inverted, `[5:4]` `address_out[1:0]` inverted, `[7:6]` `reset_holdoff[3:2]` |
/// | 2 | `[0]` post overwrite, `[1]` input clock (1 = fast), `[5:2]` `refractory_time[3:0]` inverted, `[6]` adaptation pulse, `[7]` bayesian extension |
/// | 3 | `[0]` neuron slave, `[1]` connect fire bottom, `[2]` connect fire from right, `[3]` connect fire to right, `[4]` spike out, `[5]` neuron master, `[6]` bayesian 1, `[7]` bayesian 0 |
///
/// The fields hold the logical values; the inversion happens in `encode` / `decode`. Bits `[31:8]` of every
/// word are reserved (written 0, rejected by the decoder).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NeuronBackendConfig {
    /// The label bits `[7:0]` of this neuron's spikes (stored inverted).
    pub address_out: u8,
    /// Reset holdoff (4 bit): the reset is released `0x1F - 2 * holdoff` counter cycles before the refractory
    /// period ends.
    pub reset_holdoff: UInt<4>,
    /// Refractory period in counter cycles (stored inverted, i.e. as the counter start `0xFF - value`).
    pub refractory_time: u8,
    /// Word 2 bit 0: post overwrite.
    pub post_overwrite: bool,
    /// Word 2 bit 1: the clock of the refractory counter.
    pub input_clock: RefractoryClock,
    /// Word 2 bit 6: adaptation pulse.
    pub enable_adaptation_pulse: bool,
    /// Word 2 bit 7: bayesian extension (default on).
    pub enable_bayesian_extension: bool,
    /// Word 3 bit 0: neuron slave.
    pub enable_neuron_slave: bool,
    /// Word 3 bit 1: connect fire to the bottom neuron.
    pub connect_fire_bottom: bool,
    /// Word 3 bit 2: connect fire from the right neuron.
    pub connect_fire_from_right: bool,
    /// Word 3 bit 3: connect fire to the right neuron.
    pub connect_fire_to_right: bool,
    /// Word 3 bit 4: spikes leave the backend (needed for any spike output).
    pub enable_spike_out: bool,
    /// Word 3 bit 5: neuron master.
    pub enable_neuron_master: bool,
    /// Word 3 bit 6: bayesian 1.
    pub enable_bayesian_1: bool,
    /// Word 3 bit 7: bayesian 0.
    pub enable_bayesian_0: bool,
}

impl Default for NeuronBackendConfig {
    /// All zero except `enable_bayesian_extension` (on, as in haldls).
    fn default() -> Self {
        NeuronBackendConfig {
            address_out: 0,
            reset_holdoff: UInt::ZERO,
            refractory_time: 0,
            post_overwrite: false,
            input_clock: RefractoryClock::Slow,
            enable_adaptation_pulse: false,
            enable_bayesian_extension: true,
            enable_neuron_slave: false,
            connect_fire_bottom: false,
            connect_fire_from_right: false,
            connect_fire_to_right: false,
            enable_spike_out: false,
            enable_neuron_master: false,
            enable_bayesian_1: false,
            enable_bayesian_0: false,
        }
    }
}

impl Container for NeuronBackendConfig {
    const NAME: &'static str = "NeuronBackendConfig";
    type Coord = Neuron;
    type Words = [u32; 4];
    const DEFINED_BITS: [u32; 4] = [0xFF; 4];

    fn addresses(neuron: Neuron) -> [u32; 4] {
        let base = strobe_address(&NEURON_BACKEND_CONFIG_BASE, neuron);
        std::array::from_fn(|k| base + k as u32)
    }

    fn encode(&self) -> [u32; 4] {
        let address = u32::from(!self.address_out);
        let refractory = u32::from(!self.refractory_time);
        let holdoff = self.reset_holdoff.get();
        [
            (address >> 2) & 0x3F | (holdoff & 3) << 6,
            (refractory >> 4) & 0xF | (address & 3) << 4 | (holdoff >> 2) << 6,
            put(self.post_overwrite, 0)
                | (self.input_clock as u32) << 1
                | (refractory & 0xF) << 2
                | put(self.enable_adaptation_pulse, 6)
                | put(self.enable_bayesian_extension, 7),
            put(self.enable_neuron_slave, 0)
                | put(self.connect_fire_bottom, 1)
                | put(self.connect_fire_from_right, 2)
                | put(self.connect_fire_to_right, 3)
                | put(self.enable_spike_out, 4)
                | put(self.enable_neuron_master, 5)
                | put(self.enable_bayesian_1, 6)
                | put(self.enable_bayesian_0, 7),
        ]
    }

    fn decode(w: &[u32; 4]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        let address = field(w[0], 0, 6) << 2 | field(w[1], 4, 2);
        let refractory = field(w[1], 0, 4) << 4 | field(w[2], 2, 4);
        Ok(NeuronBackendConfig {
            address_out: !(address as u8),
            reset_holdoff: UInt::masked(field(w[1], 6, 2) << 2 | field(w[0], 6, 2)),
            refractory_time: !(refractory as u8),
            post_overwrite: bit(w[2], 0),
            input_clock: if bit(w[2], 1) { RefractoryClock::Fast } else { RefractoryClock::Slow },
            enable_adaptation_pulse: bit(w[2], 6),
            enable_bayesian_extension: bit(w[2], 7),
            enable_neuron_slave: bit(w[3], 0),
            connect_fire_bottom: bit(w[3], 1),
            connect_fire_from_right: bit(w[3], 2),
            connect_fire_to_right: bit(w[3], 3),
            enable_spike_out: bit(w[3], 4),
            enable_neuron_master: bit(w[3], 5),
            enable_bayesian_1: bit(w[3], 6),
            enable_bayesian_0: bit(w[3], 7),
        })
    }
}

impl WritableContainer for NeuronBackendConfig {}

/// The common config of a backend block: 2 words at `0x1A1800 / 0x1A9800 + k`.
///
/// | k | bits |
/// |---|---|
/// | 0 | `[0]` event registers, `[1]` force reset, `[2]` clocks, `[7:4]` slow clock scale, `[11:8]` fast clock scale, `[15:12]` sample on positive edge (event outputs 0..4 of the block), `[19:16]` adaptation pulse clock scale, `[23:20]` post pulse clock scale |
/// | 1 | `[7:0]` wait global post pulse, `[15:8]` wait spike counter reset, `[23:16]` wait spike counter read, `[31:24]` wait fire neuron |
///
/// Clock frequency: 250 MHz / 2^(scale + 1). Reserved (written 0, rejected by the decoder): word 0 bit 3
/// and bits `[31:24]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommonNeuronBackendConfig {
    /// Word 0 bit 0: event registers.
    pub enable_event_registers: bool,
    /// Word 0 bit 1: force reset.
    pub force_reset: bool,
    /// Word 0 bit 2: clocks.
    pub enable_clocks: bool,
    /// Word 0 bits `[7:4]`: slow clock scale.
    pub clock_scale_slow: UInt<4>,
    /// Word 0 bits `[11:8]`: fast clock scale.
    pub clock_scale_fast: UInt<4>,
    /// Word 0 bits `[15:12]`: sample on the positive clock edge, per event output of the block.
    pub sample_positive_edge: [bool; 4],
    /// Word 0 bits `[19:16]`: adaptation pulse clock scale.
    pub clock_scale_adaptation_pulse: UInt<4>,
    /// Word 0 bits `[23:20]`: post pulse clock scale.
    pub clock_scale_post_pulse: UInt<4>,
    /// Word 1 bits `[7:0]`: wait global post pulse.
    pub wait_global_post_pulse: u8,
    /// Word 1 bits `[15:8]`: wait spike counter reset.
    pub wait_spike_counter_reset: u8,
    /// Word 1 bits `[23:16]`: wait spike counter read.
    pub wait_spike_counter_read: u8,
    /// Word 1 bits `[31:24]`: wait fire neuron.
    pub wait_fire_neuron: u8,
}

impl Container for CommonNeuronBackendConfig {
    const NAME: &'static str = "CommonNeuronBackendConfig";
    type Coord = BackendBlock;
    type Words = [u32; 2];
    const DEFINED_BITS: [u32; 2] = [0x00FF_FFF7, 0xFFFF_FFFF];

    fn addresses(block: BackendBlock) -> [u32; 2] {
        let base = COMMON_NEURON_BACKEND_CONFIG_BASE[block.index()];
        [base, base + 1]
    }

    fn encode(&self) -> [u32; 2] {
        let edges = self.sample_positive_edge.iter().enumerate().fold(0, |acc, (i, &e)| acc | put(e, 12 + i as u32));
        [
            put(self.enable_event_registers, 0)
                | put(self.force_reset, 1)
                | put(self.enable_clocks, 2)
                | self.clock_scale_slow.get() << 4
                | self.clock_scale_fast.get() << 8
                | edges
                | self.clock_scale_adaptation_pulse.get() << 16
                | self.clock_scale_post_pulse.get() << 20,
            u32::from_le_bytes([
                self.wait_global_post_pulse,
                self.wait_spike_counter_reset,
                self.wait_spike_counter_read,
                self.wait_fire_neuron,
            ]),
        ]
    }

    fn decode(w: &[u32; 2]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        let [post, reset, read, fire] = w[1].to_le_bytes();
        Ok(CommonNeuronBackendConfig {
            enable_event_registers: bit(w[0], 0),
            force_reset: bit(w[0], 1),
            enable_clocks: bit(w[0], 2),
            clock_scale_slow: UInt::masked(field(w[0], 4, 4)),
            clock_scale_fast: UInt::masked(field(w[0], 8, 4)),
            sample_positive_edge: std::array::from_fn(|i| bit(w[0], 12 + i as u32)),
            clock_scale_adaptation_pulse: UInt::masked(field(w[0], 16, 4)),
            clock_scale_post_pulse: UInt::masked(field(w[0], 20, 4)),
            wait_global_post_pulse: post,
            wait_spike_counter_reset: reset,
            wait_spike_counter_read: read,
            wait_fire_neuron: fire,
        })
    }
}

impl WritableContainer for CommonNeuronBackendConfig {}

/// Defines a per-neuron strobe: one word, written as 0; the hardware ignores the value, the decoder accepts
/// only 0.
macro_rules! strobe {
    ($(#[$meta:meta])* $name:ident, $base:ident) => {
        $(#[$meta])*
        ///
        /// The hardware ignores the written value; `encode` writes 0 and `decode` rejects any other word
        /// (all 32 bits count as reserved).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;

        impl Container for $name {
            const NAME: &'static str = stringify!($name);
            type Coord = Neuron;
            type Words = [u32; 1];
            const DEFINED_BITS: [u32; 1] = [0];

            fn addresses(neuron: Neuron) -> [u32; 1] {
                [strobe_address(&$base, neuron)]
            }

            fn encode(&self) -> [u32; 1] {
                [0]
            }

            fn decode(words: &[u32; 1]) -> Result<Self, ContainerError> {
                check_reserved(Self::NAME, words, &Self::DEFINED_BITS)?;
                Ok($name)
            }
        }

        impl WritableContainer for $name {}
    };
}

strobe!(
    /// Resets a neuron (write-only strobe at `0x122000 / 0x12A000 + 4 * index_in_backend_block`).
    NeuronReset,
    NEURON_RESET_BASE
);

strobe!(
    /// Resets a neuron's spike counter (write-only strobe at `0x122C00 / 0x12AC00 + 4 * index_in_backend_block`).
    SpikeCounterReset,
    SPIKE_COUNTER_RESET_BASE
);

/// A neuron's spike counter as read (read-only, 1 word at `0x122800 / 0x12A800 + 4 * index_in_backend_block`):
/// `[7:0]` count, `[8]` overflow. Bits `[31:9]` are reserved (rejected by the decoder). Not a
/// [`WritableContainer`]; `encode` exists for emulators answering the read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpikeCounterRead {
    /// Spikes counted since the last reset (modulo 256 once `overflow` is set).
    pub count: u8,
    /// The counter overflowed.
    pub overflow: bool,
}

impl Container for SpikeCounterRead {
    const NAME: &'static str = "SpikeCounterRead";
    type Coord = Neuron;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0x1FF];

    fn addresses(neuron: Neuron) -> [u32; 1] {
        [strobe_address(&SPIKE_COUNTER_READ_BASE, neuron)]
    }

    fn encode(&self) -> [u32; 1] {
        [u32::from(self.count) | put(self.overflow, 8)]
    }

    fn decode(words: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, words, &Self::DEFINED_BITS)?;
        Ok(SpikeCounterRead { count: (words[0] & 0xFF) as u8, overflow: bit(words[0], 8) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use crate::coords::{Hemisphere, NeuronColumn};
    use proptest::prelude::*;

    fn neuron(c: usize, r: Hemisphere) -> Neuron {
        Neuron::new(NeuronColumn::new(c).unwrap(), r)
    }

    #[test]
    fn golden_backend_addresses() {
        // Spec §1.8: east block, index 128 + 23 -> 0x1A9000 + 128 * 4 + 23 * 4 + 0..3.
        let n = neuron(128 + 23, Hemisphere::Bottom);
        assert_eq!((n.backend_block(), n.index_in_backend_block()), (BackendBlock::East, 151));
        let base = 0x1A_9000 + 128 * 4 + 23 * 4;
        assert_eq!(NeuronBackendConfig::addresses(n), [base, base + 1, base + 2, base + 3]);
        assert_eq!(NeuronBackendConfig::addresses(neuron(0, Hemisphere::Top))[0], 0x1A_1000);
        assert_eq!(CommonNeuronBackendConfig::addresses(BackendBlock::West), [0x1A_1800, 0x1A_1801]);
        assert_eq!(CommonNeuronBackendConfig::addresses(BackendBlock::East), [0x1A_9800, 0x1A_9801]);
        assert_eq!(NeuronReset::addresses(n), [0x12_A000 + 151 * 4]);
        assert_eq!(SpikeCounterRead::addresses(n), [0x12_A800 + 151 * 4]);
        assert_eq!(SpikeCounterReset::addresses(n), [0x12_AC00 + 151 * 4]);
        let w = neuron(5, Hemisphere::Top);
        assert_eq!(pairs(&NeuronReset, w), vec![(0x12_2000 + 20, 0)]);
        assert_eq!(pairs(&SpikeCounterReset, w), vec![(0x12_2C00 + 20, 0)]);
        assert_eq!(SpikeCounterRead::addresses(w), [0x12_2800 + 20]);
    }

    #[test]
    fn golden_backend_words() {
        // Spec §1.9: address_out = 7 -> word 0 [5:0] = 0b111110, word 1 [5:4] = 0b00.
        let c = NeuronBackendConfig { address_out: 7, ..NeuronBackendConfig::default() };
        let w = c.encode();
        assert_eq!(w[0] & 0x3F, 0b11_1110);
        assert_eq!(w[1] >> 4 & 3, 0b00);
        // Default refractory_time 0 is stored as 0xFF; bayesian extension on by default.
        assert_eq!(w, [0x3E, 0x0F, 0xBC, 0x00]);
        assert_eq!(NeuronBackendConfig::decode(&w), Ok(c));

        let c = NeuronBackendConfig {
            address_out: 0b1010_0110,
            reset_holdoff: UInt::new(0b1001).unwrap(),
            refractory_time: 0x3C,
            input_clock: RefractoryClock::Fast,
            enable_bayesian_extension: false,
            enable_spike_out: true,
            enable_bayesian_0: true,
            ..NeuronBackendConfig::default()
        };
        // !address_out = 0b0101_1001: [7:2] = 0b010110, [1:0] = 0b01; !refractory = 0xC3; holdoff 0b10 / 0b01.
        // w0 = 01 010110, w1 = 10 01 1100, w2 = 0 0 0011 1 0, w3 = bayesian 0 + spike out.
        assert_eq!(c.encode(), [0x56, 0x9C, 0x0E, 0x90]);
        assert_eq!(NeuronBackendConfig::decode(&c.encode()), Ok(c));
        assert!(NeuronBackendConfig::decode(&[0x100, 0, 0, 0]).is_err());
    }

    #[test]
    fn golden_common_backend() {
        let c = CommonNeuronBackendConfig {
            enable_event_registers: true,
            enable_clocks: true,
            clock_scale_slow: UInt::new(9).unwrap(),
            clock_scale_fast: UInt::new(3).unwrap(),
            sample_positive_edge: [true, false, false, true],
            clock_scale_adaptation_pulse: UInt::new(0xA).unwrap(),
            clock_scale_post_pulse: UInt::new(0xF).unwrap(),
            wait_global_post_pulse: 0x11,
            wait_spike_counter_reset: 0x22,
            wait_spike_counter_read: 0x33,
            wait_fire_neuron: 0x44,
            ..CommonNeuronBackendConfig::default()
        };
        assert_eq!(c.encode(), [0x00FA_9395, 0x4433_2211]);
        assert_eq!(pairs(&c, BackendBlock::East), vec![(0x1A_9800, 0x00FA_9395), (0x1A_9801, 0x4433_2211)]);
        assert!(CommonNeuronBackendConfig::decode(&[0x8, 0]).is_err());
        assert!(CommonNeuronBackendConfig::decode(&[0x0100_0000, 0]).is_err());
    }

    #[test]
    fn golden_strobes_and_counter() {
        assert_eq!(NeuronReset::decode(&[0]), Ok(NeuronReset));
        assert!(NeuronReset::decode(&[1]).is_err());
        assert!(SpikeCounterReset::decode(&[0x8000_0000]).is_err());
        assert_eq!(SpikeCounterRead::decode(&[0x1_2A]), Ok(SpikeCounterRead { count: 0x2A, overflow: true }));
        assert_eq!(SpikeCounterRead { count: 7, overflow: false }.encode(), [7]);
        assert!(SpikeCounterRead::decode(&[0x200]).is_err());
    }

    fn random_backend(b: &mut Bits) -> NeuronBackendConfig {
        NeuronBackendConfig {
            address_out: b.take(8) as u8,
            reset_holdoff: b.uint(),
            refractory_time: b.take(8) as u8,
            post_overwrite: b.bool(),
            input_clock: if b.bool() { RefractoryClock::Fast } else { RefractoryClock::Slow },
            enable_adaptation_pulse: b.bool(),
            enable_bayesian_extension: b.bool(),
            enable_neuron_slave: b.bool(),
            connect_fire_bottom: b.bool(),
            connect_fire_from_right: b.bool(),
            connect_fire_to_right: b.bool(),
            enable_spike_out: b.bool(),
            enable_neuron_master: b.bool(),
            enable_bayesian_1: b.bool(),
            enable_bayesian_0: b.bool(),
        }
    }

    fn random_common(b: &mut Bits) -> CommonNeuronBackendConfig {
        CommonNeuronBackendConfig {
            enable_event_registers: b.bool(),
            force_reset: b.bool(),
            enable_clocks: b.bool(),
            clock_scale_slow: b.uint(),
            clock_scale_fast: b.uint(),
            sample_positive_edge: b.bools(),
            clock_scale_adaptation_pulse: b.uint(),
            clock_scale_post_pulse: b.uint(),
            wait_global_post_pulse: b.take(8) as u8,
            wait_spike_counter_reset: b.take(8) as u8,
            wait_spike_counter_read: b.take(8) as u8,
            wait_fire_neuron: b.take(8) as u8,
        }
    }

    proptest! {
        #[test]
        fn backend_round_trips(raw in any::<[u32; 8]>()) {
            value_round_trip(&random_backend(&mut Bits::new(raw)));
            words_round_trip::<NeuronBackendConfig>(raw);
        }

        #[test]
        fn common_backend_round_trips(raw in any::<[u32; 8]>()) {
            value_round_trip(&random_common(&mut Bits::new(raw)));
            words_round_trip::<CommonNeuronBackendConfig>(raw);
        }

        #[test]
        fn strobe_and_counter_round_trips(raw in any::<[u32; 8]>(), count: u8, overflow: bool) {
            value_round_trip(&NeuronReset);
            value_round_trip(&SpikeCounterReset);
            value_round_trip(&SpikeCounterRead { count, overflow });
            words_round_trip::<NeuronReset>(raw);
            words_round_trip::<SpikeCounterReset>(raw);
            words_round_trip::<SpikeCounterRead>(raw);
        }
    }
}
