//! Measurements as protocol programs: every circuit standing alone, its membrane recorded by the MADC after a
//! forced reset or an input spike, one circuit after the other in a single program.

use bss2_protocol::containers::{
    CommonNeuronBackendConfig, CommonPadiBusConfig, CrossbarNodeConfig, EventRecordingConfig, MadcControl,
    NEURON_RESET_BASE, NeuronBackendConfig, NeuronConfig, ReadoutSource, RefractoryClock, RowMode, SynapseDriverConfig,
    SynapseQuad, UInt, WritableContainer,
};
use bss2_protocol::coords::{
    BackendBlock, CapMemCell, CrossbarNode, Hemisphere, Neuron, Quadrant, SharedCapMemCell, SynapseDriver,
    SynapseDriverOnChip, SynapseQuadColumn, SynapseQuadOnChip, SynapseRow,
};
use bss2_protocol::label::SpikeLabel;
use bss2_protocol::program::{CYCLES_PER_US, Program, ProgramBuilder, Response};
use bss2_protocol::transport::{BlockingConnection, ConnectionError};

use crate::values::{CircuitValues, capmem_writes};

/// Neuron circuits on a chip.
pub const CIRCUITS: usize = Neuron::SIZE;
/// mV per MADC LSB (spec hardware-reference §2.5).
pub const MADC_MV_PER_LSB: f64 = 2.0;
/// The shortest MADC sample period used here: 12 FPGA cycles (96 ns), enough for time constants of
/// microseconds; longer traces are sampled more sparsely, at most [`MAX_SAMPLES`] per trace.
pub const MADC_PERIOD_CYCLES: u32 = 12;
/// The same in us.
pub const MADC_PERIOD_US: f64 = MADC_PERIOD_CYCLES as f64 / CYCLES_PER_US as f64;
/// Samples per trace at most.
pub const MAX_SAMPLES: f64 = 1000.0;

/// The sample period (cycles) of a trace of `us` microseconds.
pub fn sample_period(us: f64) -> u32 {
    ((us * CYCLES_PER_US as f64 / MAX_SAMPLES).ceil() as u32).clamp(MADC_PERIOD_CYCLES, 255)
}
/// Synapse DAC bias written to every quadrant (as the chip backend does).
pub const SYNAPSE_DAC_BIAS: u16 = 1000;
/// Weight (LSB) of each stimulating synapse.
pub const STIMULUS_WEIGHT: u32 = 8;
/// Stimulating synapses per circuit (one per driver, so that their individual mismatch averages out).
pub const STIMULUS_SYNAPSES: u32 = 8;
/// Synapse label of the excitatory (`+0`) and inhibitory (`+1`) stimulus.
const STIMULUS_LABEL: u32 = 5;

/// Runs programs on a chip.
pub trait Chip {
    /// Why a program could not be run.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs one program and returns its decoded response.
    fn run(&mut self, program: &Program) -> Result<Response, Self::Error>;
}

impl Chip for BlockingConnection {
    type Error = ConnectionError;

    fn run(&mut self, program: &Program) -> Result<Response, ConnectionError> {
        BlockingConnection::run(self, program)
    }
}

/// What happens at the start of each circuit's trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stimulus {
    /// A reset strobe pulls the membrane to its reset potential.
    Reset,
    /// An input spike through the excitatory stimulus synapse.
    Excitatory,
    /// An input spike through the inhibitory stimulus synapse.
    Inhibitory,
}

/// One measurement: the CapMem values of every circuit, whether thresholds are on, and the trace to take.
#[derive(Clone, Debug)]
pub struct Measurement<'a> {
    /// Values of all [`CIRCUITS`] circuits.
    pub values: &'a [CircuitValues],
    /// The recorded circuit's threshold comparator on (with a short refractory time), for threshold
    /// measurements; all others stay off, so that only the recorded circuit fires.
    pub spiking: bool,
    /// The stimulus.
    pub stimulus: Stimulus,
    /// Recording before the stimulus (us).
    pub before_us: f64,
    /// Recording after the stimulus (us).
    pub after_us: f64,
    /// What the MADC records: the membrane or a synaptic input.
    pub readout: ReadoutSource,
}

