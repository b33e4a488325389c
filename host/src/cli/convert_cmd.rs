//! `bss2 convert DIR --out OUT [--epoch N]`.

use std::path::PathBuf;

use crate::interop::ReferenceRun;
use crate::train::run_dir::RunDir;
use anyhow::Context;

/// Write a results folder of the reference implementation (config.yaml, epoch_<N>/<dataset>_network.pt) as one
/// of this tool's: config.yaml and epoch_<N>/network.safetensors for every saved epoch (or only --epoch).
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// The reference's results folder.
    dir: PathBuf,
    /// The folder to write (must not hold a run yet).
    #[arg(long)]
    out: PathBuf,
    /// Convert only this epoch (default: every saved one).
    #[arg(long)]
    epoch: Option<usize>,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let reference = ReferenceRun::detect(&self.dir).with_context(|| {
            format!(
                "{}: not a results folder of the reference (config.yaml and epoch_<N>/<dataset>_network.pt)",
                self.dir.display()
            )
        })?;
        let out = RunDir::new(&self.out);
        if let Some(found) = crate::train::runner::existing_run_file(&out) {
            anyhow::bail!(
                "{} already holds a run ({} exists); choose another --out",
                self.out.display(),
                found.display()
            );
        }
        let epochs = match self.epoch {
            Some(e) => vec![e],
            None => reference.saved_epochs(),
        };
        let mut config_yaml = None;
        for &epoch in &epochs {
            let read = reference.load(Some(epoch)).with_context(|| format!("converting {}", self.dir.display()))?;
            let bytes = read.network.to_tensors().to_bytes()?;
            out.write(&out.network(epoch), &bytes)?;
            for layer in &read.expanded_sharing {
                tracing::warn!(
                    "epoch {epoch}, layer {layer}: the reference's tiled presynaptic delay sharing is written as \
                     one delay per input (presyn_sharing_factor 1), which computes the same network"
                );
            }
            config_yaml = Some(read.config.to_yaml());
        }
        // The config of the latest epoch converted (the effective one the reference saved with the network).
        if let Some(yaml) = config_yaml {
            out.write(&out.config(), yaml.as_bytes())?;
        }
        println!("converted epochs {:?} of {} into {}", epochs, self.dir.display(), self.out.display());
        Ok(())
    }
}
