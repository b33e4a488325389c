//! Two ARQ endpoints over seeded faulty channels (10 % drops, 1 % corruption, duplicates, reordering): 10^5
//! messages in each direction arrive exactly once and in order, as UDP datagrams and over the byte-stream
//! framing; and a peer that stops answering is detected.

use bss2_protocol::link::fault::{Faults, FaultyChannel, Medium};
use bss2_protocol::link::{Arq, ArqConfig, ArqError, Datagram, StreamDeframer, encode_stream_frame};

const MESSAGES: u64 = 100_000;
const TAG: u64 = 0x5EED_0000_0000_0000;

struct Side {
    arq: Arq,
    /// Channel towards the other side.
    out: FaultyChannel,
    deframer: StreamDeframer,
    sent: u64,
    received: u64,
    rejected: usize,
}

fn faults() -> Faults {
    // 4 us per datagram: a whole window (128) leaves within the retransmission timeout.
    Faults {
        drop: 0.10,
        corrupt: 0.01,
        duplicate: 0.02,
        latency_us: 40,
        jitter_us: 120,
        spacing_us: 4,
        ..Faults::default()
    }
}

impl Side {
    fn new(medium: Medium, seed: u64) -> Side {
        Side {
            arq: Arq::new(ArqConfig::default()),
            out: FaultyChannel::new(faults(), medium, seed),
            deframer: StreamDeframer::new(),
            sent: 0,
            received: 0,
            rejected: 0,
        }
    }

    /// Keeps the send queue topped up and transmits everything due.
    fn transmit(&mut self, medium: Medium, now: u64) {
        while self.arq.queued() < 64 && self.sent < MESSAGES {
            self.arq.send(&[self.sent, self.sent ^ TAG]).unwrap();
            self.sent += 1;
        }
        while let Some(d) = self.arq.poll_transmit(now) {
            let bytes = match medium {
                Medium::Datagrams => d.encode(),
                Medium::Stream => {
                    let mut b = Vec::new();
                    encode_stream_frame(&d, &mut b);
                    b
                }
            };
            self.out.send(bytes, now);
        }
    }

    /// Takes what the other side's channel delivers by `now`.
    fn receive(&mut self, incoming: &mut FaultyChannel, medium: Medium, now: u64) {
        while let Some(bytes) = incoming.poll(now) {
            let datagrams = match medium {
                Medium::Datagrams => vec![Datagram::decode(&bytes)],
                Medium::Stream => self.deframer.push(&bytes),
            };
            for d in datagrams {
                match d {
                    Ok(d) => self.arq.receive(d, now),
                    Err(_) => self.rejected += 1,
                }
            }
        }
        while let Some(words) = self.arq.poll_deliver() {
            assert_eq!(words, [self.received, self.received ^ TAG], "out of order, lost or duplicated");
            self.received += 1;
        }
    }
}

fn exchange(medium: Medium) -> (usize, u64) {
    let (mut a, mut b) = (Side::new(medium, 11), Side::new(medium, 22));
    let mut now = 0u64;
    let mut steps = 0;
    while a.received < MESSAGES || b.received < MESSAGES || !a.arq.is_idle() || !b.arq.is_idle() {
        a.transmit(medium, now);
        b.transmit(medium, now);
        b.receive(&mut a.out, medium, now);
        a.receive(&mut b.out, medium, now);
        assert!(a.arq.error().is_none() && b.arq.error().is_none());
        let next = [a.arq.next_deadline(), b.arq.next_deadline(), a.out.next_delivery(), b.out.next_delivery()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + 1);
        now = next.max(now + 1);
        steps += 1;
        assert!(steps < 20_000_000, "no progress");
    }
    assert_eq!((a.received, b.received), (MESSAGES, MESSAGES));
    (a.rejected + b.rejected, now)
}

#[test]
fn every_message_arrives_once_in_order_over_faulty_datagrams() {
    let (rejected, micros) = exchange(Medium::Datagrams);
    // Corruption over UDP turns into loss before the receiver, so nothing reaches the decoder damaged.
    assert_eq!(rejected, 0);
    assert!(micros > 0);
}

#[test]
fn every_message_arrives_once_in_order_over_a_faulty_byte_stream() {
    let (rejected, _) = exchange(Medium::Stream);
    // About 1 % of ~2.4e5 frames were corrupted; the CRC caught them.
    assert!(rejected > 500, "{rejected}");
}

#[test]
fn a_silent_peer_is_detected() {
    let mut a = Arq::new(ArqConfig { max_transmissions: 20, ..ArqConfig::default() });
    a.send(&[1, 2, 3]).unwrap();
    let mut now = 0;
    loop {
        while a.poll_transmit(now).is_some() {}
        if a.error().is_some() {
            break;
        }
        now = a.next_deadline().map_or(now + 1, |t| t.max(now + 1));
        assert!(now < 1_000_000_000);
    }
    assert_eq!(a.error(), Some(&ArqError::PeerDead { seq: 0, transmissions: 20 }));
    // 20 transmissions of a frame take 20 retransmission timeouts.
    assert_eq!(now, 20 * 756);
}
