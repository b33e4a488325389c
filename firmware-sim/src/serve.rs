//! Serving an [`Emulator`] behind any transport, as an FPGA would: programs arrive as to-FPGA words over a
//! lossless [`Link`], each is executed once its halt has arrived, and the response goes back over the link.
//!
//! * [`serve_link`]: the loop over one link (one client).
//! * [`in_process`]: the embedded default: an in-process transport pair whose far end is served by a task.
//! * [`serve`]: a server on `tcp://ADDR:PORT` (every client in its own task), `udp://ADDR:PORT` (every client
//!   address its own session on the one socket) or `pty` (a pseudo-terminal whose slave side the client opens
//!   as `serial://PATH`; one client at a time).
//!
//! All clients of one server share the emulator (one chip); their programs run one at a time, each as a
//! whole.
//!
//! Faults ([`ServerFaults`]) are injected for tests of the host's recovery: lost, corrupted and duplicated
//! datagrams (the link's ARQ repairs them), stalls (a program that never gets an answer: the host must time
//! out and retry on a new connection) and silent or spontaneously firing neuron circuits. Every fault is drawn
//! from a seeded generator, so a seed gives the same faults for the same traffic.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bss2_protocol::link::Datagram;
use bss2_protocol::link::fault::{Faults, SplitMix};
use bss2_protocol::to_fpga::{Loopback, ToFpga};
use bss2_protocol::transport::{DatagramSender, Endpoint, Link, LinkError, Listener, Transport, TransportError};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::analog::CIRCUITS;
use crate::emulator::Emulator;
use crate::network::NeuronFaults;

/// Words of an unfinished program (no halt yet) kept at most; a client that sends more without a halt has
/// its words discarded up to and including the next halt.
pub const MAX_PROGRAM_WORDS: usize = 1 << 22;

/// A UDP session (one client address) that has not been heard from for this long is closed, so that clients
/// that went away without a word do not pile up. A client that comes back later starts a new session.
pub const UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

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

