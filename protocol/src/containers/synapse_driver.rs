//! Synapse driver configuration (spec §1.3, §1.9).

use super::{Container, ContainerError, UInt, WritableContainer, bit, check_reserved, field, put};
use crate::coords::{RowOnSynapseDriver, SynapseDriverOnChip};

/// Omnibus base of the synapse driver configs of each hemisphere (top, bottom); 3 words per driver at
/// `base + 4 * d + k` (the fourth word of each slot is unused).
pub const SYNAPSE_DRIVER_BASE: [u32; 2] = [0x11_0400, 0x11_8400];

/// The mode of one synapse row: which synaptic input (excitatory / inhibitory) its synapses drive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RowMode {
    /// Neither input.
    #[default]
    Disabled,
    /// The excitatory input only.
    Excitatory,
    /// The inhibitory input only.
    Inhibitory,
    /// Both inputs.
    ExcitatoryAndInhibitory,
}

impl RowMode {
    /// The mode from its two enable bits.
    pub const fn from_enables(excitatory: bool, inhibitory: bool) -> RowMode {
        match (excitatory, inhibitory) {
            (false, false) => RowMode::Disabled,
            (true, false) => RowMode::Excitatory,
            (false, true) => RowMode::Inhibitory,
            (true, true) => RowMode::ExcitatoryAndInhibitory,
        }
    }

    /// Whether the row drives the excitatory input.
    pub const fn is_excitatory(self) -> bool {
        matches!(self, RowMode::Excitatory | RowMode::ExcitatoryAndInhibitory)
    }

    /// Whether the row drives the inhibitory input.
    pub const fn is_inhibitory(self) -> bool {
        matches!(self, RowMode::Inhibitory | RowMode::ExcitatoryAndInhibitory)
    }
}

/// One synapse driver: 3 words at `0x110400 / 0x118400 + 4 * d + k`.
///
/// | k | bits |
/// |---|---|
/// | 0 | `[3:0]` STP utilization, `[7:4]` STP offset, `[8]` hagen DAC, `[13:9]` row address compare mask, `[14]` `enable_address_out` inverted, `[15]` PADI receiver |
/// | 1 | `[3:0]` STP recovery bit-reversed, `[4]` bottom row (2d) exc., `[5]` top row (2d + 1) exc., `[6]` bottom row inh., `[7]` top row inh., `[13:8]` hagen DAC offset inverted |
/// | 2 | `[0]` STP target voltage set, `[1]` readout, `[2]` renewing synapses, `[3]` hagen modulation, `[4]` STP, `[6]` charge sharing inverted, `[7]` STP recovery |
///
/// The fields hold the logical values; inversion and bit reversal happen in `encode` / `decode`. Reserved
/// (written 0, rejected by the decoder): word 0 bits `[31:16]`, word 1 bits `[31:14]`, word 2 bit 5 and bits
/// `[31:8]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SynapseDriverConfig {
    /// Word 0 bits `[3:0]`: STP utilization.
    pub stp_utilization: UInt<4>,
    /// Word 0 bits `[7:4]`: STP offset (dacen pulse calibration).
    pub stp_offset: UInt<4>,
    /// Word 0 bit 8: hagen DAC.
    pub enable_hagen_dac: bool,
    /// Word 0 bits `[13:9]`: which bits of the 5-bit row select are compared with the driver's index on its
    /// PADI bus (0 = don't care; default 0b11111).
    pub row_address_compare_mask: UInt<5>,
    /// Word 0 bit 14 (stored inverted): forward the lower 5 bits of the synapse label (default on).
    pub enable_address_out: bool,
    /// Word 0 bit 15: PADI bus receiver.
    pub enable_receiver: bool,
    /// Word 1 bits `[3:0]` (stored bit-reversed): STP recovery.
    pub stp_recovery: UInt<4>,
    /// Row modes, indexed by [`RowOnSynapseDriver::index`] (top = row 2d + 1, bottom = row 2d).
    pub row_modes: [RowMode; 2],
    /// Word 1 bits `[13:8]` (stored inverted): hagen DAC offset.
    pub hagen_dac_offset: UInt<6>,
    /// Word 2 bit 0: select the STP target voltage set.
    pub select_target_voltages: bool,
    /// Word 2 bit 1: readout.
    pub enable_readout: bool,
    /// Word 2 bit 2: renewing synapses (documented as broken).
    pub enable_renewing: bool,
    /// Word 2 bit 3: hagen modulation.
    pub enable_hagen_modulation: bool,
    /// Word 2 bit 4: STP.
    pub enable_stp: bool,
    /// Word 2 bit 6 (stored inverted): charge sharing (documented as broken).
    pub enable_charge_sharing: bool,
    /// Word 2 bit 7: STP recovery.
    pub enable_recovery: bool,
}

