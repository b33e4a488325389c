//! Measurements of the delay pairs as protocol programs. Every program makes all [`PAIRS`] pairs delay elements
//! (the rest of the chip silent) and then either records the pairs' triggers one after the other with the MADC
//! (short segments: the MADC reads one circuit at a time) or stimulates all pairs at once and records their
//! delayed spikes.
//!
//! Routing: FPGA link 0 feeds PADI bus 0 of the bottom hemisphere; drivers 0 and 4 (row select 0 and 1) each
//! have their top row excitatory, with a synapse in the delay compartment's column of every pair. So pair `p`'s
//! stimulus is the label `p` (row select `p / 64`, synapse label `p % 64`), and its trigger sends `address_out`
//! `p` to the FPGA only (no neuron event reaches a synapse).

use bss2_protocol::containers::{
    CommonPadiBusConfig, CrossbarNodeConfig, EventRecordingConfig, MadcControl, NeuronBackendConfig, NeuronConfig,
    ReadoutSource, RowMode, SynapseDriverConfig, SynapseQuad, UInt, WritableContainer,
};
use bss2_protocol::coords::{
    CrossbarNode, Hemisphere, Neuron, SynapseDriver, SynapseDriverOnChip, SynapseQuadColumn, SynapseQuadOnChip,
    SynapseRow,
};
use bss2_protocol::delay_pair::{
    DelayPair, PAIRS, PairCapMem, PairSwitches, SLOW_CLOCK_SCALE, common_backend_writes, neuron_configs, pair_writes,
};
use bss2_protocol::label::SpikeLabel;
use bss2_protocol::program::{CYCLES_PER_US, Program, ProgramBuilder, Response};

use crate::measure::{Chip, MADC_MV_PER_LSB, MADC_PERIOD_CYCLES, MADC_PERIOD_US, Trace};

/// Fast clock scale (the trigger's own refractory time: 25 counts = 3.2 us), as the chip backend uses.
pub const FAST_CLOCK_SCALE: u32 = 4;

/// The synapse weight of each pair's stimulus (any weight above 0 fires the bypass).
const STIMULUS_WEIGHT: u32 = 63;

/// Cycles before the first segment or stimulus: the configuration settles.
const START: u32 = 1000;

/// Nominal length of one count of the slow clock (us): 250 MHz / 2^(scale + 1).
pub fn count_us() -> f64 {
    f64::from(1u32 << (SLOW_CLOCK_SCALE + 1)) / 250.0
}

/// MADC codes of a trace potential (mV).
pub fn code(mv: f64) -> f64 {
    mv / MADC_MV_PER_LSB
}

fn pair(p: usize) -> DelayPair {
    DelayPair::new(p).expect("pair below 128")
}

/// The stimulus label of pair `p` (link 0).
fn stimulus_label(p: usize) -> SpikeLabel {
    SpikeLabel(p as u16)
}

/// The pair whose trigger sent a recorded spike, if any.
fn pair_of_spike(label: SpikeLabel) -> Option<usize> {
    let neuron_label = label.neuron_label();
    let p = usize::from(neuron_label & 0xFF);
    let column = pair(p.min(PAIRS - 1)).trigger_neuron().column.index();
    (p < PAIRS && usize::from(neuron_label >> 8 & 0x7) == column / 32).then_some(p)
}

fn push<C: WritableContainer>(out: &mut Vec<(u32, u32)>, x: &C, coord: C::Coord) {
    out.extend(x.writes(coord).into_iter().map(|w| (w.address, w.data)));
}

/// How every pair is switched in a program (besides its CapMem values).
#[derive(Clone, Copy, Debug)]
struct Switching<'a> {
    counts: &'a [u8],
    spike_out: &'a [bool],
}

fn switches(p: usize, s: &Switching, threshold: bool, readout: Option<ReadoutSource>) -> PairSwitches {
    PairSwitches { counts: s.counts[p], address_out: p as u8, threshold, spike_out: s.spike_out[p], readout }
}

