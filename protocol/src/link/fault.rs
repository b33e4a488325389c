//! A seeded fault-injecting channel for tests: drops, corrupts, duplicates and reorders datagrams in simulated
//! time.
//!
//! Over UDP a corrupted datagram fails UDP's own checksum and is dropped by the network stack, so the channel's
//! datagram mode turns corruption into loss; in byte-stream mode it flips bits and the stream framing's CRC has
//! to catch them.

/// A small, seeded pseudo-random generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Fault probabilities and delays.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability that a datagram is lost.
    pub drop: f64,
    /// Probability that a datagram is corrupted.
    pub corrupt: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back and delivered after the next one (real transports; the
    /// simulated channel reorders through `jitter_us` instead).
    pub reorder: f64,
    /// Base latency (us).
    pub latency_us: u64,
    /// Extra random delay up to this (us), which reorders datagrams.
    pub jitter_us: u64,
    /// Time one datagram occupies the channel (us): the channel's bandwidth. With sequence numbers modulo 256,
    /// a datagram must not outlive the sending of 128 newer ones (as on any real link), so tests with large
    /// jitter need a non-zero value here.
    pub spacing_us: u64,
}

/// Whether corruption is visible to the receiver (byte streams) or turned into loss (UDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Medium {
    /// Datagrams with a checksum below us (UDP): corrupted ones vanish.
    Datagrams,
    /// A byte stream: corrupted bytes reach the receiver.
    Stream,
}

/// One direction of a faulty link in simulated time.
#[derive(Clone, Debug)]
pub struct FaultyChannel {
    faults: Faults,
    medium: Medium,
    rng: SplitMix,
    in_flight: Vec<(u64, u64, Vec<u8>)>,
    sent: u64,
    /// When the channel is free for the next datagram.
    free_at: u64,
}

impl FaultyChannel {
    /// A channel with these faults, seeded.
    pub fn new(faults: Faults, medium: Medium, seed: u64) -> Self {
        FaultyChannel { faults, medium, rng: SplitMix::new(seed), in_flight: Vec::new(), sent: 0, free_at: 0 }
    }

    /// Puts bytes on the channel at `now_us` (they leave once the channel is free).
    pub fn send(&mut self, mut bytes: Vec<u8>, now_us: u64) {
        let departure = now_us.max(self.free_at);
        self.free_at = departure + self.faults.spacing_us;
        let now_us = departure;
        if self.rng.chance(self.faults.drop) {
            return;
        }
        if self.rng.chance(self.faults.corrupt) {
            if self.medium == Medium::Datagrams || bytes.is_empty() {
                return;
            }
            let bit = self.rng.next_u64() as usize % (8 * bytes.len());
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
        let copies = if self.rng.chance(self.faults.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = if self.faults.jitter_us > 0 { self.rng.next_u64() % (self.faults.jitter_us + 1) } else { 0 };
            self.sent += 1;
            self.in_flight.push((now_us + self.faults.latency_us + jitter, self.sent, bytes.clone()));
        }
    }

    /// The next delivery due by `now_us` (earliest first), if any.
    pub fn poll(&mut self, now_us: u64) -> Option<Vec<u8>> {
        let (index, _) =
            self.in_flight.iter().enumerate().filter(|(_, d)| d.0 <= now_us).min_by_key(|(_, d)| (d.0, d.1))?;
        Some(self.in_flight.swap_remove(index).2)
    }

    /// When the next delivery is due.
    pub fn next_delivery(&self) -> Option<u64> {
        self.in_flight.iter().map(|d| d.0).min()
    }
}
