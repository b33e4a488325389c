//! Training: losses, optimisers and schedules, weight bumping, the epoch loop, checkpoints.

pub mod bumping;
pub mod checkpoint;
pub mod chip_run;
pub mod evaluate;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod run_dir;
pub mod runner;
pub mod session;
pub mod writer;