impl Default for SynapseDriverConfig {
    /// Everything off / zero, except `row_address_compare_mask` = 0b11111 and `enable_address_out` = true.
    fn default() -> Self {
        SynapseDriverConfig {
            stp_utilization: UInt::ZERO,
            stp_offset: UInt::ZERO,
            enable_hagen_dac: false,
            row_address_compare_mask: UInt::masked(0b1_1111),
            enable_address_out: true,
            enable_receiver: false,
            stp_recovery: UInt::ZERO,
            row_modes: [RowMode::Disabled; 2],
            hagen_dac_offset: UInt::ZERO,
            select_target_voltages: false,
            enable_readout: false,
            enable_renewing: false,
            enable_hagen_modulation: false,
            enable_stp: false,
            enable_charge_sharing: false,
            enable_recovery: false,
        }
    }
}

impl SynapseDriverConfig {
    /// The mode of one of the driver's rows.
    pub const fn row_mode(&self, row: RowOnSynapseDriver) -> RowMode {
        self.row_modes[row.index()]
    }

    /// Sets the mode of one of the driver's rows.
    pub fn set_row_mode(&mut self, row: RowOnSynapseDriver, mode: RowMode) {
        self.row_modes[row.index()] = mode;
    }
}

/// Reverses the 4 low bits.
const fn reverse4(v: u32) -> u32 {
    (v & 0xF).reverse_bits() >> 28
}

impl Container for SynapseDriverConfig {
    const NAME: &'static str = "SynapseDriverConfig";
    type Coord = SynapseDriverOnChip;
    type Words = [u32; 3];
    const DEFINED_BITS: [u32; 3] = [0xFFFF, 0x3FFF, 0xDF];

    fn addresses(coord: SynapseDriverOnChip) -> [u32; 3] {
        let base = SYNAPSE_DRIVER_BASE[coord.hemisphere.index()] + 4 * coord.driver.index() as u32;
        [base, base + 1, base + 2]
    }

    fn encode(&self) -> [u32; 3] {
        let top = self.row_mode(RowOnSynapseDriver::Top);
        let bottom = self.row_mode(RowOnSynapseDriver::Bottom);
        [
            self.stp_utilization.get()
                | self.stp_offset.get() << 4
                | put(self.enable_hagen_dac, 8)
                | self.row_address_compare_mask.get() << 9
                | put(!self.enable_address_out, 14)
                | put(self.enable_receiver, 15),
            reverse4(self.stp_recovery.get())
                | put(bottom.is_excitatory(), 4)
                | put(top.is_excitatory(), 5)
                | put(bottom.is_inhibitory(), 6)
                | put(top.is_inhibitory(), 7)
                | (!self.hagen_dac_offset.get() & 0x3F) << 8,
            put(self.select_target_voltages, 0)
                | put(self.enable_readout, 1)
                | put(self.enable_renewing, 2)
                | put(self.enable_hagen_modulation, 3)
                | put(self.enable_stp, 4)
                | put(!self.enable_charge_sharing, 6)
                | put(self.enable_recovery, 7),
        ]
    }

    fn decode(w: &[u32; 3]) -> Result<Self, ContainerError> {
        check_reserved(Self::NAME, w, &Self::DEFINED_BITS)?;
        let mut row_modes = [RowMode::Disabled; 2];
        row_modes[RowOnSynapseDriver::Top.index()] = RowMode::from_enables(bit(w[1], 5), bit(w[1], 7));
        row_modes[RowOnSynapseDriver::Bottom.index()] = RowMode::from_enables(bit(w[1], 4), bit(w[1], 6));
        Ok(SynapseDriverConfig {
            stp_utilization: UInt::masked(field(w[0], 0, 4)),
            stp_offset: UInt::masked(field(w[0], 4, 4)),
            enable_hagen_dac: bit(w[0], 8),
            row_address_compare_mask: UInt::masked(field(w[0], 9, 5)),
            enable_address_out: !bit(w[0], 14),
            enable_receiver: bit(w[0], 15),
            stp_recovery: UInt::masked(reverse4(w[1])),
            row_modes,
            hagen_dac_offset: UInt::masked(!field(w[1], 8, 6)),
            select_target_voltages: bit(w[2], 0),
            enable_readout: bit(w[2], 1),
            enable_renewing: bit(w[2], 2),
            enable_hagen_modulation: bit(w[2], 3),
            enable_stp: bit(w[2], 4),
            enable_charge_sharing: !bit(w[2], 6),
            enable_recovery: bit(w[2], 7),
        })
    }
}

impl WritableContainer for SynapseDriverConfig {}

#[cfg(test)]
mod tests {
    use super::super::testutil::{Bits, pairs, value_round_trip, words_round_trip};
    use super::*;
    use crate::coords::{Hemisphere, SynapseDriver};
    use proptest::prelude::*;

    fn mode(v: u32) -> RowMode {
        RowMode::from_enables(v & 1 == 1, v & 2 == 2)
    }

    #[test]
    fn golden_addresses() {
        // Spec §1.8: bottom, d = 42 -> 0x118400 + 42 * 4 + 0..2.
        let c = SynapseDriverOnChip { hemisphere: Hemisphere::Bottom, driver: SynapseDriver::new(42).unwrap() };
        assert_eq!(SynapseDriverConfig::addresses(c), [0x11_84A8, 0x11_84A9, 0x11_84AA]);
        let c = SynapseDriverOnChip { hemisphere: Hemisphere::Top, driver: SynapseDriver::new(127).unwrap() };
        assert_eq!(SynapseDriverConfig::addresses(c), [0x11_05FC, 0x11_05FD, 0x11_05FE]);
    }

