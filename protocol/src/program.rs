//! Programs (spec §2.3): a builder queues writes, reads (each returning a ticket), waits, timed input spikes
//! and a final halt; the response decoder reconstructs full times (spec §1.7), fills the tickets and collects
//! recorded spikes and MADC samples in time order.

use crate::error::DecodeError;
use crate::from_fpga::FromFpga;
use crate::label::SpikeLabel;
use crate::stream::{FromFpgaDecoder, Item};
use crate::to_fpga::{Loopback, ToFpga};

/// FPGA and chip system time are 43-bit counters of 8 ns cycles.
pub const TIME_MASK: u64 = (1 << 43) - 1;

/// The FPGA clock: cycles per microsecond.
pub const CYCLES_PER_US: u64 = 125;

/// The answer to one omnibus read, found in the response by [`Response::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket(usize);

impl Ticket {
    /// The read's position among the program's reads.
    pub fn index(self) -> usize {
        self.0
    }
}

/// A program ready to run: the to-FPGA instructions, ending in a halt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    messages: Vec<ToFpga>,
    reads: usize,
}

impl Program {
    /// The instructions.
    pub fn messages(&self) -> &[ToFpga] {
        &self.messages
    }

    /// The instructions as 64-bit words.
    pub fn words(&self) -> Vec<u64> {
        self.messages.iter().map(ToFpga::encode).collect()
    }

    /// Number of omnibus reads (tickets) the response must answer.
    pub fn reads(&self) -> usize {
        self.reads
    }
}

/// Builds a [`Program`].
#[derive(Clone, Debug, Default)]
pub struct ProgramBuilder {
    program: Program,
}

impl ProgramBuilder {
    /// An empty program.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a raw instruction.
    pub fn push(&mut self, message: ToFpga) -> &mut Self {
        self.program.messages.push(message);
        self
    }

    /// Writes one omnibus word.
    pub fn write(&mut self, address: u32, data: u32) -> &mut Self {
        self.push(ToFpga::OmnibusAddress { address, byte_enables: 0xF, is_read: false });
        self.push(ToFpga::OmnibusData(data))
    }

    /// Writes (address, data) pairs in order, e.g. a container's words.
    pub fn write_all(&mut self, writes: impl IntoIterator<Item = (u32, u32)>) -> &mut Self {
        for (address, data) in writes {
            self.write(address, data);
        }
        self
    }

    /// Reads one omnibus word; the ticket finds the value in the response.
    pub fn read(&mut self, address: u32) -> Ticket {
        self.push(ToFpga::OmnibusAddress { address, byte_enables: 0xF, is_read: true });
        self.program.reads += 1;
        Ticket(self.program.reads - 1)
    }

    /// Resets the FPGA timer to 0 (times of later waits and spikes count from here).
    pub fn timer_reset(&mut self) -> &mut Self {
        self.push(ToFpga::TimerSetup)
    }

    /// Blocks until the timer reaches `cycles` (8 ns each).
    pub fn wait_until(&mut self, cycles: u32) -> &mut Self {
        self.push(ToFpga::WaitUntil(cycles))
    }

    /// Waits until outstanding omnibus accesses are done.
    pub fn barrier_omnibus(&mut self) -> &mut Self {
        self.push(ToFpga::Barrier(1))
    }

    /// Synchronises chip and FPGA system time.
    pub fn systime_sync(&mut self) -> &mut Self {
        self.push(ToFpga::SystimeInit(true))
    }

    /// Input spikes: each (time in cycles since the last timer reset, label), in any order. Spikes are sorted by
    /// time (stably); spikes at the same time go out together in packs of up to three after one wait.
    pub fn spikes(&mut self, events: &[(u32, SpikeLabel)]) -> &mut Self {
        let mut sorted = events.to_vec();
        sorted.sort_by_key(|&(t, _)| t);
        for group in sorted.chunk_by(|a, b| a.0 == b.0) {
            self.wait_until(group[0].0);
            for pack in group.chunks(3) {
                let labels: Vec<SpikeLabel> = pack.iter().map(|&(_, l)| l).collect();
                self.push(match labels[..] {
                    [a] => ToFpga::SpikePack1([a]),
                    [a, b] => ToFpga::SpikePack2([a, b]),
                    [a, b, c] => ToFpga::SpikePack3([a, b, c]),
                    _ => unreachable!("chunks of 1 to 3"),
                });
            }
        }
        self
    }

    /// Ends the program with a halt.
    pub fn build(mut self) -> Program {
        self.push(ToFpga::Loopback(Loopback::Halt));
        self.program
    }
}

