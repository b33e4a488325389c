//! The exact event-based model: first-spike times and their gradients.

pub mod lambert_w;
pub mod neuron;
pub mod spike;

pub use neuron::{NeuronParams, TauRatio};
