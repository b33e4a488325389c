//! The embedded emulator: in-process transport pairs whose far ends are served by tasks.

use std::sync::{Arc, Mutex};

use bss2_protocol::transport::{Link, Transport};

use super::session::{ServerLimits, SessionFaults, Shared, apply_neuron_faults, report, serve_link, with_link_faults};
use crate::emulator::Emulator;
use crate::faults::{ServerFaults, in_process_seeds};

/// The embedded emulator's server: hands out in-process connections to one emulator and counts them, so that
/// each draws its own faults.
///
/// Link faults are applied to the datagrams of both directions, stalls per program, neuron faults (if any) to
/// the emulator (once, here). The faults of the n-th connection (n = 1, 2, ...) are drawn from
/// (`fault_seed`, n): a client that reconnects after a stall does not meet the same stall again, and the same
/// sequence of connections meets the same faults in every run.
#[derive(Debug)]
pub struct InProcessServer {
    shared: Shared,
    faults: ServerFaults,
    fault_seed: u64,
    connections: u64,
}

impl InProcessServer {
    /// A server of `emulator` with `faults` drawn from `fault_seed`, and the default [`ServerLimits`].
    pub fn new(emulator: Arc<Mutex<Emulator>>, faults: ServerFaults, fault_seed: u64) -> InProcessServer {
        apply_neuron_faults(&emulator, &faults);
        InProcessServer { shared: Shared::new(emulator, ServerLimits::default()), faults, fault_seed, connections: 0 }
    }

    /// The emulator served.
    pub fn emulator(&self) -> &Arc<Mutex<Emulator>> {
        &self.shared.emulator
    }

    /// Connections made so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// A new connection: an in-process transport pair whose far end a task serves; returns the near end, for
    /// a [`Link`] on the client side. Spawns tasks, so it must be called within a tokio runtime; the session
    /// runs on that runtime and ends when the client's end is dropped.
    pub fn connect(&mut self) -> Transport {
        self.connections += 1;
        let (server_seed, client_seed, stall_seed) = in_process_seeds(self.fault_seed, self.connections);
        let (client, server) = Transport::pair();
        let (sender, receiver) = server.split();
        let server = Transport::from_parts(sender, receiver, "in-process client");
        let server = with_link_faults(server, &self.faults, server_seed);
        let client = with_link_faults(client, &self.faults, client_seed);
        let link = Link::new(server);
        let (shared, faults) = (self.shared.clone(), SessionFaults { stall: self.faults.stall, seed: stall_seed });
        tokio::spawn(async move {
            let peer = link.peer().to_string();
            report(serve_link(link, shared, faults).await, &peer, false);
        });
        client
    }
}
