//! The exact event-based model: first-spike times and their gradients.

pub mod lambert_w;
pub mod neuron;
pub mod spike;
mod sweep;

pub use neuron::{NeuronParams, TauRatio};
pub mod arrival;
pub mod layer;
pub mod matrix;

pub use arrival::{Arrival, ArrivalGrad};
pub use layer::{LayerGrads, ModelError, NonFinite, layer_backward, layer_backward_with, layer_forward};
pub use matrix::Matrix;
pub mod integrator;
