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
