//! FPGA -> host messages (spec §2.2): 64 or 80 bits each, packed back to back into the word stream.

use crate::error::MessageError;
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
    #[inline]
    pub fn new(items: &[T]) -> Option<Pack<T>> {
        if items.is_empty() || items.len() > 3 {
            return None;
        }
        let mut all = [T::default(); 3];
        all[..items.len()].copy_from_slice(items);
        Some(Pack { items: all, len: items.len() as u8 })
    }

    /// The elements.
    #[inline]
    pub fn items(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }
}

/// A spike recorded by the FPGA: its label and the low 8 bits of its time stamp, kept as the 24-bit wire element
/// (`[23:16]` time stamp, `[15:0]` label).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SpikeEvent(u32);

impl SpikeEvent {
    /// A recorded spike.
    #[inline]
    pub fn new(timestamp: u8, label: SpikeLabel) -> Self {
        SpikeEvent(u32::from(timestamp) << 16 | u32::from(label.0))
    }

    /// Time stamp bits (reconstructed into a full time by the response decoder).
    #[inline]
    pub fn timestamp(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// The spike's label.
    #[inline]
    pub fn label(self) -> SpikeLabel {
        SpikeLabel(self.0 as u16)
    }
}

impl std::fmt::Debug for SpikeEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpikeEvent").field("timestamp", &self.timestamp()).field("label", &self.label()).finish()
    }
}

/// A MADC sample: time stamp and the 16-bit value field, of which 14 bits are defined ([9:0] sample, [10]
/// channel, [13:11] unused); kept as the 24-bit wire element.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MadcSample(u32);

impl MadcSample {
    /// A sample (a field above 14 bits makes the message invalid).
    #[inline]
    pub fn new(timestamp: u8, field: u16) -> Self {
        MadcSample(u32::from(timestamp) << 16 | u32::from(field))
    }

    /// Time stamp bits.
    #[inline]
    pub fn timestamp(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// The value field.
    #[inline]
    pub fn field(self) -> u16 {
        self.0 as u16
    }

    /// The 10-bit sample.
    #[inline]
    pub fn value(self) -> u16 {
        self.field() & 0x3FF
    }

    /// The multiplexer channel (0 or 1).
    #[inline]
    pub fn channel(self) -> u8 {
        (self.field() >> 10 & 1) as u8
    }
}

impl std::fmt::Debug for MadcSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MadcSample").field("timestamp", &self.timestamp()).field("field", &self.field()).finish()
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

/// Message widths by header value.
const MESSAGE_BITS: [u32; 13] = {
    let mut widths = [0; 13];
    let mut i = 0;
    while i < 13 {
        widths[i] = message_bits(PAYLOAD_BITS[i]);
        i += 1;
    }
    widths
};

/// Width of a message with `payload_bits`: 8-bit header plus payload, rounded up to bytes, at least 64 bits.
pub const fn message_bits(payload_bits: u32) -> u32 {
    let bits = 8 * (8 + payload_bits).div_ceil(8);
    if bits > 64 { bits } else { 64 }
}

fn mask(bits: u32) -> u128 {
    (1u128 << bits) - 1
}

impl FromFpga {
    /// The header value.
    #[inline]
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
    #[inline]
    pub fn payload_bits(&self) -> u32 {
        PAYLOAD_BITS[usize::from(self.header())]
    }

    /// Message width in bits (64 or 80).
    #[inline]
    pub fn bits(&self) -> u32 {
        message_bits(self.payload_bits())
    }

    /// Checks field ranges that the types do not enforce.
    #[inline]
    pub fn validate(&self) -> Result<(), MessageError> {
        let out = |field, value: u64, range| Err(MessageError::OutOfRange { field, value, range });
        match *self {
            FromFpga::JtagData(d) if d >> 33 != 0 => out("jtag data", d, "33 bits"),
            FromFpga::TimeoutNotification { stalls, .. } if stalls > 127 => {
                out("timeout stalls", stalls.into(), "7 bits")
            }
            FromFpga::TimeoutNotification { reads_in_flight, .. } if reads_in_flight > 63 => {
                out("timeout reads in flight", reads_in_flight.into(), "6 bits")
            }
            FromFpga::Systime(t) if t >> 43 != 0 => out("systime", t, "43 bits"),
            FromFpga::Madc(p) => match p.items().iter().find(|s| s.field() >> 14 != 0) {
                Some(s) => out("MADC value field", s.field().into(), "14 bits"),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The payload, right-aligned.
    #[inline]
    pub fn payload(&self) -> u128 {
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
            FromFpga::Madc(p) => p.items().iter().fold(0, |acc, s| acc << 24 | u128::from(s.0 & 0xFF_3FFF)),
            FromFpga::Spikes(p) => p.items().iter().fold(0, |acc, s| acc << 24 | u128::from(s.0)),
        }
    }

    /// The whole message, right-aligned in `bits()` bits: header at the top, payload at the bottom.
    #[inline]
    pub fn to_bits(&self) -> u128 {
        u128::from(self.header()) << (self.bits() - 8) | self.payload()
    }

    /// Width in bits of the message with this header, or None for an unknown header.
    #[inline]
    pub fn bits_for_header(header: u8) -> Option<u32> {
        MESSAGE_BITS.get(usize::from(header)).copied()
    }

    /// Decodes a whole message (right-aligned, `bits_for_header` bits). The bits between header and payload
    /// and the unused bits of the payload must be zero, so that decoding and encoding round-trip exactly.
    #[inline]
    pub fn from_bits(header: u8, message: u128) -> Result<FromFpga, MessageError> {
        let (Some(&payload_bits), Some(width)) = (PAYLOAD_BITS.get(usize::from(header)), Self::bits_for_header(header))
        else {
            return Err(MessageError::UnknownHeader { kind: "message", header });
        };
        let between = message & mask(width - 8) & !mask(payload_bits);
        if between != 0 {
            return Err(MessageError::OutsidePayload { name: NAMES[usize::from(header)], bits: payload_bits });
        }
        let p = message & mask(payload_bits);
        if header >= 10 {
            // Recorded spikes dominate real streams; nothing to validate in them.
            let event = |slot: u32| SpikeEvent((p >> (24 * slot)) as u32 & 0xFF_FFFF);
            let (items, len) = match header {
                10 => ([event(0), SpikeEvent::default(), SpikeEvent::default()], 1),
                11 => ([event(1), event(0), SpikeEvent::default()], 2),
                _ => ([event(2), event(1), event(0)], 3),
            };
            return Ok(FromFpga::Spikes(Pack { items, len }));
        }
        // Element i of n sits at bits [24(n-i)-1 : 24(n-i-1)], the first element in the most significant slot.
        let element = |n: usize, i: usize| (p >> (24 * (n - 1 - i)) & 0xFF_FFFF) as u32;
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
                let n = usize::from(header) - 6;
                let mut items = [MadcSample::default(); 3];
                for (i, item) in items.iter_mut().enumerate().take(n) {
                    let e = element(n, i);
                    *item = MadcSample(e);
                }
                FromFpga::Madc(Pack { items, len: n as u8 })
            }
            _ => {
                let n = usize::from(header) - 9;
                let mut items = [SpikeEvent::default(); 3];
                for (i, item) in items.iter_mut().enumerate().take(n) {
                    let e = element(n, i);
                    *item = SpikeEvent(e);
                }
                FromFpga::Spikes(Pack { items, len: n as u8 })
            }
        };
        message.validate()?;
        Ok(message)
    }
}
