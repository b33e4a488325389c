//! A text form of both word streams, one message per line, for `bss2 protocol encode/decode`.
//!
//! To the FPGA:
//! ```text
//! jtag_init | jtag_scaler N | jtag_ins N | jtag_data keep=0|1 bits=N data=0xD
//! timer_setup | wait_until CYCLES | systime_init 0|1 | barrier 0xMASK | polling_omnibus_block 0|1 | reset 0|1
//! loopback halt|tick | omnibus_address 0xADDR read|write be=0xF | omnibus_data 0xDATA
//! spike_pack1 0xLABEL | spike_pack2 0xL0 0xL1 | spike_pack3 0xL0 0xL1 0xL2 | filler 0xWORD
//! ```
//! From the FPGA:
//! ```text
//! jtag_data 0xD | omnibus_data 0xDATA | loopback halt|tick | highspeed_link_notification 0xN
//! timeout_notification instruction=N stalls=N reads=N | systime T | sysdelta D
//! madc_packK 0xTS:0xFIELD ... | spike_packK 0xTS:0xLABEL ... | flush | filler 0xWORD
//! ```
//! Numbers may be written in decimal or as 0x-prefixed hexadecimal.

use std::fmt::Write as _;

use crate::error::{Excerpt, MessageError};
use crate::from_fpga::{self, FromFpga, MadcSample, Pack, SpikeEvent};
use crate::label::SpikeLabel;
use crate::stream::Item;
use crate::to_fpga::{self, Loopback, ToFpga};

fn loopback_name(l: Loopback) -> &'static str {
    match l {
        Loopback::Halt => "halt",
        Loopback::Tick => "tick",
    }
}

/// One to-FPGA item as a line.
pub fn format_to_fpga(item: &Item<ToFpga>) -> String {
    let m = match item {
        Item::Message(m) => m,
        Item::Flush => return "flush".into(),
        Item::Filler(w) => return format!("filler 0x{w:016x}"),
    };
    let name = to_fpga::NAMES[usize::from(m.header())];
    match *m {
        ToFpga::JtagInit | ToFpga::TimerSetup => name.to_string(),
        ToFpga::JtagScaler(v) | ToFpga::JtagIns(v) => format!("{name} {v}"),
        ToFpga::JtagData { keep_response, num_bits, data } => {
            format!("{name} keep={} bits={num_bits} data=0x{data:x}", u8::from(keep_response))
        }
        ToFpga::WaitUntil(t) => format!("{name} {t}"),
        ToFpga::SystimeInit(b) | ToFpga::PollingOmnibusBlock(b) | ToFpga::Reset(b) => format!("{name} {}", u8::from(b)),
        ToFpga::Barrier(b) => format!("{name} 0x{b:02x}"),
        ToFpga::Loopback(l) => format!("{name} {}", loopback_name(l)),
        ToFpga::OmnibusAddress { address, byte_enables, is_read } => {
            format!("{name} 0x{address:08x} {} be=0x{byte_enables:x}", if is_read { "read" } else { "write" })
        }
        ToFpga::OmnibusData(d) => format!("{name} 0x{d:08x}"),
        ToFpga::SpikePack1(l) => format!("{name} {}", l.map(|l| l.to_string()).join(" ")),
        ToFpga::SpikePack2(l) => format!("{name} {}", l.map(|l| l.to_string()).join(" ")),
        ToFpga::SpikePack3(l) => format!("{name} {}", l.map(|l| l.to_string()).join(" ")),
    }
}

/// One from-FPGA item as a line.
pub fn format_from_fpga(item: &Item<FromFpga>) -> String {
    let m = match item {
        Item::Message(m) => m,
        Item::Flush => return "flush".into(),
        Item::Filler(w) => return format!("filler 0x{w:016x}"),
    };
    let name = from_fpga::NAMES[usize::from(m.header())];
    match *m {
        FromFpga::JtagData(d) => format!("{name} 0x{d:x}"),
        FromFpga::OmnibusData(d) => format!("{name} 0x{d:08x}"),
        FromFpga::Loopback(l) => format!("{name} {}", loopback_name(l)),
        FromFpga::HighspeedLinkNotification(n) => format!("{name} 0x{n:02x}"),
        FromFpga::TimeoutNotification { instruction, stalls, reads_in_flight } => {
            format!("{name} instruction={instruction} stalls={stalls} reads={reads_in_flight}")
        }
        FromFpga::Systime(t) => format!("{name} {t}"),
        FromFpga::Sysdelta(d) => format!("{name} {d}"),
        FromFpga::Madc(p) => {
            let mut s = name.to_string();
            for e in p.items() {
                let _ = write!(s, " 0x{:02x}:0x{:04x}", e.timestamp(), e.field());
            }
            s
        }
        FromFpga::Spikes(p) => {
            let mut s = name.to_string();
            for e in p.items() {
                let _ = write!(s, " 0x{:02x}:0x{:04x}", e.timestamp(), e.label().0);
            }
            s
        }
    }
}

