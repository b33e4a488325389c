//! Fault injection as a wrapper around the sending half of any transport ([`Transport::with_faults`]): decisions
//! are made synchronously with the link's seeded generator ([`SplitMix`]) when a datagram is sent, so a seed gives
//! the same faults for the same sequence of datagrams; a task releases the surviving datagrams to the wrapped
//! sender when their delay has passed, letting held-back ones be overtaken by a few later ones.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::datagram::{DatagramSender, EncodedSender, Framing, Transport};
use crate::link::fault::{Faults, SplitMix};

/// A held-back datagram is released right after the next datagram that is not held back, or after this long
/// without traffic.
///
/// Why only one: HostARQ's acknowledgements are 8-bit cumulative sequence numbers, so an acknowledgement must
/// not arrive after the peer has sent 136 (256 - window 120) newer frames, or it is taken for a recent one and
/// acknowledges frames that never arrived. One datagram can advance the acknowledgement by a whole window (120
/// frames, after a gap is filled); once the peer has seen it, it sends another window, and a second overtaking
/// acknowledgement could then be 240 frames ahead. So a held-back datagram may be overtaken by one datagram,
/// not two: the tests with bounded reordering over 3 datagrams caught exactly this.
const MAX_HOLD: Duration = Duration::from_millis(1);

struct Delayed {
    release: Instant,
    overtakers: u32,
    bytes: Vec<u8>,
}

impl Transport {
    /// Wraps this transport so that every datagram it sends suffers seeded faults: loss, corruption,
    /// duplication, reordering and delay (see [`Faults`]; the same seed and send order give the same faults).
    ///
    /// * `drop`: the datagram is lost.
    /// * `corrupt`: on a byte stream one bit of the frame is flipped (the stream framing's CRC must catch
    ///   it); on UDP and in-process the datagram loses its last byte (a real UDP checksum would drop a
    ///   corrupted datagram; a truncated one exercises the receiver's size check instead).
    /// * `duplicate`: the datagram goes out twice.
    /// * `reorder`: the datagram is held back until the next datagram has passed it (or at most 1 ms). Not
    ///   further: HostARQ's 8-bit cumulative acknowledgements go wrong when one is overtaken by two others,
    ///   each of which can advance the acknowledgement by a whole window.
    /// * `latency_us`, `jitter_us`: each datagram is delayed by the latency plus a random part of the jitter,
    ///   but never overtakes an earlier one (order-preserving delay).
    /// * `spacing_us`: at least this much time between datagrams (a bandwidth limit).
    ///
    /// Only the sending direction of this end is affected: wrap both ends for faults both ways. Spawns a task,
    /// so it must be called within a tokio runtime.
    pub fn with_faults(self, faults: Faults, seed: u64) -> Transport {
        self.wrap_sender(|inner| {
            let framing = inner.framing();
            DatagramSender::wrapped(Box::new(FaultySender::spawn(inner, faults, seed)), framing)
        })
    }
}

