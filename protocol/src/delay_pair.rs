//! DelGrad's delay element as configuration words: a pair of neuron circuits (spec hardware-reference §4.1).
//!
//! The chip has no delay lines. Pair `p` (0..128) uses the two circuits of the bottom neuron row at columns
//! `2p` and `2p + 1`, as the reference places its delay elements on the bottom half:
//!
//! * the even **delay** compartment takes the input event through its excitatory bypass (it fires at once, with
//!   its synaptic inputs and threshold off) and its refractory counter, on the slow clock, then holds the joined
//!   membrane at its reset potential for `counts` cycles;
//! * the odd **trigger** compartment, joined to it by the membrane switch, has no capacitance of its own, a leak,
//!   and adaptation; when the reset is released the adaptation current drives the membrane above its rest and the
//!   trigger's threshold crossing is the delayed spike, sent with the trigger's `address_out`.
//!
//! With the slow clock at scale 4 (7.8125 MHz) one count is 0.128 us, and the delay is about `counts / 8 + 2` us.
//! This module only says which words make a pair; what the delay of a given pair is, is measured (calibration).

use crate::containers::{
    CommonNeuronBackendConfig, NeuronBackendConfig, NeuronConfig, ReadoutSource, RefractoryClock, UInt,
    WritableContainer,
};
use crate::coords::{BackendBlock, Neuron, NeuronParameter};

/// Pairs on the chip: the bottom row's 256 circuits, two per pair.
pub const PAIRS: usize = 128;

/// Refractory counts a pair is used with (the reference clips to this range).
pub const MIN_COUNTS: u8 = 50;
/// See [`MIN_COUNTS`].
pub const MAX_COUNTS: u8 = 250;

/// Clock scale of the slow refractory clock that times the delays: 250 MHz / 2^(4 + 1).
pub const SLOW_CLOCK_SCALE: u32 = 4;
/// Clock scale of the adaptation pulse (reference: 8).
pub const ADAPTATION_PULSE_CLOCK_SCALE: u32 = 8;
/// The trigger's own refractory time, in counts of the fast clock (reference: 25).
pub const TRIGGER_REFRACTORY_COUNTS: u8 = 25;
/// Membrane capacitance of the delay compartment (the trigger has none).
pub const DELAY_CAPACITANCE: u32 = 10;

/// A delay pair: index 0..128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DelayPair(u8);

impl DelayPair {
    /// Pair `p`, if below [`PAIRS`].
    pub fn new(p: usize) -> Option<DelayPair> {
        (p < PAIRS).then_some(DelayPair(p as u8))
    }

    /// All pairs.
    pub fn all() -> impl Iterator<Item = DelayPair> {
        (0..PAIRS as u8).map(DelayPair)
    }

    /// The index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The delay compartment's circuit index (`row * 256 + column`).
    pub fn delay_circuit(self) -> usize {
        256 + 2 * self.index()
    }

    /// The trigger compartment's circuit index.
    pub fn trigger_circuit(self) -> usize {
        self.delay_circuit() + 1
    }

    /// The delay compartment.
    pub fn delay_neuron(self) -> Neuron {
        Neuron::from_index(self.delay_circuit()).expect("pair circuits are below 512")
    }

    /// The trigger compartment.
    pub fn trigger_neuron(self) -> Neuron {
        Neuron::from_index(self.trigger_circuit()).expect("pair circuits are below 512")
    }

    /// The pair whose delay or trigger compartment is circuit `circuit`.
    pub fn of_circuit(circuit: usize) -> Option<DelayPair> {
        circuit.checked_sub(256).and_then(|c| DelayPair::new(c / 2))
    }
}

