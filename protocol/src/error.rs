//! Decoding errors: what is wrong, and at which 64-bit word of the stream.

/// A word stream that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("word {word}: {reason}")]
pub struct DecodeError {
    /// Index of the 64-bit word where the problem is (0-based).
    pub word: usize,
    /// What is wrong.
    pub reason: String,
}

impl DecodeError {
    /// An error at word `word`.
    pub fn at(word: usize, reason: impl Into<String>) -> Self {
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
