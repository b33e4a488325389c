//! The event crossbar (spec §1.4, §1.8, §1.9): node configs, the output config and the counters.

use super::{Container, ContainerError, NeuronLabel, UInt, WritableContainer, bit, check_reserved, field, put};
use crate::coords::{CrossbarInput, CrossbarNode, CrossbarOutput};
use crate::label::SpikeLabel;

/// Omnibus address of the crossbar output config.
pub const CROSSBAR_OUTPUT_CONFIG_ADDRESS: u32 = 0x13_0000;

/// Omnibus address of crossbar node 0; node n at `+ n`.
pub const CROSSBAR_NODE_BASE: u32 = 0x13_0019;

/// Omnibus address of the drop counter of crossbar input 0; input i at `+ i`.
pub const CROSSBAR_INPUT_DROP_COUNTER_BASE: u32 = 0x13_0065;

/// Omnibus address of the event counter of crossbar output 0; output o at `+ o`.
pub const CROSSBAR_OUTPUT_EVENT_COUNTER_BASE: u32 = 0x13_0079;

/// A crossbar node (1 word at `0x130019 + n`): forwards an event iff `(label[13:0] & mask) == target`.
///
/// Word: `[13:0]` mask, `[29:16]` target, `[31]` enable the input's drop counter. Bits `[15:14]` and `[30]` are reserved
/// (written 0, rejected by the decoder). The default (mask 0, target 0) forwards everything, as the
/// default-constructed haldls node; [`CrossbarNodeConfig::DROP_ALL`] forwards nothing. Not readable on
/// hardware.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CrossbarNodeConfig {
    /// The label bits that are compared.
    pub mask: NeuronLabel,
    /// The required value of the compared bits.
    pub target: NeuronLabel,
    /// Count events dropped at this node's input.
    pub enable_drop_counter: bool,
}

impl CrossbarNodeConfig {
    /// Forwards no event (mask 0, target 1).
    pub const DROP_ALL: CrossbarNodeConfig =
        CrossbarNodeConfig { mask: UInt::ZERO, target: UInt::masked(1), enable_drop_counter: false };

    /// Whether the node forwards an event with this label.
    pub fn forwards(&self, label: SpikeLabel) -> bool {
        u32::from(label.neuron_label()) & self.mask.get() == self.target.get()
    }
}

impl Container for CrossbarNodeConfig {
    const NAME: &'static str = "CrossbarNodeConfig";
    type Coord = CrossbarNode;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0xBFFF_3FFF];

    fn addresses(node: CrossbarNode) -> [u32; 1] {
        [CROSSBAR_NODE_BASE + node.index() as u32]
    }

    fn encode(&self) -> [u32; 1] {
        [self.mask.get() | self.target.get() << 16 | put(self.enable_drop_counter, 31)]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(CrossbarNodeConfig {
            mask: UInt::masked(field(w[0], 0, 14)),
            target: UInt::masked(field(w[0], 16, 14)),
            enable_drop_counter: bit(w[0], 31),
        })
    }
}

impl WritableContainer for CrossbarNodeConfig {}

/// The crossbar output config (1 word at `0x130000`).
///
/// Word: `[3:0]` `enable_slow` per SPL1 output 0..4, `[15:4]` event counter enable per crossbar output 0..12
/// (output o at bit 4 + o). Bits `[31:16]` are reserved (written 0, rejected by the decoder). Not readable on
/// hardware.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CrossbarOutputConfig {
    /// Per SPL1 output (crossbar outputs 8..12): slow mode.
    pub enable_slow: [bool; 4],
    /// Per crossbar output, indexed by [`CrossbarOutput::index`]: count its events.
    pub enable_event_counter: [bool; 12],
}

impl Container for CrossbarOutputConfig {
    const NAME: &'static str = "CrossbarOutputConfig";
    type Coord = ();
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0xFFFF];

    fn addresses((): ()) -> [u32; 1] {
        [CROSSBAR_OUTPUT_CONFIG_ADDRESS]
    }

    fn encode(&self) -> [u32; 1] {
        let slow = self.enable_slow.iter().enumerate().fold(0, |acc, (i, &e)| acc | put(e, i as u32));
        let counters = self.enable_event_counter.iter().enumerate().fold(0, |acc, (o, &e)| acc | put(e, 4 + o as u32));
        [slow | counters]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(CrossbarOutputConfig {
            enable_slow: std::array::from_fn(|i| bit(w[0], i as u32)),
            enable_event_counter: std::array::from_fn(|o| bit(w[0], 4 + o as u32)),
        })
    }
}

impl WritableContainer for CrossbarOutputConfig {}

/// The drop counter of a crossbar input (read-only, 1 word at `0x130065 + i`): `[15:0]` count. Bits `[31:16]`
/// are reserved (rejected by the decoder). `encode` exists for emulators answering the read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CrossbarInputDropCounter {
    /// Events dropped at this input.
    pub count: u16,
}

