//! One client's session, whatever the transport: the link's words are cut into programs, each program is
//! executed on the shared emulator once its halt has arrived, and its response goes back over the link. The
//! link is read all the time (also while a program runs or a response waits for acknowledgements), so what a
//! client sends is always counted against the server's bounds ([`ServerLimits`]).

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use bss2_protocol::transport::{Link, LinkError, LinkSender, Transport};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::programs::{Budget, Job, Programs};
use crate::emulator::{Emulator, stopped_answer};
use crate::faults::{ServerFaults, neuron_faults};

/// What a server holds for its clients at most. A program over the limit, or one that does not fit into what
/// the server holds for all its sessions, is refused: its words are dropped up to its halt, and it is answered
/// with a timeout notification (naming the first dropped instruction) and the halt, so the client learns at
/// once; the refusal is logged. The emulator's own [`Limits`](crate::Limits) bound what one program produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Words of one program (up to and including its halt) at most.
    pub program_words: usize,
    /// Words held for all sessions together (programs received and queued, responses not yet sent).
    pub held_words: usize,
    /// Programs of one session waiting to run at most; a client that sends more without waiting for the
    /// answers is disconnected.
    pub queued_programs: usize,
    /// TCP clients served at once; more connections are closed at once (and logged).
    pub tcp_clients: usize,
    /// UDP sessions (client addresses) at once; a new address then takes the place of the longest-silent
    /// session if that has been silent for [`UDP_EVICT_AFTER`](super::UDP_EVICT_AFTER), else it is ignored.
    pub udp_sessions: usize,
}

impl Default for ServerLimits {
    /// 1 Mi words per program (the main job's largest is 0.15 M), 4 Mi words (32 MB) held in all, 64 queued
    /// programs per session, 32 TCP clients, 32 UDP sessions.
    fn default() -> Self {
        ServerLimits {
            program_words: 1 << 20,
            held_words: 1 << 22,
            queued_programs: 64,
            tcp_clients: 32,
            udp_sessions: 32,
        }
    }
}

/// What every session of one server shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) emulator: Arc<Mutex<Emulator>>,
    pub(crate) limits: ServerLimits,
    pub(crate) budget: Arc<Budget>,
}

impl Shared {
    pub(crate) fn new(emulator: Arc<Mutex<Emulator>>, limits: ServerLimits) -> Shared {
        Shared { emulator, limits, budget: Budget::new(limits.held_words) }
    }
}

/// A session's own settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionFaults {
    /// Probability that a program is swallowed (neither executed nor answered).
    pub(crate) stall: f64,
    /// Seed of the stall draws.
    pub(crate) seed: u64,
}

/// Applies the neuron faults of `faults` (if any) to the emulator, drawn from its chip seed.
pub(crate) fn apply_neuron_faults(emulator: &Mutex<Emulator>, faults: &ServerFaults) {
    if faults.has_neuron_faults() {
        let mut emulator = emulator.lock().unwrap_or_else(PoisonError::into_inner);
        let drawn = neuron_faults(emulator.chip_seed(), faults.silent, faults.spontaneous);
        tracing::debug!("{} silent and {} spontaneous circuits", drawn.silent.len(), drawn.spontaneous.len());
        emulator.set_faults(drawn);
    }
}

/// The transport with the link faults of `faults` on what it sends (if there are any).
pub(crate) fn with_link_faults(transport: Transport, faults: &ServerFaults, seed: u64) -> Transport {
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

/// Why a session ended other than by the client leaving.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The link failed (e.g. the client fell silent while a response awaited acknowledgement).
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The client queued more programs than a session takes without waiting for their answers.
    #[error("{peer}: more than {limit} programs queued without waiting for their answers; the session is closed")]
    Flooded {
        /// The client.
        peer: String,
        /// [`ServerLimits::queued_programs`].
        limit: usize,
    },
}

/// An error with its sources, as one line (for logs).
pub(crate) struct Chain<'a>(pub(crate) &'a dyn Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

