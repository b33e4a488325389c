//! HostARQ datagrams as the real systems send them over UDP (spec §2.4): a 12-byte big-endian header (ACK u32,
//! SEQ u32, PTYPE u16, LEN u16 = number of payload words) and LEN big-endian 64-bit words; a datagram of exactly
//! 4 bytes is a pure acknowledgement.

/// Dummy data (sctrltp test traffic).
pub const PTYPE_DUMMY_DATA_0: u16 = 0x0000;
/// Dummy data (sctrltp test traffic).
pub const PTYPE_DUMMY_DATA_1: u16 = 0x0001;
/// ARQ status.
pub const PTYPE_ARQ_STATUS: u16 = 0x0002;
/// Packet type of the UT-message word stream (hxcomm).
pub const PTYPE_UT: u16 = 0x0010;
/// Request from a user process to the local ARQ daemon to reset the link (first word `0x0000_0000_ABAB_ABAB`).
pub const PTYPE_RESET_REQUEST: u16 = 0x5000;
/// Flush.
pub const PTYPE_FLUSH: u16 = 0x8000;
/// Loopback.
pub const PTYPE_LOOPBACK: u16 = 0x8001;
/// Configuration / reset response.
pub const PTYPE_CONFIG_RESPONSE: u16 = 0x8002;
/// Request to send dummy data.
pub const PTYPE_DUMMY_REQUEST: u16 = 0x8003;
/// Statistics.
pub const PTYPE_STATS: u16 = 0x8004;
/// Performance test.
pub const PTYPE_PERF_TEST: u16 = 0x8006;
/// Most payload words in one frame (MTU 1500).
pub const MAX_PDU_WORDS: usize = 180;
/// Header bytes of a frame.
pub const HEADER_BYTES: usize = 12;
/// The FPGA's UDP data port.
pub const DATA_PORT: u16 = 1234;
/// The FPGA's UDP reset port (0xAFFE).
pub const RESET_PORT: u16 = 0xAFFE;
/// Content of the 4-byte reset request sent to [`RESET_PORT`]; on the wire it is [`Datagram::Ack`]`(RESET_MAGIC)`,
/// only the port tells them apart.
pub const RESET_MAGIC: u32 = 0xABAB_ABAB;

/// A data frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Cumulative acknowledgement for the other direction: the last sequence number received in order.
    pub ack: u32,
    /// Sequence number of this frame.
    pub seq: u32,
    /// Packet type.
    pub ptype: u16,
    /// Payload words.
    pub words: Vec<u64>,
}

/// One datagram on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Datagram {
    /// A pure acknowledgement.
    Ack(u32),
    /// A frame.
    Frame(Frame),
}

/// A datagram that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than an acknowledgement, or between an acknowledgement and a frame header.
    #[error("a {0}-byte datagram is neither an acknowledgement (4 bytes) nor a frame (at least 12 bytes)")]
    BadSize(usize),
    /// The byte count does not match LEN.
    #[error("the header announces {words} words ({expected} bytes) but the datagram has {got} bytes")]
    LengthMismatch {
        /// LEN.
        words: usize,
        /// Bytes LEN implies.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// LEN exceeds the maximum.
    #[error("{0} payload words exceed the maximum of {MAX_PDU_WORDS}")]
    TooLong(usize),
    /// A byte-stream frame failed its checksum.
    #[error("checksum mismatch")]
    Checksum,
    /// A byte-stream frame is not valid COBS.
    #[error("malformed byte-stream framing")]
    Framing,
    /// A byte-stream frame exceeds the largest possible datagram.
    #[error("a byte-stream frame exceeds {0} bytes")]
    Oversized(usize),
}