/// A recorded trace: times (us after the stimulus) and membrane potentials (mV).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// Sample times.
    pub t: Vec<f64>,
    /// Potentials.
    pub v: Vec<f64>,
}

fn config(readout: Option<ReadoutSource>, spiking: bool) -> NeuronConfig {
    NeuronConfig {
        readout_source: readout.unwrap_or_default(),
        membrane_capacitor_size: UInt::new(63).expect("6 bit"),
        enable_synaptic_input_excitatory: true,
        enable_synaptic_input_inhibitory: true,
        enable_threshold_comparator: spiking,
        enable_fire: spiking,
        enable_readout: readout.is_some(),
        ..NeuronConfig::default()
    }
}

fn neuron(c: usize) -> Neuron {
    Neuron::from_index(c).expect("circuit below 512")
}

fn push<C: WritableContainer>(out: &mut Vec<(u32, u32)>, x: &C, coord: C::Coord) {
    out.extend(x.writes(coord).into_iter().map(|w| (w.address, w.data)));
}

/// The configuration every measurement starts from: standalone circuits, refractory clock, CapMem, stimulus
/// synapses (driver 0 of both hemispheres: top row excitatory, bottom row inhibitory, every column), routing of
/// FPGA link 0 to all PADI buses, event recording.
fn setup_writes(m: &Measurement) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for c in 0..CIRCUITS {
        push(&mut out, &config(None, false), neuron(c));
        let backend = NeuronBackendConfig {
            refractory_time: 8,
            input_clock: RefractoryClock::Fast,
            ..NeuronBackendConfig::default()
        };
        push(&mut out, &backend, neuron(c));
        capmem_writes(c, &m.values[c], &mut out);
    }
    for block in BackendBlock::ALL {
        let common = CommonNeuronBackendConfig {
            enable_event_registers: true,
            enable_clocks: true,
            clock_scale_fast: UInt::new(4).expect("4 bit"),
            clock_scale_slow: UInt::new(9).expect("4 bit"),
            ..CommonNeuronBackendConfig::default()
        };
        push(&mut out, &common, block);
    }
    for quadrant in Quadrant::ALL {
        out.push((CapMemCell::shared(quadrant, SharedCapMemCell::SynIBiasDac).address(), u32::from(SYNAPSE_DAC_BIAS)));
    }
    for hemisphere in Hemisphere::ALL {
        // Drivers 0, 4, ..., 28 (bus 0, indices 0..8) compare no row-select bits, so a stimulus event reaches all
        // of them; each has its top row excitatory and bottom row inhibitory, every column.
        for k in 0..STIMULUS_SYNAPSES as usize {
            let d = 4 * k;
            let mut driver = SynapseDriverConfig {
                enable_receiver: true,
                enable_address_out: true,
                row_address_compare_mask: UInt::new(0).expect("5 bit"),
                ..SynapseDriverConfig::default()
            };
            driver.row_modes = [RowMode::Excitatory, RowMode::Inhibitory];
            let coord = SynapseDriverOnChip { hemisphere, driver: SynapseDriver::new(d).expect("driver") };
            push(&mut out, &driver, coord);
            for (row, label) in [(2 * d + 1, STIMULUS_LABEL), (2 * d, STIMULUS_LABEL + 1)] {
                for q in 0..64 {
                    let mut quad = SynapseQuad::default();
                    for s in &mut quad.synapses {
                        s.weight = UInt::new(STIMULUS_WEIGHT).expect("6 bit");
                        s.label = UInt::new(label).expect("6 bit");
                    }
                    let column = SynapseQuadColumn::new(q).expect("64 quads");
                    let row = SynapseRow::new(row).expect("row");
                    push(&mut out, &quad, SynapseQuadOnChip { hemisphere, row, column });
                }
            }
        }
        push(&mut out, &CommonPadiBusConfig { enable_spl1: [true; 4], ..Default::default() }, hemisphere);
    }
    for n in 0..76 {
        let node = CrossbarNode::new(n).expect("76 nodes");
        let (input, output) = node.pair();
        let forward = input.index() == 8 && output.index() < 8;
        push(&mut out, &if forward { CrossbarNodeConfig::default() } else { CrossbarNodeConfig::DROP_ALL }, node);
    }
    push(&mut out, &EventRecordingConfig { enable_event_recording: true }, ());
    out
}

