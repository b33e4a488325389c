//! A lossless, ordered link of 64-bit words: the sans-I/O [`Arq`] driven over a [`Transport`] with tokio timers.
//!
//! Design: [`Link::new`] spawns two tasks. A *reader* task only receives datagrams and forwards them over an
//! unbounded channel, so the medium is always drained, even while the other task waits for a slow write (two
//! ends both blocked writing into full byte streams would otherwise deadlock). The *driver* task owns the
//! [`Arq`] and the sending half: in a loop it takes in what arrived, accepts words from [`Link::send`] while
//! the ARQ's queue has room, hands in-order payloads to [`Link::recv`], transmits whatever the ARQ has due and
//! sleeps until the next datagram, command or ARQ deadline. Because the driver runs on its own,
//! acknowledgements and retransmissions continue while the owner of the `Link` does something else.
//!
//! A dead peer is detected two ways: the ARQ gives up on a frame after `max_transmissions`, or nothing at all
//! is heard from the peer for [`LinkConfig::peer_timeout`] while sent data awaits acknowledgement. Silence
//! while nothing is outstanding is fine (the FPGA may be busy running a program); wrap [`Link::recv`] in
//! `tokio::time::timeout` to bound such waits ([`Connection`](super::Connection) does).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::datagram::{DatagramReceiver, DatagramSender, Transport};
use crate::link::{Arq, ArqConfig, ArqError, Datagram};

/// Settings of a [`Link`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// The ARQ's settings.
    pub arq: ArqConfig,
    /// Longest silence from the peer tolerated while sent data awaits acknowledgement.
    pub peer_timeout: Duration,
}

impl Default for LinkConfig {
    /// [`LinkConfig::tokio`].
    fn default() -> Self {
        LinkConfig::tokio()
    }
}

impl LinkConfig {
    /// Settings for links driven by tokio (the default): the window, frame size and transmission limit of
    /// HostARQ ([`ArqConfig::default`]), but acknowledgements go out as soon as a batch of received datagrams
    /// has been processed (`ack_delay_us` 0: the driver drains everything that arrived before transmitting,
    /// so one acknowledgement covers a batch) and the retransmission timeout is 2 ms instead of 756 us. Tokio's
    /// timers have a resolution of 1 ms, so HostARQ's values would race: a delayed acknowledgement and a
    /// retransmission would fire at the same tick and frames would be resent needlessly. A dead peer is
    /// declared after 5 s of silence.
    pub fn tokio() -> LinkConfig {
        LinkConfig {
            arq: ArqConfig { rto_us: 2_000, ack_delay_us: 0, ..ArqConfig::default() },
            peer_timeout: Duration::from_secs(5),
        }
    }

    /// HostARQ's own timing ([`ArqConfig::default`]: RTO 756 us, acknowledgements delayed by 500 us), with a
    /// 5 s peer timeout.
    pub fn hostarq() -> LinkConfig {
        LinkConfig { arq: ArqConfig::default(), peer_timeout: Duration::from_secs(5) }
    }
}

/// Why a link stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// The ARQ gave up: a frame went unacknowledged too often (its message says which and how often).
    #[error("{peer}: the link gave up")]
    PeerDead {
        /// The peer.
        peer: String,
        /// The ARQ's error.
        source: ArqError,
    },
    /// Nothing was heard from the peer for too long while data awaited acknowledgement.
    #[error("{peer}: no answer from the peer for {silent:?} while sent data awaited acknowledgement")]
    PeerSilent {
        /// The peer.
        peer: String,
        /// How long it was silent.
        silent: Duration,
    },
    /// The transport failed (connection closed, device gone, socket error).
    #[error("{peer}: transport failed")]
    Io {
        /// The peer.
        peer: String,
        /// The error.
        source: Arc<io::Error>,
    },
    /// The link's tasks are gone (their runtime shut down).
    #[error("{peer}: the link is closed")]
    Closed {
        /// The peer.
        peer: String,
    },
}

/// Counters of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams handed to the transport (frames, retransmissions and acknowledgements).
    pub datagrams_sent: u64,
    /// Datagrams received that decoded.
    pub datagrams_received: u64,
    /// Datagrams received damaged (wrong size, failed checksum) and skipped.
    pub datagrams_rejected: u64,
    /// Datagrams received intact but dropped because [`INCOMING_DATAGRAMS`] were already waiting for the
    /// link's driver (the peer resends them).
    pub datagrams_dropped: u64,
    /// Payloads delivered in order.
    pub payloads_delivered: u64,
}

