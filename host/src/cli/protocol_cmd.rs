//! `bss2 protocol decode|encode --direction to-fpga|from-fpga`: between 64-bit hex words and the text form.

use std::io::{BufRead, Read, Write};

use anyhow::{Context, bail};
use bss2_protocol::{stream, text};

/// Which way the words travel.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Direction {
    ToFpga,
    FromFpga,
}

/// Translate between the protocol's 64-bit words and one message per line (see the README for the text form).
#[derive(Debug, clap::Args)]
pub struct Cmd {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Read whitespace-separated 64-bit hex words on stdin, print one message per line.
    Decode {
        /// The stream's direction.
        #[arg(long, value_enum)]
        direction: Direction,
    },
    /// Read one message per line on stdin, print the 64-bit words in hex.
    Encode {
        /// The stream's direction.
        #[arg(long, value_enum)]
        direction: Direction,
    },
}

fn parse_words(input: &str) -> anyhow::Result<Vec<u64>> {
    input
        .split_whitespace()
        .enumerate()
        .map(|(i, token)| {
            let hex = token.strip_prefix("0x").or_else(|| token.strip_prefix("0X")).unwrap_or(token).replace('_', "");
            if hex.is_empty() || hex.len() > 16 {
                bail!("word {i}: {token:?} is not a 64-bit hex word");
            }
            u64::from_str_radix(&hex, 16).with_context(|| format!("word {i}: {token:?} is not a 64-bit hex word"))
        })
        .collect()
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        match self.action {
            Action::Decode { direction } => {
                let mut input = String::new();
                std::io::stdin().read_to_string(&mut input).context("reading stdin")?;
                let words = parse_words(&input)?;
                let lines: Vec<String> = match direction {
                    Direction::ToFpga => stream::decode_to_fpga(&words)?.iter().map(text::format_to_fpga).collect(),
                    Direction::FromFpga => {
                        stream::decode_from_fpga(&words)?.iter().map(text::format_from_fpga).collect()
                    }
                };
                for line in lines {
                    writeln!(out, "{line}")?;
                }
            }
            Action::Encode { direction } => {
                let mut words = Vec::new();
                let mut from_items = Vec::new();
                for (number, line) in std::io::stdin().lock().lines().enumerate() {
                    let line = line.context("reading stdin")?;
                    let line = line.split('#').next().unwrap_or("").trim();
                    if line.is_empty() {
                        continue;
                    }
                    let at = |reason: String| anyhow::anyhow!("line {}: {reason}", number + 1);
                    match direction {
                        Direction::ToFpga => {
                            words.extend(stream::encode_to_fpga(&[text::parse_to_fpga(line).map_err(at)?]))
                        }
                        Direction::FromFpga => from_items.push(text::parse_from_fpga(line).map_err(at)?),
                    }
                }
                if let Direction::FromFpga = direction {
                    words = stream::encode_from_fpga(&from_items);
                }
                for w in words {
                    writeln!(out, "{w:016x}")?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }
}