/// A line of the text form that cannot be parsed. Tokens from the input are quoted cut ([`Excerpt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing on the line.
    #[error("empty line")]
    Empty,
    /// The first token names no instruction or message.
    #[error("unknown {kind} {name}")]
    Unknown {
        /// "instruction" or "message".
        kind: &'static str,
        /// The token.
        name: Excerpt,
    },
    /// The instruction or message takes another number of arguments.
    #[error("{name} takes {count} argument(s), found {found}")]
    Arguments {
        /// The instruction or message.
        name: &'static str,
        /// Arguments it takes.
        count: usize,
        /// Arguments given.
        found: usize,
    },
    /// A token that should be a number.
    #[error("{0} is not a number")]
    NotANumber(Excerpt),
    /// A number too large for its field.
    #[error("{what} {value} is out of range")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The number.
        value: u64,
    },
    /// A token that is none of the words allowed there.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What may stand there.
        expected: &'static str,
        /// The token.
        found: Excerpt,
    },
    /// A `KEY=VALUE` argument is missing its key.
    #[error("expected {key}=..., found {found}")]
    Key {
        /// The key.
        key: &'static str,
        /// The token.
        found: Excerpt,
    },
    /// A filler word must have its top bit set.
    #[error("a filler word must have its top bit set, found 0x{0:016x}")]
    Filler(u64),
    /// The fields are valid one by one but not as a message.
    #[error(transparent)]
    Message(#[from] MessageError),
}

fn number(token: &str) -> Result<u64, TextError> {
    let parsed = match token.strip_prefix("0x").or_else(|| token.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => token.parse::<u64>(),
    };
    parsed.map_err(|_| TextError::NotANumber(Excerpt::new(token)))
}

fn bounded<T: TryFrom<u64>>(token: &str, what: &'static str) -> Result<T, TextError> {
    let value = number(token)?;
    T::try_from(value).map_err(|_| TextError::OutOfRange { what, value })
}

fn expected(expected: &'static str, found: &str) -> TextError {
    TextError::Expected { expected, found: Excerpt::new(found) }
}

fn flag(token: &str) -> Result<bool, TextError> {
    match token {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(expected("0 or 1", other)),
    }
}

fn keyed<'a>(token: &'a str, key: &'static str) -> Result<&'a str, TextError> {
    token
        .strip_prefix(key)
        .and_then(|t| t.strip_prefix('='))
        .ok_or_else(|| TextError::Key { key, found: Excerpt::new(token) })
}

fn loopback(token: &str) -> Result<Loopback, TextError> {
    match token {
        "halt" => Ok(Loopback::Halt),
        "tick" => Ok(Loopback::Tick),
        other => Err(expected("halt or tick", other)),
    }
}

fn arguments<'a>(tokens: &'a [&'a str], count: usize, name: &'static str) -> Result<&'a [&'a str], TextError> {
    if tokens.len() == count { Ok(tokens) } else { Err(TextError::Arguments { name, count, found: tokens.len() }) }
}

fn filler(token: &str) -> Result<u64, TextError> {
    let w = number(token)?;
    if w >> 63 != 1 {
        return Err(TextError::Filler(w));
    }
    Ok(w)
}

/// The instruction name as a static string (for messages), if it is one.
fn to_fpga_name(name: &str) -> Option<&'static str> {
    const EXTRA: [&str; 2] = ["flush", "filler"];
    to_fpga::NAMES.iter().chain(EXTRA.iter()).copied().find(|&n| n == name)
}

fn from_fpga_name(name: &str) -> Option<&'static str> {
    const EXTRA: [&str; 2] = ["flush", "filler"];
    from_fpga::NAMES.iter().chain(EXTRA.iter()).copied().find(|&n| n == name)
}

