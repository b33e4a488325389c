//! Where forward passes run: the grammar of `training_params.substrate` and of `--substrate`, parsed once.
//!
//! | text | meaning |
//! |---|---|
//! | `sim` | the exact model in simulation |
//! | `emulator`, `emulator:ideal`, `emulator:PROFILE.yaml` | the embedded emulator with a chip profile |
//! | `tcp://HOST:PORT`, `udp://HOST:PORT`, `serial://PATH[?baud=N]`, `usb://VID:PID` | a served or real chip |
//! | `hx`, `hx_pynn` | the reference's name for its chip: an endpoint the command line supplies |
//!
//! Parsing reads no file and no environment variable: a profile file is read when the chip is opened, and the
//! endpoint `hx` stands for is given by the caller (the command line reads it from `BSS2_ENDPOINT`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use bss2_protocol::transport::{Endpoint, EndpointError};

use crate::text::Excerpt;

/// The forms [`Substrate`] accepts, for error messages.
pub const FORMS: &str = "sim, emulator, emulator:ideal, emulator:PROFILE.yaml, tcp://HOST:PORT, udp://HOST:PORT, \
                         serial://PATH, usb://VID:PID or hx";

/// Where a run's forward passes happen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Substrate {
    /// The exact model, in simulation.
    #[default]
    Simulation,
    /// A chip: every forward pass runs on it.
    Chip(ChipLocation),
}

/// Where a chip is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChipLocation {
    /// The embedded emulator with a chip profile.
    Emulator(ProfileSource),
    /// A served or real chip.
    Endpoint(Endpoint),
    /// The reference's `hx` (or `hx_pynn`): a real chip whose endpoint the caller gives.
    Hx {
        /// Written `hx_pynn` rather than `hx`.
        pynn: bool,
    },
}

/// The chip profile of an embedded emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileSource {
    /// A profile built into the emulator (`default`, `ideal`).
    Builtin(BuiltinProfile),
    /// A YAML profile file.
    File(PathBuf),
}

/// The emulator's built-in profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinProfile {
    /// Mismatch and noise of a real chip (`emulator`, `emulator:default`).
    Default,
    /// No mismatch, no noise (`emulator:ideal`).
    Ideal,
}

impl BuiltinProfile {
    /// The profile's name, as `bss2_firmware_sim::ChipProfile::builtin` takes it.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinProfile::Default => "default",
            BuiltinProfile::Ideal => "ideal",
        }
    }
}

/// A substrate text that is not understood.
#[derive(Debug, thiserror::Error)]
pub enum SubstrateError {
    /// Not one of the forms.
    #[error("unknown substrate {} (expected {FORMS})", Excerpt::new(text))]
    Unknown {
        /// The text.
        text: String,
    },
    /// An endpoint that does not parse.
    #[error("substrate {}", Excerpt::new(text))]
    Endpoint {
        /// The text.
        text: String,
        /// What is wrong with the endpoint.
        #[source]
        source: EndpointError,
    },
    /// `emulator:` without a profile.
    #[error(
        "substrate {}: no profile after \"emulator:\" (expected emulator:ideal or emulator:PROFILE.yaml)",
        Excerpt::new(text)
    )]
    NoProfile {
        /// The text.
        text: String,
    },
}

impl Substrate {
    /// True for the simulation.
    pub fn is_simulation(&self) -> bool {
        matches!(self, Substrate::Simulation)
    }

    /// The chip, if the forward passes run on one.
    pub fn chip(&self) -> Option<&ChipLocation> {
        match self {
            Substrate::Simulation => None,
            Substrate::Chip(location) => Some(location),
        }
    }
}

impl FromStr for Substrate {
    type Err = SubstrateError;

    fn from_str(text: &str) -> Result<Substrate, SubstrateError> {
        let location = match text {
            "sim" => return Ok(Substrate::Simulation),
            "hx" => ChipLocation::Hx { pynn: false },
            "hx_pynn" => ChipLocation::Hx { pynn: true },
            "emulator" => ChipLocation::Emulator(ProfileSource::Builtin(BuiltinProfile::Default)),
            _ => {
                if let Some(name) = text.strip_prefix("emulator:") {
                    ChipLocation::Emulator(match name {
                        "" => return Err(SubstrateError::NoProfile { text: text.into() }),
                        "default" => ProfileSource::Builtin(BuiltinProfile::Default),
                        "ideal" => ProfileSource::Builtin(BuiltinProfile::Ideal),
                        file => ProfileSource::File(PathBuf::from(file)),
                    })
                } else if text.contains("://") {
                    Endpoint::parse(text)
                        .map(ChipLocation::Endpoint)
                        .map_err(|source| SubstrateError::Endpoint { text: text.into(), source })?
                } else {
                    return Err(SubstrateError::Unknown { text: text.into() });
                }
            }
        };
        Ok(Substrate::Chip(location))
    }
}

impl fmt::Display for Substrate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Substrate::Simulation => f.write_str("sim"),
            Substrate::Chip(location) => location.fmt(f),
        }
    }
}

impl fmt::Display for ChipLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChipLocation::Emulator(ProfileSource::Builtin(BuiltinProfile::Default)) => f.write_str("emulator"),
            ChipLocation::Emulator(ProfileSource::Builtin(profile)) => write!(f, "emulator:{}", profile.name()),
            ChipLocation::Emulator(ProfileSource::File(path)) => write!(f, "emulator:{}", path.display()),
            ChipLocation::Endpoint(endpoint) => endpoint.fmt(f),
            ChipLocation::Hx { pynn: false } => f.write_str("hx"),
            ChipLocation::Hx { pynn: true } => f.write_str("hx_pynn"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_prints_back() {
        for text in [
            "sim",
            "emulator",
            "emulator:ideal",
            "emulator:profiles/chip.yaml",
            "tcp://127.0.0.1:5555",
            "udp://[::1]:1234",
            "serial:///dev/ttyUSB0",
            "usb://1234:abcd",
            "hx",
            "hx_pynn",
        ] {
            let substrate: Substrate = text.parse().unwrap();
            assert_eq!(substrate.to_string(), text);
            assert_eq!(substrate.is_simulation(), text == "sim");
        }
        let default: Substrate = "emulator:default".parse().unwrap();
        assert_eq!(default, "emulator".parse().unwrap());
    }

    #[test]
    fn bad_forms_say_what_is_expected() {
        let unknown = "SIM".parse::<Substrate>().unwrap_err();
        assert!(unknown.to_string().contains("unknown substrate \"SIM\" (expected sim, emulator"), "{unknown}");
        let endpoint = "tcp://nohost".parse::<Substrate>().unwrap_err();
        assert!(matches!(endpoint, SubstrateError::Endpoint { .. }));
        let source = std::error::Error::source(&endpoint).unwrap().to_string();
        assert!(source.contains("HOST:PORT"), "{source}");
        assert!(matches!("emulator:".parse::<Substrate>(), Err(SubstrateError::NoProfile { .. })));
        // A long text is cut in the message.
        let long = "x".repeat(100_000);
        assert!(long.parse::<Substrate>().unwrap_err().to_string().len() < 400);
    }
}