/// A spike recorded by the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordedSpike {
    /// Its label.
    pub label: SpikeLabel,
    /// When it happened, in FPGA cycles (reconstructed from the 8-bit stamp).
    pub chip_time: u64,
    /// The FPGA's time when the message was received.
    pub fpga_time: u64,
}

/// A recorded MADC sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordedSample {
    /// 10-bit value.
    pub value: u16,
    /// Multiplexer channel.
    pub channel: u8,
    /// When it was taken, in FPGA cycles.
    pub chip_time: u64,
    /// The FPGA's time when the message was received.
    pub fpga_time: u64,
}

/// Everything a program's run returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// Omnibus read results (value, FPGA time) in program order; tickets index them.
    pub reads: Vec<(u32, u64)>,
    /// Recorded spikes, in time order.
    pub spikes: Vec<RecordedSpike>,
    /// MADC samples, in time order.
    pub samples: Vec<RecordedSample>,
    /// FPGA times of echoed loopback ticks.
    pub ticks: Vec<u64>,
    /// JTAG read data.
    pub jtag: Vec<u64>,
    /// Highspeed link notifications (value, FPGA time).
    pub link_notifications: Vec<(u8, u64)>,
    /// Whether the halt came back (every response has arrived).
    pub halted: bool,
}

impl Response {
    /// The value a read returned.
    pub fn read(&self, ticket: Ticket) -> Option<u32> {
        self.reads.get(ticket.0).map(|&(v, _)| v)
    }
}

/// Why a program's response is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The word stream is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The FPGA reported that the program stalled.
    #[error("the program timed out at instruction {instruction} ({reads_in_flight} omnibus reads in flight)")]
    Timeout {
        /// Index of the instruction that stalled.
        instruction: u32,
        /// Omnibus reads still in flight.
        reads_in_flight: u8,
    },
    /// The response has fewer or more read results than the program has reads.
    #[error("the program has {expected} reads but the response answers {got}")]
    ReadCount {
        /// Reads in the program.
        expected: usize,
        /// Read results received.
        got: usize,
    },
    /// Messages arrived after the halt.
    #[error("a message arrived after the halt")]
    AfterHalt,
    /// The stream ended before the halt.
    #[error("the response ended before the program's halt")]
    NoHalt,
}

/// The full time of an event from the running FPGA time `now` and its 8-bit stamp (spec §1.7).
pub fn reconstruct_time(now: u64, timestamp: u8) -> u64 {
    let time = (now & !0x7F) | u64::from(timestamp >> 1);
    if time > now { time.wrapping_sub(128) & TIME_MASK } else { time }
}

/// Decodes a response as its words arrive.
#[derive(Debug, Default)]
pub struct ResponseDecoder {
    words: FromFpgaDecoder,
    time: u64,
    response: Response,
}

impl ResponseDecoder {
    /// A decoder at the start of a run (time 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds words; returns true once the halt has arrived.
    pub fn push(&mut self, words: &[u64]) -> Result<bool, ResponseError> {
        for item in self.words.push(words)? {
            let Item::Message(message) = item else { continue };
            if self.response.halted {
                return Err(ResponseError::AfterHalt);
            }
            self.time = (self.time + 1) & TIME_MASK;
            let r = &mut self.response;
            match message {
                FromFpga::Systime(t) => self.time = t,
                FromFpga::Sysdelta(d) => self.time = (self.time + u64::from(d)) & TIME_MASK,
                FromFpga::OmnibusData(v) => r.reads.push((v, self.time)),
                FromFpga::JtagData(d) => r.jtag.push(d),
                FromFpga::Loopback(Loopback::Halt) => r.halted = true,
                FromFpga::Loopback(Loopback::Tick) => r.ticks.push(self.time),
                FromFpga::HighspeedLinkNotification(n) => r.link_notifications.push((n, self.time)),
                FromFpga::TimeoutNotification { instruction, reads_in_flight, .. } => {
                    return Err(ResponseError::Timeout { instruction, reads_in_flight });
                }
                FromFpga::Spikes(pack) => r.spikes.extend(pack.items().iter().map(|s| RecordedSpike {
                    label: s.label(),
                    chip_time: reconstruct_time(self.time, s.timestamp()),
                    fpga_time: self.time,
                })),
                FromFpga::Madc(pack) => r.samples.extend(pack.items().iter().map(|s| RecordedSample {
                    value: s.value(),
                    channel: s.channel(),
                    chip_time: reconstruct_time(self.time, s.timestamp()),
                    fpga_time: self.time,
                })),
            }
        }
        Ok(self.response.halted)
    }

