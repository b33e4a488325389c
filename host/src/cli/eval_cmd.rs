//! `bss2 eval DIR [--epoch N] [--substrate S] [--record-neuron K]`.

use std::path::PathBuf;

use crate::eval;
use crate::forward::Placement;
use crate::substrate::Substrate;
use crate::train::run_dir::RunDir;
use anyhow::Context;

use super::inference_cmd::ChipArgs;

/// Plot a run: curves, classification, spike times, weights and delays (and chip measurements) as PNG with
/// their numbers, into DIR/epoch_<N>/plots/.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// A results folder with config.yaml, metrics.csv and epoch_<N>/network.safetensors.
    dir: PathBuf,
    /// The epoch to plot (default: the latest saved).
    #[arg(long)]
    epoch: Option<usize>,
    /// Run the network on a chip too (emulator, emulator:ideal, tcp://HOST:PORT, ...; default: for a run
    /// trained on a chip, that chip with the config's chip seed and the run's calibration.json).
    #[arg(long, value_parser = super::parse_substrate)]
    substrate: Option<Substrate>,
    /// On a chip: record the membrane of this logical neuron (numbered layer by layer from 0) with the MADC for
    /// the first test samples.
    #[arg(long)]
    record_neuron: Option<usize>,
    #[command(flatten)]
    chip: ChipArgs,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let dir = RunDir::new(&self.dir);
        let placement = self.chip.placement(&dir, self.substrate)?;
        if matches!(placement, Placement::Simulation) {
            anyhow::ensure!(self.record_neuron.is_none(), "--record-neuron needs a chip (--substrate)");
        }
        let report = eval::run(&dir, self.epoch, placement, self.record_neuron)
            .with_context(|| format!("eval of {}", self.dir.display()))?;
        if let Some(stats) = report.chip {
            println!("chip: {stats}");
        }
        println!(
            "epoch {}: train accuracy {:.2}%, test accuracy {:.2}%; {} plots in {}",
            report.epoch,
            100.0 * report.train_accuracy,
            100.0 * report.test_accuracy,
            report.plots.len(),
            report.folder.display()
        );
        Ok(())
    }
}
