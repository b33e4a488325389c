//! The UDP server: one socket; every client address gets its own session (link and task), created by its
//! first datagram that decodes. A session ends when its link fails, after [`UDP_IDLE_TIMEOUT`] without a
//! datagram, or, when [`ServerLimits::udp_sessions`] are open, to make room for a new address once it has been
//! silent for [`UDP_EVICT_AFTER`]. Datagrams that do not decode, and those of new addresses while no room
//! can be made, are ignored (a client's link resends them).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bss2_protocol::link::Datagram;
use bss2_protocol::transport::{DatagramSender, Endpoint, Link, Listener, Transport, TransportError};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::error::ServeError;
use super::session::{SessionFaults, Shared, report, serve_link, with_link_faults};
use crate::faults::{ServerFaults, session_seeds};

/// A UDP session (one client address) that has not been heard from for this long is closed, so that clients
/// that went away without a word do not pile up. A client that comes back later starts a new session.
pub const UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// When all session slots are taken, a new client address takes the place of the session silent longest, if
/// that has been silent for at least this long. Shorter than a client link's peer timeout (5 s), so a client
/// that arrives while departed clients fill the slots is served within its link's patience.
pub const UDP_EVICT_AFTER: Duration = Duration::from_secs(1);

/// One client address of the UDP server.
struct UdpSession {
    /// Datagrams from the client go into the session's link through this.
    inbound: DatagramSender,
    last_heard: Instant,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UdpSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn serve_udp(
    endpoint: &Endpoint,
    shared: Shared,
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
    let limit = shared.limits.udp_sessions;
    let mut sessions: HashMap<SocketAddr, UdpSession> = HashMap::new();
    let mut count = 0u64;
    let mut full = false;
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
        if let Some(session) = sessions.get_mut(&peer) {
            session.last_heard = Instant::now();
            if session.inbound.send(&datagram).await.is_ok() {
                continue;
            }
            // Its session has ended: a new one.
            sessions.remove(&peer);
        }
        sessions.retain(|_, s| !s.task.is_finished());
        if sessions.len() >= limit && !evict_one(&mut sessions) {
            if !full {
                tracing::warn!("{bound}: {limit} sessions are open, the most at once; ignoring new clients");
            }
            full = true;
            continue;
        }
        full = false;
        count += 1;
        let seeds = session_seeds(fault_seed, count);
        let mut session = udp_session(socket.clone(), peer, shared.clone(), &faults, seeds);
        let _ = session.inbound.send(&datagram).await;
        sessions.insert(peer, session);
    }
}

/// Closes the session silent longest if it has been silent for [`UDP_EVICT_AFTER`]; false if none has.
fn evict_one(sessions: &mut HashMap<SocketAddr, UdpSession>) -> bool {
    let oldest = sessions.iter().min_by_key(|(_, s)| s.last_heard).map(|(&peer, s)| (peer, s.last_heard));
    match oldest {
        Some((peer, heard)) if heard.elapsed() >= UDP_EVICT_AFTER => {
            tracing::info!("udp://{peer}: session closed to make room for a new client");
            sessions.remove(&peer);
            true
        }
        _ => false,
    }
}

/// A session for one UDP client: an in-process pair bridges the socket to the session's link.
fn udp_session(
    socket: Arc<UdpSocket>,
    peer: SocketAddr,
    shared: Shared,
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
    let session = SessionFaults { stall: faults.stall, seed: stall_seed };
    let task = tokio::spawn(async move { report(serve_link(link, shared, session).await, &name, true) });
    UdpSession { inbound, last_heard: Instant::now(), task }
}
