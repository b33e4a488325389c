//! Decoding errors: what is wrong, and at which 64-bit word of the stream; quoting user input in messages.

use std::fmt;

/// A word stream that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("word {word}: {reason}")]
pub struct DecodeError {
    /// Index of the 64-bit word where the problem is (0-based).
    pub word: usize,
    /// What is wrong.
    pub reason: DecodeReason,
}

/// What is wrong at the word a [`DecodeError`] names (part of its message, not a separate cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeReason {
    /// The word is no valid instruction, or the message starting there is invalid.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// A flush marker is followed by set bits in the rest of its word.
    #[error("non-zero bits after the flush marker")]
    AfterFlush,
    /// The stream stops inside a message.
    #[error("the stream ends inside a message")]
    Truncated,
}

impl DecodeError {
    /// An error at word `word`.
    pub fn at(word: usize, reason: impl Into<DecodeReason>) -> Self {
        DecodeError { word, reason: reason.into() }
    }
}

/// Why a single message (a to-FPGA word or a from-FPGA message) is invalid. Cheap to create: the text is only
/// formatted when displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A to-FPGA word with its top bit set is a filler, not an instruction.
    #[error("0x{0:016x} is a filler word, not an instruction")]
    Filler(u64),
    /// The header names no instruction or message.
    #[error("unknown {kind} header {header}")]
    UnknownHeader {
        /// "instruction" or "message".
        kind: &'static str,
        /// The header value.
        header: u8,
    },
    /// Bits outside the payload are set (a receiver would ignore them; we reject them to round-trip exactly).
    #[error("{name}: bits outside the {bits}-bit payload are set")]
    OutsidePayload {
        /// The instruction or message.
        name: &'static str,
        /// Payload width.
        bits: u32,
    },
    /// Reserved bits inside the payload are set.
    #[error("{name}: reserved bits are set")]
    Reserved {
        /// The instruction or message.
        name: &'static str,
    },
    /// A field is out of range.
    #[error("{field} {value} is out of range ({range})")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The allowed range.
        range: &'static str,
    },
}

/// Characters of user input quoted in an error message at most ([`Excerpt`]).
pub const EXCERPT_CHARS: usize = 40;

/// User input quoted in an error message: like `{:?}`, but cut after [`EXCERPT_CHARS`] characters (saying how
/// long the whole is), so that a huge token does not become a huge error line.
#[derive(Clone, PartialEq, Eq)]
pub struct Excerpt(String);

impl Excerpt {
    /// Keeps at most [`EXCERPT_CHARS`] characters of `text` (and its length).
    pub fn new(text: &str) -> Excerpt {
        Excerpt::of_start(text, text.len())
    }

    /// The excerpt of a text of `total_bytes` bytes of which only the start, `start`, was kept.
    pub fn of_start(start: &str, total_bytes: usize) -> Excerpt {
        let end = start.char_indices().nth(EXCERPT_CHARS).map_or(start.len(), |(end, _)| end);
        if end == start.len() && total_bytes <= start.len() {
            Excerpt(format!("{start:?}"))
        } else {
            Excerpt(format!("{:?}... ({total_bytes} bytes)", &start[..end]))
        }
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_long_input() {
        assert_eq!(Excerpt::new("ab\"c").to_string(), r#""ab\"c""#);
        let long = "x".repeat(10_000);
        let cut = Excerpt::new(&long).to_string();
        assert_eq!(cut, format!("{:?}... (10000 bytes)", "x".repeat(EXCERPT_CHARS)));
        // Cut at a character boundary.
        let wide = "é".repeat(100);
        assert!(Excerpt::new(&wide).to_string().starts_with(&format!("\"{}\"", "é".repeat(EXCERPT_CHARS))));
    }
}
