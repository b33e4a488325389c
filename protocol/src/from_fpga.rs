//! FPGA -> host messages (spec §2.2): 64 or 80 bits each, packed back to back into the word stream.

use crate::label::SpikeLabel;
use crate::to_fpga::Loopback;

/// One to three elements of a pack (spikes or MADC samples), first element first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pack<T> {
    items: [T; 3],
    len: u8,
}

impl<T: Copy + Default> Pack<T> {
    /// A pack of 1 to 3 elements; None otherwise.
    pub fn new(items: &[T]) -> Option<Pack<T>> {
        if items.is_empty() || items.len() > 3 {
            return None;
        }
        let mut all = [T::default(); 3];
        all[..items.len()].copy_from_slice(items);
        Some(Pack { items: all, len: items.len() as u8 })
    }

    /// The elements.
    pub fn items(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }
}

/// A spike recorded by the FPGA: its label and the low 8 bits of its time stamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpikeEvent {
    /// Time stamp bits (reconstructed into a full time by the response decoder).
    pub timestamp: u8,
    /// The spike's label.
    pub label: SpikeLabel,
}

/// A MADC sample: time stamp and the 14-bit value field ([9:0] sample, [10] channel, [13:11] unused).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MadcSample {
    /// Time stamp bits.
    pub timestamp: u8,
    /// The value field (14 bits).
    pub field: u16,
}

impl MadcSample {
    /// The 10-bit sample.
    pub fn value(&self) -> u16 {
        self.field & 0x3FF
    }

    /// The multiplexer channel (0 or 1).
    pub fn channel(&self) -> u8 {
        (self.field >> 10 & 1) as u8
    }
}

/// One FPGA -> host message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FromFpga {
    /// 0: bits shifted out of JTAG (33 bits).
    JtagData(u64),
    /// 1: an omnibus read response.
    OmnibusData(u32),
    /// 2: a loopback echo.
    Loopback(Loopback),
    /// 3: highspeed link status: [7:5] phy, [4] up, [3] decode error, [2] CRC error, [1] CRC recovered, [0] check error.
    HighspeedLinkNotification(u8),
    /// 4: the program stalled at `instruction`.
    TimeoutNotification {
        /// Index of the timed-out program instruction.
        instruction: u32,
        /// Trace-stall count (7 bits).
        stalls: u8,
        /// Omnibus reads in flight (6 bits).
        reads_in_flight: u8,
    },
    /// 5: absolute FPGA time (43 bits).
    Systime(u64),
    /// 6: time increment.
    Sysdelta(u8),
    /// 7-9: MADC samples.
    Madc(Pack<MadcSample>),
    /// 10-12: recorded spikes.
    Spikes(Pack<SpikeEvent>),
}

/// Message names by header value, as in the text form.
pub const NAMES: [&str; 13] = [
    "jtag_data",
    "omnibus_data",
    "loopback",
    "highspeed_link_notification",
    "timeout_notification",
    "systime",
    "sysdelta",
    "madc_pack1",
    "madc_pack2",
    "madc_pack3",
    "spike_pack1",
    "spike_pack2",
    "spike_pack3",
];

/// Payload widths by header value.
const PAYLOAD_BITS: [u32; 13] = [33, 32, 1, 8, 45, 43, 8, 24, 48, 72, 24, 48, 72];

/// Width of a message with `payload_bits`: 8-bit header plus payload, rounded up to bytes, at least 64 bits.
pub fn message_bits(payload_bits: u32) -> u32 {
    (8 * (8 + payload_bits).div_ceil(8)).max(64)
}

fn mask(bits: u32) -> u128 {
    (1u128 << bits) - 1
}

impl FromFpga {
    /// The header value.
    pub fn header(&self) -> u8 {
        match self {
            FromFpga::JtagData(_) => 0,
            FromFpga::OmnibusData(_) => 1,
            FromFpga::Loopback(_) => 2,
            FromFpga::HighspeedLinkNotification(_) => 3,
            FromFpga::TimeoutNotification { .. } => 4,
            FromFpga::Systime(_) => 5,
            FromFpga::Sysdelta(_) => 6,
            FromFpga::Madc(p) => 6 + p.items().len() as u8,
            FromFpga::Spikes(p) => 9 + p.items().len() as u8,
        }
    }

    /// Payload width in bits.
    pub fn payload_bits(&self) -> u32 {
        PAYLOAD_BITS[usize::from(self.header())]
    }

    /// Message width in bits (64 or 80).
    pub fn bits(&self) -> u32 {
        message_bits(self.payload_bits())
    }

