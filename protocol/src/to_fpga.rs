//! Host -> FPGA instructions (spec §2.2): one 64-bit word each, header (the instruction's index in the
//! dictionary) in bits [63:56], payload right-aligned, zeros between.

use crate::error::MessageError;
use crate::label::SpikeLabel;

/// A loopback: the end of a program (halt), or a marker echoed back (tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loopback {
    /// End of the program; its echo tells the host that every response has arrived.
    Halt,
    /// A marker, echoed back in place.
    Tick,
}

impl Loopback {
    #[inline]
    pub(crate) fn bit(self) -> u64 {
        match self {
            Loopback::Halt => 0,
            Loopback::Tick => 1,
        }
    }

    #[inline]
    pub(crate) fn from_bit(bit: u64) -> Loopback {
        if bit == 0 { Loopback::Halt } else { Loopback::Tick }
    }
}

/// One host -> FPGA instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ToFpga {
    /// 0: reset the JTAG state machine.
    JtagInit,
    /// 1: JTAG clock divider.
    JtagScaler(u8),
    /// 2: JTAG instruction register (7 bit: 0 EXTEST .. 7 OMNIBUS_REQUEST, 127 BYPASS).
    JtagIns(u8),
    /// 3: shift `num_bits` (3..=33) bits of `data` through JTAG.
    JtagData {
        /// Send the shifted-out bits back.
        keep_response: bool,
        /// Number of bits to shift.
        num_bits: u8,
        /// Data, 33 bits.
        data: u64,
    },
    /// 4: reset the FPGA timer to 0.
    TimerSetup,
    /// 5: block until the timer equals this (FPGA cycles of 8 ns).
    WaitUntil(u32),
    /// 6: true: synchronise chip and FPGA system time; false: only request a Systime response.
    SystimeInit(bool),
    /// 7: wait until idle: bit 0 omnibus, 1 jtag, 2 systime, 3 multi_fpga, 4 systime_correction.
    Barrier(u8),
    /// 8: block until `(omnibus[addr] & mask) == target` (true) or `!=` (false).
    PollingOmnibusBlock(bool),
    /// 9: assert (true) or release the chip reset.
    Reset(bool),
    /// 10: loopback.
    Loopback(Loopback),
    /// 11: omnibus address of a read or of a write whose data follows.
    OmnibusAddress {
        /// Word address.
        address: u32,
        /// Byte enables (4 bits, 0xF = whole word).
        byte_enables: u8,
        /// A read (one omnibus-data response follows) rather than a write.
        is_read: bool,
    },
    /// 12: data of the preceding write address.
    OmnibusData(u32),
    /// 13: one input spike.
    SpikePack1([SpikeLabel; 1]),
    /// 14: two input spikes at the same time.
    SpikePack2([SpikeLabel; 2]),
    /// 15: three input spikes at the same time.
    SpikePack3([SpikeLabel; 3]),
}

/// Payload widths by header value.
const PAYLOAD_BITS: [u32; 16] = [0, 8, 7, 56, 0, 32, 1, 5, 1, 1, 1, 37, 32, 16, 32, 48];

/// Instruction names by header value, as in the text form.
pub const NAMES: [&str; 16] = [
    "jtag_init",
    "jtag_scaler",
    "jtag_ins",
    "jtag_data",
    "timer_setup",
    "wait_until",
    "systime_init",
    "barrier",
    "polling_omnibus_block",
    "reset",
    "loopback",
    "omnibus_address",
    "omnibus_data",
    "spike_pack1",
    "spike_pack2",
    "spike_pack3",
];

fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

impl ToFpga {
    /// The header value (index in the to-FPGA dictionary).
    #[inline]
    pub fn header(&self) -> u8 {
        match self {
            ToFpga::JtagInit => 0,
            ToFpga::JtagScaler(_) => 1,
            ToFpga::JtagIns(_) => 2,
            ToFpga::JtagData { .. } => 3,
            ToFpga::TimerSetup => 4,
            ToFpga::WaitUntil(_) => 5,
            ToFpga::SystimeInit(_) => 6,
            ToFpga::Barrier(_) => 7,
            ToFpga::PollingOmnibusBlock(_) => 8,
            ToFpga::Reset(_) => 9,
            ToFpga::Loopback(_) => 10,
            ToFpga::OmnibusAddress { .. } => 11,
            ToFpga::OmnibusData(_) => 12,
            ToFpga::SpikePack1(_) => 13,
            ToFpga::SpikePack2(_) => 14,
            ToFpga::SpikePack3(_) => 15,
        }
    }

