//! Cutting a session's word stream into programs (each ends with its halt), within the server's bounds: a
//! program longer than the limit, or one that does not fit into what the server may hold for all its
//! sessions, is refused (its words are dropped up to its halt) and answered with a timeout notification. No
//! I/O.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bss2_protocol::to_fpga::{Loopback, ToFpga};

/// Words held by all sessions of one server (unfinished and queued programs, responses not yet sent), at most
/// a limit.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: AtomicUsize::new(0) })
    }

    /// Words held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// A share of `words`, if that fits.
    pub(crate) fn take(self: &Arc<Self>, words: usize) -> Option<Held> {
        let mut held = Held { budget: self.clone(), words: 0 };
        held.grow(words).then_some(held)
    }
}

/// A share of a [`Budget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<Budget>,
    words: usize,
}

impl Held {
    /// Takes `words` more; false (nothing taken) if that does not fit.
    fn grow(&mut self, words: usize) -> bool {
        let limit = self.budget.limit;
        let taken = self
            .budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(words).filter(|&total| total <= limit)
            })
            .is_ok();
        if taken {
            self.words += words;
        }
        taken
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.words, Ordering::AcqRel);
    }
}

/// Words a queued program is charged beyond its own (its bookkeeping), so that a flood of tiny programs is
/// bounded too.
const PROGRAM_OVERHEAD_WORDS: usize = 16;

/// Why a program was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// More words than one program may have.
    #[error("the program is longer than {0} words")]
    TooLong(usize),
    /// The server holds as much as it may for all its sessions.
    #[error("the server holds {0} words for its clients already (programs and responses)")]
    ServerFull(usize),
}

/// What the session does next, in the order the programs arrived.
#[derive(Debug)]
pub(crate) enum Job {
    /// Execute a program (its words, with their share of the budget).
    Run { words: Vec<u64>, held: Held },
    /// Answer a refused program: a timeout notification naming the first instruction that was dropped.
    Refuse { instruction: usize, why: Refusal },
}

/// Cuts one session's words into [`Job`]s.
#[derive(Debug)]
pub(crate) struct Programs {
    halt: u64,
    max_words: usize,
    budget: Arc<Budget>,
    pending: Vec<u64>,
    held: Option<Held>,
    /// The unfinished program is being dropped: where, and why.
    refusing: Option<(usize, Refusal)>,
}

impl Programs {
    /// Programs of at most `max_words` words (halt included), held within `budget`.
    pub(crate) fn new(max_words: usize, budget: Arc<Budget>) -> Programs {
        let halt = ToFpga::Loopback(Loopback::Halt).encode();
        Programs { halt, max_words, budget, pending: Vec::new(), held: None, refusing: None }
    }

    /// Takes words from the link; appends a job for every program whose halt they contain.
    pub(crate) fn push(&mut self, words: &[u64], jobs: &mut VecDeque<Job>) {
        let mut rest = words;
        while let Some(at) = rest.iter().position(|&w| w == self.halt) {
            let (head, tail) = rest.split_at(at + 1);
            rest = tail;
            self.extend(head);
            jobs.push_back(match self.refusing.take() {
                Some((instruction, why)) => Job::Refuse { instruction, why },
                None => Job::Run {
                    words: std::mem::take(&mut self.pending),
                    held: self.held.take().expect("a program's share is taken with its first words"),
                },
            });
        }
        self.extend(rest);
    }

    /// Appends words to the unfinished program, unless it is refused (then they are dropped).
    fn extend(&mut self, words: &[u64]) {
        if self.refusing.is_some() || words.is_empty() {
            return;
        }
        let refusal = if self.pending.len() + words.len() > self.max_words {
            Some((self.max_words, Refusal::TooLong(self.max_words)))
        } else {
            let more = words.len() + if self.held.is_none() { PROGRAM_OVERHEAD_WORDS } else { 0 };
            let fits = match &mut self.held {
                Some(held) => held.grow(more),
                None => self.budget.take(more).map(|held| self.held = Some(held)).is_some(),
            };
            (!fits).then(|| (self.pending.len(), Refusal::ServerFull(self.budget.limit)))
        };
        match refusal {
            None => self.pending.extend_from_slice(words),
            Some(refusal) => {
                self.refusing = Some(refusal);
                self.pending = Vec::new();
                self.held = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halt() -> u64 {
        ToFpga::Loopback(Loopback::Halt).encode()
    }

    fn words(jobs: &VecDeque<Job>) -> Vec<Result<usize, (usize, Refusal)>> {
        jobs.iter()
            .map(|j| match j {
                Job::Run { words, .. } => Ok(words.len()),
                Job::Refuse { instruction, why } => Err((*instruction, *why)),
            })
            .collect()
    }

    #[test]
    fn programs_end_at_their_halt_across_payloads() {
        let budget = Budget::new(1000);
        let mut programs = Programs::new(10, budget.clone());
        let mut jobs = VecDeque::new();
        programs.push(&[1, 2], &mut jobs);
        programs.push(&[3, halt(), 4, halt(), 5], &mut jobs);
        assert_eq!(words(&jobs), [Ok(4), Ok(2)]);
        // Each program holds its words and its overhead until its job is done.
        assert_eq!(budget.used(), 4 + 2 + 1 + 3 * PROGRAM_OVERHEAD_WORDS);
        jobs.clear();
        drop(programs);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_long_program_is_refused_at_the_limit_and_the_next_one_runs() {
        let budget = Budget::new(1000);
        let mut programs = Programs::new(10, budget.clone());
        let mut jobs = VecDeque::new();
        programs.push(&[7; 8], &mut jobs);
        programs.push(&[7; 8], &mut jobs);
        // The refused words are not kept.
        assert_eq!(budget.used(), 0);
        programs.push(&[7, halt(), 1, halt()], &mut jobs);
        assert_eq!(words(&jobs), [Err((10, Refusal::TooLong(10))), Ok(2)]);
    }

    #[test]
    fn what_does_not_fit_into_the_server_is_refused() {
        let budget = Budget::new(100);
        let mut a = Programs::new(1000, budget.clone());
        let mut b = Programs::new(1000, budget.clone());
        let (mut ja, mut jb) = (VecDeque::new(), VecDeque::new());
        a.push(&[7; 60], &mut ja);
        b.push(&[7; 30], &mut jb);
        b.push(&[halt()], &mut jb);
        assert_eq!(words(&jb), [Err((0, Refusal::ServerFull(100)))]);
        // Once a's words are released, b's next program fits.
        drop(a);
        b.push(&[7; 30], &mut jb);
        b.push(&[halt()], &mut jb);
        assert_eq!(words(&jb)[1], Ok(31));
    }
}
