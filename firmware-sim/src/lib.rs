//! `bss2-firmware-sim`: an emulated BrainScaleS-2 system behind the `bss2-protocol` wire format.
//!
//! [`Emulator`] executes to-FPGA instruction streams like the FPGA and chip: system time at 125 MHz, the
//! omnibus memory map ([`memory`]), event routing through crossbar, PADI buses, synapse drivers and 6-bit
//! synapse labels ([`network`]), joined neuron circuits, event recording, CADC reads; the analog neurons are
//! current-based LIF membranes solved event by event ([`membrane`]) with parameters from CapMem values through
//! the transfer curves of a [`ChipProfile`] and a fixed pattern drawn from the chip seed ([`analog`]).
//! What one program may produce is bounded ([`Limits`]). [`serve`] (feature `serve`, tokio) puts the emulator
//! behind any transport; [`faults`] plans the faults a server injects.

pub mod analog;
pub mod delays;
pub mod emulator;
pub mod faults;
pub mod limits;
pub mod membrane;
pub mod memory;
pub mod network;
pub mod pair;
pub mod profile;
#[cfg(feature = "serve")]
pub mod serve;

pub use analog::{CircuitParameters, NominalInverse};
pub use emulator::{Emulator, ExecError};
pub use limits::{Exceeded, Limits};
pub use network::NeuronFaults;
pub use profile::ChipProfile;