/// Logs how a client's session ended (a disconnected flooding client as a warning).
pub(crate) fn report(result: Result<(), SessionError>, peer: &str, loud: bool) {
    match result {
        Ok(()) if loud => tracing::info!("{peer}: the client left"),
        Ok(()) => tracing::debug!("{peer}: the client left"),
        Err(e @ SessionError::Flooded { .. }) => tracing::warn!("{e}"),
        Err(e) if loud => tracing::info!("{}; the session ends", Chain(&e)),
        Err(e) => tracing::debug!("{}; the session ends", Chain(&e)),
    }
}

type Work<'a> = Pin<Box<dyn Future<Output = Result<(), LinkError>> + Send + 'a>>;

/// Serves one link: receives words, and whenever a halt has arrived executes everything up to it as one
/// program and sends the response back (see the [module documentation](super) for the bounds).
///
/// A program that is not a valid to-FPGA stream is logged (`tracing::warn!`) and gets no answer; serving goes
/// on with the next one. With probability `faults.stall` (drawn per program from a generator seeded with
/// `faults.seed`) a program is swallowed: neither executed nor answered. Programs run on a blocking thread
/// (`spawn_blocking`), with the emulator locked for the whole program.
///
/// Returns when the link fails: `Ok` if the client closed its end, otherwise why the session ended.
pub(crate) async fn serve_link(mut link: Link, shared: Shared, faults: SessionFaults) -> Result<(), SessionError> {
    let peer = link.peer().to_string();
    let left = |e: LinkError| if peer_left(&e) { Ok(()) } else { Err(SessionError::Link(e)) };
    let (sender, mut receiver) = link.halves();
    let mut programs = Programs::new(shared.limits.program_words, shared.budget.clone());
    let mut jobs: VecDeque<Job> = VecDeque::new();
    let mut stalls = ChaCha8Rng::seed_from_u64(faults.seed);
    let mut current: Option<Work<'_>> = None;
    loop {
        while current.is_none()
            && let Some(job) = jobs.pop_front()
        {
            current = match job {
                Job::Run { words, held } => {
                    if stalls.random::<f64>() < faults.stall {
                        tracing::debug!("{peer}: stalling: a program of {} words gets no answer", words.len());
                        continue;
                    }
                    Some(Box::pin(run(&sender, &shared, words, held, &peer)))
                }
                Job::Refuse { instruction, why } => {
                    tracing::warn!("{peer}: {why}: refused, answered with a timeout at instruction {instruction}");
                    Some(Box::pin(answer(&sender, stopped_answer(instruction))))
                }
            };
        }
        tokio::select! {
            received = receiver.recv() => match received {
                Ok(words) => {
                    programs.push(&words, &mut jobs);
                    if jobs.len() > shared.limits.queued_programs {
                        return Err(SessionError::Flooded { peer: peer.clone(), limit: shared.limits.queued_programs });
                    }
                }
                Err(e) => return left(e),
            },
            done = async { current.as_mut().expect("polled only while some").await }, if current.is_some() => {
                current = None;
                if let Err(e) = done {
                    return left(e);
                }
            }
        }
    }
}

async fn answer(sender: &LinkSender<'_>, words: Vec<u64>) -> Result<(), LinkError> {
    sender.send(&words).await
}

/// Executes one program and sends its answer (if it gets one). The answer is held within the server's budget
/// until it is sent; if it does not fit, the program is answered as refused instead.
async fn run(
    sender: &LinkSender<'_>,
    shared: &Shared,
    program: Vec<u64>,
    held: super::programs::Held,
    peer: &str,
) -> Result<(), LinkError> {
    let answer = execute(&shared.emulator, program, peer).await;
    drop(held);
    let Some(answer) = answer else { return Ok(()) };
    let Some(_held) = shared.budget.take(answer.len()) else {
        tracing::warn!(
            "{peer}: a response of {} words does not fit into what the server holds ({} words); answered with a \
             timeout instead",
            answer.len(),
            shared.limits.held_words
        );
        return sender.send(&stopped_answer(0)).await;
    };
    sender.send(&answer).await
}

/// Executes one program on a blocking thread; `None` (logged) if it gets no answer.
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
            let answer = e.answer();
            let what = if answer.is_some() { "answered with a timeout notification" } else { "it gets no answer" };
            tracing::warn!("{peer}: {} (a program of {words} words); {what}", Chain(&e));
            answer
        }
        Err(e) => {
            tracing::warn!("{peer}: the emulator failed on a program of {words} words ({e}); it gets no answer");
            None
        }
    }
}
