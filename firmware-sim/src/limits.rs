//! What one program may make the emulator produce and hold. A real FPGA's buffers are finite too; here the
//! limits keep one program (e.g. an MADC recording "until stopped" over a long wait, which would be billions
//! of samples) from taking the server's memory and time. They are far above what normal programs need: the
//! main job and the calibration need at most 0.7 M response words, 1.3 M events and 9 400 sparse memory words.
//!
//! A program that exceeds a limit is stopped at the instruction where it happened and answered like an FPGA
//! answers a stuck program: with a timeout notification naming that instruction, then the halt
//! ([`ExecError::answer`](crate::ExecError::answer)). What it did up to there stays done; its recorded events
//! are dropped and an MADC recording it left running is stopped.

/// Limits of one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From-FPGA words of one response at most.
    pub response_words: usize,
    /// MADC samples taken plus neuron spikes fired (recorded or not) per program at most: bounds the time
    /// one program can keep the emulator busy.
    pub events: u64,
    /// Words stored at addresses outside the chip's configuration blocks at most (the blocks themselves are
    /// bounded by their size; see the `memory` module).
    pub unmapped_words: usize,
}

impl Default for Limits {
    /// 2 M response words (16 MB), 16 M events, 64 Ki unmapped words.
    fn default() -> Self {
        Limits { response_words: 1 << 21, events: 1 << 24, unmapped_words: 1 << 16 }
    }
}

/// Which limit a program exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    /// The response grew too long.
    #[error("its response would exceed {0} words")]
    ResponseWords(usize),
    /// Too many MADC samples and neuron spikes.
    #[error("it would take more than {0} MADC samples and neuron spikes")]
    Events(u64),
    /// The sparse memory map is full.
    #[error("it writes to new addresses outside the chip's configuration blocks, where {0} words are stored already")]
    UnmappedWords(usize),
}
