//! The chip backend: a network's forward pass on BrainScaleS-2 (emulated or served) through the protocol.
//!
//! [`layout`] says where logical neurons and sources sit, [`mapping`] places a network and quantises its weights,
//! [`config`] turns both into omnibus writes (with the profile's nominal CapMem values unless a calibration gives
//! others), [`backend`] runs one program per batch with retries and cuts the recording into first-spike times.

pub mod backend;
pub mod calibrating;
pub mod config;
pub mod inspect;
pub mod layout;
pub mod mapping;
pub mod targets;

/// `e` followed by its causes (the protocol's errors keep their causes as sources), for the `String`
/// variants of [`ChipError`] until they hold their source.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

pub use backend::{ChipBackend, ChipForward, ChipSettings, ChipStats, MembraneTrace, Substrate};

/// Why a network cannot run on the chip, or a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    /// The network needs something the chip path does not offer.
    #[error("not supported on the chip: {0}")]
    Unsupported(String),
    /// The network is larger than the chip.
    #[error("the network does not fit on the chip: {0}")]
    Capacity(String),
    /// The substrate string is not understood.
    #[error("substrate {0}")]
    Substrate(String),
    /// Connecting or talking to the chip failed.
    #[error("{0}")]
    Connection(String),
    /// The recording shows a stalled run.
    #[error("the FPGA stalled: {0}")]
    Stall(String),
    /// A calibration file cannot be used for this chip or network.
    #[error("{0}")]
    Calibration(String),
    /// Every attempt failed.
    #[error("the chip failed {attempts} times in a row; last error: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: usize,
        /// The last failure.
        last: Box<ChipError>,
    },
}