/// Parses one to-FPGA line.
pub fn parse_to_fpga(line: &str) -> Result<Item<ToFpga>, TextError> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let (&token, rest) = tokens.split_first().ok_or(TextError::Empty)?;
    let name =
        to_fpga_name(token).ok_or_else(|| TextError::Unknown { kind: "instruction", name: Excerpt::new(token) })?;
    let args = |n| arguments(rest, n, name);
    let message = match name {
        "flush" => {
            args(0)?;
            return Ok(Item::Flush);
        }
        "filler" => return Ok(Item::Filler(filler(args(1)?[0])?)),
        "jtag_init" => args(0).map(|_| ToFpga::JtagInit)?,
        "jtag_scaler" => ToFpga::JtagScaler(bounded(args(1)?[0], "scaler")?),
        "jtag_ins" => ToFpga::JtagIns(bounded(args(1)?[0], "instruction")?),
        "jtag_data" => {
            let a = args(3)?;
            ToFpga::JtagData {
                keep_response: flag(keyed(a[0], "keep")?)?,
                num_bits: bounded(keyed(a[1], "bits")?, "bit count")?,
                data: number(keyed(a[2], "data")?)?,
            }
        }
        "timer_setup" => args(0).map(|_| ToFpga::TimerSetup)?,
        "wait_until" => ToFpga::WaitUntil(bounded(args(1)?[0], "time")?),
        "systime_init" => ToFpga::SystimeInit(flag(args(1)?[0])?),
        "barrier" => ToFpga::Barrier(bounded(args(1)?[0], "barrier mask")?),
        "polling_omnibus_block" => ToFpga::PollingOmnibusBlock(flag(args(1)?[0])?),
        "reset" => ToFpga::Reset(flag(args(1)?[0])?),
        "loopback" => ToFpga::Loopback(loopback(args(1)?[0])?),
        "omnibus_address" => {
            let a = args(3)?;
            let is_read = match a[1] {
                "read" => true,
                "write" => false,
                other => return Err(expected("read or write", other)),
            };
            ToFpga::OmnibusAddress {
                address: bounded(a[0], "address")?,
                byte_enables: bounded(keyed(a[2], "be")?, "byte enables")?,
                is_read,
            }
        }
        "omnibus_data" => ToFpga::OmnibusData(bounded(args(1)?[0], "data")?),
        "spike_pack1" | "spike_pack2" | "spike_pack3" => {
            let n = usize::from(name.as_bytes()[10] - b'0');
            let labels: Vec<SpikeLabel> =
                args(n)?.iter().map(|t| bounded(t, "label").map(SpikeLabel)).collect::<Result<_, _>>()?;
            match labels[..] {
                [a] => ToFpga::SpikePack1([a]),
                [a, b] => ToFpga::SpikePack2([a, b]),
                [a, b, c] => ToFpga::SpikePack3([a, b, c]),
                _ => unreachable!("argument count checked"),
            }
        }
        _ => return Err(TextError::Unknown { kind: "instruction", name: Excerpt::new(token) }),
    };
    message.validate()?;
    Ok(Item::Message(message))
}

fn pairs(rest: &[&str], name: &'static str) -> Result<Vec<(u8, u16)>, TextError> {
    let n = usize::from(name.as_bytes()[name.len() - 1] - b'0');
    arguments(rest, n, name)?
        .iter()
        .map(|t| {
            let (ts, v) = t.split_once(':').ok_or_else(|| expected("TIMESTAMP:VALUE", t))?;
            Ok((bounded(ts, "time stamp")?, bounded(v, "value")?))
        })
        .collect()
}

