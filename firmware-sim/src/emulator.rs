//! The emulated FPGA and chip: executes a program's instruction stream against the memory map and the analog
//! physics, and answers with the from-FPGA stream a real system would send.

use bss2_protocol::containers::{Container, MADC_BASE, MadcControl, NEURON_RESET_BASE, ReadoutSource};
use bss2_protocol::error::DecodeError;
use bss2_protocol::from_fpga::{FromFpga, MadcSample, Pack, SpikeEvent};
use bss2_protocol::label::SpikeLabel;
use bss2_protocol::program::{CYCLES_PER_US, TIME_MASK};
use bss2_protocol::stream::{FromFpgaEncoder, Item, encode_from_fpga};
use bss2_protocol::to_fpga::{Loopback, ToFpga};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::analog::{CIRCUITS, CircuitParameters, FixedPattern};
use crate::limits::{Exceeded, Limits};
use crate::membrane::Membrane;
use crate::memory::{Memory, Region, region};
use crate::network::{Compiled, NeuronFaults, circuit_parameters};
use crate::pair::PairState;
use crate::profile::ChipProfile;

/// Why a stream could not be executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The words are not a valid to-FPGA stream; nothing was executed.
    #[error("malformed program")]
    Malformed(#[from] DecodeError),
    /// The program exceeded one of the emulator's [`Limits`] and was stopped at this instruction (0-based
    /// index of its word); what it did before stays done.
    #[error("program stopped at instruction {instruction}")]
    Stopped {
        /// Index of the instruction.
        instruction: usize,
        /// The limit.
        #[source]
        limit: Exceeded,
    },
}

impl ExecError {
    /// What an FPGA answers: for a stopped program a timeout notification naming the instruction, then the
    /// halt (so the client learns at once that the program failed and its stream stays in step); for a
    /// malformed one nothing.
    pub fn answer(&self) -> Option<Vec<u64>> {
        match *self {
            ExecError::Malformed(_) => None,
            ExecError::Stopped { instruction, .. } => Some(stopped_answer(instruction)),
        }
    }
}

/// Checks that every word is a to-FPGA instruction or filler (before anything of a program runs).
fn validate(words: &[u64]) -> Result<(), DecodeError> {
    for (i, &w) in words.iter().enumerate() {
        if w >> 63 == 0 {
            ToFpga::decode(w).map_err(|e| DecodeError::at(i, e))?;
        }
    }
    Ok(())
}

/// A timeout notification for instruction `instruction`, then the halt.
pub fn stopped_answer(instruction: usize) -> Vec<u64> {
    let instruction = u32::try_from(instruction).unwrap_or(u32::MAX);
    encode_from_fpga(&[
        Item::Message(FromFpga::TimeoutNotification { instruction, stalls: 0, reads_in_flight: 0 }),
        Item::Message(FromFpga::Loopback(Loopback::Halt)),
    ])
}

/// An emulated BSS-2 system (FPGA and chip).
#[derive(Debug)]
pub struct Emulator {
    profile: ChipProfile,
    chip_seed: u64,
    pattern: FixedPattern,
    faults: NeuronFaults,
    memory: Memory,
    compiled: Option<Compiled>,
    membranes: Vec<Membrane>,
    /// Per membrane: the clamp of a delay pair (unused for other membranes).
    pair_states: Vec<PairState>,
    /// Membranes that may still cross their threshold without new input (the others are skipped).
    active: Vec<usize>,
    is_active: Vec<bool>,
    /// Membranes changed by the spike being processed (searched again for crossings).
    touched: Vec<usize>,
    /// The physics has run up to this time (cycles) and nothing but input events at that time has changed since:
    /// running it there again would change nothing (see [`Emulator::advance`]).
    settled: Option<u64>,
    /// System time (8 ns cycles since the last synchronisation).
    systime: u64,
    timer_base: u64,
    /// Programs executed so far: seeds each run's noise.
    runs: u64,
    noise: ChaCha8Rng,
    threshold_noise_mv: Vec<f64>,
    madc: Option<MadcRecording>,
    limits: Limits,
    /// The running program's consumption of its limits.
    budget: RunBudget,
}

