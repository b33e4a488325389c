//! The 16-bit spike label and its bit fields (spec §1.4).

use std::fmt;

/// A 16-bit spike label.
///
/// | bits | field |
/// |---|---|
/// | [15:14] | SPL1 address (FPGA <-> chip event link) |
/// | [13:0] | neuron label (what crossbar nodes match) |
/// | [10:6] | row select (synapse driver index on its PADI bus) |
/// | [5:0] | synapse label |
/// | [10:8] | neuron event output (on-chip spikes) |
/// | [7:0] | neuron backend `address_out` (on-chip spikes) |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpikeLabel(pub u16);

impl SpikeLabel {
    /// A label from its fields; None if a field is out of range.
    pub fn from_fields(spl1: u8, row_select: u8, synapse_label: u8) -> Option<SpikeLabel> {
        (spl1 < 4 && row_select < 32 && synapse_label < 64)
            .then(|| SpikeLabel(u16::from(spl1) << 14 | u16::from(row_select) << 6 | u16::from(synapse_label)))
    }

    /// SPL1 address [15:14].
    pub fn spl1(self) -> u8 {
        (self.0 >> 14) as u8
    }

    /// Neuron label [13:0].
    pub fn neuron_label(self) -> u16 {
        self.0 & 0x3FFF
    }

    /// PADI event [10:0] (row select and synapse label).
    pub fn padi_event(self) -> u16 {
        self.0 & 0x7FF
    }

    /// Row select [10:6].
    pub fn row_select(self) -> u8 {
        ((self.0 >> 6) & 0x1F) as u8
    }

    /// Synapse label [5:0].
    pub fn synapse_label(self) -> u8 {
        (self.0 & 0x3F) as u8
    }

    /// Neuron event output [10:8] (for spikes of on-chip neurons).
    pub fn event_output(self) -> u8 {
        ((self.0 >> 8) & 0x7) as u8
    }

    /// Neuron backend `address_out` [7:0] (for spikes of on-chip neurons).
    pub fn address_out(self) -> u8 {
        (self.0 & 0xFF) as u8
    }
}

impl fmt::Display for SpikeLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let l = SpikeLabel::from_fields(2, 21, 45).unwrap();
        assert_eq!((l.spl1(), l.row_select(), l.synapse_label()), (2, 21, 45));
        assert_eq!(l.0, 0b10 << 14 | 21 << 6 | 45);
        assert_eq!(l.padi_event(), 21 << 6 | 45);
        assert!(SpikeLabel::from_fields(4, 0, 0).is_none());
        assert!(SpikeLabel::from_fields(0, 32, 0).is_none());
        assert!(SpikeLabel::from_fields(0, 0, 64).is_none());
        let chip = SpikeLabel(3 << 14 | 5 << 8 | 0x17);
        assert_eq!((chip.event_output(), chip.address_out(), chip.spl1()), (5, 0x17, 3));
    }
}