/// The reset strobe address of a circuit.
fn reset_address(c: usize) -> u32 {
    let n = neuron(c);
    NEURON_RESET_BASE[n.backend_block().index()] + 4 * n.index_in_backend_block() as u32
}

/// Cycles per circuit segment and the sample count of one trace.
fn segment(m: &Measurement) -> (u32, u32) {
    let period = f64::from(sample_period(m.before_us + m.after_us)) / CYCLES_PER_US as f64;
    let samples = ((m.before_us + m.after_us) / period).ceil() as u32;
    let cycles = ((m.before_us + m.after_us + 2.0) * CYCLES_PER_US as f64).ceil() as u32;
    (cycles, samples.min(65_535))
}

/// The program recording `circuits` one after the other.
pub fn program(m: &Measurement, circuits: &[usize]) -> Program {
    let mut b = ProgramBuilder::new();
    b.write_all(setup_writes(m));
    b.systime_sync();
    b.timer_reset();
    let (cycles, samples) = segment(m);
    let before = (m.before_us * CYCLES_PER_US as f64).round() as u32;
    let start = 1000;
    for (i, &c) in circuits.iter().enumerate() {
        let t = start + i as u32 * cycles;
        b.wait_until(t);
        if i > 0 {
            b.write_all(config(None, false).writes(neuron(circuits[i - 1])).into_iter().map(|w| (w.address, w.data)));
        }
        b.write_all(config(Some(m.readout), m.spiking).writes(neuron(c)).into_iter().map(|w| (w.address, w.data)));
        let madc = MadcControl {
            enable_sampling: true,
            number_of_samples: UInt::new(samples).expect("16 bit"),
            sample_period: UInt::new(sample_period(m.before_us + m.after_us)).expect("8 bit"),
            ..MadcControl::default()
        };
        b.wait_until(t + 10);
        b.write_all(madc.writes(()).into_iter().map(|w| (w.address, w.data)));
        b.wait_until(t + 10 + before);
        match m.stimulus {
            Stimulus::Reset => {
                b.write(reset_address(c), 0);
            }
            Stimulus::Excitatory => {
                b.spikes(&[(t + 10 + before, SpikeLabel(STIMULUS_LABEL as u16))]);
            }
            Stimulus::Inhibitory => {
                b.spikes(&[(t + 10 + before, SpikeLabel(STIMULUS_LABEL as u16 + 1))]);
            }
        }
    }
    b.wait_until(start + circuits.len() as u32 * cycles);
    b.build()
}

/// Runs a measurement of `circuits` and cuts the MADC samples into one trace per circuit.
pub fn traces<C: Chip + ?Sized>(chip: &mut C, m: &Measurement, circuits: &[usize]) -> Result<Vec<Trace>, C::Error> {
    let program = program(m, circuits);
    let response = chip.run(&program)?;
    let (cycles, _) = segment(m);
    let before = (m.before_us * CYCLES_PER_US as f64).round() as u64;
    let mut out = vec![Trace::default(); circuits.len()];
    for s in &response.samples {
        let Some(offset) = s.chip_time.checked_sub(1000) else { continue };
        let i = (offset / u64::from(cycles)) as usize;
        if i >= circuits.len() {
            continue;
        }
        let stimulus = 1000 + i as u64 * u64::from(cycles) + 10 + before;
        // A stamp counts whole cycles: the sample lies inside its cycle, on average in the middle.
        out[i].t.push((s.chip_time as f64 + 0.5 - stimulus as f64) / CYCLES_PER_US as f64);
        out[i].v.push(f64::from(s.value) * MADC_MV_PER_LSB);
    }
    Ok(out)
}
