//! `bss2 emulator serve`: an emulated chip behind TCP, UDP or a pseudo-terminal, for clients that connect to
//! an endpoint (`--substrate tcp://...` etc.) instead of embedding the emulator; `bss2 emulator inspect`: the
//! true parameters of an emulated chip's circuits.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bss2_firmware_sim::serve::{ServerFaults, serve};
use bss2_firmware_sim::{ChipProfile, Emulator};

/// Work with the chip emulator.
#[derive(Debug, clap::Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: EmulatorCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EmulatorCommand {
    /// Serve an emulated chip; prints the endpoint to connect to (`listening on ENDPOINT`), then serves until
    /// interrupted (Ctrl-C).
    Serve(ServeArgs),
    /// Print the true parameters of every neuron circuit (CSV, one row per circuit) with a calibration's CapMem
    /// values, or the nominal ones of the reference's chip model (tau 6 us, threshold 2.6, 30 LSB per weight unit);
    /// with --delays the true delay of every delay pair instead (CSV `pair,counts,delay_us`, `none` if it never
    /// fires).
    Inspect(InspectArgs),
}

/// Options of `bss2 emulator inspect`.
#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Seed of the chip's fixed-pattern mismatch.
    #[arg(long, default_value_t = 1)]
    chip_seed: u64,
    /// Chip profile: `default`, `ideal` or a YAML file.
    #[arg(long, default_value = "default")]
    profile: String,
    /// CapMem values from a calibration of this chip instead of the nominal ones.
    #[arg(long)]
    calibration: Option<std::path::PathBuf>,
    /// Print the delay pairs' true (noise-free) delays instead of the circuits' parameters. Without a calibrated
    /// delay section: the reference's nominal pair values, each threshold at the midpoint of the pair's true rest
    /// and rebound peak.
    #[arg(long)]
    delays: bool,
    /// With --delays: the refractory counts to print each pair's delay for.
    #[arg(long, value_delimiter = ',', default_value = "50,100,150,200,250", requires = "delays")]
    counts: Vec<u8>,
}

impl InspectArgs {
    fn run(self) -> anyhow::Result<()> {
        let profile = load_profile(&self.profile)?;
        let file = match &self.calibration {
            None => None,
            Some(path) => {
                let file = bss2_calibration::file::CalibrationFile::load(path)?;
                file.check_chip(path, &crate::chip::targets::emulator_identity(&profile, self.chip_seed))?;
                Some(file)
            }
        };
        let csv = if self.delays {
            crate::chip::inspect_delays::inspect_delays_csv(&profile, self.chip_seed, file.as_ref(), &self.counts)
        } else {
            let values = match file {
                None => crate::chip::inspect::nominal_circuit_values(&profile),
                Some(file) => file.values,
            };
            crate::chip::inspect::inspect_csv(&profile, self.chip_seed, &values)
        };
        match std::io::stdout().lock().write_all(csv.as_bytes()) {
            // A reader that stops early (`| head`) is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing to stdout"),
        }
    }
}

/// Options of `bss2 emulator serve`.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where to listen: tcp://ADDR:PORT, udp://ADDR:PORT (port 0: any free port) or pty (a new
    /// pseudo-terminal; clients open the printed serial:// endpoint).
    #[arg(long)]
    listen: String,
    /// Seed of the chip's fixed-pattern mismatch (and of its noise).
    #[arg(long, default_value_t = 1)]
    chip_seed: u64,
    /// Chip profile: `default`, `ideal` or a YAML file.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Injected faults, e.g. drop=0.05,corrupt=0.01,duplicate=0.01,stall=0.001,silent=0.02,spontaneous=0.01
    /// (probabilities; silent and spontaneous are fractions of the 512 neuron circuits).
    #[arg(long, default_value = "none", value_parser = ServerFaults::parse)]
    faults: ServerFaults,
    /// Seed of the injected link faults and stalls.
    #[arg(long, default_value_t = 1)]
    fault_seed: u64,
}

impl Cmd {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            EmulatorCommand::Serve(args) => args.run(),
            EmulatorCommand::Inspect(args) => args.run(),
        }
    }
}

/// A built-in profile by name, or a YAML file.
fn load_profile(name: &str) -> anyhow::Result<ChipProfile> {
    match ChipProfile::builtin(name) {
        Some(profile) => Ok(profile),
        None => ChipProfile::load(Path::new(name)).with_context(|| {
            format!(
                "--profile {} is neither a built-in profile (default, ideal) nor a usable file",
                bss2_protocol::Excerpt::new(name)
            )
        }),
    }
}

impl ServeArgs {
    fn run(self) -> anyhow::Result<()> {
        let profile = load_profile(&self.profile)?;
        tracing::info!("emulated chip: profile {}, chip seed {}", profile.name, self.chip_seed);
        let emulator = Arc::new(Mutex::new(Emulator::new(profile, self.chip_seed)));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("bss2-serve")
            .build()
            .context("starting the async runtime")?;
        // Serves until the process is interrupted (the default SIGINT handling ends it).
        runtime.block_on(serve(&self.listen, emulator, self.faults, self.fault_seed, |endpoint| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {endpoint}");
            let _ = out.flush();
        }))?;
        Ok(())
    }
}
