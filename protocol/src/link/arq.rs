//! A sans-I/O ARQ endpoint (spec §2.4): sequence numbers modulo 256, a sliding window of at most 128 frames,
//! cumulative acknowledgements piggy-backed on data frames or sent alone after a short delay, retransmission
//! after a timeout, duplicates and frames outside the window dropped (but acknowledged again), in-order
//! delivery. Both ends of a link use it; time is passed in by the caller (microseconds), so it is deterministic
//! and testable without I/O.
//!
//! Retransmission follows sctrltp: a frame first sent at `t0` is sent again when `now - t0` reaches
//! `transmissions x rto`, i.e. after rto, 2 rto, 3 rto, ... After `max_transmissions` the peer counts as dead.
//! One refinement: a copy is never sent within one rto of the previous one. sctrltp's rule alone would send
//! several copies back to back when the caller polls late (a tokio timer has 1 ms resolution, the rto is
//! 756 us); when polled on time both rules give the same schedule.
//! The receiver keeps frames that arrive ahead of a gap (within the window) and delivers them once the gap is
//! filled, so one lost frame costs one retransmission, not a whole window.
//!
//! As in HostARQ, sequence numbers are 8 bits: a stale copy of a frame must not arrive after 128 newer frames
//! were sent, or it would be taken for a new one. Real links (and the fault channel's bandwidth model) ensure
//! this: 128 full frames take over a millisecond at 1 Gbit/s.

use std::collections::{BTreeMap, VecDeque};

use super::frame::{Datagram, Frame, MAX_PDU_WORDS, PTYPE_UT};

/// Sequence numbers are counted modulo this.
pub const SEQUENCE_SPACE: u32 = 256;

/// Settings of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArqConfig {
    /// Frames in flight at most (at most half the sequence space).
    pub window: u32,
    /// Retransmission timeout (us).
    pub rto_us: u64,
    /// Delay before a standalone acknowledgement (us).
    pub ack_delay_us: u64,
    /// Transmissions of one frame after which the peer counts as dead.
    pub max_transmissions: u32,
    /// Payload words per frame.
    pub max_payload_words: usize,
    /// Frames waiting to be sent at most.
    pub max_queued_frames: usize,
}

impl Default for ArqConfig {
    /// sctrltp's values (RTO 756 us, ACK delay 500 us, 10 000 transmissions, 180 words) except the window:
    /// 120 frames instead of 128. With 8-bit sequence numbers, an acknowledgement that waited in a queue while
    /// a whole window of 128 newer frames went through would name the newest frame in flight and be taken for
    /// the acknowledgement of everything; a window of 120 leaves room for acknowledgements up to 136 frames old.
    fn default() -> Self {
        ArqConfig {
            window: 120,
            rto_us: 756,
            ack_delay_us: 500,
            max_transmissions: 10_000,
            max_payload_words: MAX_PDU_WORDS,
            max_queued_frames: 1 << 16,
        }
    }
}

/// Why an endpoint cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArqError {
    /// A frame went unacknowledged too often: the peer is gone.
    #[error("frame {seq} was sent {transmissions} times without an acknowledgement: the peer does not answer")]
    PeerDead {
        /// Its sequence number.
        seq: u32,
        /// How often it was sent.
        transmissions: u32,
    },
    /// The send queue is full.
    #[error("the send queue is full ({0} frames)")]
    QueueFull(usize),
}

#[derive(Clone, Debug)]
struct InFlight {
    seq: u32,
    words: Vec<u64>,
    first_sent: u64,
    last_sent: u64,
    transmissions: u32,
}

impl InFlight {
    fn resend_at(&self, rto: u64) -> u64 {
        (self.first_sent + u64::from(self.transmissions) * rto).max(self.last_sent + rto)
    }
}

/// One end of a link.
#[derive(Debug)]
pub struct Arq {
    config: ArqConfig,
    next_seq: u32,
    in_flight: VecDeque<InFlight>,
    queue: VecDeque<Vec<u64>>,
    /// The next sequence number expected from the peer.
    expected: u32,
    /// Frames received ahead of a gap, by distance from `expected`.
    ahead: BTreeMap<u32, Vec<u64>>,
    delivered: VecDeque<Vec<u64>>,
    ack_due: Option<u64>,
    error: Option<ArqError>,
}

fn distance(from: u32, to: u32) -> u32 {
    to.wrapping_sub(from) % SEQUENCE_SPACE
}

