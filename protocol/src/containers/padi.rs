//! PADI buses (spec §1.3, §1.9): the event trigger register and the common bus config of a hemisphere.

use super::{Container, ContainerError, SynapseLabel, UInt, WritableContainer, bit, check_reserved, field, put};
use crate::coords::{Hemisphere, PadiBus};
use crate::label::SpikeLabel;

/// Omnibus base of the PADI block of each hemisphere (top, bottom): `+0` event trigger, `+1` common bus
/// config, `+2` common STP config.
pub const PADI_BASE: [u32; 2] = [0x11_0000, 0x11_8000];

/// A PADI event fired from the trigger register (write-only, 1 word at `0x110000 / 0x118000`): the event
/// enters the selected buses of the hemisphere directly (for buses whose `enable_spl1` is off).
///
/// Word: `[3:0]` fire on bus 0..4, `[21:16]` synapse label, `[26:22]` row select. Bits `[15:4]` and `[31:27]` are
/// reserved (written 0, rejected by the decoder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PadiEvent {
    /// The buses to fire on, indexed by [`PadiBus::index`].
    pub fire_bus: [bool; 4],
    /// The 6-bit synapse label.
    pub synapse_label: SynapseLabel,
    /// The 5-bit row select (the index on the bus of the addressed synapse drivers).
    pub row_select: UInt<5>,
}

impl PadiEvent {
    /// The event carrying a spike label's PADI part (row select `[10:6]`, synapse label `[5:0]`) on the given
    /// buses.
    pub fn from_label(buses: &[PadiBus], label: SpikeLabel) -> PadiEvent {
        let mut fire_bus = [false; 4];
        for bus in buses {
            fire_bus[bus.index()] = true;
        }
        PadiEvent {
            fire_bus,
            synapse_label: UInt::masked(u32::from(label.synapse_label())),
            row_select: UInt::masked(u32::from(label.row_select())),
        }
    }

    /// The 11-bit PADI event (`row_select << 6 | synapse_label`, as in spike label bits `[10:0]`).
    pub fn padi_label(&self) -> u16 {
        (self.row_select.get() << 6 | self.synapse_label.get()) as u16
    }
}

impl Container for PadiEvent {
    const NAME: &'static str = "PadiEvent";
    type Coord = Hemisphere;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0x07FF_000F];

    fn addresses(hemisphere: Hemisphere) -> [u32; 1] {
        [PADI_BASE[hemisphere.index()]]
    }

    fn encode(&self) -> [u32; 1] {
        let buses = self.fire_bus.iter().enumerate().fold(0, |acc, (i, &f)| acc | put(f, i as u32));
        [buses | self.synapse_label.get() << 16 | self.row_select.get() << 22]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(PadiEvent {
            fire_bus: std::array::from_fn(|i| bit(w[0], i as u32)),
            synapse_label: UInt::masked(field(w[0], 16, 6)),
            row_select: UInt::masked(field(w[0], 22, 5)),
        })
    }
}

impl WritableContainer for PadiEvent {}

/// The common config of a hemisphere's four PADI buses (1 word at `0x110001 / 0x118001`).
///
/// Word: `[3:0]` `enable_spl1` per bus, `[7:4]` extended timing per bus, `[31:16]` dacen pulse extension, 4 bits
/// per bus (bus i at `[19+4i:16+4i]`). Bits `[15:8]` are reserved (written 0, rejected by the decoder).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommonPadiBusConfig {
    /// Per bus: take events from the crossbar (true) instead of the trigger register.
    pub enable_spl1: [bool; 4],
    /// Per bus: extended timing.
    pub enable_extended_timing: [bool; 4],
    /// Per bus: dacen pulse extension (4 bit).
    pub dacen_pulse_extension: [UInt<4>; 4],
}

impl Container for CommonPadiBusConfig {
    const NAME: &'static str = "CommonPadiBusConfig";
    type Coord = Hemisphere;
    type Words = [u32; 1];
    const DEFINED_BITS: [u32; 1] = [0xFFFF_00FF];

    fn addresses(hemisphere: Hemisphere) -> [u32; 1] {
        [PADI_BASE[hemisphere.index()] + 1]
    }

    fn encode(&self) -> [u32; 1] {
        let mut w = 0;
        for i in 0..4 {
            w |= put(self.enable_spl1[i], i as u32)
                | put(self.enable_extended_timing[i], 4 + i as u32)
                | self.dacen_pulse_extension[i].get() << (16 + 4 * i);
        }
        [w]
    }

    fn decode(w: &[u32; 1]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        Ok(CommonPadiBusConfig {
            enable_spl1: std::array::from_fn(|i| bit(w[0], i as u32)),
            enable_extended_timing: std::array::from_fn(|i| bit(w[0], 4 + i as u32)),
            dacen_pulse_extension: std::array::from_fn(|i| UInt::masked(field(w[0], 16 + 4 * i as u32, 4))),
        })
    }
}

impl WritableContainer for CommonPadiBusConfig {}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_trigger() {
        // Spec §1.9: buses 0 and 2, label 13, row 7 -> 0b0101 | 13 << 16 | 7 << 22.
        let e = PadiEvent {
            fire_bus: [true, false, true, false],
            synapse_label: UInt::new(13).unwrap(),
            row_select: UInt::new(7).unwrap(),
        };
        assert_eq!(e.encode(), [0b0101 | 13 << 16 | 7 << 22]);
        assert_eq!(e.encode(), [0x01CD_0005]);
        assert_eq!(pairs(&e, Hemisphere::Bottom), vec![(0x11_8000, 0x01CD_0005)]);
        assert_eq!(PadiEvent::decode(&[0x01CD_0005]), Ok(e));
        let label = SpikeLabel::from_fields(3, 7, 13).unwrap();
        let buses = [PadiBus::new(0).unwrap(), PadiBus::new(2).unwrap()];
        assert_eq!(PadiEvent::from_label(&buses, label), e);
        assert_eq!(e.padi_label(), label.padi_event());
        assert!(PadiEvent::decode(&[0x0800_0000]).is_err());
        assert!(PadiEvent::decode(&[0x10]).is_err());
    }

    #[test]
    fn golden_bus_config() {
        let c = CommonPadiBusConfig {
            enable_spl1: [true, true, false, true],
            enable_extended_timing: [false, true, false, false],
            dacen_pulse_extension: [1, 2, 3, 0xF].map(|v| UInt::new(v).unwrap()),
        };
        assert_eq!(c.encode(), [0xF321_002B]);
        assert_eq!(CommonPadiBusConfig::addresses(Hemisphere::Top), [0x11_0001]);
        assert_eq!(CommonPadiBusConfig::addresses(Hemisphere::Bottom), [0x11_8001]);
        assert!(CommonPadiBusConfig::decode(&[0x100]).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(raw in any::<[u32; 8]>()) {
            let mut b = Bits::new(raw);
            value_round_trip(&PadiEvent { fire_bus: b.bools(), synapse_label: b.uint(), row_select: b.uint() });
            value_round_trip(&CommonPadiBusConfig {
                enable_spl1: b.bools(),
                enable_extended_timing: b.bools(),
                dacen_pulse_extension: std::array::from_fn(|_| b.uint()),
            });
            words_round_trip::<PadiEvent>(raw);
            words_round_trip::<CommonPadiBusConfig>(raw);
        }
    }
}
