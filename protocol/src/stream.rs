//! The 64-bit word streams of both directions (spec §2.2).
//!
//! To the FPGA every instruction is one word. From the FPGA, messages of 64 or 80 bits are packed back to
//! back, most significant bit first, so an 80-bit message straddles a word boundary. Where a new message would
//! begin at a word boundary, a word with its MSB set is a filler ("comma") word; inside a word, a 1 bit where
//! the next message would begin marks a flush: the rest of that word is padding.
//!
//! Decoding is strict so that re-encoding gives back the same words: fillers are kept as [`Item::Filler`],
//! flushes as [`Item::Flush`], and bits that a receiver would ignore must be zero.

use crate::error::{DecodeError, DecodeReason, MessageError};
use crate::from_fpga::FromFpga;
use crate::to_fpga::ToFpga;

/// One element of a word stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item<M> {
    /// A message.
    Message(M),
    /// The rest of the current word is padding (from-FPGA streams; nothing at a word boundary).
    Flush,
    /// A whole filler word (MSB set) at a word boundary, kept verbatim.
    Filler(u64),
}

/// Encodes a to-FPGA stream: one word per instruction or filler (flushes are meaningless here).
pub fn encode_to_fpga(items: &[Item<ToFpga>]) -> Vec<u64> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Message(m) => Some(m.encode()),
            Item::Filler(w) => Some(*w | 1 << 63),
            Item::Flush => None,
        })
        .collect()
}

/// Decodes a to-FPGA stream.
pub fn decode_to_fpga(words: &[u64]) -> Result<Vec<Item<ToFpga>>, DecodeError> {
    // The one loop that decodes instructions in this crate: with a single caller `ToFpga::decode` is inlined.
    let mut items = Vec::with_capacity(words.len());
    for (i, &w) in words.iter().enumerate() {
        items.push(if w >> 63 == 1 {
            Item::Filler(w)
        } else {
            Item::Message(ToFpga::decode(w).map_err(|e| DecodeError::at(i, e))?)
        });
    }
    Ok(items)
}

/// Decodes to-FPGA words as they arrive (every word is one item; the decoder counts words for error messages).
#[derive(Debug, Default)]
pub struct ToFpgaDecoder {
    /// Stream index of the next word.
    next_word: usize,
}

impl ToFpgaDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds words and appends their items to `out`; an error names the word's index in the whole stream.
    pub fn push_into(&mut self, words: &[u64], out: &mut Vec<Item<ToFpga>>) -> Result<(), DecodeError> {
        let items = decode_to_fpga(words).map_err(|e| DecodeError { word: self.next_word + e.word, ..e })?;
        out.extend(items);
        self.next_word += words.len();
        Ok(())
    }
}

/// Packs from-FPGA messages into words, most significant bit first.
#[derive(Debug, Default)]
pub struct FromFpgaEncoder {
    words: Vec<u64>,
    /// Pending bits of the current word, right-aligned (`used` < 64 of them).
    pending: u128,
    used: u32,
}

impl FromFpgaEncoder {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `bits` (<= 64) bits.
    #[inline]
    fn push_bits(&mut self, value: u64, bits: u32) {
        self.pending = self.pending << bits | u128::from(value);
        self.used += bits;
        if self.used >= 64 {
            self.used -= 64;
            self.words.push((self.pending >> self.used) as u64);
            self.pending &= (1u128 << self.used) - 1;
        }
    }

    /// Appends a message.
    #[inline]
    pub fn message(&mut self, m: &FromFpga) {
        let (bits, width) = (m.to_bits(), m.bits());
        if width > 64 {
            self.push_bits((bits >> 64) as u64, width - 64);
        }
        self.push_bits(bits as u64, width.min(64));
    }

    /// Ends the current word: the bit after the last message is set and the rest zero-filled.
    pub fn flush(&mut self) {
        if self.used > 0 {
            let fill = 64 - self.used;
            self.push_bits(1u64 << (fill - 1), fill);
        }
    }

    /// Appends an item (a filler word inside a partly filled word is preceded by a flush).
    pub fn item(&mut self, item: &Item<FromFpga>) {
        match item {
            Item::Message(m) => self.message(m),
            Item::Flush => self.flush(),
            Item::Filler(w) => {
                self.flush();
                self.words.push(*w | 1 << 63);
            }
        }
    }

