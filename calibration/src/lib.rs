//! `bss2-calibration`: measures BrainScaleS-2 neuron circuits with protocol programs (the same on the emulator
//! and on a chip) and fits their CapMem values to target time constants, potentials and synaptic gains.

pub mod calibrate;
pub mod delays;
pub mod file;
pub mod fit;
pub mod measure;
pub mod parameter;
pub mod values;

pub use measure::CIRCUITS;
pub use parameter::{Parameter, PerParameter, Tolerance};
pub use values::CircuitValues;