/// The CapMem values of a pair (10-bit cells, 0..=1022). The first four are what the delay calibration tunes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PairCapMem {
    /// Trigger: leak potential (sets the rest with the adaptation's leak).
    pub v_leak: u16,
    /// Trigger: adaptation reference potential (sets the adaptation trace's level).
    pub v_adapt_ref: u16,
    /// Trigger: adaptation leak potential.
    pub v_adapt_leak: u16,
    /// Trigger: threshold.
    pub v_threshold: u16,
    /// Delay compartment: reset potential, the level the membrane is held at during the delay (reference 250).
    pub hold_reset: u16,
    /// Trigger: reset potential after its spike (reference 600).
    pub trigger_reset: u16,
    /// Trigger: leak bias (reference 500).
    pub i_bias_leak: u16,
    /// Trigger: adaptation time-constant bias (reference 1000).
    pub i_bias_adapt_tau: u16,
    /// Trigger: adaptation strengths a and b (reference 1000).
    pub i_bias_adapt_a: u16,
}

impl PairCapMem {
    /// Uncalibrated values: the reference's biases, rest and trace near 600 and 500, and the threshold at the
    /// midpoint of rest and rebound peak of a pair without mismatch (616; calibration finds each pair's own).
    pub const NOMINAL: PairCapMem = PairCapMem {
        v_leak: 600,
        v_adapt_ref: 500,
        v_adapt_leak: 500,
        v_threshold: 616,
        hold_reset: 250,
        trigger_reset: 600,
        i_bias_leak: 500,
        i_bias_adapt_tau: 1000,
        i_bias_adapt_a: 1000,
    };

    /// The `(address, value)` writes of these values.
    pub fn writes(&self, pair: DelayPair) -> Vec<(u32, u32)> {
        use NeuronParameter as P;
        let (delay, trigger) = (pair.delay_neuron(), pair.trigger_neuron());
        let cell = |n: Neuron, p: P, v: u16| (n.capmem_cell(p).address(), u32::from(v));
        vec![
            cell(delay, P::VReset, self.hold_reset),
            cell(delay, P::IBiasLeak, 0),
            cell(trigger, P::VLeak, self.v_leak),
            cell(trigger, P::VReset, self.trigger_reset),
            cell(trigger, P::VThreshold, self.v_threshold),
            cell(trigger, P::VAdaptRef, self.v_adapt_ref),
            cell(trigger, P::VAdaptLeak, self.v_adapt_leak),
            cell(trigger, P::IBiasLeak, self.i_bias_leak),
            cell(trigger, P::IBiasAdaptTau, self.i_bias_adapt_tau),
            cell(trigger, P::IBiasAdaptA, self.i_bias_adapt_a),
            cell(trigger, P::IBiasAdaptB, self.i_bias_adapt_a),
        ]
    }
}

/// How a pair is switched: its delay, its trigger's event address, and what is read out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSwitches {
    /// Refractory counts of the delay compartment (the delay).
    pub counts: u8,
    /// The trigger's 8-bit `address_out`.
    pub address_out: u8,
    /// The trigger's threshold comparator (off to watch the rebound without a spike).
    pub threshold: bool,
    /// The trigger's spikes leave the neuron backend.
    pub spike_out: bool,
    /// Route the trigger's membrane or adaptation trace to the readout (for the MADC).
    pub readout: Option<ReadoutSource>,
}

/// The two NeuronConfigs of a pair (delay, trigger).
pub fn neuron_configs(switches: &PairSwitches) -> (NeuronConfig, NeuronConfig) {
    let delay = NeuronConfig {
        enable_bypass_excitatory: true,
        enable_leak_division: true,
        membrane_capacitor_size: UInt::new(DELAY_CAPACITANCE).expect("6 bit"),
        connect_membrane_right: true,
        ..NeuronConfig::default()
    };
    let trigger = NeuronConfig {
        enable_adaptation: true,
        enable_threshold_comparator: switches.threshold,
        enable_fire: switches.threshold,
        enable_readout: switches.readout.is_some(),
        enable_readout_amplifier: switches.readout.is_some(),
        readout_source: switches.readout.unwrap_or_default(),
        ..NeuronConfig::default()
    };
    (delay, trigger)
}

/// The delay compartment's backend config: its refractory counter on the slow clock is the delay.
pub fn delay_backend(counts: u8) -> NeuronBackendConfig {
    NeuronBackendConfig {
        refractory_time: counts,
        input_clock: RefractoryClock::Slow,
        ..NeuronBackendConfig::default()
    }
}

