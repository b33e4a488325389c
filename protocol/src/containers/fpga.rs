//! FPGA registers (spec §1.8, §1.9): event recording and the polling-block config.

use super::{Container, ContainerError, WritableContainer, bit, check_reserved, put};

/// Omnibus address of the event recording config.
pub const EVENT_RECORDING_CONFIG_ADDRESS: u32 = 0x8800_0005;

/// Omnibus address of the polling-block config: `+0` polled address, `+1` target, `+2` mask.
pub const POLLING_OMNIBUS_BLOCK_CONFIG_BASE: u32 = 0x8800_0006;

/// Whether the FPGA returns chip spikes and MADC samples to the host (1 word at `0x88000005`).
///
/// Word: `[0]` enable. Bits `[31:1]` are reserved (written 0, rejected by the decoder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EventRecordingConfig {
    /// Record spikes and MADC samples.
    pub enable_event_recording: bool,
}

impl Container for EventRecordingConfig {
    const NAME: &'static str = "EventRecordingConfig";
    type Coord = ();
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [1];

    fn addresses((): ()) -> [u32; 1] {
        [EVENT_RECORDING_CONFIG_ADDRESS]
    }

    fn encode(&self) -> [u32; 1] {
        [put(self.enable_event_recording, 0)]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(EventRecordingConfig { enable_event_recording: bit(w[0], 0) })
    }
}

impl WritableContainer for EventRecordingConfig {}

/// The polling-block config (3 words at `0x88000006..=0x88000008`): the `PollingOmnibusBlock` instruction
/// waits until `(omnibus[address] & mask) == target` (or `!=`). Every bit is a field bit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PollingOmnibusBlockConfig {
    /// The polled omnibus word address.
    pub address: u32,
    /// The value compared with the masked word.
    pub target: u32,
    /// The bits compared.
    pub mask: u32,
}

impl Container for PollingOmnibusBlockConfig {
    const NAME: &'static str = "PollingOmnibusBlockConfig";
    type Coord = ();
    type Words = [u32; 3];
    const DEFINED_BITS: [u32; 3] = [u32::MAX; 3];

    fn addresses((): ()) -> [u32; 3] {
        let b = POLLING_OMNIBUS_BLOCK_CONFIG_BASE;
        [b, b + 1, b + 2]
    }

    fn encode(&self) -> [u32; 3] {
        [self.address, self.target, self.mask]
    }

    fn decode(w: &[u32; 3]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(PollingOmnibusBlockConfig { address: w[0], target: w[1], mask: w[2] })
    }
}

impl WritableContainer for PollingOmnibusBlockConfig {}

#[cfg(test)]
mod tests {
    use super::super::testutil::{pairs, value_round_trip, words_round_trip};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden() {
        let on = EventRecordingConfig { enable_event_recording: true };
        assert_eq!(pairs(&on, ()), vec![(0x8800_0005, 1)]);
        assert_eq!(pairs(&EventRecordingConfig::default(), ()), vec![(0x8800_0005, 0)]);
        assert_eq!(EventRecordingConfig::decode(&[1]), Ok(on));
        assert!(EventRecordingConfig::decode(&[2]).is_err());
        let p = PollingOmnibusBlockConfig { address: 0x12_2800, target: 0x100, mask: 0x100 };
        assert_eq!(pairs(&p, ()), vec![(0x8800_0006, 0x12_2800), (0x8800_0007, 0x100), (0x8800_0008, 0x100)]);
    }

    proptest! {
        #[test]
        fn round_trips(raw in any::<[u32; 8]>(), enable: bool) {
            value_round_trip(&EventRecordingConfig { enable_event_recording: enable });
            value_round_trip(&PollingOmnibusBlockConfig { address: raw[0], target: raw[1], mask: raw[2] });
            words_round_trip::<EventRecordingConfig>(raw);
            words_round_trip::<PollingOmnibusBlockConfig>(raw);
        }
    }
}