    #[test]
    fn golden_words() {
        // Spec §1.9: receiver on, top row excitatory, readout on, recovery 7, hagen offset 21 -> word 0 bit 15,
        // word 1 [3:0] = 14, word 1 [13:8] = 42, word 1 bit 5, word 2 bit 1.
        let mut c = SynapseDriverConfig {
            enable_receiver: true,
            enable_readout: true,
            stp_recovery: UInt::new(7).unwrap(),
            hagen_dac_offset: UInt::new(21).unwrap(),
            ..SynapseDriverConfig::default()
        };
        c.set_row_mode(RowOnSynapseDriver::Top, RowMode::Excitatory);
        let w = c.encode();
        assert_ne!(w[0] & 1 << 15, 0);
        assert_eq!(w[1] & 0xF, 14);
        assert_eq!(w[1] >> 8 & 0x3F, 42);
        assert_eq!(w[1] & 0xF0, 1 << 5);
        assert_ne!(w[2] & 1 << 1, 0);
        // Full words: default mask 0b11111 in word 0 [13:9], enable_address_out on (bit 14 clear),
        // charge sharing off (bit 6 of word 2 set, inverted).
        assert_eq!(w, [0xBE00, 0x2A2E, 0x42]);
        assert_eq!(SynapseDriverConfig::decode(&w), Ok(c));
        assert_eq!(SynapseDriverConfig::default().encode(), [0x3E00, 0x3F00, 0x40]);
        let d = SynapseDriverOnChip { hemisphere: Hemisphere::Bottom, driver: SynapseDriver::new(42).unwrap() };
        assert_eq!(pairs(&c, d), vec![(0x11_84A8, 0xBE00), (0x11_84A9, 0x2A2E), (0x11_84AA, 0x42)]);
    }

    #[test]
    fn row_mode_bits() {
        let cases = [
            (RowMode::Disabled, RowMode::Disabled, 0x00),
            (RowMode::Excitatory, RowMode::Disabled, 0x20),
            (RowMode::Inhibitory, RowMode::Disabled, 0x80),
            (RowMode::ExcitatoryAndInhibitory, RowMode::Disabled, 0xA0),
            (RowMode::Disabled, RowMode::Excitatory, 0x10),
            (RowMode::Disabled, RowMode::Inhibitory, 0x40),
            (RowMode::Disabled, RowMode::ExcitatoryAndInhibitory, 0x50),
            (RowMode::Inhibitory, RowMode::Excitatory, 0x90),
        ];
        for (top, bottom, bits) in cases {
            let mut c = SynapseDriverConfig::default();
            c.set_row_mode(RowOnSynapseDriver::Top, top);
            c.set_row_mode(RowOnSynapseDriver::Bottom, bottom);
            assert_eq!(c.encode()[1] & 0xF0, bits, "{top:?} {bottom:?}");
            let back = SynapseDriverConfig::decode(&c.encode()).unwrap();
            assert_eq!(
                (back.row_mode(RowOnSynapseDriver::Top), back.row_mode(RowOnSynapseDriver::Bottom)),
                (top, bottom)
            );
        }
        for v in 0..4 {
            assert_eq!(RowMode::from_enables(mode(v).is_excitatory(), mode(v).is_inhibitory()), mode(v));
        }
        // Recovery is bit-reversed: 0b0001 -> 0b1000.
        let c = SynapseDriverConfig { stp_recovery: UInt::new(1).unwrap(), ..SynapseDriverConfig::default() };
        assert_eq!(c.encode()[1] & 0xF, 8);
        assert!(SynapseDriverConfig::decode(&[0, 0, 0x20]).is_err());
        assert!(SynapseDriverConfig::decode(&[0, 0x4000, 0]).is_err());
        assert!(SynapseDriverConfig::decode(&[0x1_0000, 0, 0]).is_err());
    }

    fn random(b: &mut Bits) -> SynapseDriverConfig {
        SynapseDriverConfig {
            stp_utilization: b.uint(),
            stp_offset: b.uint(),
            enable_hagen_dac: b.bool(),
            row_address_compare_mask: b.uint(),
            enable_address_out: b.bool(),
            enable_receiver: b.bool(),
            stp_recovery: b.uint(),
            row_modes: [mode(b.take(2)), mode(b.take(2))],
            hagen_dac_offset: b.uint(),
            select_target_voltages: b.bool(),
            enable_readout: b.bool(),
            enable_renewing: b.bool(),
            enable_hagen_modulation: b.bool(),
            enable_stp: b.bool(),
            enable_charge_sharing: b.bool(),
            enable_recovery: b.bool(),
        }
    }

    proptest! {
        #[test]
        fn round_trips(raw in any::<[u32; 8]>()) {
            value_round_trip(&random(&mut Bits::new(raw)));
            words_round_trip::<SynapseDriverConfig>(raw);
        }
    }
}
