//! `bss2 data CONFIG [--split train|val|test] --out FILE.npy [--png DIR]`.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::data::Split;
use crate::io::npy::{write_npy_f64, write_npy_i64};

/// Write the input spike times a config's network receives, `[samples, inputs]` float64 (inf = no spike), and
/// `<FILE>_labels.npy` (int64); with --png, a picture of the first samples.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// An experiment config.
    config: PathBuf,
    /// The split to write.
    #[arg(long, value_enum, default_value = "train")]
    split: super::SplitArg,
    /// The .npy file of the input times.
    #[arg(long)]
    out: PathBuf,
    /// A folder for `<data set>_<split>_inputs.png`: the first samples, as images where the inputs form a square.
    #[arg(long, value_name = "DIR")]
    png: Option<PathBuf>,
    /// Samples in the picture.
    #[arg(long, default_value_t = 64)]
    count: usize,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let split: Split = self.split.into();
        let config = Config::load(&self.config)?;
        let seed = config.training.numpy_seed.unwrap_or(config.training.seed);
        let data = config.dataset.spec().build(split, seed).with_context(|| format!("building the {split} split"))?;
        let times = data.inputs.times();
        write_npy_f64(&self.out, &[data.len(), data.n_inputs], &times)?;
        let labels_path = labels_path(&self.out);
        let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
        write_npy_i64(&labels_path, &[labels.len()], &labels)?;
        let spiking = times.iter().filter(|t| t.is_finite()).count();
        println!(
            "{} {split}: {} samples of {} inputs ({:.1}% spike) in {}, labels in {}",
            data.name,
            data.len(),
            data.n_inputs,
            100.0 * spiking as f64 / times.len().max(1) as f64,
            self.out.display(),
            labels_path.display()
        );
        if let Some(dir) = &self.png {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let stem = dir.join(format!("{}_{split}_inputs", data.name));
            let shown = self.count.min(data.len());
            let title = format!("{} {split}: the first {shown} samples", data.name);
            crate::plot::input_grid(&stem, &title, &times[..shown * data.n_inputs], data.n_inputs, &data.labels)?;
            println!("picture in {}", stem.with_extension("png").display());
        }
        Ok(())
    }
}

/// `FILE_labels.npy` beside `FILE.npy`.
fn labels_path(out: &std::path::Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{stem}_labels.npy"))
}