    /// Checks field ranges that the types do not enforce.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            FromFpga::JtagData(d) if d >> 33 != 0 => Err(format!("jtag data 0x{d:x} exceeds 33 bits")),
            FromFpga::TimeoutNotification { stalls, reads_in_flight, .. } if stalls > 127 || reads_in_flight > 63 => {
                Err(format!("timeout notification fields out of range: stalls {stalls}, reads {reads_in_flight}"))
            }
            FromFpga::Systime(t) if t >> 43 != 0 => Err(format!("systime 0x{t:x} exceeds 43 bits")),
            FromFpga::Madc(p) => match p.items().iter().find(|s| s.field >> 14 != 0) {
                Some(s) => Err(format!("MADC value field 0x{:x} exceeds 14 bits", s.field)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The payload, right-aligned.
    pub fn payload(&self) -> u128 {
        let pack = |elements: &mut dyn Iterator<Item = u128>| elements.fold(0u128, |acc, e| acc << 24 | e);
        match *self {
            FromFpga::JtagData(d) => u128::from(d) & mask(33),
            FromFpga::OmnibusData(d) => u128::from(d),
            FromFpga::Loopback(l) => u128::from(l.bit()),
            FromFpga::HighspeedLinkNotification(n) => u128::from(n),
            FromFpga::TimeoutNotification { instruction, stalls, reads_in_flight } => {
                u128::from(reads_in_flight & 0x3F) << 39 | u128::from(stalls & 0x7F) << 32 | u128::from(instruction)
            }
            FromFpga::Systime(t) => u128::from(t) & mask(43),
            FromFpga::Sysdelta(d) => u128::from(d),
            FromFpga::Madc(p) => {
                pack(&mut p.items().iter().map(|s| u128::from(s.timestamp) << 16 | u128::from(s.field & 0x3FFF)))
            }
            FromFpga::Spikes(p) => {
                pack(&mut p.items().iter().map(|s| u128::from(s.timestamp) << 16 | u128::from(s.label.0)))
            }
        }
    }

    /// The whole message, right-aligned in `bits()` bits: header at the top, payload at the bottom.
    pub fn to_bits(&self) -> u128 {
        u128::from(self.header()) << (self.bits() - 8) | self.payload()
    }

    /// Width in bits of the message with this header, or None for an unknown header.
    pub fn bits_for_header(header: u8) -> Option<u32> {
        PAYLOAD_BITS.get(usize::from(header)).map(|&b| message_bits(b))
    }

    /// Decodes a whole message (right-aligned, `bits_for_header` bits). The bits between header and payload
    /// and the unused bits of the payload must be zero, so that decoding and encoding round-trip exactly.
    pub fn from_bits(header: u8, message: u128) -> Result<FromFpga, String> {
        let (Some(&payload_bits), Some(width)) = (PAYLOAD_BITS.get(usize::from(header)), Self::bits_for_header(header))
        else {
            return Err(format!("unknown message header {header}"));
        };
        let between = message & mask(width - 8) & !mask(payload_bits);
        if between != 0 {
            return Err(format!("{}: bits between header and payload are set", NAMES[usize::from(header)]));
        }
        let p = message & mask(payload_bits);
        let unpack = |n: usize| -> Vec<u32> { (0..n).map(|i| (p >> (24 * (n - 1 - i)) & 0xFF_FFFF) as u32).collect() };
        let message = match header {
            0 => FromFpga::JtagData(p as u64),
            1 => FromFpga::OmnibusData(p as u32),
            2 => FromFpga::Loopback(Loopback::from_bit(p as u64)),
            3 => FromFpga::HighspeedLinkNotification(p as u8),
            4 => FromFpga::TimeoutNotification {
                instruction: p as u32,
                stalls: (p >> 32 & 0x7F) as u8,
                reads_in_flight: (p >> 39 & 0x3F) as u8,
            },
            5 => FromFpga::Systime(p as u64),
            6 => FromFpga::Sysdelta(p as u8),
            7..=9 => {
                let samples: Vec<MadcSample> = unpack(usize::from(header) - 6)
                    .into_iter()
                    .map(|e| MadcSample { timestamp: (e >> 16) as u8, field: e as u16 })
                    .collect();
                FromFpga::Madc(Pack::new(&samples).ok_or("empty pack")?)
            }
            _ => {
                let spikes: Vec<SpikeEvent> = unpack(usize::from(header) - 9)
                    .into_iter()
                    .map(|e| SpikeEvent { timestamp: (e >> 16) as u8, label: SpikeLabel(e as u16) })
                    .collect();
                FromFpga::Spikes(Pack::new(&spikes).ok_or("empty pack")?)
            }
        };
        message.validate()?;
        Ok(message)
    }
}