/// The wrapped sender stopped: it failed (the source), or its task ended with the runtime.
#[derive(Debug, thiserror::Error)]
#[error("the transport under the fault injector failed")]
struct InnerFailed(#[source] Option<Arc<io::Error>>);

struct FaultySender {
    faults: Faults,
    framing: Framing,
    rng: SplitMix,
    queue: mpsc::UnboundedSender<Delayed>,
    /// When the simulated medium is free for the next datagram (`spacing_us`).
    free_at: Instant,
    /// Release time of the last datagram (delays never reorder).
    last_release: Instant,
    failure: Arc<Mutex<Option<Arc<io::Error>>>>,
}

impl FaultySender {
    fn spawn(inner: DatagramSender, faults: Faults, seed: u64) -> FaultySender {
        let (queue, rx) = mpsc::unbounded_channel();
        let failure = Arc::new(Mutex::new(None));
        let framing = inner.framing();
        tokio::spawn(release(inner, rx, failure.clone()));
        let now = Instant::now();
        FaultySender { faults, framing, rng: SplitMix::new(seed), queue, free_at: now, last_release: now, failure }
    }
}

impl EncodedSender for FaultySender {
    /// Applies the faults to one encoded datagram and queues what survives.
    fn send(&mut self, mut bytes: Vec<u8>) -> io::Result<()> {
        let f = self.faults;
        let now = Instant::now();
        let departure = now.max(self.free_at);
        self.free_at = departure + Duration::from_micros(f.spacing_us);
        if self.rng.chance(f.drop) {
            return Ok(());
        }
        if self.rng.chance(f.corrupt) {
            match self.framing {
                Framing::Stream if !bytes.is_empty() => {
                    let bit = (self.rng.next_u64() % (8 * bytes.len() as u64)) as usize;
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                _ => {
                    bytes.pop();
                }
            }
        }
        let copies = if self.rng.chance(f.duplicate) { 2 } else { 1 };
        let overtakers = u32::from(self.rng.chance(f.reorder));
        let jitter = if f.jitter_us > 0 { self.rng.next_u64() % (f.jitter_us + 1) } else { 0 };
        let release = (departure + Duration::from_micros(f.latency_us + jitter)).max(self.last_release);
        self.last_release = release;
        for copy in 0..copies {
            // A duplicate is never held back: it follows its original.
            let overtakers = if copy == 0 { overtakers } else { 0 };
            self.queue.send(Delayed { release, overtakers, bytes: bytes.clone() }).map_err(|_| {
                let cause = self.failure.lock().ok().and_then(|f| f.clone());
                io::Error::new(io::ErrorKind::BrokenPipe, InnerFailed(cause))
            })?;
        }
        Ok(())
    }
}

struct Held {
    bytes: Vec<u8>,
    overtakers: u32,
    deadline: Instant,
}

/// Releases queued datagrams to `inner` when due.
async fn release(
    mut inner: DatagramSender,
    mut rx: mpsc::UnboundedReceiver<Delayed>,
    failure: Arc<Mutex<Option<Arc<io::Error>>>>,
) {
    let mut pending: VecDeque<Delayed> = VecDeque::new();
    let mut held: Vec<Held> = Vec::new();
    let mut closed = false;
    let mut out: Vec<Vec<u8>> = Vec::new();
    loop {
        let wake = pending.front().map(|d| d.release).into_iter().chain(held.iter().map(|h| h.deadline)).min();
        tokio::select! {
            item = rx.recv(), if !closed => match item {
                Some(item) => pending.push_back(item),
                None => closed = true,
            },
            () = sleep_until_some(wake) => {}
        }
        while let Ok(item) = rx.try_recv() {
            pending.push_back(item);
        }
        let now = Instant::now();
        while pending.front().is_some_and(|d| d.release <= now || closed) {
            let Some(d) = pending.pop_front() else { break };
            if d.overtakers > 0 {
                held.push(Held { bytes: d.bytes, overtakers: d.overtakers, deadline: now + MAX_HOLD });
                continue;
            }
            out.push(d.bytes);
            for h in &mut held {
                h.overtakers -= 1;
            }
            release_held(&mut held, &mut out, |h| h.overtakers == 0);
        }
        release_held(&mut held, &mut out, |h| h.deadline <= now || closed);
        if !out.is_empty() {
            if let Err(e) = inner.send_encoded(&out).await {
                if let Ok(mut f) = failure.lock() {
                    *f = Some(Arc::new(e));
                }
                return;
            }
            out.clear();
        }
        if closed && pending.is_empty() && held.is_empty() {
            return;
        }
    }
}

/// Moves the held datagrams that satisfy `due` to `out`, oldest first.
fn release_held(held: &mut Vec<Held>, out: &mut Vec<Vec<u8>>, due: impl Fn(&Held) -> bool) {
    let mut i = 0;
    while i < held.len() {
        if due(&held[i]) {
            out.push(held.remove(i).bytes);
        } else {
            i += 1;
        }
    }
}

async fn sleep_until_some(wake: Option<Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
