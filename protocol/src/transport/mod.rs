//! Transports (tokio, behind the `io` feature): moving link datagrams over an in-process pair, UDP, TCP, serial
//! and USB; the lossless [`Link`] that runs the ARQ over any of them; and [`Connection`], which runs programs.
//!
//! Layers, bottom up:
//!
//! * [`Endpoint`]: where a chip is, as a string (`tcp://HOST:PORT`, `udp://HOST:PORT`,
//!   `serial://PATH[?baud=N]`, `usb://VID:PID`).
//! * [`Transport`]: unreliable datagrams ([`Datagram`](crate::link::Datagram)) to and from one peer. UDP
//!   carries one HostARQ frame per UDP datagram, as the real systems do; byte streams (TCP, serial, USB)
//!   carry COBS + CRC-32 frames ([`encode_stream_frame`](crate::link::encode_stream_frame)); the in-process
//!   pair passes encoded datagrams over tokio channels. [`Listener`] is the server side for TCP and UDP.
//!   [`Transport::with_faults`] injects seeded faults for tests.
//! * [`Link`]: the sans-I/O [`Arq`](crate::link::Arq) driven by a task over a transport: ordered,
//!   exactly-once delivery of 64-bit words, dead-peer detection.
//! * [`Connection`]: sends a [`Program`](crate::program::Program) and decodes its response up to the halt;
//!   [`BlockingConnection`] for callers that are not async.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bss2_protocol::program::ProgramBuilder;
//! use bss2_protocol::transport::{Connection, Endpoint};
//!
//! let mut connection = Connection::open(&Endpoint::parse("udp://192.168.4.1:1234")?).await?;
//! let mut program = ProgramBuilder::new();
//! let ticket = program.read(0x0014_0002);
//! let response = connection.run(&program.build()).await?;
//! println!("{:?}", response.read(ticket));
//! # Ok(())
//! # }
//! ```

// Module dependencies point one way: `datagram` (the transport type) <- `fault` (a wrapper around any
// transport's sender), `usb`, `open` (opening endpoints) <- `link` <- `connection`.
mod connection;
mod datagram;
mod endpoint;
mod error;
mod fault;
mod link;
mod open;
mod usb;

pub use connection::{BlockingConnection, Connection, ConnectionError, DEFAULT_RUN_TIMEOUT};
pub use datagram::{DatagramReceiver, DatagramSender, Framing, Transport, UDP_BUFFER_BYTES};
pub use endpoint::{DEFAULT_BAUD, Endpoint, EndpointError};
pub use error::TransportError;
pub use link::{INCOMING_DATAGRAMS, Link, LinkConfig, LinkError, LinkReceiver, LinkSender, LinkStats};
pub use open::Listener;
pub use usb::{USB_IN_ENDPOINT, USB_INTERFACE, USB_OUT_ENDPOINT, UsbError};
