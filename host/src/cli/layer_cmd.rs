//! `bss2 layer FILE.json`.

use std::path::PathBuf;

use anyhow::Context;

/// Evaluate single layers (first-spike times and exact gradients) and print the results as JSON.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    /// Cases in the format of the reference's layer-cases.json.
    file: PathBuf,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(&self.file).with_context(|| format!("reading {}", self.file.display()))?;
        let document: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", self.file.display()))?;
        let result = crate::layer_cases::evaluate_cases(&document).with_context(|| self.file.display().to_string())?;
        println!("{}", serde_json::to_string(&result)?);
        Ok(())
    }
}