    /// Complete words so far.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True if no word is complete yet.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Reserves room for `words` more words.
    pub fn reserve(&mut self, words: usize) {
        self.words.reserve(words);
    }

    /// The words so far, flushing a partly filled last word.
    pub fn finish(mut self) -> Vec<u64> {
        self.flush();
        self.words
    }

    /// Takes the complete words so far (the partly filled one stays).
    pub fn take_words(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.words)
    }
}

/// Encodes a from-FPGA stream (the last word is flushed).
pub fn encode_from_fpga(items: &[Item<FromFpga>]) -> Vec<u64> {
    let mut encoder = FromFpgaEncoder::new();
    encoder.reserve(items.len() * 5 / 4 + 1);
    for item in items {
        encoder.item(item);
    }
    encoder.finish()
}

/// Decodes from-FPGA words as they arrive; messages may span calls.
#[derive(Debug, Default)]
pub struct FromFpgaDecoder {
    /// Words of an unfinished message (at most three), from the previous call.
    pending: Vec<u64>,
    /// Bit position inside `pending[0]`.
    bit: u32,
    /// Stream index of `pending[0]` (or of the next word if nothing is pending).
    first_word: usize,
}

/// Reads `bits` (<= 128) bits at (`pos`, `bit`); they must be available. A message is at most 80 bits, so it
/// spans at most three words; the two-word window covers all but 80-bit messages starting late in a word.
#[inline]
fn peek(words: &[u64], pos: usize, bit: u32, bits: u32) -> u128 {
    let next = words.get(pos + 1).copied().unwrap_or(0);
    let window = (u128::from(words[pos]) << 64 | u128::from(next)) << bit;
    let value = window >> (128 - bits);
    if bit + bits <= 128 {
        value
    } else {
        // The remaining `bit + bits - 128` bits are the top of the third word.
        value | u128::from(words[pos + 2] >> (192 - bit - bits))
    }
}

/// Decodes the complete items of `words` from (`pos`, `bit`) on; returns where it stopped (at the start of an
/// unfinished message, or the end). `first_word` is the stream index of `words[0]`, for error messages.
fn decode_words(
    words: &[u64],
    mut pos: usize,
    mut bit: u32,
    first_word: usize,
    out: &mut Vec<Item<FromFpga>>,
) -> Result<(usize, u32), DecodeError> {
    while pos < words.len() {
        let at = first_word + pos;
        let word = words[pos];
        let rest = word << bit;
        if rest >> 63 == 1 {
            if bit == 0 {
                out.push(Item::Filler(word));
            } else {
                // A flush: the rest of the word after the marker bit must be zero.
                if rest << 1 != 0 {
                    return Err(DecodeError::at(at, DecodeReason::AfterFlush));
                }
                out.push(Item::Flush);
                bit = 0;
            }
            pos += 1;
            continue;
        }
        let header = (rest >> 56) as u8;
        let Some(width) = FromFpga::bits_for_header(header) else {
            return Err(DecodeError::at(at, MessageError::UnknownHeader { kind: "message", header }));
        };
        if (words.len() - pos) * 64 - (bit as usize) < width as usize {
            break;
        }
        let message = FromFpga::from_bits(header, peek(words, pos, bit, width)).map_err(|e| DecodeError::at(at, e))?;
        out.push(Item::Message(message));
        let total = bit + width;
        pos += (total / 64) as usize;
        bit = total % 64;
    }
    Ok((pos, bit))
}

