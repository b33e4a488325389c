//! `bss2-firmware-sim`: an emulated BrainScaleS-2 system behind the `bss2-protocol` wire format.
//!
//! [`Emulator`] executes to-FPGA instruction streams like the FPGA and chip: system time at 125 MHz, the
//! omnibus memory map ([`memory`]), event routing through crossbar, PADI buses, synapse drivers and 6-bit
//! synapse labels ([`network`]), joined neuron circuits, event recording, CADC reads; the analog neurons are
//! current-based LIF membranes solved event by event ([`membrane`]) with parameters from CapMem values through
//! the transfer curves of a [`ChipProfile`] and a fixed pattern drawn from the chip seed ([`analog`]).
//! [`serve`] puts it behind any transport.

pub mod analog;
pub mod emulator;
pub mod membrane;
pub mod memory;
pub mod network;
pub mod profile;
pub mod serve;

pub use analog::{CircuitParameters, NominalInverse};
pub use emulator::{Emulator, ExecError};
pub use network::NeuronFaults;
pub use profile::ChipProfile;
