//! Fault plans: which faults a served emulator injects ([`ServerFaults`], with its text form), which neuron
//! circuits a chip seed makes silent or spontaneous ([`neuron_faults`]), and the seeds each session of a
//! server draws its link faults and stalls from ([`session_seeds`]). No I/O: the servers (module
//! `serve`) apply them.

use std::fmt;
use std::str::FromStr;

use bss2_protocol::Excerpt;
use bss2_protocol::link::fault::{Faults, SplitMix};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::analog::CIRCUITS;
use crate::network::NeuronFaults;

/// Faults injected by a server.
///
/// Text form ([`ServerFaults::parse`], [`Display`](fmt::Display)): comma-separated `key=probability`,
/// e.g. `drop=0.05,corrupt=0.01,stall=0.001`, or `none`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerFaults {
    /// Probability that a datagram the server sends is lost.
    pub drop: f64,
    /// Probability that a datagram the server sends is corrupted (byte streams: a flipped bit that the frame's
    /// CRC must catch; UDP and in-process: a truncated datagram).
    pub corrupt: f64,
    /// Probability that a datagram the server sends goes out twice.
    pub duplicate: f64,
    /// Probability that a program gets no answer at all (it is not executed either).
    pub stall: f64,
    /// Fraction of the 512 neuron circuits that never fire.
    pub silent: f64,
    /// Fraction of the 512 neuron circuits that fire by themselves.
    pub spontaneous: f64,
}

/// A fault specification that cannot be parsed (its message quotes the text cut, [`Excerpt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid faults {}: {reason}", Excerpt::new(.text))]
pub struct FaultsError {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

const FAULT_KEYS: [&str; 6] = ["drop", "corrupt", "duplicate", "stall", "silent", "spontaneous"];

impl ServerFaults {
    /// Parses `key=probability` pairs separated by commas (keys: `drop`, `corrupt`, `duplicate`, `stall`,
    /// `silent`, `spontaneous`; probabilities in [0, 1]); an empty string or `none` means no faults.
    pub fn parse(text: &str) -> Result<ServerFaults, FaultsError> {
        let err = |reason: String| FaultsError { text: text.to_string(), reason };
        let mut faults = ServerFaults::default();
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed == "none" {
            return Ok(faults);
        }
        let mut seen = Vec::new();
        for item in trimmed.split(',') {
            let item = item.trim();
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| err(format!("expected KEY=PROBABILITY, got {} (e.g. drop=0.05)", Excerpt::new(item))))?;
            let (key, value) = (key.trim(), value.trim());
            let slot = faults.slot(key).ok_or_else(|| {
                err(format!("unknown fault {} (expected one of {})", Excerpt::new(key), FAULT_KEYS.join(", ")))
            })?;
            if seen.contains(&key) {
                return Err(err(format!("{key} is given twice")));
            }
            seen.push(key);
            let p: f64 = value.parse().map_err(|_| err(format!("{key}: {} is not a number", Excerpt::new(value))))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(err(format!("{key}: {value} is not a probability in [0, 1]")));
            }
            *slot = p;
        }
        Ok(faults)
    }

    fn slot(&mut self, key: &str) -> Option<&mut f64> {
        Some(match key {
            "drop" => &mut self.drop,
            "corrupt" => &mut self.corrupt,
            "duplicate" => &mut self.duplicate,
            "stall" => &mut self.stall,
            "silent" => &mut self.silent,
            "spontaneous" => &mut self.spontaneous,
            _ => return None,
        })
    }

    fn values(&self) -> [f64; 6] {
        [self.drop, self.corrupt, self.duplicate, self.stall, self.silent, self.spontaneous]
    }

    /// True if no fault is switched on.
    pub fn is_none(&self) -> bool {
        self.values().iter().all(|&p| p == 0.0)
    }

    /// The datagram faults (drop, corrupt, duplicate) for `bss2_protocol::transport::Transport::with_faults`.
    pub fn link_faults(&self) -> Faults {
        Faults { drop: self.drop, corrupt: self.corrupt, duplicate: self.duplicate, ..Faults::default() }
    }

    /// True if datagrams are lost, corrupted or duplicated.
    pub fn has_link_faults(&self) -> bool {
        self.drop > 0.0 || self.corrupt > 0.0 || self.duplicate > 0.0
    }

    /// True if some circuits are silent or spontaneous.
    pub fn has_neuron_faults(&self) -> bool {
        self.silent > 0.0 || self.spontaneous > 0.0
    }
}

impl FromStr for ServerFaults {
    type Err = FaultsError;

    fn from_str(text: &str) -> Result<ServerFaults, FaultsError> {
        ServerFaults::parse(text)
    }
}