/// Parses one from-FPGA line.
pub fn parse_from_fpga(line: &str) -> Result<Item<FromFpga>, TextError> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let (&token, rest) = tokens.split_first().ok_or(TextError::Empty)?;
    let unknown = || TextError::Unknown { kind: "message", name: Excerpt::new(token) };
    let name = from_fpga_name(token).ok_or_else(unknown)?;
    let args = |n| arguments(rest, n, name);
    let message = match name {
        "flush" => {
            args(0)?;
            return Ok(Item::Flush);
        }
        "filler" => return Ok(Item::Filler(filler(args(1)?[0])?)),
        "jtag_data" => FromFpga::JtagData(number(args(1)?[0])?),
        "omnibus_data" => FromFpga::OmnibusData(bounded(args(1)?[0], "data")?),
        "loopback" => FromFpga::Loopback(loopback(args(1)?[0])?),
        "highspeed_link_notification" => FromFpga::HighspeedLinkNotification(bounded(args(1)?[0], "notification")?),
        "timeout_notification" => {
            let a = args(3)?;
            FromFpga::TimeoutNotification {
                instruction: bounded(keyed(a[0], "instruction")?, "instruction")?,
                stalls: bounded(keyed(a[1], "stalls")?, "stalls")?,
                reads_in_flight: bounded(keyed(a[2], "reads")?, "reads")?,
            }
        }
        "systime" => FromFpga::Systime(number(args(1)?[0])?),
        "sysdelta" => FromFpga::Sysdelta(bounded(args(1)?[0], "delta")?),
        "madc_pack1" | "madc_pack2" | "madc_pack3" => {
            let samples: Vec<MadcSample> =
                pairs(rest, name)?.into_iter().map(|(timestamp, field)| MadcSample::new(timestamp, field)).collect();
            FromFpga::Madc(Pack::new(&samples).ok_or(TextError::Arguments { name, count: 3, found: samples.len() })?)
        }
        "spike_pack1" | "spike_pack2" | "spike_pack3" => {
            let spikes: Vec<SpikeEvent> = pairs(rest, name)?
                .into_iter()
                .map(|(timestamp, l)| SpikeEvent::new(timestamp, SpikeLabel(l)))
                .collect();
            FromFpga::Spikes(Pack::new(&spikes).ok_or(TextError::Arguments { name, count: 3, found: spikes.len() })?)
        }
        _ => return Err(unknown()),
    };
    message.validate()?;
    Ok(Item::Message(message))
}

/// A token of a hex word stream that is not a 64-bit word. Names the word's index in the stream (0-based) and
/// where it stands (line and column, 1-based); the token is quoted cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "word {word} (line {line}, column {column}): {token} is not a 64-bit word (16 hex digits, optionally 0x-prefixed)"
)]
pub struct HexWordError {
    /// Index of the word in the stream.
    pub word: usize,
    /// Line of the token (1-based).
    pub line: usize,
    /// Column (byte) of the token's first character (1-based).
    pub column: usize,
    /// The token, cut.
    pub token: Excerpt,
}

/// Bytes of a token kept for an error message (more than any valid word).
const TOKEN_KEPT: usize = 2 * crate::error::EXCERPT_CHARS;

/// Splits a byte stream of whitespace-separated 64-bit hex words into words as the bytes arrive, with
/// bounded memory (a token is kept only up to a few dozen bytes). A word is exactly 16 hex digits, optionally
/// prefixed with `0x`.
#[derive(Debug)]
pub struct HexWords {
    token: Vec<u8>,
    /// Length of the current token, also beyond what is kept.
    token_len: usize,
    words: usize,
    line: usize,
    column: usize,
    /// Where the current token started.
    start: (usize, usize),
}

impl Default for HexWords {
    fn default() -> Self {
        HexWords { token: Vec::new(), token_len: 0, words: 0, line: 1, column: 0, start: (1, 1) }
    }
}