/// What the running program may still take, and which limit stopped it.
#[derive(Clone, Copy, Debug, Default)]
struct RunBudget {
    events_left: u64,
    response_words: usize,
    stopped: Option<Exceeded>,
}

impl RunBudget {
    /// Takes one event (an MADC sample or a neuron spike) with the response at `words` words; false, and the
    /// program stopped, once a limit is exceeded.
    fn spend(&mut self, words: usize, limits: &Limits) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if self.events_left == 0 {
            self.stopped = Some(Exceeded::Events(limits.events));
        } else if words > self.response_words {
            self.stopped = Some(Exceeded::ResponseWords(self.response_words));
        } else {
            self.events_left -= 1;
        }
        self.stopped.is_none()
    }
}

/// A running MADC recording.
#[derive(Clone, Copy, Debug)]
struct MadcRecording {
    /// Start of the recording (us).
    start: f64,
    /// Samples taken so far.
    taken: u32,
    /// Time of the next sample (us): `start + taken * period`, not a running sum, so stamps do not drift.
    next: f64,
    /// Sample period (us).
    period: f64,
    /// Samples still to take (None: until stopped).
    remaining: Option<u32>,
    channel: bool,
}

/// The MADC's default sample period: 500 MHz / (12 + 5), spec §1.6.
const MADC_DEFAULT_PERIOD_US: f64 = 17.0 / 500.0;

impl Emulator {
    /// A chip with this profile and fixed pattern, in its reset state.
    pub fn new(profile: ChipProfile, chip_seed: u64) -> Emulator {
        let pattern = FixedPattern::draw(&profile, chip_seed);
        Emulator {
            profile,
            chip_seed,
            pattern,
            faults: NeuronFaults::default(),
            memory: Memory::default(),
            compiled: None,
            membranes: Vec::new(),
            pair_states: Vec::new(),
            active: Vec::new(),
            is_active: Vec::new(),
            touched: Vec::new(),
            settled: None,
            systime: 0,
            timer_base: 0,
            runs: 0,
            noise: ChaCha8Rng::seed_from_u64(0),
            threshold_noise_mv: vec![0.0; CIRCUITS],
            madc: None,
            limits: Limits::default(),
            budget: RunBudget::default(),
        }
    }

