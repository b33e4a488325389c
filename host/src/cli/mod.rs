//! The `bss2` command line: [`main`] parses the arguments and runs one subcommand (one module each). Errors are
//! `anyhow` chains here and only here; the library's are typed.

mod calibrate_cmd;
mod continue_cmd;
mod convert_cmd;
mod data_cmd;
mod emulator_cmd;
mod eval_cmd;
mod inference_cmd;
mod layer_cmd;
mod nir_cmd;
mod protocol_cmd;
mod sweep_cmd;
mod train_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::substrate::{ChipLocation, Substrate};
use anyhow::Context;
use bss2_protocol::transport::Endpoint;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Train spiking networks with exact event-based gradients, in simulation and on BrainScaleS-2.
#[derive(Debug, Parser)]
#[command(name = "bss2", version, about)]
struct Cli {
    /// More log output (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// The folder of the MNIST files (the four IDX files, gzip or not, or torchvision's MNIST/raw/ in it);
    /// default: $BSS2_MNIST_DIR, else ../data/mnist as the reference.
    #[arg(long, global = true, value_name = "DIR")]
    mnist_dir: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a network from a config.
    Train(train_cmd::Cmd),
    /// Continue a run from its latest resume point or a snapshot.
    Continue(continue_cmd::Cmd),
    /// Sweeps of many trainings (the reference's sweep configs), locally or on Slurm: run, continue, status,
    /// collect, plot.
    Sweep(sweep_cmd::Cmd),
    /// Evaluate a saved network on one split and write its output times.
    Inference(inference_cmd::Cmd),
    /// Write a results folder of the reference implementation (a pickled PyTorch network) as one of ours.
    Convert(convert_cmd::Cmd),
    /// Write a saved network as a NIR graph (HDF5).
    Export(nir_cmd::ExportCmd),
    /// Read a NIR graph (HDF5) as a network and a config.
    Import(nir_cmd::ImportCmd),
    /// Plot a run: curves, classification, spike times, weights, delays, chip measurements.
    Eval(eval_cmd::Cmd),
    /// Write the input spike times (and labels) a config's network receives, as .npy, with a picture.
    Data(data_cmd::Cmd),
    /// Evaluate single layers given as JSON (the reference's layer-cases format).
    Layer(layer_cmd::Cmd),
    /// Measure a chip's neuron circuits and fit their CapMem values to targets.
    Calibrate(calibrate_cmd::Cmd),
    /// Decode and encode protocol word streams.
    Protocol(protocol_cmd::Cmd),
    /// The chip emulator: serve it over TCP, UDP or a pseudo-terminal, or inspect its circuits.
    Emulator(emulator_cmd::Cmd),
}

/// The `bss2` binary: parses the arguments, runs the command, and turns errors into a message (with every
/// cause) and exit status 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    // The main thread works in rayon's pool instead of handing every parallel step to a worker and sleeping
    // until it is done: with one thread (each run of a local sweep) the steps then run inline, without two
    // threads waking each other thousands of times per epoch. The pool's size is still RAYON_NUM_THREADS or
    // the cores. Fails only if a pool exists already, which then serves as it is.
    let _ = rayon::ThreadPoolBuilder::new().use_current_thread().build_global();
    if let Some(dir) = cli.mnist_dir {
        crate::data::mnist::set_data_dir(dir);
    }
    let result = match cli.command {
        Command::Train(cmd) => cmd.run(),
        Command::Continue(cmd) => cmd.run(),
        Command::Sweep(cmd) => cmd.run(),
        Command::Inference(cmd) => cmd.run(),
        Command::Convert(cmd) => cmd.run(),
        Command::Export(cmd) => cmd.run(),
        Command::Import(cmd) => cmd.run(),
        Command::Eval(cmd) => cmd.run(),
        Command::Data(cmd) => cmd.run(),
        Command::Layer(cmd) => cmd.run(),
        Command::Protocol(cmd) => cmd.run(),
        Command::Calibrate(cmd) => cmd.run(),
        Command::Emulator(cmd) => cmd.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A data split on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SplitArg {
    Train,
    Val,
    Test,
}

impl From<SplitArg> for crate::data::Split {
    fn from(split: SplitArg) -> Self {
        match split {
            SplitArg::Train => crate::data::Split::Train,
            SplitArg::Val => crate::data::Split::Validation,
            SplitArg::Test => crate::data::Split::Test,
        }
    }
}

/// The environment variable naming the chip endpoint a config's `substrate: hx` means.
pub const ENDPOINT_VARIABLE: &str = "BSS2_ENDPOINT";

/// The endpoint the reference's substrate `hx` stands for, read from [`ENDPOINT_VARIABLE`] when `substrate` is
/// `hx` (None otherwise, or when the variable is unset or empty: opening the chip then says what to do).
fn hx_endpoint(substrate: &Substrate) -> anyhow::Result<Option<Endpoint>> {
    if !matches!(substrate, Substrate::Chip(ChipLocation::Hx { .. })) {
        return Ok(None);
    }
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(text) if !text.trim().is_empty() => {
            let endpoint =
                Endpoint::parse(text.trim()).with_context(|| format!("{ENDPOINT_VARIABLE} (for {substrate})"))?;
            Ok(Some(endpoint))
        }
        _ => Ok(None),
    }
}

/// `--substrate`: parsed by the library's grammar; clap shows only this message, so it holds the causes too.
fn parse_substrate(text: &str) -> Result<Substrate, String> {
    text.parse().map_err(|e: crate::substrate::SubstrateError| crate::text::chain(&e))
}

/// `YYYY-mm-dd_HH-MM-SS` in UTC, for default results folders.
fn timestamp() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d_%H-%M-%S").to_string()
}