    /// The response, checked against the program: halted, every read answered; events sorted by time.
    pub fn finish(self, program: &Program) -> Result<Response, ResponseError> {
        let mut response = self.response;
        if !response.halted {
            return Err(ResponseError::NoHalt);
        }
        if response.reads.len() != program.reads() {
            return Err(ResponseError::ReadCount { expected: program.reads(), got: response.reads.len() });
        }
        response.spikes.sort_by_key(|s| s.chip_time);
        response.samples.sort_by_key(|s| s.chip_time);
        Ok(response)
    }
}

/// Decodes the complete response of a program.
pub fn decode_response(program: &Program, words: &[u64]) -> Result<Response, ResponseError> {
    let mut decoder = ResponseDecoder::new();
    decoder.push(words)?;
    decoder.finish(program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_fpga::{Pack, SpikeEvent};
    use crate::stream::encode_from_fpga;

    #[test]
    fn builder_packs_simultaneous_spikes_after_one_wait() {
        let mut b = ProgramBuilder::new();
        b.timer_reset();
        b.write(0x8800_0005, 1);
        let ticket = b.read(0x0014_0002);
        let l = |x| SpikeLabel(x);
        b.spikes(&[(200, l(1)), (100, l(2)), (200, l(3)), (200, l(4)), (200, l(5))]);
        let program = b.build();
        assert_eq!(ticket.index(), 0);
        assert_eq!(
            program.messages(),
            &[
                ToFpga::TimerSetup,
                ToFpga::OmnibusAddress { address: 0x8800_0005, byte_enables: 0xF, is_read: false },
                ToFpga::OmnibusData(1),
                ToFpga::OmnibusAddress { address: 0x0014_0002, byte_enables: 0xF, is_read: true },
                ToFpga::WaitUntil(100),
                ToFpga::SpikePack1([l(2)]),
                ToFpga::WaitUntil(200),
                ToFpga::SpikePack3([l(1), l(3), l(4)]),
                ToFpga::SpikePack1([l(5)]),
                ToFpga::Loopback(Loopback::Halt),
            ]
        );
    }

    #[test]
    fn time_stamps_are_reconstructed_across_wrap_around() {
        // Events stamped shortly before the running time, including across a 128-cycle boundary.
        assert_eq!(reconstruct_time(1000, ((1000 % 128) * 2) as u8), 1000);
        assert_eq!(reconstruct_time(1000, ((990 % 128) * 2) as u8), 990);
        assert_eq!(reconstruct_time(1030, ((1020 % 128) * 2) as u8), 1020); // 1024 is a boundary
        assert_eq!(reconstruct_time(5, ((TIME_MASK - 3) % 128 * 2) as u8), TIME_MASK - 3); // 43-bit wrap
    }

    #[test]
    fn response_fills_tickets_and_orders_events() {
        let mut b = ProgramBuilder::new();
        let t0 = b.read(0x10);
        let t1 = b.read(0x20);
        let program = b.build();
        let spike = |ts: u8, label| SpikeEvent::new(ts, SpikeLabel(label));
        let items = [
            Item::Message(FromFpga::Systime(500)),
            Item::Message(FromFpga::OmnibusData(7)),
            Item::Message(FromFpga::Spikes(
                Pack::new(&[spike(((498 % 128) * 2) as u8, 9), spike(((480 % 128) * 2) as u8, 8)]).unwrap(),
            )),
            Item::Message(FromFpga::OmnibusData(11)),
            Item::Message(FromFpga::Sysdelta(10)),
            Item::Message(FromFpga::Loopback(Loopback::Halt)),
        ];
        let response = decode_response(&program, &encode_from_fpga(&items)).unwrap();
        assert_eq!((response.read(t0), response.read(t1)), (Some(7), Some(11)));
        assert_eq!(response.reads[0].1, 501);
        // Sorted by time; the pack arrived at time 502.
        assert_eq!(
            response.spikes.iter().map(|s| (s.label.0, s.chip_time)).collect::<Vec<_>>(),
            vec![(8, 480), (9, 498)]
        );
        // Missing read, missing halt, timeout.
        assert_eq!(
            decode_response(
                &program,
                &encode_from_fpga(&items[..2].iter().chain(&items[5..]).copied().collect::<Vec<_>>())
            ),
            Err(ResponseError::ReadCount { expected: 2, got: 1 })
        );
        assert_eq!(decode_response(&program, &encode_from_fpga(&items[..5])), Err(ResponseError::NoHalt));
        let timeout = [Item::Message(FromFpga::TimeoutNotification { instruction: 3, stalls: 0, reads_in_flight: 1 })];
        assert!(matches!(
            decode_response(&program, &encode_from_fpga(&timeout)),
            Err(ResponseError::Timeout { instruction: 3, .. })
        ));
    }
}
