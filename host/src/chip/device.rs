//! The chip a backend or a calibration talks to (the embedded emulator or an endpoint), and the one function
//! that connects to it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bss2_firmware_sim::profile::TransferCurves;
use bss2_firmware_sim::serve::{InProcessServer, ServerFaults};
use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::transport::{BlockingConnection, Endpoint, Link};

use super::ChipError;
use super::targets::emulator_identity;
use crate::substrate::{ChipLocation, ProfileSource};

/// A chip, ready to be connected to.
#[derive(Debug)]
pub enum Chip {
    /// The embedded emulator: one instance, served in-process.
    Embedded(Box<EmbeddedChip>),
    /// A served or real chip.
    Endpoint(Endpoint),
}

/// An emulator instance in this process and its server (which applies the faults its link and programs suffer),
/// with the profile and seed it was made from.
#[derive(Debug)]
pub struct EmbeddedChip {
    server: InProcessServer,
    profile: ChipProfile,
    chip_seed: u64,
    faults: ServerFaults,
}

impl Chip {
    /// The chip at `location`: an embedded emulator is created (its profile file read) with `chip_seed` and
    /// `faults`; `hx` is the endpoint `hx_endpoint` the caller was given.
    pub fn open(
        location: &ChipLocation,
        hx_endpoint: Option<&Endpoint>,
        chip_seed: u64,
        faults: &ServerFaults,
    ) -> Result<Chip, ChipError> {
        match location {
            ChipLocation::Emulator(source) => {
                let profile = match source {
                    ProfileSource::Builtin(builtin) => {
                        ChipProfile::builtin(builtin.name()).expect("the built-in profiles exist")
                    }
                    ProfileSource::File(path) => ChipProfile::load(path)?,
                };
                Ok(Chip::embedded(profile, chip_seed, faults))
            }
            ChipLocation::Endpoint(endpoint) => Ok(Chip::Endpoint(endpoint.clone())),
            ChipLocation::Hx { .. } => match hx_endpoint {
                Some(endpoint) => Ok(Chip::Endpoint(endpoint.clone())),
                None => Err(ChipError::NoEndpoint { name: location.to_string() }),
            },
        }
    }

    /// A new embedded emulator.
    pub fn embedded(profile: ChipProfile, chip_seed: u64, faults: &ServerFaults) -> Chip {
        let emulator = Arc::new(Mutex::new(Emulator::new(profile.clone(), chip_seed)));
        // The server applies the neuron faults (silent, spontaneous) drawn from the chip seed, once.
        let server = InProcessServer::new(emulator, faults.clone(), chip_seed);
        Chip::Embedded(Box::new(EmbeddedChip { server, profile, chip_seed, faults: faults.clone() }))
    }

    /// Another instance of the same chip: for the embedded emulator a new one with the same profile, seed and
    /// faults (so that what one instance runs does not change the other's noise); the same endpoint otherwise.
    pub fn fresh(&self) -> Chip {
        match self {
            Chip::Embedded(e) => Chip::embedded(e.profile.clone(), e.chip_seed, &e.faults),
            Chip::Endpoint(endpoint) => Chip::Endpoint(endpoint.clone()),
        }
    }

    /// The identity a calibration of this chip records: the emulator's profile and seed, or the endpoint.
    pub fn identity(&self) -> String {
        match self {
            Chip::Embedded(e) => emulator_identity(&e.profile, e.chip_seed),
            Chip::Endpoint(endpoint) => endpoint.to_string(),
        }
    }

    /// The transfer curves nominal CapMem values are computed from: the emulator's own, or, for a chip behind
    /// an endpoint, the default profile's.
    pub fn nominal_curves(&self) -> TransferCurves {
        match self {
            Chip::Embedded(e) => e.profile.curves.clone(),
            Chip::Endpoint(_) => ChipProfile::default_chip().curves,
        }
    }

    /// A new connection to the chip, waiting at most `timeout` for each program's answer.
    pub fn connect(&mut self, timeout: Duration) -> Result<BlockingConnection, ChipError> {
        let connection = match self {
            Chip::Embedded(e) => BlockingConnection::with_link(|| Link::new(e.server.connect())),
            Chip::Endpoint(endpoint) => BlockingConnection::open(endpoint),
        };
        let mut connection = connection.map_err(|source| ChipError::Connect { chip: self.identity(), source })?;
        connection.set_timeout(timeout);
        Ok(connection)
    }

    /// Programs the embedded emulator has executed (None for an endpoint, whose count the host cannot know).
    pub fn runs(&self) -> Option<u64> {
        match self {
            Chip::Embedded(e) => Some(e.lock().runs()),
            Chip::Endpoint(_) => None,
        }
    }

    /// Continues the embedded emulator's trial-to-trial noise after `runs` programs (a resumed training sees
    /// the noise an uninterrupted one would have). An endpoint's chip keeps its own noise.
    pub fn continue_after(&self, runs: u64) {
        match self {
            Chip::Embedded(e) => e.lock().continue_after(runs),
            Chip::Endpoint(_) => {
                tracing::info!("a served chip's noise is its own: a resumed run does not repeat it exactly")
            }
        }
    }
}

impl EmbeddedChip {
    /// The emulator; a panic of another holder does not make its state unusable (it only counts programs).
    fn lock(&self) -> MutexGuard<'_, Emulator> {
        self.server.emulator().lock().unwrap_or_else(|p| p.into_inner())
    }
}
