//! `bss2 continue DIR [--from N] [--epochs TOTAL]`.

use std::path::PathBuf;

use anyhow::Context;

use super::train_cmd::RunChipArgs;
use crate::config::{Config, Overrides};
use crate::train::run_dir::RunDir;
use crate::train::runner;

/// Continue a run: from its latest resume point, or from the snapshot of epoch N.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// The run's results folder.
    dir: PathBuf,
    /// Resume from epoch_<N> instead of the latest resume point.
    #[arg(long)]
    from: Option<usize>,
    /// Train until this many epochs in total (default: the config's epoch_number).
    #[arg(long)]
    epochs: Option<usize>,
    /// A network trained in simulation can be fine-tuned on a chip with --substrate (recorded in config.yaml).
    #[command(flatten)]
    chip: RunChipArgs,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let dir = RunDir::new(&self.dir);
        // The substrate the run goes on with, for its chip options (a config that cannot be read is reported by
        // `resume`).
        let substrate = match &self.chip.substrate {
            Some(s) => s.clone(),
            None => Config::load(&dir.config()).map(|c| c.training.substrate).unwrap_or_default(),
        };
        let summary = runner::resume(
            &dir,
            self.from,
            Overrides { epochs: self.epochs, ..self.chip.overrides() },
            &self.chip.options(&substrate)?,
        )
        .with_context(|| format!("continuing {}", self.dir.display()))?;
        println!(
            "test accuracy {:.2}% (loss {:.6}) after {} epochs; results in {}",
            100.0 * summary.test_accuracy,
            summary.test_loss,
            summary.epochs,
            self.dir.display()
        );
        Ok(())
    }
}