impl fmt::Display for ServerFaults {
    /// The faults that are switched on, as [`ServerFaults::parse`] reads them (`none` if there are none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let mut first = true;
        for (key, p) in FAULT_KEYS.iter().zip(self.values()) {
            if p != 0.0 {
                write!(f, "{}{key}={p}", if first { "" } else { "," })?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Silent and spontaneously firing circuits of the chip with this seed: `round(silent x 512)` and
/// `round(spontaneous x 512)` circuits (disjoint; each list sorted), drawn from one seeded permutation of the
/// circuits, so that a larger fraction adds circuits to a smaller one's list.
pub fn neuron_faults(chip_seed: u64, silent: f64, spontaneous: f64) -> NeuronFaults {
    let count = |p: f64| if p > 0.0 { ((p.min(1.0) * CIRCUITS as f64).round() as usize).min(CIRCUITS) } else { 0 };
    let n_silent = count(silent);
    let n_spontaneous = count(spontaneous).min(CIRCUITS - n_silent);
    let mut order: Vec<usize> = (0..CIRCUITS).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(chip_seed, 0x6E65_7572_6F6E)));
    let mut silent = order[..n_silent].to_vec();
    let mut spontaneous = order[CIRCUITS - n_spontaneous..].to_vec();
    silent.sort_unstable();
    spontaneous.sort_unstable();
    NeuronFaults { silent, spontaneous }
}

/// An independent seed for one purpose (`stream`) from a seed.
fn mix(seed: u64, stream: u64) -> u64 {
    SplitMix::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// Seed streams.
const SERVER_LINK: u64 = 1;
const CLIENT_LINK: u64 = 2;
const STALLS: u64 = 3;

/// Seeds of an in-process server's connection `n` (1, 2, ...): link faults of the server's and of the client's
/// sending direction, and stalls.
pub fn in_process_seeds(fault_seed: u64, n: u64) -> (u64, u64, u64) {
    let session = mix(fault_seed, n);
    (mix(session, SERVER_LINK), mix(session, CLIENT_LINK), mix(session, STALLS))
}

/// Seeds of session `n` (1, 2, ...) of a TCP, UDP or pty server: (link faults, stalls).
pub fn session_seeds(fault_seed: u64, n: u64) -> (u64, u64) {
    let session = mix(fault_seed, n.wrapping_add(0x5E55_1017));
    (mix(session, SERVER_LINK), mix(session, STALLS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_print() {
        let f = ServerFaults::parse("drop=0.05, corrupt=0.01,stall=0.001,silent=0.1").unwrap();
        assert_eq!(f, ServerFaults { drop: 0.05, corrupt: 0.01, stall: 0.001, silent: 0.1, ..ServerFaults::default() });
        assert_eq!(f.to_string(), "drop=0.05,corrupt=0.01,stall=0.001,silent=0.1");
        assert_eq!(ServerFaults::parse(&f.to_string()).unwrap(), f);
        assert_eq!("none".parse::<ServerFaults>().unwrap(), ServerFaults::default());
        assert_eq!(ServerFaults::parse("").unwrap(), ServerFaults::default());
        assert_eq!(ServerFaults::default().to_string(), "none");
        let all = ServerFaults::parse("drop=1,corrupt=0,duplicate=0.5,stall=1e-3,silent=0.25,spontaneous=1").unwrap();
        assert_eq!(ServerFaults::parse(&all.to_string()).unwrap(), all);
        assert_eq!(all.link_faults(), Faults { drop: 1.0, duplicate: 0.5, ..Faults::default() });
    }

    #[test]
    fn faults_errors_name_the_key_and_value() {
        for (bad, why) in [
            ("drop=0.05,lose=0.1", "unknown fault \"lose\""),
            ("drop=abc", "drop: \"abc\" is not a number"),
            ("corrupt=1.5", "corrupt: 1.5 is not a probability in [0, 1]"),
            ("stall=-0.1", "stall: -0.1 is not a probability"),
            ("stall=NaN", "stall: NaN is not a probability"),
            ("drop", "expected KEY=PROBABILITY, got \"drop\""),
            ("drop=0.1,drop=0.2", "drop is given twice"),
            ("drop=0.1,", "expected KEY=PROBABILITY, got \"\""),
        ] {
            let e = ServerFaults::parse(bad).unwrap_err();
            assert_eq!(e.text, bad);
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn neuron_faults_are_drawn_from_the_chip_seed() {
        let a = neuron_faults(7, 0.1, 0.05);
        assert_eq!(a, neuron_faults(7, 0.1, 0.05));
        assert_ne!(a, neuron_faults(8, 0.1, 0.05));
        assert_eq!((a.silent.len(), a.spontaneous.len()), (51, 26));
        assert!(a.silent.windows(2).all(|w| w[0] < w[1]) && a.silent.iter().all(|&c| c < CIRCUITS));
        assert!(a.silent.iter().all(|c| !a.spontaneous.contains(c)));
        // A larger fraction extends a smaller one's list.
        let b = neuron_faults(7, 0.2, 0.0);
        assert!(a.silent.iter().all(|c| b.silent.contains(c)) && b.spontaneous.is_empty());
        let all = neuron_faults(7, 1.0, 1.0);
        assert_eq!((all.silent.len(), all.spontaneous.len()), (CIRCUITS, 0));
        assert_eq!(neuron_faults(7, 0.0, 0.0), NeuronFaults::default());
    }
}