#[derive(Debug, Default)]
struct Shared {
    error: Mutex<Option<LinkError>>,
    sent: AtomicU64,
    received: AtomicU64,
    delivered: AtomicU64,
    rejected: Arc<AtomicU64>,
    dropped: AtomicU64,
    /// Set when the driver stopped with everything it was given sent and acknowledged.
    all_acknowledged: AtomicBool,
}

#[derive(Debug)]
enum Command {
    Send(Vec<u64>),
    Flush(oneshot::Sender<()>),
}

/// Frames the driver's ARQ may have queued (not yet in flight) before it stops taking words from
/// [`Link::send`]; that is where the backpressure comes from.
const QUEUED_FRAMES: usize = 256;
/// Commands waiting for the driver.
const COMMANDS: usize = 16;
/// Frames' worth of words per command.
const FRAMES_PER_COMMAND: usize = 32;

/// Received datagrams waiting for the link's driver at most; more are dropped (and resent by the peer's ARQ).
/// A peer that keeps to the window has far fewer in flight; the bound keeps one that floods the link (while
/// the driver waits for a slow write) from filling the memory.
pub const INCOMING_DATAGRAMS: usize = 512;

/// One end of a lossless, ordered link of 64-bit words (see the module documentation for how it works).
///
/// When a `Link` is dropped, its driver goes on until everything queued has been acknowledged (or the peer
/// counts as dead), then stops together with the reader and releases the transport.
#[derive(Debug)]
pub struct Link {
    commands: mpsc::Sender<Command>,
    delivered: mpsc::UnboundedReceiver<Vec<u64>>,
    shared: Arc<Shared>,
    peer: String,
    chunk_words: usize,
    driver: JoinHandle<()>,
}

impl Link {
    /// A link over `transport` with [`LinkConfig::default`]. Spawns the link's tasks, so it must be called
    /// within a tokio runtime (like `tokio::spawn`); the tasks run on that runtime.
    pub fn new(transport: Transport) -> Link {
        Link::with_config(transport, LinkConfig::default())
    }

    /// A link over `transport` with the given settings (see [`Link::new`]).
    pub fn with_config(transport: Transport, config: LinkConfig) -> Link {
        let peer = transport.peer().to_string();
        let (sender, receiver) = transport.split();
        let shared = Arc::new(Shared { rejected: receiver.rejected_counter(), ..Shared::default() });
        let (incoming_tx, incoming) = mpsc::channel(INCOMING_DATAGRAMS);
        let reader = tokio::spawn(read(receiver, incoming_tx, shared.clone()));
        let (commands, command_rx) = mpsc::channel(COMMANDS);
        let (deliver, delivered) = mpsc::unbounded_channel();
        let arq = Arq::new(config.arq);
        let chunk_words = arq.config().max_payload_words * FRAMES_PER_COMMAND;
        let now = Instant::now();
        let driver = Driver {
            arq,
            config,
            peer: peer.clone(),
            sender,
            incoming,
            commands: command_rx,
            commands_closed: false,
            deliver,
            flush_waiters: Vec::new(),
            start: now,
            last_heard: now,
            busy_since: None,
            shared: shared.clone(),
            outgoing: Vec::new(),
        };
        let driver = tokio::spawn(driver.run(reader));
        Link { commands, delivered, shared, peer, chunk_words, driver }
    }

    /// Names the peer (the endpoint string where there is one).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Counters.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            datagrams_sent: self.shared.sent.load(Ordering::Relaxed),
            datagrams_received: self.shared.received.load(Ordering::Relaxed),
            datagrams_rejected: self.shared.rejected.load(Ordering::Relaxed),
            datagrams_dropped: self.shared.dropped.load(Ordering::Relaxed),
            payloads_delivered: self.shared.delivered.load(Ordering::Relaxed),
        }
    }

    /// The error that stopped the link, if it has stopped.
    pub fn error(&self) -> Option<LinkError> {
        self.shared.error()
    }

    /// The sending and the receiving half, to use both at once: e.g. to keep taking the peer's words while a
    /// long send waits for acknowledgements.
    pub fn halves(&mut self) -> (LinkSender<'_>, LinkReceiver<'_>) {
        let Link { commands, delivered, shared, peer, chunk_words, .. } = self;
        (LinkSender { commands, shared, peer, chunk_words: *chunk_words }, LinkReceiver { delivered, shared, peer })
    }

    /// Queues words for the peer (see [`LinkSender::send`]).
    pub async fn send(&mut self, words: &[u64]) -> Result<(), LinkError> {
        self.halves().0.send(words).await
    }

    /// The next payload from the peer, in order (see [`LinkReceiver::recv`]). Cancel-safe.
    pub async fn recv(&mut self) -> Result<Vec<u64>, LinkError> {
        self.halves().1.recv().await
    }

    /// A payload if one has arrived, without waiting.
    pub fn try_recv(&mut self) -> Option<Vec<u64>> {
        self.delivered.try_recv().ok()
    }

    /// Waits until everything sent so far has been acknowledged by the peer.
    pub async fn flush(&mut self) -> Result<(), LinkError> {
        self.halves().0.flush().await
    }

    /// Waits until everything sent has been acknowledged, then stops the link's tasks and releases the
    /// transport. Succeeds if everything sent was acknowledged, even if the peer closed the transport (or
    /// the link failed otherwise) afterwards.
    pub async fn close(mut self) -> Result<(), LinkError> {
        let flushed = self.flush().await;
        let Link { commands, driver, shared, .. } = self;
        drop(commands);
        let _ = driver.await;
        match flushed {
            Err(e) if !shared.all_acknowledged.load(Ordering::Acquire) => Err(e),
            _ => Ok(()),
        }
    }
}