/// The configuration of a program: the top row off, every pair a delay element (threshold and readout off),
/// the stimulus synapses and routing, event recording.
fn setup_writes(values: &[PairCapMem], s: &Switching) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for c in 0..256 {
        let neuron = Neuron::from_index(c).expect("circuit below 512");
        push(&mut out, &NeuronConfig::default(), neuron);
        push(&mut out, &NeuronBackendConfig::default(), neuron);
    }
    for (p, v) in values.iter().enumerate() {
        out.extend(pair_writes(pair(p), v, &switches(p, s, false, None)));
    }
    out.extend(common_backend_writes(FAST_CLOCK_SCALE));
    let hemisphere = Hemisphere::Bottom;
    for d in 0..128 {
        // Drivers 0 and 4 (bus 0, row select 0 and 1) take the stimuli; every other driver is off.
        let mut driver = SynapseDriverConfig {
            enable_receiver: d == 0 || d == 4,
            enable_address_out: true,
            row_address_compare_mask: UInt::new(0x1F).expect("5 bit"),
            ..SynapseDriverConfig::default()
        };
        driver.row_modes = [RowMode::Excitatory, RowMode::Disabled];
        push(&mut out, &driver, SynapseDriverOnChip { hemisphere, driver: SynapseDriver::new(d).expect("driver") });
    }
    // Row-on-driver 0 of driver d is row 2d + 1: rows 1 (pairs 0..64) and 9 (pairs 64..128); rows 0 and 8 empty.
    for (row, first_pair) in [(0, None), (1, Some(0)), (8, None), (9, Some(64))] {
        for q in 0..64 {
            let column = SynapseQuadColumn::new(q).expect("64 quads");
            let mut quad = SynapseQuad::default();
            for (e, c) in column.columns().into_iter().enumerate() {
                let (c, Some(first)) = (c.index(), first_pair) else { continue };
                if c % 2 == 0 && (first..first + 64).contains(&(c / 2)) {
                    quad.synapses[e].weight = UInt::new(STIMULUS_WEIGHT).expect("6 bit");
                    quad.synapses[e].label = UInt::new((c / 2 - first) as u32).expect("6 bit");
                }
            }
            let row = SynapseRow::new(row).expect("row");
            push(&mut out, &quad, SynapseQuadOnChip { hemisphere, row, column });
        }
    }
    for hemisphere in Hemisphere::ALL {
        push(&mut out, &CommonPadiBusConfig { enable_spl1: [true; 4], ..Default::default() }, hemisphere);
    }
    for n in 0..76 {
        let node = CrossbarNode::new(n).expect("76 nodes");
        let (input, output) = node.pair();
        let (i, o) = (input.index(), output.index());
        // Link 0 to the bottom hemisphere's bus 0; neuron events to the FPGA only.
        let forward = (i == 8 && o == 4) || (i < 8 && o >= 8);
        push(&mut out, &if forward { CrossbarNodeConfig::default() } else { CrossbarNodeConfig::DROP_ALL }, node);
    }
    push(&mut out, &EventRecordingConfig { enable_event_recording: true }, ());
    out
}

/// What each pair's segment of a trace program records.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// What the MADC reads on the trigger.
    pub readout: ReadoutSource,
    /// The trigger's threshold comparator on during its segment.
    pub threshold: bool,
    /// A stimulus (after `before_us`); else only the pair's rest is recorded.
    pub stimulus: bool,
    /// Recording before the stimulus (us).
    pub before_us: f64,
    /// Recording after it (us).
    pub after_us: f64,
}

/// One pair's recording: its trigger's trace and spikes, times in us after its stimulus (or its segment's
/// stimulus time without one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairRecording {
    /// The MADC trace (mV).
    pub trace: Trace,
    /// The trigger's spikes.
    pub spikes: Vec<f64>,
}

impl Segment {
    fn samples(&self) -> u32 {
        ((self.before_us + self.after_us) / MADC_PERIOD_US).ceil() as u32
    }

    fn cycles(&self) -> u32 {
        ((self.before_us + self.after_us + 2.0) * CYCLES_PER_US as f64).ceil() as u32
    }

    fn before_cycles(&self) -> u32 {
        (self.before_us * CYCLES_PER_US as f64).round() as u32
    }

    /// The stimulus cycle of pair `i`'s segment.
    fn stimulus_at(&self, i: usize) -> u32 {
        START + i as u32 * self.cycles() + 10 + self.before_cycles()
    }
}

/// The program recording every pair's trigger in turn, all pairs with `counts` of hold.
pub fn trace_program(values: &[PairCapMem], counts: u8, segment: &Segment) -> Program {
    let (counts, spike_out) = (vec![counts; PAIRS], vec![true; PAIRS]);
    let s = Switching { counts: &counts, spike_out: &spike_out };
    let mut b = ProgramBuilder::new();
    b.write_all(setup_writes(values, &s));
    b.systime_sync();
    b.timer_reset();
    let trigger_config = |p: usize, on: bool| {
        let (_, trigger) = neuron_configs(&switches(p, &s, on && segment.threshold, on.then_some(segment.readout)));
        trigger.writes(pair(p).trigger_neuron()).into_iter().map(|w| (w.address, w.data))
    };
    for p in 0..PAIRS {
        let t = START + p as u32 * segment.cycles();
        b.wait_until(t);
        if p > 0 {
            b.write_all(trigger_config(p - 1, false));
        }
        b.write_all(trigger_config(p, true));
        let madc = MadcControl {
            enable_sampling: true,
            number_of_samples: UInt::new(segment.samples().min(65_535)).expect("16 bit"),
            sample_period: UInt::new(MADC_PERIOD_CYCLES).expect("8 bit"),
            ..MadcControl::default()
        };
        b.wait_until(t + 10);
        b.write_all(madc.writes(()).into_iter().map(|w| (w.address, w.data)));
        if segment.stimulus {
            b.spikes(&[(segment.stimulus_at(p), stimulus_label(p))]);
        }
    }
    b.wait_until(START + PAIRS as u32 * segment.cycles());
    b.write_all(trigger_config(PAIRS - 1, false));
    b.build()
}