    /// Sets the limits of every program from now on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.memory.set_unmapped_limit(limits.unmapped_words);
    }

    /// The limits of a program.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Switches on neuron faults.
    pub fn set_faults(&mut self, faults: NeuronFaults) {
        self.faults = faults;
        self.compiled = None;
    }

    /// Programs executed so far (each run's trial-to-trial noise is drawn from the chip seed and this count).
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Continues the noise sequence after `runs` programs, as if they had been executed: a training resumed
    /// on a fresh emulator then sees the noise an uninterrupted one would have.
    pub fn continue_after(&mut self, runs: u64) {
        self.runs = runs;
    }

    /// The profile.
    pub fn profile(&self) -> &ChipProfile {
        &self.profile
    }

    /// The chip seed.
    pub fn chip_seed(&self) -> u64 {
        self.chip_seed
    }

    /// The true standalone parameters of every circuit with the CapMem values written so far.
    pub fn circuit_parameters(&self) -> Vec<CircuitParameters> {
        circuit_parameters(&self.memory, &self.profile.curves, &self.pattern)
    }

    /// Executes a program (to-FPGA words, normally ending in a halt) and returns the from-FPGA words.
    ///
    /// A malformed program is not executed at all; one that exceeds the [`Limits`] is stopped where it does
    /// ([`ExecError::Stopped`]; [`ExecError::answer`] is what the FPGA sends then).
    pub fn execute(&mut self, words: &[u64]) -> Result<Vec<u64>, ExecError> {
        validate(words)?;
        self.start_run();
        let mut out = ResponseWriter::default();
        let mut pending_write: Option<(u32, u8)> = None;
        for (instruction, &word) in words.iter().enumerate() {
            // Validated above: fillers (top bit set) are skipped, everything else decodes.
            let Ok(message) = ToFpga::decode(word) else { continue };
            match message {
                ToFpga::TimerSetup => self.timer_base = self.systime,
                ToFpga::WaitUntil(cycles) => {
                    let target = (self.timer_base + u64::from(cycles)) & TIME_MASK;
                    if target > self.systime {
                        self.advance(target, &mut out);
                        self.systime = target;
                    }
                }
                ToFpga::SystimeInit(true) => {
                    self.settled = None;
                    self.systime = 0;
                    self.timer_base = 0;
                    self.membranes.clear();
                    self.pair_states.clear();
                    self.madc = None;
                }
                ToFpga::SystimeInit(false) => out.message(FromFpga::Systime(self.systime)),
                ToFpga::JtagData { keep_response: true, .. } => out.message(FromFpga::JtagData(0)),
                ToFpga::Reset(true) => {
                    self.settled = None;
                    self.memory = Memory::with_unmapped_limit(self.limits.unmapped_words);
                    self.compiled = None;
                }
                ToFpga::Loopback(Loopback::Halt) => {
                    out.message(FromFpga::Loopback(Loopback::Halt));
                    break;
                }
                ToFpga::Loopback(Loopback::Tick) => {
                    out.message(FromFpga::Loopback(Loopback::Tick));
                }
                ToFpga::OmnibusAddress { address, is_read: true, .. } => {
                    self.advance(self.systime, &mut out);
                    let value = self.read(address);
                    out.message(FromFpga::OmnibusData(value));
                }
                ToFpga::OmnibusAddress { address, byte_enables, is_read: false } => {
                    pending_write = Some((address, byte_enables));
                }
                ToFpga::OmnibusData(data) => {
                    if let Some((address, byte_enables)) = pending_write.take() {
                        // Bring the physics up to now before the configuration changes. Without a compiled
                        // configuration nothing has run since the last write, at this same time.
                        if self.compiled.is_some() {
                            self.advance(self.systime, &mut out);
                        }
                        self.write(address, data, byte_enables);
                    }
                }
                ToFpga::SpikePack1(labels) => self.inject(&labels, &mut out),
                ToFpga::SpikePack2(labels) => self.inject(&labels, &mut out),
                ToFpga::SpikePack3(labels) => self.inject(&labels, &mut out),
                _ => {}
            }
            if out.words() > self.budget.response_words && self.budget.stopped.is_none() {
                self.budget.stopped = Some(Exceeded::ResponseWords(self.budget.response_words));
            }
            if let Some(limit) = self.budget.stopped.take() {
                // Like an FPGA that gave up on the program: nothing more of it runs or is recorded.
                self.madc = None;
                return Err(ExecError::Stopped { instruction, limit });
            }
        }
        Ok(out.finish())
    }

    /// Draws this run's trial-to-trial noise from (chip seed, run counter).
    fn start_run(&mut self) {
        self.budget =
            RunBudget { events_left: self.limits.events, response_words: self.limits.response_words, stopped: None };
        self.runs += 1;
        self.settled = None;
        self.noise =
            ChaCha8Rng::seed_from_u64(self.chip_seed.rotate_left(32) ^ self.runs.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let sigma = self.profile.noise.threshold_mv;
        for x in &mut self.threshold_noise_mv {
            let z: f64 = StandardNormal.sample(&mut self.noise);
            *x = sigma * z;
        }
        self.compiled = None;
    }

    fn now_us(&self) -> f64 {
        self.systime as f64 / CYCLES_PER_US as f64
    }

    fn read(&mut self, address: u32) -> u32 {
        match region(address) {
            Region::Cadc(synram, quad) => self.cadc_quad(synram, quad),
            _ => self.memory.read(address),
        }
    }

    fn write(&mut self, address: u32, data: u32, byte_enables: u8) {
        self.settled = None;
        for (block, &base) in NEURON_RESET_BASE.iter().enumerate() {
            if (base..base + 4 * 256).contains(&address) && address.is_multiple_of(4) {
                self.reset_neuron(block, ((address - base) / 4) as usize);
                return;
            }
        }
        if let Err(full) = self.memory.write(address, data, byte_enables) {
            self.budget.stopped = Some(full);
            return;
        }
        if address == MADC_BASE {
            self.control_madc();
        }
        if !address_is_fpga(address) {
            self.compiled = None;
        }
    }

    /// Starts or stops a MADC recording after a write to its control word.
    fn control_madc(&mut self) {
        let words = [self.memory.read(MADC_BASE), self.memory.read(MADC_BASE + 1)];
        let control = MadcControl::decode(&words).unwrap_or_default();
        self.madc = control.enable_sampling.then(|| {
            let period = match control.sample_period.get() {
                0 => MADC_DEFAULT_PERIOD_US,
                cycles => f64::from(cycles) / CYCLES_PER_US as f64,
            };
            let remaining = match control.number_of_samples.get() {
                0 => None,
                n => Some(n),
            };
            let now = self.now_us();
            MadcRecording { start: now, taken: 0, next: now, period, remaining, channel: control.channel }
        });
    }

    /// Takes the MADC samples due before `until` (us), with the membranes as they are (no event in between).
    fn sample_madc(&mut self, until: f64, inclusive: bool, out: &mut ResponseWriter) {
        let Some(mut rec) = self.madc else { return };
        let compiled = self.compiled.as_ref().expect("compiled before sampling");
        let recording = compiled.recording;
        let readout = compiled.readout.map(|(c, source)| (c, compiled.circuit_group[c], source));
        while (rec.next < until || inclusive && rec.next == until) && rec.remaining != Some(0) {
            if !self.budget.spend(out.words(), &self.limits) {
                break;
            }
            let t = rec.next;
            let code = match readout {
                None => 0.0,
                Some((_, (g, position), source)) => {
                    let (g, position) = (g as usize, usize::from(position));
                    let group = &compiled.groups[g];
                    let m = &self.membranes[g];
                    let curves = &self.profile.curves;
                    match source {
                        ReadoutSource::Adaptation if compiled.pairs[g].is_some() && position == 1 => {
                            let physics = compiled.pairs[g].as_ref().expect("a pair");
                            let w = self.pair_states[g].adaptation(physics, m, t);
                            physics.trace_mv(w) / curves.madc_mv_per_lsb
                        }
                        ReadoutSource::Membrane | ReadoutSource::Adaptation => {
                            (group.leak_mv + m.potential(t)) / curves.madc_mv_per_lsb
                        }
                        ReadoutSource::ExcitatorySynapticInput => 256.0 + 10.0 * m.channel(t, 2 * position),
                        // Inhibitory inputs are negative slopes; the readout shows their size.
                        ReadoutSource::InhibitorySynapticInput => 256.0 - 10.0 * m.channel(t, 2 * position + 1),
                    }
                }
            };
            let z: f64 = StandardNormal.sample(&mut self.noise);
            let noisy = code + self.profile.noise.madc_lsb * z;
            let value = if noisy.is_nan() { 0 } else { noisy.round().clamp(0.0, 1023.0) as u16 };
            if recording {
                let cycle = (t * CYCLES_PER_US as f64).floor() as u64;
                out.sample(cycle, value | u16::from(rec.channel) << 10);
            }
            rec.taken += 1;
            rec.next = rec.start + f64::from(rec.taken) * rec.period;
            rec.remaining = rec.remaining.map(|n| n - 1);
        }
        self.madc = (rec.remaining != Some(0)).then_some(rec);
    }

    /// Builds the compiled configuration and the membranes if a write invalidated them. Membranes keep their
    /// state when the membrane layout is unchanged.
    fn ensure_compiled(&mut self) {
        if self.compiled.is_some() {
            return;
        }
        let (neurons, triggers) = (self.profile.noise.threshold_mv, self.profile.pairs.trigger_threshold_noise_mv);
        // The triggers' drift is the neurons' draw rescaled: no extra draws, so every other number stays the same.
        let trigger_scale = if neurons > 0.0 { triggers / neurons } else { 0.0 };
        let compiled = Compiled::new(
            &self.memory,
            &self.profile.curves,
            &self.pattern,
            &self.threshold_noise_mv,
            trigger_scale,
            &self.faults,
        );
        let now = self.now_us();
        if self.membranes.len() == compiled.groups.len() {
            for (m, g) in self.membranes.iter_mut().zip(&compiled.groups) {
                m.set_parameters(g.params, now);
            }
        } else {
            self.membranes = compiled.groups.iter().map(|g| Membrane::at_rest(g.params, now)).collect();
            self.pair_states = vec![PairState::default(); self.membranes.len()];
        }
        // New parameters may make any membrane cross: look at all of them once.
        self.active = (0..self.membranes.len()).collect();
        self.is_active = vec![true; self.membranes.len()];
        self.compiled = Some(compiled);
    }

    /// Runs the physics up to `target` cycles, emitting recorded spikes.
    ///
    /// Run twice to the same time it does nothing the second time, even after input events at that time in
    /// between (an input at `until` leaves its membrane searched up to `until`, and an MADC sample due at `until`
    /// has been taken), so a spike pack after its wait, or after another pack at the same time, skips it.
    fn advance(&mut self, target: u64, out: &mut ResponseWriter) {
        if self.compiled.is_some() && self.settled == Some(target) {
            return;
        }
        self.settled = None;
        self.ensure_compiled();
        let until = target as f64 / CYCLES_PER_US as f64;
        // Every active membrane is searched up to `until` once; after a spike, only the membranes it reached
        // (and the one that fired) are searched again. Crossings wait in a queue, earliest first; an entry whose
        // membrane has changed since is stale and skipped.
        let mut crossings = BinaryHeap::new();
        let (membranes, is_active) = (&mut self.membranes, &mut self.is_active);
        self.active.retain(|&g| {
            let m = &mut membranes[g];
            if let Some(t) = m.next_crossing(until) {
                crossings.push(Reverse(Crossing { t, g }));
            }
            let keep = !m.is_quiet();
            is_active[g] = keep;
            keep
        });
        while let Some(Reverse(Crossing { t, g })) = crossings.pop() {
            if self.membranes[g].pending_crossing() != Some(t) {
                continue;
            }
            if !self.budget.spend(out.words(), &self.limits) {
                return;
            }
            self.sample_madc(t, false, out);
            self.touched.clear();
            self.fire(g, t, out);
            for &h in &self.touched {
                if let Some(t) = self.membranes[h].next_crossing(until) {
                    crossings.push(Reverse(Crossing { t, g: h }));
                }
            }
        }
        self.sample_madc(until, true, out);
        self.settled = self.budget.stopped.is_none().then_some(target);
    }

    /// Puts membrane `g` back on the list of those whose crossings are searched (after an input or a reset).
    fn activate(&mut self, g: usize) {
        self.touched.push(g);
        if !self.is_active[g] {
            self.is_active[g] = true;
            self.active.push(g);
        }
    }

    fn fire(&mut self, g: usize, t: f64, out: &mut ResponseWriter) {
        let compiled = self.compiled.as_mut().expect("compiled before the physics runs");
        match &compiled.pairs[g] {
            Some(physics) => self.pair_states[g] = physics.fire(&mut self.membranes[g], t),
            None => self.membranes[g].fire(t),
        }
        self.activate(g);
        let compiled = self.compiled.as_mut().expect("compiled before the physics runs");
        if let Some(output) = compiled.groups[g].output {
            let route = compiled.route(output.crossbar_input, output.label);
            self.deliver(t, &route, out);
        }
    }

    /// Input spikes from the FPGA at the current time.
    fn inject(&mut self, labels: &[SpikeLabel], out: &mut ResponseWriter) {
        self.advance(self.systime, out);
        let t = self.now_us();
        for label in labels {
            let compiled = self.compiled.as_mut().expect("compiled by advance");
            let route = compiled.route(Compiled::l2_input(label.spl1()), label.neuron_label());
            self.deliver(t, &route, out);
        }
    }

    fn deliver(&mut self, t: f64, route: &crate::network::Route, out: &mut ResponseWriter) {
        for &(g, channel, amount) in &route.targets {
            let g = g as usize;
            self.membranes[g].input(t, usize::from(channel), amount);
            self.activate(g);
        }
        for &g in &route.triggers {
            self.trigger_pair(g as usize, t);
        }
        if self.compiled.as_ref().is_some_and(|c| c.recording) {
            for &label in &route.recorded {
                let jitter_cycles = if self.profile.noise.spike_time_ns > 0.0 {
                    let z: f64 = StandardNormal.sample(&mut self.noise);
                    z * self.profile.noise.spike_time_ns / 8.0
                } else {
                    0.0
                };
                let cycle = (t * CYCLES_PER_US as f64 + jitter_cycles).floor().max(0.0) as u64;
                out.spike(cycle, label);
            }
        }
    }

    /// An event reaches the delay compartment of pair `g` at `t`: unless the pair is clamped, its membrane is held
    /// for the pair's hold plus this trigger's jitter, and its adaptation charges (or, a miss, does not).
    fn trigger_pair(&mut self, g: usize, t: f64) {
        let compiled = self.compiled.as_ref().expect("compiled before the physics runs");
        let Some(physics) = compiled.pairs[g] else { return };
        if self.pair_states[g].clamped(t) {
            return;
        }
        let magnitudes = &self.profile.pairs;
        let jitter_us = if magnitudes.jitter_ns > 0.0 {
            let z: f64 = StandardNormal.sample(&mut self.noise);
            z * magnitudes.jitter_ns / 1000.0
        } else {
            0.0
        };
        let missed = magnitudes.miss_probability > 0.0 && self.noise.random::<f64>() < magnitudes.miss_probability;
        let full = if missed { 0.0 } else { physics.adaptation_full };
        let hold = (physics.hold_us + jitter_us).max(0.0);
        self.pair_states[g] = physics.trigger(&mut self.membranes[g], t, hold, full);
        self.activate(g);
    }

    /// Forces a circuit's membrane to its reset potential now (a write to its neuron-reset strobe).
    fn reset_neuron(&mut self, block: usize, index_in_block: usize) {
        self.settled = None;
        self.ensure_compiled();
        let (row, column) = (index_in_block / 128, block * 128 + index_in_block % 128);
        let circuit = row * 256 + column;
        let compiled = self.compiled.as_ref().expect("compiled");
        let (g, position) = compiled.circuit_group[circuit];
        let g = g as usize;
        let now = self.now_us();
        match &compiled.pairs[g] {
            // A pair's delay compartment pulls to the hold level, its trigger to the trigger's reset.
            Some(p) => {
                let level = if position == 0 { p.hold_mv } else { p.trigger_reset_mv };
                self.membranes[g].set_potential(now, level - p.rest_mv);
            }
            None => self.membranes[g].clamp_to_reset(now),
        }
        self.activate(g);
    }

    /// A causal CADC quad: the membranes of the quad's four columns, 8 bit each, entry e in byte 3 - e.
    fn cadc_quad(&mut self, synram: usize, quad: usize) -> u32 {
        self.ensure_compiled();
        let now = self.now_us();
        let curves = &self.profile.curves;
        let mut word = 0;
        for e in 0..4 {
            let column = ((quad % 32) * 4 + e) * 2 + quad / 32;
            let circuit = synram * 256 + column;
            let compiled = self.compiled.as_ref().expect("compiled");
            let g = compiled.circuit_group[circuit].0 as usize;
            let mv = compiled.groups[g].leak_mv + self.membranes[g].potential(now);
            let z: f64 = StandardNormal.sample(&mut self.noise);
            let lsb = mv / curves.cadc_mv_per_lsb
                + self.pattern.circuits[circuit].cadc_offset_lsb
                + self.profile.noise.cadc_lsb * z;
            let value = if lsb.is_nan() { 0 } else { lsb.round().clamp(0.0, 255.0) as u32 };
            word |= value << (8 * (3 - e));
        }
        word
    }
}

