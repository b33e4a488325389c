//! `bss2 inference DIR [--epoch N] [--split train|val|test]`.

use std::path::PathBuf;

use anyhow::Context;
use bss2_host::data::Split;
use bss2_host::inference;
use bss2_host::train::run_dir::RunDir;

/// Which data split to evaluate.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SplitArg {
    Train,
    Val,
    Test,
}

/// Evaluate a saved network and write `<split>_output_times.npy` and `<split>_labels.npy`.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// A results folder with config.yaml and epoch_<N>/network.safetensors.
    dir: PathBuf,
    /// The epoch to load (default: the latest saved).
    #[arg(long)]
    epoch: Option<usize>,
    /// The split to evaluate.
    #[arg(long, value_enum, default_value = "test")]
    split: SplitArg,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let split = match self.split {
            SplitArg::Train => Split::Train,
            SplitArg::Val => Split::Validation,
            SplitArg::Test => Split::Test,
        };
        let result = inference::run(&RunDir::new(&self.dir), self.epoch, split)
            .with_context(|| format!("inference on {}", self.dir.display()))?;
        println!(
            "{} accuracy {:.2}% ({}/{}), loss {:.6}, epoch {}; output times in {}",
            inference::split_label(split),
            100.0 * result.accuracy,
            result.correct,
            result.samples,
            result.loss,
            result.epoch,
            result.outputs_path.display()
        );
        Ok(())
    }
}
