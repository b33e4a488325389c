#![warn(missing_docs)]
//! bss2-protocol: the BrainScaleS-2 host <-> FPGA protocol, bit-exact (`shared/spec/bss2-platform.md` §1-§2).
//!
//! The core has no I/O: typed coordinates, the to-FPGA and from-FPGA instruction sets and their 64-bit word
//! streams, chip configuration containers as omnibus words, programs with tickets and response decoding, and
//! the link layer (framing and a sans-I/O ARQ state machine). Nothing here panics on external input: every
//! decoder returns a typed error naming what is wrong and where.

pub mod containers;
pub mod coords;
pub mod delay_pair;
pub mod error;
pub mod from_fpga;
#[doc(hidden)]
pub mod fuzzing;
pub mod label;
pub mod link;
pub mod program;
pub mod stream;
pub mod text;
pub mod to_fpga;
#[cfg(feature = "io")]
pub mod transport;

pub use error::{DecodeError, DecodeReason, Excerpt, MessageError};
pub use from_fpga::{FromFpga, MadcSample, Pack, SpikeEvent};
pub use label::SpikeLabel;
pub use stream::{Item, decode_from_fpga, decode_to_fpga, encode_from_fpga, encode_to_fpga};
pub use to_fpga::{Loopback, ToFpga};