fn address_is_fpga(address: u32) -> bool {
    address & 0x8000_0000 != 0
}

/// A recorded event waiting to be packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recorded {
    Spike(u16),
    Sample(u16),
}

/// Encodes the response, keeping the receiver's running time (spec §1.7) in step so that every recorded spike's
/// and sample's 8-bit stamp reconstructs to its full time.
#[derive(Debug, Default)]
struct ResponseWriter {
    encoder: FromFpgaEncoder,
    /// The receiver's running time after the last message.
    time: u64,
    pending: Vec<(u64, Recorded)>,
}

impl ResponseWriter {
    /// Complete words so far.
    fn words(&self) -> usize {
        self.encoder.len()
    }

    fn message(&mut self, m: FromFpga) {
        self.flush();
        self.push(m);
    }

    fn push(&mut self, m: FromFpga) {
        self.time = (self.time + 1) & TIME_MASK;
        match m {
            FromFpga::Systime(t) => self.time = t,
            FromFpga::Sysdelta(d) => self.time = (self.time + u64::from(d)) & TIME_MASK,
            _ => {}
        }
        self.encoder.message(&m);
    }

    fn spike(&mut self, cycle: u64, label: u16) {
        self.record(cycle, Recorded::Spike(label));
    }

    fn sample(&mut self, cycle: u64, field: u16) {
        self.record(cycle, Recorded::Sample(field));
    }