impl FromFpgaDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds words and appends every item they complete to `out`. The words are decoded in place; only an
    /// unfinished message at the end is kept for the next call.
    pub fn push_into(&mut self, words: &[u64], out: &mut Vec<Item<FromFpga>>) -> Result<(), DecodeError> {
        let (mut start, mut bit) = (0, self.bit);
        if !self.pending.is_empty() {
            // Finish the pending message with the first few new words (a message spans at most three).
            let held = self.pending.len();
            let borrowed = words.len().min(3);
            self.pending.extend_from_slice(&words[..borrowed]);
            let (pos, b) = decode_words(&self.pending, 0, self.bit, self.first_word, out)?;
            if pos < held {
                // Still unfinished: keep everything.
                self.pending.extend_from_slice(&words[borrowed..]);
                let (pos, b) = decode_words(&self.pending, pos, b, self.first_word, out)?;
                self.pending.drain(..pos);
                self.first_word += pos;
                self.bit = b;
                return Ok(());
            }
            self.first_word += held;
            self.pending.clear();
            (start, bit) = (pos - held, b);
        }
        let (pos, b) = decode_words(words, start, bit, self.first_word, out)?;
        self.pending.extend_from_slice(&words[pos..]);
        self.first_word += pos;
        self.bit = b;
        Ok(())
    }

    /// Feeds words; returns every item completed by them.
    pub fn push(&mut self, words: &[u64]) -> Result<Vec<Item<FromFpga>>, DecodeError> {
        let mut items = Vec::new();
        self.push_into(words, &mut items)?;
        Ok(items)
    }

    /// Ends the stream: an error if it stops inside a message.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.pending.is_empty() { Ok(()) } else { Err(DecodeError::at(self.first_word, DecodeReason::Truncated)) }
    }
}

/// Decodes a complete from-FPGA stream.
pub fn decode_from_fpga(words: &[u64]) -> Result<Vec<Item<FromFpga>>, DecodeError> {
    let mut decoder = FromFpgaDecoder::new();
    let items = decoder.push(words)?;
    decoder.finish()?;
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_fpga::{Pack, SpikeEvent};
    use crate::label::SpikeLabel;

    fn spike(label: u16, timestamp: u8) -> SpikeEvent {
        SpikeEvent::new(timestamp, SpikeLabel(label))
    }

    /// Spec §2.2: a SpikePack3 straddling two words, a Sysdelta, then a flush.
    #[test]
    fn golden_packed_stream() {
        let items = [
            Item::Message(FromFpga::Spikes(
                Pack::new(&[spike(0x0123, 0x10), spike(0x4567, 0x11), spike(0x89AB, 0x12)]).unwrap(),
            )),
            Item::Message(FromFpga::Sysdelta(5)),
            Item::Flush,
        ];
        let words = encode_from_fpga(&items);
        assert_eq!(words, vec![0x0C10_0123_1145_6712, 0x89AB_0600_0000_0000, 0x0005_8000_0000_0000]);
        assert_eq!(decode_from_fpga(&words).unwrap(), items);
        // Single spike pack example.
        let one = [Item::Message(FromFpga::Spikes(Pack::new(&[spike(0x0123, 0x5C)]).unwrap()))];
        assert_eq!(encode_from_fpga(&one), vec![0x0A00_0000_005C_0123]);
    }

    #[test]
    fn messages_split_across_pushes_and_bad_streams() {
        let words = [0x0C10_0123_1145_6712, 0x89AB_0600_0000_0000, 0x0005_8000_0000_0000];
        let mut decoder = FromFpgaDecoder::new();
        assert!(decoder.push(&words[..1]).unwrap().is_empty());
        assert_eq!(decoder.push(&words[1..2]).unwrap().len(), 1);
        assert_eq!(decoder.push(&words[2..]).unwrap().len(), 2);
        decoder.finish().unwrap();
        assert_eq!(decode_from_fpga(&words[..2]).unwrap_err().word, 1);
        assert!(
            decode_from_fpga(&[0x0D00_0000_0000_0000])
                .unwrap_err()
                .reason
                .to_string()
                .contains("unknown message header 13")
        );
        assert!(
            decode_from_fpga(&[0x0A00_0100_0000_0000])
                .unwrap_err()
                .reason
                .to_string()
                .contains("outside the 24-bit payload")
        );
        let garbage_after_flush = [0x0C10_0123_1145_6712, 0x89AB_8000_0000_0001];
        assert!(
            decode_from_fpga(&garbage_after_flush).unwrap_err().reason.to_string().contains("after the flush marker")
        );
        assert_eq!(decode_from_fpga(&[0x0C10_0123_1145_6712, 0x89AB_8000_0000_0000]).unwrap()[1], Item::Flush);
        assert_eq!(decode_from_fpga(&[0x8000_0000_0000_0001]).unwrap(), vec![Item::Filler(0x8000_0000_0000_0001)]);
    }
}
