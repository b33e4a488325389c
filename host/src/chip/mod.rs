//! The chip backend: a network's forward pass on BrainScaleS-2 (emulated or served) through the protocol.
//!
//! [`layout`] says where logical neurons and sources sit, [`mapping`] places a network and quantises its weights,
//! [`config`] turns both into omnibus writes (with the profile's nominal CapMem values unless a calibration gives
//! others), [`backend`] runs one program per batch with retries and cuts the recording into first-spike times.

pub mod backend;
pub mod calibrating;
pub mod config;
pub mod device;
pub mod inspect;
pub mod inspect_delays;
pub mod layout;
pub mod mapping;
pub mod targets;

use std::path::PathBuf;

pub use backend::{ChipBackend, ChipForward, ChipSettings, ChipStats, MembraneTrace};
pub use device::Chip;

/// Why a network cannot run on the chip, or a run failed. Each variant's text says what happened; its source,
/// where it has one, says why.
#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    /// The network needs something the chip path does not offer: train it in simulation, or change the layer.
    #[error("not supported on the chip: {0}")]
    Unsupported(String),
    /// The network is larger than the chip: make it smaller.
    #[error("the network does not fit on the chip: {0}")]
    Capacity(String),
    /// A backend setting out of range.
    #[error("{name} {value}: {why}")]
    Setting {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What is wrong.
        why: String,
    },
    /// The reference's `hx` names a real chip, but no endpoint was given.
    #[error(
        "substrate {name:?} means a chip endpoint: give it with --substrate tcp://HOST:PORT (or udp://, serial://, \
         usb://) or in BSS2_ENDPOINT; --substrate emulator uses the embedded emulator"
    )]
    NoEndpoint {
        /// `hx` or `hx_pynn`.
        name: String,
    },
    /// The emulator's profile file cannot be used (the error names the file): fix or replace it.
    #[error(transparent)]
    Profile(#[from] bss2_firmware_sim::profile::ProfileError),
    /// The chip cannot be reached: check that it is served at the endpoint (which the source names).
    #[error("connecting to the chip")]
    Connect {
        /// The chip's identity (endpoint, or emulator profile and seed).
        chip: String,
        /// Why.
        #[source]
        source: bss2_protocol::transport::ConnectionError,
    },
    /// A program did not come back (timeout, broken link, malformed answer; the source names the endpoint).
    #[error("running a program on the chip")]
    Run {
        /// The chip's identity.
        chip: String,
        /// Why.
        #[source]
        source: bss2_protocol::transport::ConnectionError,
    },
    /// The recording shows a stalled run: a spike stamped after the run's end.
    #[error("the FPGA stalled: a spike at {spike_us:.1} us lies beyond the run's {run_us:.1} us")]
    Stall {
        /// The spike's time after the first sample's start (us).
        spike_us: f64,
        /// The run's length (us).
        run_us: f64,
    },
    /// A calibration file cannot be read, written or used for this chip (the error names the file).
    #[error(transparent)]
    CalibrationFile(#[from] bss2_calibration::file::FileError),
    /// A calibration was made for other targets than the network needs: recalibrate with `--from-config`.
    #[error(
        "{}: made for {parameter} = {found} but layer {layer} needs {needed} (recalibrate with --from-config)",
        path.display()
    )]
    CalibrationTargets {
        /// The calibration file.
        path: PathBuf,
        /// The parameter.
        parameter: &'static str,
        /// Its target in the file.
        found: f64,
        /// What the layer needs.
        needed: f64,
        /// The layer's index in the chain.
        layer: usize,
    },
    /// Calibrating the chip failed.
    #[error("calibrating {chip}")]
    Calibrating {
        /// The chip's identity.
        chip: String,
        /// Why.
        #[source]
        source: bss2_calibration::calibrate::CalibrationError,
    },
    /// Calibrating the chip's delay pairs failed.
    #[error("calibrating the delay pairs of {chip}")]
    CalibratingDelays {
        /// The chip's identity.
        chip: String,
        /// Why.
        #[source]
        source: Box<bss2_calibration::delays::DelayError>,
    },
    /// A calibration file has no delay section, but the network needs one: calibrate with `--delays`.
    #[error("{}: no delay calibration in it (make one with `bss2 calibrate --delays`)", path.display())]
    NoDelayCalibration {
        /// The calibration file.
        path: PathBuf,
    },
    /// The backend's own configuration does not decode (a bug: please report it).
    #[error("the neuron configuration written for circuit {circuit} does not decode")]
    Configuration {
        /// The circuit.
        circuit: usize,
        /// The decoder's complaint.
        #[source]
        source: bss2_protocol::containers::ContainerError,
    },
    /// Every attempt failed: the source is the last failure.
    #[error("the chip failed {attempts} {} in a row", if *attempts == 1 { "time" } else { "times" })]
    GaveUp {
        /// Attempts made.
        attempts: usize,
        /// The last failure.
        #[source]
        last: Box<ChipError>,
    },
}
