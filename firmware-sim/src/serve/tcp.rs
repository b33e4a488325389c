//! The TCP server: every accepted client is served in its own task, up to [`ServerLimits::tcp_clients`] at
//! once; further connections are closed at once.

use std::sync::Arc;
use std::time::Duration;

use bss2_protocol::transport::{Endpoint, Link, Listener, Transport, TransportError};
use tokio::sync::Semaphore;

use super::error::ServeError;
use super::session::{ServerLimits, SessionFaults, Shared, report, serve_link, with_link_faults};
use crate::faults::{ServerFaults, session_seeds};

pub(crate) async fn serve_tcp(
    endpoint: &Endpoint,
    shared: Shared,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    let mut listener = Listener::bind(endpoint).await?;
    let bound = listener
        .endpoint()
        .map_err(|source| TransportError::Io { endpoint: endpoint.to_string(), source })?
        .to_string();
    let Listener::Tcp(listener) = &mut listener else { unreachable!("a tcp:// endpoint binds a TCP listener") };
    tracing::info!("serving the emulator on {bound} (faults: {faults})");
    ready(bound.clone());
    let ServerLimits { tcp_clients, .. } = shared.limits;
    let slots = Arc::new(Semaphore::new(tcp_clients));
    let mut sessions = 0u64;
    let mut refusing = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // A client that left before it was accepted, or no file descriptors left: try again shortly.
                tracing::warn!("{bound}: accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closed before anything is allocated for it: the client reads the end of the stream.
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            if !refusing {
                tracing::warn!(
                    "{bound}: {tcp_clients} clients are connected, the most served at once; closing new connections"
                );
            }
            tracing::debug!("tcp://{peer}: refused (the server has {tcp_clients} clients)");
            refusing = true;
            continue;
        };
        refusing = false;
        let transport = match Transport::tcp(stream) {
            Ok(transport) => transport,
            Err(e) => {
                tracing::debug!("{bound}: a client left while being accepted: {e}");
                continue;
            }
        };
        sessions += 1;
        let (link_seed, stall_seed) = session_seeds(fault_seed, sessions);
        let peer = transport.peer().to_string();
        tracing::info!("{peer}: connected");
        let link = Link::new(with_link_faults(transport, &faults, link_seed));
        let (shared, session) = (shared.clone(), SessionFaults { stall: faults.stall, seed: stall_seed });
        tokio::spawn(async move {
            report(serve_link(link, shared, session).await, &peer, true);
            drop(slot);
        });
    }
}