    /// Checks field ranges that the types do not enforce.
    #[inline]
    pub fn validate(&self) -> Result<(), MessageError> {
        let out = |field, value: u64, range| Err(MessageError::OutOfRange { field, value, range });
        match *self {
            ToFpga::JtagIns(i) if i > 127 => out("jtag instruction", i.into(), "7 bits"),
            ToFpga::JtagData { num_bits, .. } if !(3..=33).contains(&num_bits) => {
                out("jtag bits to shift", num_bits.into(), "3..=33")
            }
            ToFpga::JtagData { data, .. } if data >> 33 != 0 => out("jtag data", data, "33 bits"),
            ToFpga::Barrier(b) if b > 31 => out("barrier mask", b.into(), "5 bits"),
            ToFpga::OmnibusAddress { byte_enables, .. } if byte_enables > 15 => {
                out("byte enables", byte_enables.into(), "4 bits")
            }
            _ => Ok(()),
        }
    }

    /// The 64-bit word. Fields out of range are masked; use [`ToFpga::validate`] to catch them.
    #[inline]
    pub fn encode(&self) -> u64 {
        let payload: u64 = match *self {
            ToFpga::JtagInit | ToFpga::TimerSetup => 0,
            ToFpga::JtagScaler(v) => u64::from(v),
            ToFpga::JtagIns(v) => u64::from(v) & 0x7F,
            ToFpga::JtagData { keep_response, num_bits, data } => {
                u64::from(keep_response) << 48 | u64::from(num_bits) << 40 | (data & mask(33))
            }
            ToFpga::WaitUntil(t) => u64::from(t),
            ToFpga::SystimeInit(b) | ToFpga::PollingOmnibusBlock(b) | ToFpga::Reset(b) => u64::from(b),
            ToFpga::Barrier(b) => u64::from(b) & 0x1F,
            ToFpga::Loopback(l) => l.bit(),
            ToFpga::OmnibusAddress { address, byte_enables, is_read } => {
                u64::from(is_read) << 36 | (u64::from(byte_enables) & 0xF) << 32 | u64::from(address)
            }
            ToFpga::OmnibusData(d) => u64::from(d),
            ToFpga::SpikePack1([a]) => u64::from(a.0),
            ToFpga::SpikePack2([a, b]) => u64::from(a.0) << 16 | u64::from(b.0),
            ToFpga::SpikePack3([a, b, c]) => u64::from(a.0) << 32 | u64::from(b.0) << 16 | u64::from(c.0),
        };
        u64::from(self.header()) << 56 | payload
    }

