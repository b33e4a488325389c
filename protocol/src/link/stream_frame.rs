//! Datagrams over byte streams (TCP, serial, USB): each datagram's bytes plus a CRC-32 (ISO-HDLC, big-endian),
//! COBS-encoded and terminated by a zero byte. A lost or corrupted byte damages only its own frame: the CRC
//! catches the damage and the next zero byte resynchronises.

use crc::{CRC_32_ISO_HDLC, Crc};

use super::frame::{Datagram, FrameError, HEADER_BYTES, MAX_PDU_WORDS};

const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The largest encoded frame: the largest datagram plus its CRC, COBS overhead and the terminator.
pub const MAX_ENCODED_BYTES: usize = {
    let raw = HEADER_BYTES + 8 * MAX_PDU_WORDS + 4;
    raw + raw / 254 + 2
};

/// Appends the framed bytes of a datagram to `out`.
pub fn encode_stream_frame(datagram: &Datagram, out: &mut Vec<u8>) {
    let mut raw = datagram.encode();
    let crc = CRC32.checksum(&raw);
    raw.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&cobs::encode_vec(&raw));
    out.push(0);
}

/// Splits a byte stream back into datagrams.
#[derive(Debug, Default)]
pub struct StreamDeframer {
    buffer: Vec<u8>,
    /// Discarding an oversized frame until the next terminator.
    skipping: bool,
}

impl StreamDeframer {
    /// A deframer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every frame they complete, decoded or with the reason it was rejected.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Datagram, FrameError>> {
        let mut out = Vec::new();
        for &byte in bytes {
            if byte != 0 {
                if self.skipping {
                    continue;
                }
                if self.buffer.len() >= MAX_ENCODED_BYTES {
                    self.buffer.clear();
                    self.skipping = true;
                    out.push(Err(FrameError::Oversized(MAX_ENCODED_BYTES)));
                    continue;
                }
                self.buffer.push(byte);
                continue;
            }
            if std::mem::take(&mut self.skipping) || self.buffer.is_empty() {
                continue;
            }
            out.push(decode_frame(&self.buffer));
            self.buffer.clear();
        }
        out
    }
}

fn decode_frame(encoded: &[u8]) -> Result<Datagram, FrameError> {
    let raw = cobs::decode_vec(encoded).map_err(|_| FrameError::Framing)?;
    if raw.len() < 4 {
        return Err(FrameError::Framing);
    }
    let (body, crc) = raw.split_at(raw.len() - 4);
    if CRC32.checksum(body).to_be_bytes() != crc {
        return Err(FrameError::Checksum);
    }
    Datagram::decode(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::frame::{Frame, PTYPE_UT};

    #[test]
    fn frames_survive_splitting_and_damage_is_contained() {
        assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
        let a =
            Datagram::Frame(Frame { ack: 1, seq: 2, ptype: PTYPE_UT, words: vec![0, u64::MAX, 0x0000_FF00_0000_0001] });
        let b = Datagram::Ack(9);
        let mut bytes = Vec::new();
        encode_stream_frame(&a, &mut bytes);
        encode_stream_frame(&b, &mut bytes);
        let mut deframer = StreamDeframer::new();
        let mut got = Vec::new();
        for byte in &bytes {
            got.extend(deframer.push(std::slice::from_ref(byte)));
        }
        assert_eq!(got, vec![Ok(a.clone()), Ok(b.clone())]);
        // A flipped bit in the first frame: it is rejected, the second still decodes.
        let mut damaged = bytes.clone();
        damaged[5] ^= 0x10;
        let got = StreamDeframer::new().push(&damaged);
        assert!(got[0].is_err());
        assert_eq!(got.last(), Some(&Ok(b.clone())));
        // A lost byte likewise.
        let mut lost = bytes.clone();
        lost.remove(3);
        let got = StreamDeframer::new().push(&lost);
        assert_eq!(got.last(), Some(&Ok(b)));
        // Endless garbage without a terminator is bounded.
        let got = StreamDeframer::new().push(&vec![7u8; 3 * MAX_ENCODED_BYTES]);
        assert_eq!(got, vec![Err(FrameError::Oversized(MAX_ENCODED_BYTES))]);
    }
}
