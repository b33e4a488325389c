//! `bss2 export DIR [--epoch N] --nir FILE.nir [--time-scale S]` and `bss2 import FILE.nir --out DIR
//! [--config BASE.yaml]`.

use std::path::PathBuf;

use crate::config::Config;
use crate::inference::load_saved;
use crate::interop::nir::{Graph, from_graph, to_graph};
use crate::io::write_atomic;
use crate::train::run_dir::RunDir;
use anyhow::Context;

/// Write a saved network (ours or a reference results folder) as a NIR graph (HDF5).
#[derive(Debug, clap::Args)]
pub struct ExportCmd {
    /// A results folder.
    dir: PathBuf,
    /// The epoch to export (default: the latest saved).
    #[arg(long)]
    epoch: Option<usize>,
    /// The NIR file to write.
    #[arg(long, value_name = "FILE.nir")]
    nir: PathBuf,
    /// Seconds per model time unit written into the graph's times (default 1: model units, exact on import;
    /// 6e-6 writes seconds at the BrainScaleS-2 scale).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
}

impl ExportCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let (_, epoch, network) = load_saved(&RunDir::new(&self.dir), self.epoch)
            .with_context(|| format!("reading {}", self.dir.display()))?;
        let graph = to_graph(&network, self.time_scale).with_context(|| format!("exporting {}", self.dir.display()))?;
        let bytes = graph.to_hdf5().context("encoding the NIR graph")?;
        write_atomic(&self.nir, &bytes)?;
        println!("epoch {epoch}: {} NIR nodes written to {}", graph.nodes.len(), self.nir.display());
        Ok(())
    }
}

/// Read a NIR graph (HDF5) as a network and a config: DIR/config.yaml and DIR/epoch_0/network.safetensors.
#[derive(Debug, clap::Args)]
pub struct ImportCmd {
    /// The NIR file.
    file: PathBuf,
    /// The results folder to write (must not hold a run).
    #[arg(long)]
    out: PathBuf,
    /// The config whose data set and training settings the network gets (default: configs/yin_yang_H30_W.yaml).
    #[arg(long, value_name = "BASE.yaml")]
    config: Option<PathBuf>,
}

/// The base config when none is given.
const DEFAULT_BASE: &str = include_str!("../../../configs/yin_yang_H30_W.yaml");

impl ImportCmd {
    pub fn run(self) -> anyhow::Result<()> {
        let base = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::parse_str(DEFAULT_BASE).context("the built-in base config")?,
        };
        let out = RunDir::new(&self.out);
        if let Some(found) = crate::train::runner::existing_run_file(&out) {
            anyhow::bail!(
                "{} already holds a run ({} exists); choose another --out",
                self.out.display(),
                found.display()
            );
        }
        let bytes = std::fs::read(&self.file).with_context(|| format!("cannot read {}", self.file.display()))?;
        let context = || format!("importing {}", self.file.display());
        let graph = Graph::from_hdf5(bytes).with_context(context)?;
        let (config, network) = from_graph(&graph, &base).with_context(context)?;
        out.write(&out.network(0), &network.to_tensors().to_bytes()?)?;
        out.write(&out.config(), config.to_yaml().as_bytes())?;
        println!(
            "{} layers imported into {} (epoch_0/network.safetensors, config.yaml)",
            network.layers.len(),
            self.out.display()
        );
        Ok(())
    }
}