    fn record(&mut self, cycle: u64, event: Recorded) {
        if self.pending.last().is_some_and(|&(_, e)| std::mem::discriminant(&e) != std::mem::discriminant(&event)) {
            self.flush();
        }
        self.pending.push((cycle & TIME_MASK, event));
        if self.pending.len() == 3 {
            self.flush();
        }
    }

    /// Packs the pending events (all of one kind) in groups of up to three.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let mut rest = &pending[..];
        while !rest.is_empty() {
            // A pack's stamps must all lie within 127 cycles below the receiver's time after the pack.
            let mut n = 1;
            let (mut lo, mut hi) = (rest[0].0, rest[0].0);
            while n < rest.len() {
                let t = rest[n].0;
                if t.max(hi) - t.min(lo) > 127 {
                    break;
                }
                (lo, hi) = (lo.min(t), hi.max(t));
                n += 1;
            }
            let next = self.time + 1;
            if next < hi && hi - next <= 256 {
                self.push(FromFpga::Sysdelta((hi - next - 1) as u8));
            } else if next < hi || next > lo + 127 {
                self.push(FromFpga::Systime(hi.saturating_sub(1)));
            }
            let stamp = |t: u64| ((2 * t) & 0xFF) as u8;
            let message = match rest[0].1 {
                Recorded::Spike(_) => {
                    let events: Vec<SpikeEvent> = rest[..n]
                        .iter()
                        .map(|&(t, e)| match e {
                            Recorded::Spike(l) => SpikeEvent::new(stamp(t), SpikeLabel(l)),
                            Recorded::Sample(_) => unreachable!("one kind per flush"),
                        })
                        .collect();
                    FromFpga::Spikes(Pack::new(&events).expect("1 to 3 events"))
                }
                Recorded::Sample(_) => {
                    let samples: Vec<MadcSample> = rest[..n]
                        .iter()
                        .map(|&(t, e)| match e {
                            Recorded::Sample(f) => MadcSample::new(stamp(t), f),
                            Recorded::Spike(_) => unreachable!("one kind per flush"),
                        })
                        .collect();
                    FromFpga::Madc(Pack::new(&samples).expect("1 to 3 samples"))
                }
            };
            self.push(message);
            rest = &rest[n..];
        }
    }

    fn finish(mut self) -> Vec<u64> {
        self.flush();
        self.encoder.finish()
    }
}

/// A membrane's next threshold crossing, ordered by time (then membrane) for the queue of [`Emulator::advance`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Crossing {
    t: f64,
    g: usize,
}

impl Eq for Crossing {}

impl PartialOrd for Crossing {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Crossing {
    fn cmp(&self, other: &Self) -> Ordering {
        self.t.total_cmp(&other.t).then(self.g.cmp(&other.g))
    }
}