impl HexWords {
    /// At the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; appends the words they complete to `out`.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u64>) -> Result<(), HexWordError> {
        for &b in bytes {
            self.column += 1;
            if b.is_ascii_whitespace() {
                self.end_token(out)?;
                if b == b'\n' {
                    self.line += 1;
                    self.column = 0;
                }
                continue;
            }
            if self.token_len == 0 {
                self.start = (self.line, self.column);
            }
            self.token_len += 1;
            if self.token.len() < TOKEN_KEPT {
                self.token.push(b);
            }
        }
        Ok(())
    }

    /// Ends the stream; appends the last word to `out`.
    pub fn finish(mut self, out: &mut Vec<u64>) -> Result<(), HexWordError> {
        self.end_token(out)
    }

    fn end_token(&mut self, out: &mut Vec<u64>) -> Result<(), HexWordError> {
        if self.token_len == 0 {
            return Ok(());
        }
        let token = &self.token[..];
        let digits = token.strip_prefix(b"0x").or_else(|| token.strip_prefix(b"0X")).unwrap_or(token);
        let whole = self.token_len == token.len();
        let word = (whole && digits.len() == 16 && digits.iter().all(u8::is_ascii_hexdigit))
            .then(|| std::str::from_utf8(digits).ok().and_then(|d| u64::from_str_radix(d, 16).ok()))
            .flatten();
        let Some(word) = word else {
            let text = String::from_utf8_lossy(token);
            let token = Excerpt::of_start(&text, self.token_len);
            return Err(HexWordError { word: self.words, line: self.start.0, column: self.start.1, token });
        };
        out.push(word);
        self.words += 1;
        self.token.clear();
        self.token_len = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{decode_from_fpga, decode_to_fpga};

    #[test]
    fn lines_round_trip() {
        let to = "timer_setup\nwait_until 1000\nomnibus_address 0x02cf0083 write be=0xf\nomnibus_data 0x0000b700\n\
                  omnibus_address 0x88000005 read be=0xf\nspike_pack2 0x1234 0x0042\njtag_data keep=1 bits=33 data=0x123456789\n\
                  barrier 0x01\nloopback halt\nfiller 0x8000000000000000";
        for line in to.lines() {
            let item = parse_to_fpga(line).unwrap();
            assert_eq!(format_to_fpga(&item), line.trim());
        }
        let from = "spike_pack3 0x10:0x0123 0x11:0x4567 0x12:0x89ab\nsysdelta 5\nflush\nomnibus_data 0x00000007\n\
                    madc_pack1 0x05:0x0401\ntimeout_notification instruction=3 stalls=1 reads=2\nsystime 12345\nloopback tick";
        for line in from.lines() {
            let item = parse_from_fpga(line).unwrap();
            assert_eq!(format_from_fpga(&item), line.trim());
        }
        // Decoded words print as lines.
        let items = decode_from_fpga(&[0x0C10_0123_1145_6712, 0x89AB_0600_0000_0000, 0x0005_8000_0000_0000]).unwrap();
        let lines: Vec<String> = items.iter().map(format_from_fpga).collect();
        assert_eq!(lines, ["spike_pack3 0x10:0x0123 0x11:0x4567 0x12:0x89ab", "sysdelta 5", "flush"]);
        assert_eq!(format_to_fpga(&decode_to_fpga(&[0x0500_0000_0000_03E8]).unwrap()[0]), "wait_until 1000");
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(parse_to_fpga("wait_until").unwrap_err().to_string().contains("takes 1 argument"));
        assert!(parse_to_fpga("wait_until 0x100000000").unwrap_err().to_string().contains("out of range"));
        assert!(parse_to_fpga("jump 3").unwrap_err().to_string().contains("unknown instruction"));
        assert!(parse_to_fpga("barrier 99").unwrap_err().to_string().contains("5 bits"));
        assert!(parse_from_fpga("spike_pack2 0x10:0x1").unwrap_err().to_string().contains("takes 2"));
        assert!(parse_from_fpga("madc_pack1 0x10:0x8000").unwrap_err().to_string().contains("14 bits"));
        assert!(parse_from_fpga("filler 0x1").unwrap_err().to_string().contains("top bit"));
    }

    #[test]
    fn hex_words_are_exactly_16_digits_and_errors_say_where() {
        let mut words = Vec::new();
        let mut parser = HexWords::new();
        // Split anywhere, also inside a word.
        for chunk in [&b"0C10012311456712 89AB0600"[..], b"00000000\n  0x0005800000000000"] {
            parser.push(chunk, &mut words).unwrap();
        }
        parser.finish(&mut words).unwrap();
        assert_eq!(words, [0x0C10_0123_1145_6712, 0x89AB_0600_0000_0000, 0x0005_8000_0000_0000]);

        let error = |input: &[u8]| {
            let mut parser = HexWords::new();
            let mut out = Vec::new();
            parser.push(input, &mut out).and_then(|()| parser.finish(&mut out)).unwrap_err()
        };
        let e = error(b"0500000000000001\n xyz");
        assert_eq!((e.word, e.line, e.column), (1, 2, 2));
        assert!(e.to_string().starts_with("word 1 (line 2, column 2): \"xyz\" is not a 64-bit word"), "{e}");
        for bad in ["050000000000001", "05000000000000011", "0x", "0500_0000_0000_0001", "g500000000000000"] {
            assert_eq!(error(bad.as_bytes()).word, 0, "{bad}");
        }
        // A huge token is cut in the message, and not kept whole.
        let e = error(&vec![b'7'; 10_000_000]).to_string();
        assert!(e.len() < 200 && e.contains("... (10000000 bytes)"), "{e}");
    }
}
