//! Endpoint strings: `tcp://HOST:PORT`, `udp://HOST:PORT`, `serial://PATH[?baud=N]`, `usb://VID:PID`.

use std::fmt;
use std::str::FromStr;

use crate::error::Excerpt;

/// Serial speed used when a `serial://` endpoint names none (921 600 baud, the fastest standard rate that
/// common USB-UART bridges support).
pub const DEFAULT_BAUD: u32 = 921_600;

/// Where a chip (or an emulated one) is reached.
///
/// | string | meaning |
/// |---|---|
/// | `tcp://HOST:PORT` | a TCP server; datagrams travel COBS + CRC-32 framed on the byte stream |
/// | `udp://HOST:PORT` | a UDP peer; one HostARQ frame per UDP datagram, as the real systems use (FPGA port 1234) |
/// | `serial://PATH[?baud=N]` | a serial port, e.g. `serial:///dev/ttyUSB0?baud=115200`; default [`DEFAULT_BAUD`] |
/// | `usb://VID:PID` | a USB device by hexadecimal vendor and product id, e.g. `usb://1234:abcd` |
///
/// IPv6 hosts are written in brackets: `tcp://[::1]:5555`. [`Display`](fmt::Display) gives the string back
/// (a serial endpoint at the default speed without the `?baud=` part, USB ids as four lower-case hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP server.
    Tcp {
        /// Host name or address (IPv6 in brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A UDP peer (HostARQ datagrams).
    Udp {
        /// Host name or address (IPv6 in brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A serial port.
    Serial {
        /// Device path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Speed in baud.
        baud: u32,
    },
    /// A USB device: interface 0, bulk OUT endpoint 0x01, bulk IN endpoint 0x81.
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
    },
}

/// An endpoint string that cannot be parsed (its message quotes the string cut, [`Excerpt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {}: {reason}", Excerpt::new(.text))]
pub struct EndpointError {
    /// The string.
    pub text: String,
    /// What is wrong with it (it quotes parts of the string cut).
    pub reason: String,
}

impl Endpoint {
    /// Parses an endpoint string (see [`Endpoint`] for the forms).
    pub fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        let err = |reason: String| EndpointError { text: text.to_string(), reason };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            err("expected SCHEME://..., e.g. tcp://127.0.0.1:5555, udp://HOST:PORT, serial:///dev/ttyUSB0 or \
                 usb://VID:PID"
                .into())
        })?;
        match scheme {
            "tcp" => host_port(rest).map(|(host, port)| Endpoint::Tcp { host, port }).map_err(err),
            "udp" => host_port(rest).map(|(host, port)| Endpoint::Udp { host, port }).map_err(err),
            "serial" => serial(rest).map(|(path, baud)| Endpoint::Serial { path, baud }).map_err(err),
            "usb" => usb(rest).map(|(vid, pid)| Endpoint::Usb { vid, pid }).map_err(err),
            other => Err(err(format!("unknown scheme {} (expected tcp, udp, serial or usb)", Excerpt::new(other)))),
        }
    }

    /// `HOST:PORT` of a TCP or UDP endpoint, as the socket functions take it.
    pub fn socket_address(&self) -> Option<String> {
        match self {
            Endpoint::Tcp { host, port } | Endpoint::Udp { host, port } => Some(format!("{host}:{port}")),
            _ => None,
        }
    }
}

fn host_port(rest: &str) -> Result<(String, u16), String> {
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT after the scheme, got {}", Excerpt::new(rest)))?;
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.contains('/') || host.contains(char::is_whitespace) {
        return Err(format!("host {} contains a '/' or a space", Excerpt::new(host)));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!("an IPv6 host must be written in brackets, e.g. [::1], got {}", Excerpt::new(host)));
    }
    let port =
        port.parse::<u16>().map_err(|_| format!("port {} is not a number from 0 to 65535", Excerpt::new(port)))?;
    Ok((host.to_string(), port))
}

fn serial(rest: &str) -> Result<(String, u32), String> {
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err("the serial device path is empty (e.g. serial:///dev/ttyUSB0)".into());
    }
    let baud = match query {
        None => DEFAULT_BAUD,
        Some(query) => {
            let value = query
                .strip_prefix("baud=")
                .ok_or_else(|| format!("unknown option {} (the only option is baud=N)", Excerpt::new(query)))?;
            value
                .parse::<u32>()
                .ok()
                .filter(|&b| b > 0)
                .ok_or_else(|| format!("baud rate {} is not a positive number", Excerpt::new(value)))?
        }
    };
    Ok((path.to_string(), baud))
}

fn usb(rest: &str) -> Result<(u16, u16), String> {
    let (vid, pid) = rest
        .split_once(':')
        .ok_or_else(|| format!("expected VID:PID in hexadecimal after usb://, got {}", Excerpt::new(rest)))?;
    let hex = |what: &str, s: &str| {
        let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        let id = (!digits.is_empty() && digits.len() <= 4 && digits.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| u16::from_str_radix(digits, 16).ok())
            .flatten();
        id.ok_or_else(|| format!("{what} {} is not a 16-bit hexadecimal id (1 to 4 hex digits)", Excerpt::new(s)))
    };
    Ok((hex("vendor id", vid)?, hex("product id", pid)?))
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(text: &str) -> Result<Endpoint, EndpointError> {
        Endpoint::parse(text)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            Endpoint::Serial { path, baud } if *baud == DEFAULT_BAUD => write!(f, "serial://{path}"),
            Endpoint::Serial { path, baud } => write!(f, "serial://{path}?baud={baud}"),
            Endpoint::Usb { vid, pid } => write!(f, "usb://{vid:04x}:{pid:04x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for text in [
            "tcp://127.0.0.1:5555",
            "tcp://[::1]:80",
            "udp://localhost:1234",
            "serial:///dev/ttyUSB0?baud=115200",
            "serial:///dev/pts/3",
            "usb://1234:abcd",
        ] {
            assert_eq!(Endpoint::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Endpoint::parse("serial:///dev/pts/3").unwrap(),
            Endpoint::Serial { path: "/dev/pts/3".into(), baud: DEFAULT_BAUD }
        );
        assert_eq!(Endpoint::parse("usb://0x1A:0xB").unwrap(), Endpoint::Usb { vid: 0x1a, pid: 0xb });
        assert_eq!("udp://fpga:1234".parse::<Endpoint>().unwrap().socket_address().as_deref(), Some("fpga:1234"));
    }

    #[test]
    fn errors_name_the_problem() {
        for (bad, why) in [
            ("tcp//x", "SCHEME://"),
            ("tcp://host", "HOST:PORT"),
            ("tcp://:80", "host is empty"),
            ("tcp://::1:80", "brackets"),
            ("udp://h:99999", "port \"99999\""),
            ("udp://h:", "port \"\""),
            ("tcp://h:80/x", "port \"80/x\""),
            ("serial://", "path is empty"),
            ("serial:///dev/x?speed=1", "baud=N"),
            ("serial:///dev/x?baud=0", "baud rate \"0\""),
            ("usb://xyz:1", "vendor id \"xyz\""),
            ("usb://1:12345", "product id \"12345\""),
            ("usb://12", "VID:PID"),
            ("ftp://a:1", "unknown scheme \"ftp\""),
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert_eq!(e.text, bad);
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
