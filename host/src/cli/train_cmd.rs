//! `bss2 train CONFIG [--output DIR] [--epochs N] [--seed S]`.

use std::path::PathBuf;

use anyhow::Context;
use bss2_host::config::{Config, Overrides};
use bss2_host::train::run_dir::RunDir;
use bss2_host::train::runner;

/// Train a network from a config (reference YAML schema).
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// The experiment config (YAML).
    config: PathBuf,
    /// Results folder (default: results/<config stem>_<timestamp>).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Train this many epochs instead of the config's epoch_number.
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the run (replaces torch_seed and numpy_seed).
    #[arg(long)]
    seed: Option<u64>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let config = Config::load(&self.config)?.with_overrides(Overrides { epochs: self.epochs, seed: self.seed })?;
        let output = self.output.unwrap_or_else(|| {
            let stem = self.config.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned());
            PathBuf::from("results").join(format!("{stem}_{}", super::timestamp()))
        });
        let dir = RunDir::new(&output);
        let summary = runner::train(config, &dir).with_context(|| format!("training into {}", output.display()))?;
        println!(
            "test accuracy {:.2}% (loss {:.6}) after {} epochs in {:.1} s; results in {}",
            100.0 * summary.test_accuracy,
            summary.test_loss,
            summary.epochs,
            summary.seconds,
            output.display()
        );
        Ok(())
    }
}