impl Shared {
    fn error(&self) -> Option<LinkError> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn failure(&self, peer: &str) -> LinkError {
        self.error().unwrap_or_else(|| LinkError::Closed { peer: peer.to_string() })
    }
}

/// The sending half of a [`Link`] ([`Link::halves`]).
#[derive(Debug)]
pub struct LinkSender<'a> {
    commands: &'a mpsc::Sender<Command>,
    shared: &'a Shared,
    peer: &'a str,
    chunk_words: usize,
}

impl LinkSender<'_> {
    /// Queues words for the peer. Returns once the driver has taken them (waiting while its queue is full);
    /// they are then sent as the window allows, in frames of at most `max_payload_words` (180) words. Use
    /// [`LinkSender::flush`] to wait until the peer has acknowledged them.
    ///
    /// Cancel-safe in the sense that a cancelled call has queued a prefix of `words` in whole chunks.
    pub async fn send(&self, words: &[u64]) -> Result<(), LinkError> {
        for chunk in words.chunks(self.chunk_words) {
            if self.commands.send(Command::Send(chunk.to_vec())).await.is_err() {
                return Err(self.shared.failure(self.peer));
            }
        }
        Ok(())
    }

    /// Waits until everything sent so far has been acknowledged by the peer.
    pub async fn flush(&self) -> Result<(), LinkError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Flush(tx)).await.is_err() {
            return Err(self.shared.failure(self.peer));
        }
        rx.await.map_err(|_| self.shared.failure(self.peer))
    }
}

/// The receiving half of a [`Link`] ([`Link::halves`]).
#[derive(Debug)]
pub struct LinkReceiver<'a> {
    delivered: &'a mut mpsc::UnboundedReceiver<Vec<u64>>,
    shared: &'a Shared,
    peer: &'a str,
}

impl LinkReceiver<'_> {
    /// The next payload from the peer, in order. Payloads are the peer's frames: the peer's sends arrive
    /// split at frame boundaries (at most 180 words each), but concatenated in order they give exactly the
    /// words sent, each once. Payloads that arrived before the link failed are still returned first.
    ///
    /// Cancel-safe (usable in `select!` and with `tokio::time::timeout`).
    pub async fn recv(&mut self) -> Result<Vec<u64>, LinkError> {
        match self.delivered.recv().await {
            Some(words) => Ok(words),
            None => Err(self.shared.failure(self.peer)),
        }
    }
}