/// The trigger's backend config.
pub fn trigger_backend(switches: &PairSwitches) -> NeuronBackendConfig {
    NeuronBackendConfig {
        address_out: switches.address_out,
        refractory_time: TRIGGER_REFRACTORY_COUNTS,
        input_clock: RefractoryClock::Fast,
        enable_adaptation_pulse: true,
        enable_spike_out: switches.spike_out,
        ..NeuronBackendConfig::default()
    }
}

/// All writes that make `pair` a delay element (neuron configs, backend configs, CapMem).
pub fn pair_writes(pair: DelayPair, values: &PairCapMem, switches: &PairSwitches) -> Vec<(u32, u32)> {
    let (delay, trigger) = neuron_configs(switches);
    let mut out = Vec::new();
    let mut push = |w: Vec<crate::containers::OmnibusWrite>| out.extend(w.into_iter().map(Into::<(u32, u32)>::into));
    push(delay.writes(pair.delay_neuron()));
    push(trigger.writes(pair.trigger_neuron()));
    push(delay_backend(switches.counts).writes(pair.delay_neuron()));
    push(trigger_backend(switches).writes(pair.trigger_neuron()));
    out.extend(values.writes(pair));
    out
}

/// The writes that change only a pair's delay (the delay compartment's backend config).
pub fn counts_writes(pair: DelayPair, counts: u8) -> Vec<(u32, u32)> {
    delay_backend(counts).writes(pair.delay_neuron()).into_iter().map(Into::into).collect()
}

/// The common backend config of a block holding pairs: the slow clock at [`SLOW_CLOCK_SCALE`], the adaptation
/// pulse clock, and the given fast clock scale (used by network neurons and the trigger's own refractory time).
pub fn common_backend(fast_clock_scale: u32) -> CommonNeuronBackendConfig {
    CommonNeuronBackendConfig {
        enable_event_registers: true,
        enable_clocks: true,
        clock_scale_fast: UInt::new(fast_clock_scale.min(15)).expect("4 bit"),
        clock_scale_slow: UInt::new(SLOW_CLOCK_SCALE).expect("4 bit"),
        clock_scale_adaptation_pulse: UInt::new(ADAPTATION_PULSE_CLOCK_SCALE).expect("4 bit"),
        sample_positive_edge: [true; 4],
        ..CommonNeuronBackendConfig::default()
    }
}

/// Both blocks' common backend writes for [`common_backend`].
pub fn common_backend_writes(fast_clock_scale: u32) -> Vec<(u32, u32)> {
    BackendBlock::ALL.iter().flat_map(|&b| common_backend(fast_clock_scale).writes(b)).map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::Container;

    #[test]
    fn pairs_sit_on_the_bottom_row_even_then_odd() {
        let p = DelayPair::new(5).unwrap();
        assert_eq!((p.delay_circuit(), p.trigger_circuit()), (266, 267));
        assert_eq!(DelayPair::of_circuit(267), Some(p));
        assert_eq!(DelayPair::of_circuit(255), None);
        assert!(DelayPair::new(128).is_none());
        assert_eq!(DelayPair::all().count(), PAIRS);
    }

    #[test]
    fn the_counts_are_the_delay_compartments_refractory_time_on_the_slow_clock() {
        let p = DelayPair::new(3).unwrap();
        let writes = counts_writes(p, 123);
        let addresses = NeuronBackendConfig::addresses(p.delay_neuron());
        assert_eq!(writes.iter().map(|w| w.0).collect::<Vec<_>>(), addresses.as_ref().to_vec());
        let mut words = <NeuronBackendConfig as Container>::Words::default();
        for (w, (_, d)) in words.as_mut().iter_mut().zip(&writes) {
            *w = *d;
        }
        let decoded = NeuronBackendConfig::decode(&words).unwrap();
        assert_eq!(decoded.refractory_time, 123);
        assert_eq!(decoded.input_clock, RefractoryClock::Slow);
    }
}