impl Arq {
    /// A fresh endpoint (both sides start at sequence number 0).
    pub fn new(config: ArqConfig) -> Arq {
        let config = ArqConfig {
            window: config.window.clamp(1, SEQUENCE_SPACE / 2),
            max_payload_words: config.max_payload_words.clamp(1, MAX_PDU_WORDS),
            ..config
        };
        Arq {
            config,
            next_seq: 0,
            in_flight: VecDeque::new(),
            queue: VecDeque::new(),
            expected: 0,
            ahead: BTreeMap::new(),
            delivered: VecDeque::new(),
            ack_due: None,
            error: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ArqConfig {
        &self.config
    }

    /// Queues words for sending, split into frames of at most `max_payload_words`.
    pub fn send(&mut self, words: &[u64]) -> Result<(), ArqError> {
        let frames = words.len().div_ceil(self.config.max_payload_words);
        if self.queue.len() + frames > self.config.max_queued_frames {
            return Err(ArqError::QueueFull(self.config.max_queued_frames));
        }
        self.queue.extend(words.chunks(self.config.max_payload_words).map(<[u64]>::to_vec));
        Ok(())
    }

    /// Frames waiting to be sent (not yet in flight).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The acknowledgement to send: the last sequence number received in order (255 before the first).
    fn ack_value(&self) -> u32 {
        self.expected.wrapping_sub(1) % SEQUENCE_SPACE
    }

    /// Handles a datagram from the peer.
    pub fn receive(&mut self, datagram: Datagram, now_us: u64) {
        let ack = match &datagram {
            Datagram::Ack(a) => *a,
            Datagram::Frame(f) => f.ack,
        };
        // Cumulative acknowledgement: everything up to `ack` arrived. Only values naming a frame in flight count;
        // anything else is a stale acknowledgement (e.g. from before the sequence numbers wrapped).
        if let Some(front) = self.in_flight.front() {
            let acknowledged = distance(front.seq, ack) as usize + 1;
            if acknowledged <= self.in_flight.len() {
                self.in_flight.drain(..acknowledged);
            }
        }
        let Datagram::Frame(frame) = datagram else { return };
        if frame.ptype != PTYPE_UT {
            return;
        }
        // Every data frame gets an acknowledgement, duplicates included (their ACK may have been lost).
        self.ack_due.get_or_insert(now_us + self.config.ack_delay_us);
        let ahead = distance(self.expected, frame.seq);
        if ahead >= self.config.window {
            return; // old duplicate or outside the window
        }
        self.ahead.entry(ahead).or_insert(frame.words);
        // Deliver what is now contiguous.
        while let Some(words) = self.ahead.remove(&0) {
            self.delivered.push_back(words);
            self.expected = (self.expected + 1) % SEQUENCE_SPACE;
            self.ahead = std::mem::take(&mut self.ahead).into_iter().map(|(d, w)| (d - 1, w)).collect();
        }
    }

    /// The next datagram to put on the wire now, if any: a due retransmission, a new frame within the
    /// window, or a due standalone acknowledgement.
    pub fn poll_transmit(&mut self, now_us: u64) -> Option<Datagram> {
        if self.error.is_some() {
            return None;
        }
        let ack = self.ack_value();
        let rto = self.config.rto_us;
        if let Some(frame) =
            self.in_flight.iter_mut().filter(|f| f.resend_at(rto) <= now_us).min_by_key(|f| f.resend_at(rto))
        {
            if frame.transmissions >= self.config.max_transmissions {
                self.error = Some(ArqError::PeerDead { seq: frame.seq, transmissions: frame.transmissions });
                return None;
            }
            frame.transmissions += 1;
            frame.last_sent = now_us;
            self.ack_due = None;
            return Some(Datagram::Frame(Frame { ack, seq: frame.seq, ptype: PTYPE_UT, words: frame.words.clone() }));
        }
        if (self.in_flight.len() as u32) < self.config.window
            && let Some(words) = self.queue.pop_front()
        {
            let seq = self.next_seq;
            self.next_seq = (seq + 1) % SEQUENCE_SPACE;
            self.in_flight.push_back(InFlight {
                seq,
                words: words.clone(),
                first_sent: now_us,
                last_sent: now_us,
                transmissions: 1,
            });
            self.ack_due = None;
            return Some(Datagram::Frame(Frame { ack, seq, ptype: PTYPE_UT, words }));
        }
        if self.ack_due.is_some_and(|t| t <= now_us) {
            self.ack_due = None;
            return Some(Datagram::Ack(ack));
        }
        None
    }

    /// The next payload received in order, if any.
    pub fn poll_deliver(&mut self) -> Option<Vec<u64>> {
        self.delivered.pop_front()
    }

    /// When `poll_transmit` will next have something to send without new input (a retransmission or a delayed
    /// acknowledgement); `Some(0)` if it has something now.
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.queue.is_empty() && (self.in_flight.len() as u32) < self.config.window {
            return Some(0);
        }
        let resend = self.in_flight.iter().map(|f| f.resend_at(self.config.rto_us)).min();
        match (resend, self.ack_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether everything queued has been sent and acknowledged.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// The error that stopped the endpoint, if any.
    pub fn error(&self) -> Option<&ArqError> {
        self.error.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves every pending datagram from `a` to `b`.
    fn pump(a: &mut Arq, b: &mut Arq, now: u64) -> usize {
        let mut n = 0;
        while let Some(d) = a.poll_transmit(now) {
            b.receive(d, now);
            n += 1;
        }
        n
    }

    #[test]
    fn lossless_exchange_delivers_in_order_and_acknowledges() {
        let (mut a, mut b) = (Arq::new(ArqConfig::default()), Arq::new(ArqConfig::default()));
        a.send(&(0..1000).collect::<Vec<u64>>()).unwrap();
        assert_eq!(a.queued(), 6);
        pump(&mut a, &mut b, 0);
        let got: Vec<u64> = std::iter::from_fn(|| b.poll_deliver()).flatten().collect();
        assert_eq!(got, (0..1000).collect::<Vec<u64>>());
        assert!(!a.is_idle());
        // B acknowledges after its delay; then A is idle.
        assert_eq!(b.next_deadline(), Some(500));
        assert_eq!(pump(&mut b, &mut a, 500), 1);
        assert!(a.is_idle());
    }

    #[test]
    fn a_lost_frame_is_retransmitted_and_a_dead_peer_detected() {
        let config = ArqConfig { max_transmissions: 3, ..ArqConfig::default() };
        let (mut a, mut b) = (Arq::new(config), Arq::new(config));
        a.send(&[1]).unwrap();
        a.send(&[2]).unwrap();
        let lost = a.poll_transmit(0).unwrap();
        drop(lost);
        pump(&mut a, &mut b, 0); // frame 2 arrives ahead of the gap
        assert_eq!(b.poll_deliver(), None);
        assert_eq!(a.next_deadline(), Some(756));
        pump(&mut a, &mut b, 756); // both are resent; frame 1 fills the gap
        assert_eq!((b.poll_deliver(), b.poll_deliver(), b.poll_deliver()), (Some(vec![1]), Some(vec![2]), None));
        // Nobody answers any more: the error comes after max_transmissions.
        let mut c = Arq::new(config);
        c.send(&[3]).unwrap();
        let mut now = 0;
        while c.error().is_none() && now < 10_000_000 {
            while c.poll_transmit(now).is_some() {}
            now = c.next_deadline().unwrap_or(now + 1).max(now + 1);
        }
        assert_eq!(c.error(), Some(&ArqError::PeerDead { seq: 0, transmissions: 3 }));
    }

    #[test]
    fn a_late_poll_sends_one_copy_not_a_burst() {
        let mut a = Arq::new(ArqConfig::default());
        a.send(&[1]).unwrap();
        assert!(a.poll_transmit(0).is_some());
        // Polled 2.5 timeouts late: sctrltp's rule alone would resend twice at once.
        assert!(a.poll_transmit(1890).is_some());
        assert_eq!(a.poll_transmit(1890), None);
        assert_eq!(a.next_deadline(), Some(1890 + 756));
        // On time again, the schedule continues.
        assert!(a.poll_transmit(2646).is_some());
        assert_eq!(a.next_deadline(), Some(2646 + 756));
    }
}

#[cfg(test)]
mod invariants {
    use super::*;
    use crate::link::fault::{Faults, FaultyChannel, Medium};

    /// Under heavy faults and queueing, the sender never considers a frame acknowledged that the receiver has
    /// not received (this caught acknowledgements delayed by a whole window being taken for new ones).
    #[test]
    fn the_sender_never_believes_more_than_the_receiver_has() {
        let faults = Faults {
            drop: 0.10,
            corrupt: 0.01,
            duplicate: 0.02,
            latency_us: 40,
            jitter_us: 120,
            spacing_us: 4,
            ..Faults::default()
        };
        let (mut a, mut b) = (Arq::new(ArqConfig::default()), Arq::new(ArqConfig::default()));
        let mut ab = FaultyChannel::new(faults, Medium::Datagrams, 11);
        let mut ba = FaultyChannel::new(faults, Medium::Datagrams, 22);
        let (mut sent_a, mut sent_b, mut got_b) = (0u64, 0u64, 0u64);
        let mut now = 0u64;
        while got_b < 3000 {
            for (arq, sent) in [(&mut a, &mut sent_a), (&mut b, &mut sent_b)] {
                while arq.queued() < 64 {
                    arq.send(&[*sent]).unwrap();
                    *sent += 1;
                }
            }
            while let Some(d) = a.poll_transmit(now) {
                ab.send(d.encode(), now);
            }
            while let Some(d) = b.poll_transmit(now) {
                ba.send(d.encode(), now);
            }
            while let Some(bytes) = ab.poll(now) {
                b.receive(Datagram::decode(&bytes).unwrap(), now);
            }
            while let Some(w) = b.poll_deliver() {
                assert_eq!(w[0], got_b);
                got_b += 1;
            }
            while let Some(bytes) = ba.poll(now) {
                a.receive(Datagram::decode(&bytes).unwrap(), now);
                // Everything before a's oldest unacknowledged frame must have reached b.
                let oldest = a.in_flight.front().map_or(sent_a - a.queued() as u64, |f| f.words[0]);
                assert!(oldest <= got_b, "at {now} us a counts message {oldest} as received, b has {got_b}");
            }
            while a.poll_deliver().is_some() {}
            let next = [a.next_deadline(), b.next_deadline(), ab.next_delivery(), ba.next_delivery()];
            now = next.into_iter().flatten().min().unwrap_or(now + 1).max(now + 1);
        }
    }
}