/// Forwards received datagrams to the driver until the medium fails or the driver is gone. Never waits for
/// the driver: while its queue is full, datagrams are dropped (the medium must be drained, see the module
/// documentation).
async fn read(mut receiver: DatagramReceiver, to_driver: mpsc::Sender<io::Result<Datagram>>, shared: Arc<Shared>) {
    loop {
        match receiver.recv().await {
            Ok(datagram) => match to_driver.try_send(Ok(datagram)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            },
            Err(e) => {
                // The failure itself must arrive: wait for room.
                let _ = to_driver.send(Err(e)).await;
                return;
            }
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Driver {
    arq: Arq,
    config: LinkConfig,
    peer: String,
    sender: DatagramSender,
    incoming: mpsc::Receiver<io::Result<Datagram>>,
    commands: mpsc::Receiver<Command>,
    commands_closed: bool,
    deliver: mpsc::UnboundedSender<Vec<u64>>,
    flush_waiters: Vec<oneshot::Sender<()>>,
    /// The ARQ's clock starts here.
    start: Instant,
    last_heard: Instant,
    /// Since when sent data has awaited acknowledgement.
    busy_since: Option<Instant>,
    shared: Arc<Shared>,
    outgoing: Vec<Datagram>,
}

impl Driver {
    async fn run(mut self, reader: JoinHandle<()>) {
        // Stops the reader however the driver ends (also when its task is dropped at runtime shutdown).
        let _reader = AbortOnDrop(reader.abort_handle());
        let result = self.work().await;
        // The error first: closing the command channel below makes `Link::send` look it up.
        if let Err(e) = result
            && let Ok(mut slot) = self.shared.error.lock()
        {
            *slot = Some(e);
        }
        // Was everything the owner handed over sent and acknowledged? No more sends are let in from here on.
        self.commands.close();
        let mut lost = !self.arq.is_idle();
        while let Ok(command) = self.commands.try_recv() {
            lost |= matches!(command, Command::Send(words) if !words.is_empty());
        }
        self.shared.all_acknowledged.store(!lost, Ordering::Release);
        // Dropping the channels and flush waiters wakes everyone waiting on this link.
    }

    fn now_us(&self, now: Instant) -> u64 {
        now.duration_since(self.start).as_micros() as u64
    }

    fn io_error(&self, e: io::Error) -> LinkError {
        LinkError::Io { peer: self.peer.clone(), source: Arc::new(e) }
    }

    fn take(&mut self, received: Option<io::Result<Datagram>>, now: Instant) -> Result<(), LinkError> {
        let received = received.ok_or_else(|| self.io_error(io::Error::other("the transport's reader stopped")))?;
        let datagram = received.map_err(|e| self.io_error(e))?;
        self.shared.received.fetch_add(1, Ordering::Relaxed);
        self.last_heard = now;
        let now_us = self.now_us(now);
        self.arq.receive(datagram, now_us);
        Ok(())
    }

    fn accepting(&self) -> bool {
        !self.commands_closed && self.arq.queued() < QUEUED_FRAMES
    }

    fn command(&mut self, command: Option<Command>) -> Result<(), LinkError> {
        match command {
            None => self.commands_closed = true,
            Some(Command::Flush(waiter)) => self.flush_waiters.push(waiter),
            Some(Command::Send(words)) => {
                self.arq.send(&words).map_err(|source| LinkError::PeerDead { peer: self.peer.clone(), source })?
            }
        }
        Ok(())
    }

    async fn work(&mut self) -> Result<(), LinkError> {
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        loop {
            let now = Instant::now();
            while let Ok(received) = self.incoming.try_recv() {
                self.take(Some(received), now)?;
            }
            while self.accepting() {
                match self.commands.try_recv() {
                    Ok(command) => self.command(Some(command))?,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => self.command(None)?,
                }
            }
            while let Some(words) = self.arq.poll_deliver() {
                self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                // If the owner has dropped the link, payloads are acknowledged and discarded.
                let _ = self.deliver.send(words);
            }
            let now_us = self.now_us(now);
            self.outgoing.clear();
            while let Some(d) = self.arq.poll_transmit(now_us) {
                self.outgoing.push(d);
            }
            if !self.outgoing.is_empty() {
                self.sender.send_all(&self.outgoing).await.map_err(|e| self.io_error(e))?;
                self.shared.sent.fetch_add(self.outgoing.len() as u64, Ordering::Relaxed);
            }
            if let Some(e) = self.arq.error() {
                return Err(LinkError::PeerDead { peer: self.peer.clone(), source: e.clone() });
            }
            let mut wake = self.arq.next_deadline().map(|t| self.start + Duration::from_micros(t));
            if self.arq.is_idle() {
                self.busy_since = None;
                for waiter in self.flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
                if self.commands_closed {
                    return Ok(());
                }
            } else {
                let since = *self.busy_since.get_or_insert(now);
                let silent_since = since.max(self.last_heard);
                let give_up = silent_since + self.config.peer_timeout;
                if now >= give_up {
                    return Err(LinkError::PeerSilent { peer: self.peer.clone(), silent: now - silent_since });
                }
                wake = Some(wake.map_or(give_up, |w| w.min(give_up)));
            }
            if let Some(wake) = wake {
                sleep.as_mut().reset(wake);
            }
            let accepting = self.accepting();
            tokio::select! {
                biased;
                received = self.incoming.recv() => self.take(received, Instant::now())?,
                command = self.commands.recv(), if accepting => self.command(command)?,
                () = &mut sleep, if wake.is_some() => {}
            }
        }
    }
}