/// A fault specification that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid faults {text:?}: {reason}")]
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
                .ok_or_else(|| err(format!("expected KEY=PROBABILITY, got {item:?} (e.g. drop=0.05)")))?;
            let (key, value) = (key.trim(), value.trim());
            let slot = faults
                .slot(key)
                .ok_or_else(|| err(format!("unknown fault {key:?} (expected one of {})", FAULT_KEYS.join(", "))))?;
            if seen.contains(&key) {
                return Err(err(format!("{key} is given twice")));
            }
            seen.push(key);
            let p: f64 = value.parse().map_err(|_| err(format!("{key}: {value:?} is not a number")))?;
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

    /// The datagram faults (drop, corrupt, duplicate) for [`Transport::with_faults`].
    pub fn link_faults(&self) -> Faults {
        Faults { drop: self.drop, corrupt: self.corrupt, duplicate: self.duplicate, ..Faults::default() }
    }

    fn has_link_faults(&self) -> bool {
        self.drop > 0.0 || self.corrupt > 0.0 || self.duplicate > 0.0
    }

    fn has_neuron_faults(&self) -> bool {
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

/// Applies the neuron faults of `faults` (if any) to the emulator, drawn from its chip seed.
fn apply_neuron_faults(emulator: &Mutex<Emulator>, faults: &ServerFaults) {
    if faults.has_neuron_faults() {
        let mut emulator = emulator.lock().unwrap_or_else(PoisonError::into_inner);
        let drawn = neuron_faults(emulator.chip_seed(), faults.silent, faults.spontaneous);
        tracing::debug!("{} silent and {} spontaneous circuits", drawn.silent.len(), drawn.spontaneous.len());
        emulator.set_faults(drawn);
    }
}

/// An independent seed for one purpose (`stream`) from a seed.
fn mix(seed: u64, stream: u64) -> u64 {
    SplitMix::new(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
}

/// Connections made by [`in_process`] so far, per fault seed.
static IN_PROCESS_CONNECTIONS: Mutex<BTreeMap<u64, u64>> = Mutex::new(BTreeMap::new());

/// Seed streams.
const SERVER_LINK: u64 = 1;
const CLIENT_LINK: u64 = 2;
const STALLS: u64 = 3;

fn with_link_faults(transport: Transport, faults: &ServerFaults, seed: u64) -> Transport {
    if faults.has_link_faults() { transport.with_faults(faults.link_faults(), seed) } else { transport }
}

/// Whether a link failure means that the client went away (closed its end), not that something broke.
fn peer_left(e: &LinkError) -> bool {
    match e {
        LinkError::Io { source, .. } => matches!(
            source.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
        ),
        LinkError::Closed { .. } => true,
        LinkError::PeerDead { .. } | LinkError::PeerSilent { .. } => false,
    }
}

/// Serves one link: receives words, and whenever a halt has arrived executes everything up to it as one
/// program and sends the response back.
///
/// A program that is not a valid to-FPGA stream is logged (`tracing::warn!`) and gets no answer; serving goes
/// on with the next one. With probability `stall` (drawn per program from a generator seeded with `seed`) a
/// program is swallowed: neither executed nor answered. Programs run on a blocking thread
/// (`spawn_blocking`), with the emulator locked for the whole program.
///
/// Returns when the link fails: `Ok` if the client closed its end, otherwise the link's error (e.g. the
/// client fell silent while a response awaited acknowledgement).
pub async fn serve_link(
    mut link: Link,
    emulator: Arc<Mutex<Emulator>>,
    stall: f64,
    seed: u64,
) -> Result<(), LinkError> {
    let halt = ToFpga::Loopback(Loopback::Halt).encode();
    let peer = link.peer().to_string();
    let mut stalls = ChaCha8Rng::seed_from_u64(seed);
    let mut pending: Vec<u64> = Vec::new();
    let mut discarding = false;
    let left = |e: LinkError| if peer_left(&e) { Ok(()) } else { Err(e) };
    loop {
        let words = match link.recv().await {
            Ok(words) => words,
            Err(e) => return left(e),
        };
        let mut rest = &words[..];
        while let Some(at) = rest.iter().position(|&w| w == halt) {
            let (head, tail) = rest.split_at(at + 1);
            rest = tail;
            if discarding {
                discarding = false;
                pending.clear();
                tracing::warn!("{peer}: a program longer than {MAX_PROGRAM_WORDS} words was discarded");
                continue;
            }
            pending.extend_from_slice(head);
            let program = std::mem::take(&mut pending);
            if stalls.random::<f64>() < stall {
                tracing::debug!("{peer}: stalling: a program of {} words gets no answer", program.len());
                continue;
            }
            if let Some(response) = execute(&emulator, program, &peer).await
                && let Err(e) = link.send(&response).await
            {
                return left(e);
            }
        }
        if !discarding {
            pending.extend_from_slice(rest);
            if pending.len() > MAX_PROGRAM_WORDS {
                discarding = true;
                pending = Vec::new();
            }
        }
    }
}

/// Executes one program on a blocking thread; `None` (logged) if it is malformed or the emulator failed.
async fn execute(emulator: &Arc<Mutex<Emulator>>, program: Vec<u64>, peer: &str) -> Option<Vec<u64>> {
    let emulator = emulator.clone();
    let words = program.len();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut emulator = emulator.lock().unwrap_or_else(PoisonError::into_inner);
        emulator.execute(&program)
    })
    .await;
    match outcome {
        Ok(Ok(response)) => Some(response),
        Ok(Err(e)) => {
            tracing::warn!("{peer}: {e} (a program of {words} words); it gets no answer");
            None
        }
        Err(e) => {
            tracing::warn!("{peer}: the emulator failed on a program of {words} words ({e}); it gets no answer");
            None
        }
    }
}

/// Logs how a client's session ended.
fn report(result: Result<(), LinkError>, peer: &str, loud: bool) {
    match result {
        Ok(()) if loud => tracing::info!("{peer}: the client left"),
        Ok(()) => tracing::debug!("{peer}: the client left"),
        Err(e) if loud => tracing::info!("{e}; the session ends"),
        Err(e) => tracing::debug!("{e}; the session ends"),
    }
}

