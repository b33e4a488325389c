//! Serving an [`Emulator`] behind any transport, as an FPGA would: programs arrive as to-FPGA words over a
//! lossless [`Link`](bss2_protocol::transport::Link), each is executed once its halt has arrived, and the
//! response goes back over the link.
//!
//! * [`InProcessServer`]: the embedded default: in-process transport pairs whose far ends are served by tasks.
//! * [`serve`]: a server on `tcp://ADDR:PORT` (every client in its own task), `udp://ADDR:PORT` (every client
//!   address its own session on the one socket) or `pty` (a pseudo-terminal whose slave side the client opens
//!   as `serial://PATH`; one client at a time).
//!
//! All clients of one server share the emulator (one chip); their programs run one at a time, each as a
//! whole.
//!
//! Bounds, so that no client (garbage, huge or endless programs, thousands of connections) can exhaust the
//! server: what one program may produce is bounded by the emulator's [`Limits`](crate::Limits); what the server
//! holds for its clients (programs, queued programs, responses not yet sent, clients at once) by
//! [`ServerLimits`]. A program over a bound is answered with a timeout notification (the protocol's way of
//! saying a program failed, naming the instruction) and the halt, and the server logs why; a client that floods
//! a session with programs is disconnected; connections over the limit are closed (TCP) or ignored (UDP).
//!
//! Faults ([`ServerFaults`], planned in [`faults`](crate::faults)) are injected for tests of the host's
//! recovery: lost, corrupted and duplicated datagrams (the link's ARQ repairs them), stalls (a program that
//! never gets an answer: the host must time out and retry on a new connection) and silent or spontaneously
//! firing neuron circuits. Every fault is drawn from a seeded generator, so a seed gives the same faults for
//! the same traffic.

mod error;
mod in_process;
mod programs;
mod pty;
mod session;
mod tcp;
mod udp;

use std::sync::{Arc, Mutex};

use bss2_protocol::transport::Endpoint;

use crate::emulator::Emulator;
pub use crate::faults::{FaultsError, ServerFaults, neuron_faults};
pub use error::ServeError;
pub use in_process::InProcessServer;
pub use session::{ServerLimits, SessionError};
pub use udp::{UDP_EVICT_AFTER, UDP_IDLE_TIMEOUT};

/// Serves the emulator on `listen` with the default [`ServerLimits`] (see [`serve_with`]).
pub async fn serve(
    listen: &str,
    emulator: Arc<Mutex<Emulator>>,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    serve_with(listen, emulator, faults, fault_seed, ServerLimits::default(), ready).await
}

/// Serves the emulator on `listen` until the task is dropped (or, for `pty`, the pseudo-terminal cannot be
/// kept): `tcp://ADDR:PORT`, `udp://ADDR:PORT` or `pty`. Port 0 picks a free port.
///
/// Calls `ready` once with the endpoint a client connects to: the bound address (`tcp://127.0.0.1:40123`),
/// or for `pty` the serial endpoint of the pseudo-terminal's slave side (`serial:///dev/pts/3`).
///
/// * TCP: every accepted client is served in its own task, until it closes the connection; at most
///   [`ServerLimits::tcp_clients`] at once, further connections are closed at once.
/// * UDP: one socket; every client address gets its own session (link and task), created by its first
///   datagram that decodes and closed after [`UDP_IDLE_TIMEOUT`] without a datagram, when its link fails, or
///   (at [`ServerLimits::udp_sessions`]) to make room for a new address after [`UDP_EVICT_AFTER`] of silence.
///   Datagrams that do not decode are ignored.
/// * pty: one client at a time. A session begins when a client opens the slave side and ends when it closes
///   it (the master then reads EIO); data the last client left unread is cleared before the next one comes.
///
/// Sessions of clients that go away or send garbage end (logged) without affecting the others. Link faults
/// of `faults` are applied to what the server sends, stalls per program, neuron faults to the emulator; every
/// session draws its faults from its own seed derived from `fault_seed` and the session's number.
pub async fn serve_with(
    listen: &str,
    emulator: Arc<Mutex<Emulator>>,
    faults: ServerFaults,
    fault_seed: u64,
    limits: ServerLimits,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    session::apply_neuron_faults(&emulator, &faults);
    let shared = session::Shared::new(emulator, limits);
    let text = listen.trim();
    if text == "pty" || text == "pty://" {
        return pty::serve_pty(shared, faults, fault_seed, ready).await;
    }
    let form = || ServeError::Form { listen: bss2_protocol::Excerpt::new(listen) };
    if !text.contains("://") {
        return Err(form());
    }
    let endpoint = Endpoint::parse(text).map_err(ServeError::Endpoint)?;
    match endpoint {
        Endpoint::Tcp { .. } => tcp::serve_tcp(&endpoint, shared, faults, fault_seed, ready).await,
        Endpoint::Udp { .. } => udp::serve_udp(&endpoint, shared, faults, fault_seed, ready).await,
        _ => Err(form()),
    }
}