/// Time (us) of a recorded stamp after `stimulus` (cycles): a stamp counts whole cycles, so the event lies on
/// average in the middle of its cycle.
fn after(chip_time: u64, stimulus: u32) -> f64 {
    (chip_time as f64 + 0.5 - f64::from(stimulus)) / CYCLES_PER_US as f64
}

/// Cuts a trace program's response into one recording per pair.
pub fn cut_traces(response: &Response, segment: &Segment) -> Vec<PairRecording> {
    let mut out = vec![PairRecording::default(); PAIRS];
    let cycles = u64::from(segment.cycles());
    for s in &response.samples {
        let Some(offset) = s.chip_time.checked_sub(u64::from(START)) else { continue };
        let i = (offset / cycles) as usize;
        if i < PAIRS {
            out[i].trace.t.push(after(s.chip_time, segment.stimulus_at(i)));
            out[i].trace.v.push(f64::from(s.value) * MADC_MV_PER_LSB);
        }
    }
    for spike in &response.spikes {
        if let Some(p) = pair_of_spike(spike.label) {
            out[p].spikes.push(after(spike.chip_time, segment.stimulus_at(p)));
        }
    }
    out
}

/// Records every pair's trigger in turn (see [`trace_program`]).
pub fn traces<C: Chip + ?Sized>(
    chip: &mut C,
    values: &[PairCapMem],
    counts: u8,
    segment: &Segment,
) -> Result<Vec<PairRecording>, C::Error> {
    let response = chip.run(&trace_program(values, counts, segment))?;
    Ok(cut_traces(&response, segment))
}

/// Cycle of the sweep's stimuli.
const SWEEP_STIMULUS: u32 = START + 10 * CYCLES_PER_US as u32;

/// The program stimulating every pair in `stimulated` once at the same time, each with its own counts, and
/// recording until the longest delay has passed (its counts plus 12 us).
pub fn sweep_program(values: &[PairCapMem], counts: &[u8], stimulated: &[bool]) -> Program {
    let s = Switching { counts, spike_out: stimulated };
    let mut b = ProgramBuilder::new();
    b.write_all(setup_writes(values, &s));
    // Thresholds on for the stimulated pairs.
    for p in (0..PAIRS).filter(|&p| stimulated[p]) {
        let (_, trigger) = neuron_configs(&switches(p, &s, true, None));
        b.write_all(trigger.writes(pair(p).trigger_neuron()).into_iter().map(|w| (w.address, w.data)));
    }
    b.systime_sync();
    b.timer_reset();
    let events: Vec<(u32, SpikeLabel)> =
        (0..PAIRS).filter(|&p| stimulated[p]).map(|p| (SWEEP_STIMULUS, stimulus_label(p))).collect();
    b.spikes(&events);
    let longest = counts.iter().copied().max().unwrap_or(0);
    let window = f64::from(longest) * count_us() + 12.0;
    b.wait_until(SWEEP_STIMULUS + (window * CYCLES_PER_US as f64).ceil() as u32);
    b.build()
}

/// Every pair's delay (us) in one run: its first spike after the stimulus; None if it did not fire (or was not
/// stimulated).
pub fn delays<C: Chip + ?Sized>(
    chip: &mut C,
    values: &[PairCapMem],
    counts: &[u8],
    stimulated: &[bool],
) -> Result<Vec<Option<f64>>, C::Error> {
    let response = chip.run(&sweep_program(values, counts, stimulated))?;
    let mut out = vec![None; PAIRS];
    for spike in &response.spikes {
        let Some(p) = pair_of_spike(spike.label).filter(|&p| stimulated[p]) else { continue };
        let t = after(spike.chip_time, SWEEP_STIMULUS);
        if t > 0.0 && out[p].is_none_or(|first| t < first) {
            out[p] = Some(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stimulus_labels_and_trigger_addresses_name_their_pair() {
        for p in [0, 5, 63, 64, 127] {
            let label = stimulus_label(p);
            assert_eq!((label.spl1(), label.row_select(), label.synapse_label()), (0, (p / 64) as u8, (p % 64) as u8));
            let column = pair(p).trigger_neuron().column.index();
            let recorded = SpikeLabel(2 << 14 | ((column / 32) as u16) << 8 | p as u16);
            assert_eq!(pair_of_spike(recorded), Some(p));
            let other_block = SpikeLabel(((column / 32 + 1) as u16 % 8) << 8 | p as u16);
            assert_eq!(pair_of_spike(other_block), None);
        }
        assert_eq!(pair_of_spike(SpikeLabel(200)), None);
        assert!((count_us() - 0.128).abs() < 1e-12);
    }
}