/// The embedded emulator: an in-process transport pair whose far end a task serves with `emulator`
/// (see [`serve_link`]); returns the near end, for a [`Link`] on the client side.
///
/// Link faults of `faults` are applied to the datagrams of both directions, stalls as in [`serve_link`], and
/// neuron faults (if any) to the emulator. The faults of the n-th connection made with the same `fault_seed`
/// in this process are drawn from (`fault_seed`, n): a client that reconnects after a stall does not meet the
/// same stall again. Spawns tasks, so it must be called within a tokio runtime; the server runs on that
/// runtime and ends when the client's end is dropped.
pub fn in_process(emulator: Arc<Mutex<Emulator>>, faults: &ServerFaults, fault_seed: u64) -> Transport {
    apply_neuron_faults(&emulator, faults);
    let n = {
        let mut connections = IN_PROCESS_CONNECTIONS.lock().unwrap_or_else(PoisonError::into_inner);
        let n = connections.entry(fault_seed).or_insert(0);
        *n += 1;
        *n
    };
    let session = mix(fault_seed, n);
    let (client, server) = Transport::pair();
    let (sender, receiver) = server.split();
    let server = Transport::from_parts(sender, receiver, "in-process client");
    let server = with_link_faults(server, faults, mix(session, SERVER_LINK));
    let client = with_link_faults(client, faults, mix(session, CLIENT_LINK));
    let link = Link::new(server);
    let (stall, seed) = (faults.stall, mix(session, STALLS));
    tokio::spawn(async move {
        let peer = link.peer().to_string();
        report(serve_link(link, emulator, stall, seed).await, &peer, false);
    });
    client
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address is not `tcp://ADDR:PORT`, `udp://ADDR:PORT` or `pty`.
    #[error("cannot listen on {listen:?}: {reason}")]
    Listen {
        /// The address given.
        listen: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Binding the socket failed.
    #[error("cannot listen")]
    Bind(#[from] TransportError),
    /// The pseudo-terminal could not be created or kept.
    #[error("pty: {0}")]
    Pty(String),
}

/// Serves the emulator on `listen` until the task is dropped (or, for `pty`, the pseudo-terminal cannot be
/// kept): `tcp://ADDR:PORT`, `udp://ADDR:PORT` or `pty`. Port 0 picks a free port.
///
/// Calls `ready` once with the endpoint a client connects to: the bound address (`tcp://127.0.0.1:40123`),
/// or for `pty` the serial endpoint of the pseudo-terminal's slave side (`serial:///dev/pts/3`).
///
/// * TCP: every accepted client is served in its own task, until it closes the connection.
/// * UDP: one socket; every client address gets its own session (link and task), created by its first
///   datagram that decodes and closed after [`UDP_IDLE_TIMEOUT`] without a datagram, or when its link fails.
///   Datagrams that do not decode are ignored.
/// * pty: one client at a time. A session begins when a client opens the slave side and ends when it closes
///   it (the master then reads EIO); data the last client left unread is cleared before the next one comes.
///
/// Sessions of clients that go away or send garbage end (logged) without affecting the others. Link faults
/// of `faults` are applied to what the server sends, stalls per program, neuron faults to the emulator; every
/// session draws its faults from its own seed derived from `fault_seed` and the session's number.
pub async fn serve(
    listen: &str,
    emulator: Arc<Mutex<Emulator>>,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    apply_neuron_faults(&emulator, &faults);
    let text = listen.trim();
    if text == "pty" || text == "pty://" {
        return serve_pty(emulator, faults, fault_seed, ready).await;
    }
    const FORMS: &str = "a server listens on tcp://ADDR:PORT, udp://ADDR:PORT or pty (a new pseudo-terminal)";
    let bad = |reason: String| ServeError::Listen { listen: listen.into(), reason };
    if !text.contains("://") {
        return Err(bad(FORMS.into()));
    }
    let endpoint = Endpoint::parse(text).map_err(|e| bad(e.reason))?;
    match endpoint {
        Endpoint::Tcp { .. } => serve_tcp(&endpoint, emulator, faults, fault_seed, ready).await,
        Endpoint::Udp { .. } => serve_udp(&endpoint, emulator, faults, fault_seed, ready).await,
        _ => Err(bad(FORMS.into())),
    }
}

/// Seeds of session `n`: (link faults, stalls).
fn session_seeds(fault_seed: u64, n: u64) -> (u64, u64) {
    let session = mix(fault_seed, n.wrapping_add(0x5E55_1017));
    (mix(session, SERVER_LINK), mix(session, STALLS))
}

async fn serve_tcp(
    endpoint: &Endpoint,
    emulator: Arc<Mutex<Emulator>>,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    let mut listener = Listener::bind(endpoint).await?;
    let bound = listener
        .endpoint()
        .map_err(|source| TransportError::Io { endpoint: endpoint.to_string(), source })?
        .to_string();
    tracing::info!("serving the emulator on {bound} (faults: {faults})");
    ready(bound.clone());
    let mut sessions = 0u64;
    loop {
        match listener.accept().await {
            Ok(transport) => {
                sessions += 1;
                let (link_seed, stall_seed) = session_seeds(fault_seed, sessions);
                let peer = transport.peer().to_string();
                tracing::info!("{peer}: connected");
                let link = Link::new(with_link_faults(transport, &faults, link_seed));
                let (emulator, stall) = (emulator.clone(), faults.stall);
                tokio::spawn(async move { report(serve_link(link, emulator, stall, stall_seed).await, &peer, true) });
            }
            Err(e) => {
                // A client that left before it was accepted, or no file descriptors left: try again shortly.
                tracing::warn!("{bound}: accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// One client address of the UDP server.
struct UdpSession {
    /// Datagrams from the client go into the session's link through this.
    inbound: DatagramSender,
    last_heard: Instant,
    task: tokio::task::JoinHandle<()>,
}

async fn serve_udp(
    endpoint: &Endpoint,
    emulator: Arc<Mutex<Emulator>>,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    let listener = Listener::bind(endpoint).await?;
    let bound = listener
        .endpoint()
        .map_err(|source| TransportError::Io { endpoint: endpoint.to_string(), source })?
        .to_string();
    let Listener::Udp(Some(socket)) = listener else { unreachable!("a udp:// endpoint binds a UDP socket") };
    let socket = Arc::new(socket);
    tracing::info!("serving the emulator on {bound} (faults: {faults})");
    ready(bound.clone());
    let mut sessions: HashMap<SocketAddr, UdpSession> = HashMap::new();
    let mut count = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    let mut prune = tokio::time::interval(Duration::from_secs(5));
    loop {
        let (n, peer) = tokio::select! {
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                // An ICMP error for something sent to a client that is gone.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    tracing::warn!("{bound}: receiving failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = prune.tick() => {
                sessions.retain(|peer, s| {
                    let keep = !s.task.is_finished() && s.last_heard.elapsed() < UDP_IDLE_TIMEOUT;
                    if !keep {
                        tracing::debug!("udp://{peer}: session closed");
                    }
                    keep
                });
                continue;
            }
        };
        let Ok(datagram) = Datagram::decode(&buffer[..n]) else {
            tracing::debug!("{bound}: ignored a damaged datagram of {n} bytes from {peer}");
            continue;
        };
        let mut delivered = false;
        if let Some(session) = sessions.get_mut(&peer) {
            session.last_heard = Instant::now();
            delivered = session.inbound.send(&datagram).await.is_ok();
        }
        if !delivered {
            // A new client, or one whose session has ended: a new session.
            count += 1;
            let seeds = session_seeds(fault_seed, count);
            let mut session = udp_session(socket.clone(), peer, emulator.clone(), &faults, seeds);
            let _ = session.inbound.send(&datagram).await;
            sessions.insert(peer, session);
        }
    }
}

/// A session for one UDP client: an in-process pair bridges the socket to the session's link.
fn udp_session(
    socket: Arc<UdpSocket>,
    peer: SocketAddr,
    emulator: Arc<Mutex<Emulator>>,
    faults: &ServerFaults,
    (link_seed, stall_seed): (u64, u64),
) -> UdpSession {
    let name = format!("udp://{peer}");
    tracing::info!("{name}: connected");
    let (near, bridge) = Transport::pair();
    let (sender, receiver) = near.split();
    let near = with_link_faults(Transport::from_parts(sender, receiver, name.clone()), faults, link_seed);
    let (inbound, mut outbound) = bridge.split();
    let link = Link::new(near);
    // Out to the client, until the link's end of the pair is gone.
    tokio::spawn(async move {
        let mut bytes = Vec::new();
        while let Ok(datagram) = outbound.recv().await {
            bytes.clear();
            datagram.encode_into(&mut bytes);
            if let Err(e) = socket.send_to(&bytes, peer).await {
                tracing::debug!("udp://{peer}: sending failed: {e}");
            }
        }
    });
    let stall = faults.stall;
    let task = tokio::spawn(async move { report(serve_link(link, emulator, stall, stall_seed).await, &name, true) });
    UdpSession { inbound, last_heard: Instant::now(), task }
}

#[cfg(not(unix))]
async fn serve_pty(
    _emulator: Arc<Mutex<Emulator>>,
    _faults: ServerFaults,
    _fault_seed: u64,
    _ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    Err(ServeError::Pty("pseudo-terminals need a Unix system".into()))
}

#[cfg(unix)]
async fn serve_pty(
    emulator: Arc<Mutex<Emulator>>,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    use tokio_serial::SerialPort;

    let (master, slave) = tokio_serial::SerialStream::pair()
        .map_err(|e| ServeError::Pty(format!("cannot create a pseudo-terminal: {e}")))?;
    let path = slave.name().ok_or_else(|| ServeError::Pty("the pseudo-terminal's slave side has no path".into()))?;
    // The client opens the slave side itself; while nobody has it open, the master reads EIO.
    drop(slave);
    let endpoint = Endpoint::Serial { path: path.clone(), baud: bss2_protocol::transport::DEFAULT_BAUD }.to_string();
    let (mut reader, mut writer) = tokio::io::split(master);
    tracing::info!("serving the emulator on {endpoint} (faults: {faults})");
    ready(endpoint.clone());
    for session in 1u64.. {
        let prefix = pty::wait_for_client(&mut reader).await;
        tracing::info!("{endpoint}: a client opened the pseudo-terminal");
        let (link_seed, stall_seed) = session_seeds(fault_seed, session);
        let (transport, returned) = pty::lend(reader, writer, prefix, &endpoint);
        let link = Link::new(with_link_faults(transport, &faults, link_seed));
        report(serve_link(link, emulator.clone(), faults.stall, stall_seed).await, &endpoint, true);
        (reader, writer) =
            tokio::time::timeout(Duration::from_secs(30), returned).await.ok().and_then(Result::ok).ok_or_else(
                || ServeError::Pty(format!("{endpoint}: the session did not release the pseudo-terminal")),
            )?;
        pty::clear_unread(&path);
    }
    Ok(())
}

/// Lending the pseudo-terminal's master to one session at a time.
#[cfg(unix)]
mod pty {
    use super::*;
    use tokio::io::{ReadHalf, WriteHalf};
    use tokio_serial::{ClearBuffer, SerialStream};

    const EIO: i32 = 5;

    /// Set when the client closed the slave side (the master read EIO); wakes a writer blocked on a full
    /// queue, which nobody will drain any more.
    #[derive(Default)]
    struct Hangup {
        flag: AtomicBool,
        writer: Mutex<Option<Waker>>,
    }

    impl Hangup {
        fn signal(&self) {
            self.flag.store(true, Ordering::Release);
            if let Some(waker) = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }

        fn closed() -> io::Error {
            io::Error::new(io::ErrorKind::BrokenPipe, "the client closed the pseudo-terminal")
        }
    }

    /// Gives a value back when dropped.
    struct Lent<T> {
        value: Option<T>,
        back: Option<oneshot::Sender<T>>,
    }

    impl<T> Lent<T> {
        fn new(value: T) -> (Lent<T>, oneshot::Receiver<T>) {
            let (back, returned) = oneshot::channel();
            (Lent { value: Some(value), back: Some(back) }, returned)
        }

        fn get(&mut self) -> io::Result<&mut T> {
            self.value.as_mut().ok_or_else(Hangup::closed)
        }
    }

    impl<T> Drop for Lent<T> {
        fn drop(&mut self) {
            if let (Some(value), Some(back)) = (self.value.take(), self.back.take()) {
                let _ = back.send(value);
            }
        }
    }

    struct Reader {
        half: Lent<ReadHalf<SerialStream>>,
        /// Bytes read while waiting for the client, delivered first.
        prefix: Vec<u8>,
        at: usize,
        hangup: Arc<Hangup>,
    }

    impl AsyncRead for Reader {
        fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if this.at < this.prefix.len() {
                let n = buf.remaining().min(this.prefix.len() - this.at);
                buf.put_slice(&this.prefix[this.at..this.at + n]);
                this.at += n;
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            let half = match this.half.get() {
                Ok(half) => half,
                Err(e) => return Poll::Ready(Err(e)),
            };
            match Pin::new(half).poll_read(cx, buf) {
                Poll::Ready(Err(e)) => {
                    this.hangup.signal();
                    Poll::Ready(Err(if e.raw_os_error() == Some(EIO) {
                        io::Error::new(io::ErrorKind::UnexpectedEof, "the client closed the pseudo-terminal")
                    } else {
                        e
                    }))
                }
                Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                    this.hangup.signal();
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        }
    }

    struct Writer {
        half: Lent<WriteHalf<SerialStream>>,
        hangup: Arc<Hangup>,
    }

    impl Writer {
        /// Fails once the client has gone; otherwise makes sure a hangup wakes this task.
        fn check(&mut self, cx: &Context<'_>) -> io::Result<&mut WriteHalf<SerialStream>> {
            *self.hangup.writer.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            if self.hangup.flag.load(Ordering::Acquire) {
                return Err(Hangup::closed());
            }
            self.half.get()
        }
    }

    impl AsyncWrite for Writer {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            match self.get_mut().check(cx) {
                Ok(half) => Pin::new(half).poll_write(cx, buf),
                Err(e) => Poll::Ready(Err(e)),
            }
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.get_mut().check(cx) {
                Ok(half) => Pin::new(half).poll_flush(cx),
                Err(e) => Poll::Ready(Err(e)),
            }
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            // The master stays open for the next client.
            Poll::Ready(Ok(()))
        }
    }

    type Halves = (ReadHalf<SerialStream>, WriteHalf<SerialStream>);

    /// A transport over the master for one session; the future gives both halves back once the session has
    /// dropped them (its link's tasks have ended).
    pub(super) fn lend(
        reader: ReadHalf<SerialStream>,
        writer: WriteHalf<SerialStream>,
        prefix: Vec<u8>,
        name: &str,
    ) -> (Transport, impl Future<Output = Result<Halves, oneshot::error::RecvError>>) {
        let hangup = Arc::new(Hangup::default());
        let (reader, reader_back) = Lent::new(reader);
        let (writer, writer_back) = Lent::new(writer);
        let transport = Transport::stream(
            Reader { half: reader, prefix, at: 0, hangup: hangup.clone() },
            Writer { half: writer, hangup },
            name,
        );
        (transport, async move { Ok((reader_back.await?, writer_back.await?)) })
    }

    /// Waits until a client has the slave side open (reading the master no longer fails with EIO); returns
    /// what the client has sent already.
    pub(super) async fn wait_for_client(reader: &mut ReadHalf<SerialStream>) -> Vec<u8> {
        let mut buffer = vec![0u8; 1 << 12];
        loop {
            match tokio::time::timeout(Duration::from_millis(20), reader.read(&mut buffer)).await {
                // Nothing to read, but no error either: the slave side is open.
                Err(_) => return Vec::new(),
                Ok(Ok(n)) if n > 0 => return buffer[..n].to_vec(),
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Clears what the server sent that the last client left unread (it would reach the next client and,
    /// being frames of another session, confuse its link) by opening the slave side and flushing its input.
    pub(super) fn clear_unread(path: &str) {
        let cleared = tokio_serial::new(path, bss2_protocol::transport::DEFAULT_BAUD)
            .open()
            .and_then(|port| port.clear(ClearBuffer::Input));
        if let Err(e) = cleared {
            // Most likely the next client has opened it already.
            tracing::warn!("serial://{path}: cannot clear data the last client left unread: {e}");
        }
    }
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
