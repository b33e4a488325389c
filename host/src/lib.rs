#![warn(missing_docs)]
//! bss2-host: the exact event-based model of leaky integrate-and-fire neurons with time-to-first-spike coding,
//! reference-compatible training in simulation, data sets, and the `bss2` command line.

pub mod chip;
pub mod cli;
pub mod config;
pub mod data;
pub mod eval;
pub mod forward;
pub mod inference;
pub mod interop;
pub mod io;
pub mod layer_cases;
pub mod model;
pub mod network;
pub mod plot;
pub mod rng;
pub mod substrate;
pub mod sweep;
pub mod tensors;
pub mod text;
pub mod train;