    /// Decodes one word. Bits outside the payload (between header and payload) and reserved payload bits
    /// must be zero, so that `decode(w).encode() == w` for every word accepted.
    #[inline]
    pub fn decode(word: u64) -> Result<ToFpga, MessageError> {
        let header = (word >> 56) as u8;
        if header & 0x80 != 0 {
            return Err(MessageError::Filler(word));
        }
        let Some(&bits) = PAYLOAD_BITS.get(usize::from(header)) else {
            return Err(MessageError::UnknownHeader { kind: "instruction", header });
        };
        let payload = word & mask(56);
        if payload & !mask(bits) != 0 {
            return Err(MessageError::OutsidePayload { name: NAMES[usize::from(header)], bits });
        }
        let label = |shift: u32| SpikeLabel((payload >> shift) as u16);
        let message = match header {
            0 => ToFpga::JtagInit,
            1 => ToFpga::JtagScaler(payload as u8),
            2 => ToFpga::JtagIns(payload as u8),
            3 => {
                if payload & (0x7F << 49 | 0x7F << 33) != 0 {
                    return Err(MessageError::Reserved { name: "jtag_data" });
                }
                ToFpga::JtagData {
                    keep_response: payload >> 48 & 1 == 1,
                    num_bits: (payload >> 40) as u8,
                    data: payload & mask(33),
                }
            }
            4 => ToFpga::TimerSetup,
            5 => ToFpga::WaitUntil(payload as u32),
            6 => ToFpga::SystimeInit(payload == 1),
            7 => ToFpga::Barrier(payload as u8),
            8 => ToFpga::PollingOmnibusBlock(payload == 1),
            9 => ToFpga::Reset(payload == 1),
            10 => ToFpga::Loopback(Loopback::from_bit(payload)),
            11 => ToFpga::OmnibusAddress {
                address: payload as u32,
                byte_enables: (payload >> 32 & 0xF) as u8,
                is_read: payload >> 36 & 1 == 1,
            },
            12 => ToFpga::OmnibusData(payload as u32),
            13 => ToFpga::SpikePack1([label(0)]),
            14 => ToFpga::SpikePack2([label(16), label(0)]),
            _ => ToFpga::SpikePack3([label(32), label(16), label(0)]),
        };
        message.validate()?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example words of spec §2.2.
    #[test]
    fn golden_words() {
        let cases = [
            (ToFpga::SpikePack1([SpikeLabel(0x1234)]), 0x0D00_0000_0000_1234),
            (ToFpga::SpikePack3([SpikeLabel(0xAAAA), SpikeLabel(0xBBBB), SpikeLabel(0xCCCC)]), 0x0F00_AAAA_BBBB_CCCC),
            (ToFpga::SpikePack2([SpikeLabel(0x0102), SpikeLabel(0x0304)]), 0x0E00_0000_0102_0304),
            (ToFpga::WaitUntil(1000), 0x0500_0000_0000_03E8),
            (ToFpga::OmnibusAddress { address: 0xAAAA_AAAA, byte_enables: 0xF, is_read: false }, 0x0B00_000F_AAAA_AAAA),
            (ToFpga::OmnibusData(0xDDDD_DDDD), 0x0C00_0000_DDDD_DDDD),
            (ToFpga::OmnibusAddress { address: 0xAAAA_AAAA, byte_enables: 0xF, is_read: true }, 0x0B00_001F_AAAA_AAAA),
            (ToFpga::TimerSetup, 0x0400_0000_0000_0000),
            (ToFpga::Barrier(1), 0x0700_0000_0000_0001),
            (ToFpga::Loopback(Loopback::Halt), 0x0A00_0000_0000_0000),
            (ToFpga::Loopback(Loopback::Tick), 0x0A00_0000_0000_0001),
            (ToFpga::JtagInit, 0x0000_0000_0000_0000),
            (ToFpga::JtagScaler(3), 0x0100_0000_0000_0003),
            (ToFpga::JtagIns(127), 0x0200_0000_0000_007F),
            (ToFpga::JtagData { keep_response: true, num_bits: 33, data: 0x1_2345_6789 }, 0x0301_2101_2345_6789),
            (ToFpga::SystimeInit(true), 0x0600_0000_0000_0001),
            (ToFpga::PollingOmnibusBlock(true), 0x0800_0000_0000_0001),
            (ToFpga::Reset(true), 0x0900_0000_0000_0001),
        ];
        for (message, word) in cases {
            assert_eq!(message.encode(), word, "{message:?}");
            assert_eq!(ToFpga::decode(word), Ok(message), "0x{word:016x}");
        }
    }

    #[test]
    fn bad_words_are_rejected() {
        let error = |w: u64| ToFpga::decode(w).unwrap_err().to_string();
        assert!(error(0x0500_0001_0000_0000).contains("outside the 32-bit payload"));
        assert!(error(0x1000_0000_0000_0000).contains("unknown instruction header 16"));
        assert!(error(0x8000_0000_0000_0000).contains("filler"));
        assert!(error(0x0300_0002_0000_0000).contains("reserved"));
        assert!(error(0x0300_0001_0000_0000).contains("3..=33"));
    }
}
