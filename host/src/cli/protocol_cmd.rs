//! `bss2 protocol decode|encode --direction to-fpga|from-fpga`: between 64-bit hex words and the text form.
//! Both stream: memory stays bounded however long the input is.

use std::io::{BufRead, Read, Write};

use anyhow::{Context, bail};
use bss2_protocol::stream::{FromFpgaDecoder, FromFpgaEncoder, ToFpgaDecoder};
use bss2_protocol::{Item, stream, text};

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
    /// Read whitespace-separated 64-bit hex words (16 hex digits each, optionally 0x-prefixed) on stdin, print
    /// one message per line.
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

/// Bytes read from stdin at once.
const READ_BYTES: usize = 1 << 16;

/// Longest line `encode` takes (a message is a few dozen characters).
const MAX_LINE_BYTES: usize = 4096;

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let result = match self.action {
            Action::Decode { direction } => decode(direction, &mut out),
            Action::Encode { direction } => encode(direction, &mut out),
        }
        .and_then(|()| out.flush().context("writing to stdout"));
        // A reader that stops early (`| head`) is not an error.
        let broken_pipe = |e: &anyhow::Error| {
            e.chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
        };
        match result {
            Err(e) if broken_pipe(&e) => Ok(()),
            other => other,
        }
    }
}

/// Decodes words as they arrive, printing each message as soon as it is complete.
enum Decoder {
    ToFpga(ToFpgaDecoder, Vec<Item<bss2_protocol::ToFpga>>),
    FromFpga(FromFpgaDecoder, Vec<Item<bss2_protocol::FromFpga>>),
}

impl Decoder {
    fn new(direction: Direction) -> Decoder {
        match direction {
            Direction::ToFpga => Decoder::ToFpga(ToFpgaDecoder::new(), Vec::new()),
            Direction::FromFpga => Decoder::FromFpga(FromFpgaDecoder::new(), Vec::new()),
        }
    }

    fn push(&mut self, words: &[u64], out: &mut impl Write) -> anyhow::Result<()> {
        match self {
            Decoder::ToFpga(decoder, items) => {
                decoder.push_into(words, items)?;
                for item in items.drain(..) {
                    writeln!(out, "{}", text::format_to_fpga(&item)).context("writing to stdout")?;
                }
            }
            Decoder::FromFpga(decoder, items) => {
                decoder.push_into(words, items)?;
                for item in items.drain(..) {
                    writeln!(out, "{}", text::format_from_fpga(&item)).context("writing to stdout")?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        if let Decoder::FromFpga(decoder, _) = self {
            decoder.finish()?;
        }
        Ok(())
    }
}

fn decode(direction: Direction, out: &mut impl Write) -> anyhow::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut buffer = vec![0u8; READ_BYTES];
    let mut parser = text::HexWords::new();
    let mut decoder = Decoder::new(direction);
    let mut words = Vec::new();
    loop {
        let n = match stdin.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading stdin"),
        };
        parser.push(&buffer[..n], &mut words)?;
        decoder.push(&words, out)?;
        words.clear();
        // What this input completed goes out now, not only when the buffer is full (a pipe may pause).
        out.flush().context("writing to stdout")?;
    }
    parser.finish(&mut words)?;
    decoder.push(&words, out)?;
    decoder.finish()
}

fn encode(direction: Direction, out: &mut impl Write) -> anyhow::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    let mut encoder = FromFpgaEncoder::new();
    for number in 1.. {
        line.clear();
        let n = (&mut stdin).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line).context("reading stdin")?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE_BYTES {
            bail!("line {number}: longer than {MAX_LINE_BYTES} bytes");
        }
        let text = std::str::from_utf8(&line).with_context(|| format!("line {number}: not UTF-8 text"))?;
        let text = text.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let at = || format!("line {number}");
        let words = match direction {
            Direction::ToFpga => stream::encode_to_fpga(&[text::parse_to_fpga(text).with_context(at)?]),
            Direction::FromFpga => {
                encoder.item(&text::parse_from_fpga(text).with_context(at)?);
                encoder.take_words()
            }
        };
        for w in words {
            writeln!(out, "{w:016x}").context("writing to stdout")?;
        }
    }
    if let Direction::FromFpga = direction {
        for w in encoder.finish() {
            writeln!(out, "{w:016x}").context("writing to stdout")?;
        }
    }
    Ok(())
}