impl Container for CrossbarInputDropCounter {
    const NAME: &'static str = "CrossbarInputDropCounter";
    type Coord = CrossbarInput;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0xFFFF];

    fn addresses(input: CrossbarInput) -> [u32; 1] {
        [CROSSBAR_INPUT_DROP_COUNTER_BASE + input.index() as u32]
    }

    fn encode(&self) -> [u32; 1] {
        [u32::from(self.count)]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(CrossbarInputDropCounter { count: (w[0] & 0xFFFF) as u16 })
    }
}

/// The event counter of a crossbar output (read-only, 1 word at `0x130079 + o`): `[23:0]` count. Bits `[31:24]`
/// are reserved (rejected by the decoder). `encode` exists for emulators answering the read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CrossbarOutputEventCounter {
    /// Events that left through this output (24 bit).
    pub count: UInt<24>,
}

impl Container for CrossbarOutputEventCounter {
    const NAME: &'static str = "CrossbarOutputEventCounter";
    type Coord = CrossbarOutput;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0xFF_FFFF];

    fn addresses(output: CrossbarOutput) -> [u32; 1] {
        [CROSSBAR_OUTPUT_EVENT_COUNTER_BASE + output.index() as u32]
    }

    fn encode(&self) -> [u32; 1] {
        [self.count.get()]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(CrossbarOutputEventCounter { count: UInt::masked(w[0]) })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_node() {
        // Spec §1.9: mask 8, target 9, drop counter on -> 0x80090008.
        let n = CrossbarNodeConfig {
            mask: UInt::new(8).unwrap(),
            target: UInt::new(9).unwrap(),
            enable_drop_counter: true,
        };
        assert_eq!(n.encode(), [0x8009_0008]);
        assert_eq!(CrossbarNodeConfig::decode(&[0x8009_0008]), Ok(n));
        assert_eq!(CrossbarNodeConfig::addresses(CrossbarNode::new(0).unwrap()), [0x13_0019]);
        assert_eq!(pairs(&n, CrossbarNode::new(75).unwrap()), vec![(0x13_0064, 0x8009_0008)]);
        assert_eq!(CrossbarNodeConfig::DROP_ALL.encode(), [0x0001_0000]);
        assert!(CrossbarNodeConfig::decode(&[0x4000_0000]).is_err());
        assert!(CrossbarNodeConfig::decode(&[0x0000_4000]).is_err());
    }

    #[test]
    fn node_matching() {
        let label = SpikeLabel(0b11 << 14 | 0x1234);
        assert!(CrossbarNodeConfig::default().forwards(label));
        assert!(!CrossbarNodeConfig::DROP_ALL.forwards(label));
        assert!(!CrossbarNodeConfig::DROP_ALL.forwards(SpikeLabel(1)));
        // Match bits [10:6] == 0b00101 (row select 5); [15:14] are not part of the neuron label.
        let n = CrossbarNodeConfig {
            mask: UInt::new(0x1F << 6).unwrap(),
            target: UInt::new(5 << 6).unwrap(),
            ..Default::default()
        };
        assert!(n.forwards(SpikeLabel::from_fields(3, 5, 63).unwrap()));
        assert!(!n.forwards(SpikeLabel::from_fields(3, 4, 63).unwrap()));
    }

    #[test]
    fn golden_output_config_and_counters() {
        let mut c = CrossbarOutputConfig { enable_slow: [false, true, false, false], ..Default::default() };
        c.enable_event_counter[0] = true;
        c.enable_event_counter[11] = true;
        assert_eq!(c.encode(), [0x8012]);
        assert_eq!(pairs(&c, ()), vec![(0x13_0000, 0x8012)]);
        assert!(CrossbarOutputConfig::decode(&[0x1_0000]).is_err());
        assert_eq!(CrossbarInputDropCounter::addresses(CrossbarInput::new(19).unwrap()), [0x13_0078]);
        assert_eq!(CrossbarOutputEventCounter::addresses(CrossbarOutput::new(0).unwrap()), [0x13_0079]);
        assert_eq!(CrossbarOutputEventCounter::addresses(CrossbarOutput::new(11).unwrap()), [0x13_0084]);
        assert_eq!(CrossbarInputDropCounter::decode(&[0xFFFF]), Ok(CrossbarInputDropCounter { count: 0xFFFF }));
        assert!(CrossbarInputDropCounter::decode(&[0x1_0000]).is_err());
        assert_eq!(CrossbarOutputEventCounter::decode(&[0xFF_FFFF]).map(|c| c.count.get()), Ok(0xFF_FFFF));
        assert!(CrossbarOutputEventCounter::decode(&[0x100_0000]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(raw in any::<[u32; 8]>(), count: u16) {
            let mut b = Bits::new(raw);
            value_round_trip(&CrossbarNodeConfig { mask: b.uint(), target: b.uint(), enable_drop_counter: b.bool() });
            value_round_trip(&CrossbarOutputConfig { enable_slow: b.bools(), enable_event_counter: b.bools() });
            value_round_trip(&CrossbarInputDropCounter { count });
            value_round_trip(&CrossbarOutputEventCounter { count: b.uint() });
            words_round_trip::<CrossbarNodeConfig>(raw);
            words_round_trip::<CrossbarOutputConfig>(raw);
            words_round_trip::<CrossbarInputDropCounter>(raw);
            words_round_trip::<CrossbarOutputEventCounter>(raw);
        }
    }
}