impl Datagram {
    /// Appends the wire bytes to `out`. A frame must have at most [`MAX_PDU_WORDS`] words: a longer one gives
    /// bytes that [`Datagram::decode`] (and the FPGA) rejects.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Datagram::Ack(ack) => out.extend_from_slice(&ack.to_be_bytes()),
            Datagram::Frame(f) => {
                out.reserve(HEADER_BYTES + 8 * f.words.len());
                out.extend_from_slice(&f.ack.to_be_bytes());
                out.extend_from_slice(&f.seq.to_be_bytes());
                out.extend_from_slice(&f.ptype.to_be_bytes());
                out.extend_from_slice(&(f.words.len() as u16).to_be_bytes());
                for w in &f.words {
                    out.extend_from_slice(&w.to_be_bytes());
                }
            }
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes a datagram; the size must match its header exactly.
    pub fn decode(bytes: &[u8]) -> Result<Datagram, FrameError> {
        let be32 = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        if bytes.len() == 4 {
            return Ok(Datagram::Ack(be32(0)));
        }
        if bytes.len() < HEADER_BYTES {
            return Err(FrameError::BadSize(bytes.len()));
        }
        let words = usize::from(u16::from_be_bytes([bytes[10], bytes[11]]));
        if words > MAX_PDU_WORDS {
            return Err(FrameError::TooLong(words));
        }
        let expected = HEADER_BYTES + 8 * words;
        if bytes.len() != expected {
            return Err(FrameError::LengthMismatch { words, expected, got: bytes.len() });
        }
        let payload = bytes[HEADER_BYTES..]
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(Datagram::Frame(Frame {
            ack: be32(0),
            seq: be32(4),
            ptype: u16::from_be_bytes([bytes[8], bytes[9]]),
            words: payload,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let frame = Datagram::Frame(Frame { ack: 255, seq: 7, ptype: PTYPE_UT, words: vec![0x0102_0304_0506_0708] });
        let bytes = frame.encode();
        assert_eq!(bytes, [0, 0, 0, 0xFF, 0, 0, 0, 7, 0x00, 0x10, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(Datagram::decode(&bytes), Ok(frame));
        assert_eq!(Datagram::Ack(0x0102_0304).encode(), [1, 2, 3, 4]);
        assert_eq!(Datagram::decode(&[1, 2, 3, 4]), Ok(Datagram::Ack(0x0102_0304)));
        assert_eq!(Datagram::Ack(RESET_MAGIC).encode(), [0xAB; 4]);
        // Hand-assembled: ACK 0x01020304, SEQ 5, flush, LEN 2, SpikePack1(0x1234) and WaitUntil(1000).
        let golden = [
            0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x05, 0x80, 0x00, 0x00, 0x02, // header
            0x0D, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, // word 0
            0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8, // word 1
        ];
        let frame = Datagram::Frame(Frame {
            ack: 0x0102_0304,
            seq: 5,
            ptype: PTYPE_FLUSH,
            words: vec![0x0D00_0000_0000_1234, 0x0500_0000_0000_03E8],
        });
        assert_eq!(frame.encode(), golden);
        assert_eq!(Datagram::decode(&golden), Ok(frame));
        let empty = Datagram::Frame(Frame { ack: 255, ptype: PTYPE_LOOPBACK, ..Frame::default() });
        assert_eq!(empty.encode(), [0, 0, 0, 0xFF, 0, 0, 0, 0, 0x80, 0x01, 0, 0]);
        assert_eq!(Datagram::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert_eq!(Datagram::decode(&[1, 2, 3]), Err(FrameError::BadSize(3)));
        assert_eq!(Datagram::decode(&[0; 11]), Err(FrameError::BadSize(11)));
        let mut bytes = Datagram::Frame(Frame { words: vec![1, 2], ..Frame::default() }).encode();
        bytes.pop();
        assert_eq!(Datagram::decode(&bytes), Err(FrameError::LengthMismatch { words: 2, expected: 28, got: 27 }));
        let mut long = vec![0u8; 12];
        long[10..12].copy_from_slice(&181u16.to_be_bytes());
        assert_eq!(Datagram::decode(&long), Err(FrameError::TooLong(181)));
    }
}
