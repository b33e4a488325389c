//! The chip's configuration compiled for the event loop: membranes (joined circuits), their physics, and the
//! routes of events from crossbar inputs through PADI buses, synapse drivers and synapses to membranes or to
//! the FPGA.

use std::collections::HashMap;
use std::sync::Arc;

use bss2_protocol::containers::{
    CommonNeuronBackendConfig, CommonPadiBusConfig, Container, CrossbarNodeConfig, EVENT_RECORDING_CONFIG_ADDRESS,
    NeuronBackendConfig, NeuronConfig, ReadoutSource, RefractoryClock, RowMode, SynapseDriverConfig,
    permute_weight_bits,
};
use bss2_protocol::coords::{
    CapMemCell, CrossbarInput, CrossbarNode, CrossbarOutput, Hemisphere, Neuron, NeuronParameter, SharedCapMemCell,
    SynapseDriver, SynapseDriverOnChip,
};
use bss2_protocol::label::SpikeLabel;

use crate::analog::{CIRCUITS, CircuitCapMem, CircuitParameters, FixedPattern};
use crate::membrane::{MAX_CHANNELS, MembraneParameters};
use crate::memory::Memory;
use crate::pair::{AdaptationCapMem, PairInputs, PairPhysics};
use crate::profile::TransferCurves;

/// Per-circuit faults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeuronFaults {
    /// Circuits whose threshold comparator never fires.
    pub silent: Vec<usize>,
    /// Circuits that fire by themselves (their leak sits above their threshold).
    pub spontaneous: Vec<usize>,
}

/// Where a membrane's spikes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpikeOutput {
    /// Crossbar input (the neuron event output, column / 32).
    pub crossbar_input: u8,
    /// The 14-bit neuron label: `address_out | (column / 32) << 8`.
    pub label: u16,
}

/// One membrane: a circuit or a chain of two joined circuits.
#[derive(Clone, Debug)]
pub struct Group {
    /// Circuit indices (`row * 256 + column`).
    pub circuits: Vec<usize>,
    /// Physics.
    pub params: MembraneParameters,
    /// Absolute leak potential (mV), for readout.
    pub leak_mv: f64,
    /// Spike output, if enabled.
    pub output: Option<SpikeOutput>,
}

/// Where one event ends up.
#[derive(Clone, Debug, Default)]
pub struct Route {
    /// (membrane, channel, slope jump in mV/us).
    pub targets: Vec<(u32, u8, f64)>,
    /// Labels recorded by the FPGA (SPL1 output in bits 15:14).
    pub recorded: Vec<u16>,
    /// Delay pairs (membranes) whose delay compartment the event reaches through its excitatory bypass.
    pub triggers: Vec<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct DriverInfo {
    receiver: bool,
    address_out: bool,
    compare_mask: u8,
    row_modes: [RowMode; 2],
}

/// The compiled configuration.
#[derive(Debug)]
pub struct Compiled {
    /// The membranes.
    pub groups: Vec<Group>,
    /// Per circuit: (membrane, position in it).
    pub circuit_group: Vec<(u32, u8)>,
    /// Event recording switched on.
    pub recording: bool,
    /// The circuit routed to the MADC (the lowest with readout enabled) and what it reads.
    pub readout: Option<(usize, ReadoutSource)>,
    /// Per membrane: its physics if it is a delay pair.
    pub pairs: Vec<Option<PairPhysics>>,
    /// Per circuit: the delay compartment of a pair (excitatory events take its bypass).
    bypass: Vec<bool>,
    /// Per circuit, per input type: slope jump per weight LSB (mV/us), on its membrane.
    amplitude: Vec<[f64; 2]>,
    /// Per circuit: synaptic inputs enabled (exc, inh).
    inputs_enabled: Vec<[bool; 2]>,
    nodes: Vec<(CrossbarInput, CrossbarOutput, CrossbarNodeConfig)>,
    spl1_enabled: [[bool; 4]; 2],
    drivers: [Vec<DriverInfo>; 2],
    /// Per synram and row: the synapses with non-zero weight, as (column, label, weight x mismatch).
    rows: [Vec<Vec<(u8, u8, f64)>>; 2],
    routes: HashMap<(u8, u16), Arc<Route>>,
}

/// Where a spiking circuit's spikes go, if its backend sends them.
fn spike_output(neuron: Neuron, backend: &NeuronBackendConfig) -> Option<SpikeOutput> {
    backend.enable_spike_out.then(|| {
        let event_output = (neuron.column.index() / 32) as u16;
        SpikeOutput { crossbar_input: event_output as u8, label: u16::from(backend.address_out) | event_output << 8 }
    })
}

/// Reads and decodes a container, falling back to its default for words it rejects.
fn read_container<C: Container + Default>(memory: &Memory, coord: C::Coord) -> C {
    let addresses = C::addresses(coord);
    let mut words = C::Words::default();
    for (w, &a) in words.as_mut().iter_mut().zip(addresses.as_ref()) {
        *w = memory.read(a);
    }
    C::decode(&words).unwrap_or_default()
}

fn capmem(memory: &Memory, cell: CapMemCell) -> u16 {
    // 1023 disables refresh: the cell drifts to 0.
    match (memory.read(cell.address()) & 0x3FF) as u16 {
        1023 => 0,
        v => v,
    }
}

/// The CapMem values of a circuit.
pub fn circuit_capmem(memory: &Memory, neuron: Neuron) -> CircuitCapMem {
    let cell = |p| capmem(memory, neuron.capmem_cell(p));
    CircuitCapMem {
        v_leak: cell(NeuronParameter::VLeak),
        v_reset: cell(NeuronParameter::VReset),
        v_threshold: cell(NeuronParameter::VThreshold),
        i_bias_leak: cell(NeuronParameter::IBiasLeak),
        i_bias_syn_exc_tau: cell(NeuronParameter::IBiasSyninExcTau),
        i_bias_syn_exc_gm: cell(NeuronParameter::IBiasSyninExcGm),
        i_bias_syn_inh_tau: cell(NeuronParameter::IBiasSyninInhTau),
        i_bias_syn_inh_gm: cell(NeuronParameter::IBiasSyninInhGm),
        synapse_dac_bias: capmem(memory, CapMemCell::shared(neuron.quadrant(), SharedCapMemCell::SynIBiasDac)),
    }
}

/// The true standalone parameters of every circuit.
pub fn circuit_parameters(memory: &Memory, curves: &TransferCurves, pattern: &FixedPattern) -> Vec<CircuitParameters> {
    Neuron::all()
        .map(|n| CircuitParameters::from_capmem(curves, &pattern.circuits[n.index()], &circuit_capmem(memory, n)))
        .collect()
}

fn refractory_us(memory: &Memory, neuron: Neuron, backend: &NeuronBackendConfig) -> f64 {
    let block = neuron.backend_block();
    let common: CommonNeuronBackendConfig = read_container(memory, block);
    if backend.refractory_time == 0 {
        return 0.0;
    }
    if !common.enable_clocks {
        return f64::INFINITY;
    }
    let scale = match backend.input_clock {
        RefractoryClock::Fast => common.clock_scale_fast.get(),
        RefractoryClock::Slow => common.clock_scale_slow.get(),
    };
    let f_mhz = 250.0 / f64::from(1u32 << (scale + 1));
    f64::from(backend.refractory_time) / f_mhz
}

impl Compiled {
    /// Compiles the memory image. `threshold_noise_mv` is this run's per-circuit threshold offset; a delay pair's
    /// trigger takes it times `trigger_noise_scale` (see `PairMagnitudes::trigger_threshold_noise_mv`).
    pub fn new(
        memory: &Memory,
        curves: &TransferCurves,
        pattern: &FixedPattern,
        threshold_noise_mv: &[f64],
        trigger_noise_scale: f64,
        faults: &NeuronFaults,
    ) -> Compiled {
        let params = circuit_parameters(memory, curves, pattern);
        let configs: Vec<NeuronConfig> = Neuron::all().map(|n| read_container(memory, n)).collect();
        let mut groups = Vec::new();
        let mut circuit_group = vec![(0u32, 0u8); CIRCUITS];
        let mut amplitude = vec![[0.0; 2]; CIRCUITS];
        let mut inputs_enabled = vec![[false; 2]; CIRCUITS];
        let (mut pairs, mut bypass) = (Vec::new(), vec![false; CIRCUITS]);
        for row in 0..2 {
            let mut column = 0;
            while column < 256 {
                let first = row * 256 + column;
                // A circuit joins its right neighbour through the membrane switch; chains are cut at two.
                let joined = column + 1 < 256 && configs[first].connect_membrane_right;
                let circuits: Vec<usize> = if joined { vec![first, first + 1] } else { vec![first] };
                column += circuits.len();
                let g = groups.len() as u32;
                let mut group = Self::group(memory, &circuits, &configs, &params, threshold_noise_mv, faults);
                let capacitance = Self::capacitance(&circuits, &configs);
                for (position, &c) in circuits.iter().enumerate() {
                    circuit_group[c] = (g, position as u8);
                    inputs_enabled[c] =
                        [configs[c].enable_synaptic_input_excitatory, configs[c].enable_synaptic_input_inhibitory];
                    // Gains are defined at capacitance 63; the joined membrane divides by its total.
                    amplitude[c] = [params[c].gain_exc * 63.0 / capacitance, params[c].gain_inh * 63.0 / capacitance];
                }
                let noise = (threshold_noise_mv, trigger_noise_scale);
                let pair = Self::pair(memory, curves, pattern, &circuits, &configs, &params, noise, faults);
                if let Some(physics) = &pair {
                    // The pair's membrane is its own physics; its synaptic inputs are not used.
                    group.params = physics.membrane_parameters();
                    group.leak_mv = physics.rest_mv;
                    let trigger = Neuron::from_index(circuits[1]).expect("circuit index");
                    let backend: NeuronBackendConfig = read_container(memory, trigger);
                    group.output =
                        spike_output(trigger, &backend).filter(|_| configs[circuits[1]].enable_threshold_comparator);
                    for &c in &circuits {
                        inputs_enabled[c] = [false; 2];
                    }
                    bypass[circuits[0]] = true;
                }
                pairs.push(pair);
                groups.push(group);
            }
        }
        let nodes = (0..76u32)
            .filter_map(|n| {
                let node = CrossbarNode::new(n as usize)?;
                let (i, o) = node.pair();
                Some((i, o, read_container::<CrossbarNodeConfig>(memory, node)))
            })
            .collect();
        let spl1_enabled = std::array::from_fn(|h| {
            let padi: CommonPadiBusConfig = read_container(memory, Hemisphere::ALL[h]);
            padi.enable_spl1
        });
        let drivers = std::array::from_fn(|h| {
            (0..128)
                .map(|d| {
                    let coord = SynapseDriverOnChip {
                        hemisphere: Hemisphere::ALL[h],
                        driver: SynapseDriver::new(d).expect("128 drivers"),
                    };
                    let c: SynapseDriverConfig = read_container(memory, coord);
                    DriverInfo {
                        receiver: c.enable_receiver,
                        address_out: c.enable_address_out,
                        compare_mask: c.row_address_compare_mask.get() as u8,
                        row_modes: c.row_modes,
                    }
                })
                .collect()
        });
        let rows = std::array::from_fn(|s| Self::synapse_rows(memory, pattern, s));
        let recording = memory.read(EVENT_RECORDING_CONFIG_ADDRESS) & 1 == 1;
        let readout = configs.iter().position(|c| c.enable_readout).map(|c| (c, configs[c].readout_source));
        Compiled {
            groups,
            circuit_group,
            recording,
            readout,
            pairs,
            bypass,
            amplitude,
            inputs_enabled,
            nodes,
            spl1_enabled,
            drivers,
            rows,
            routes: HashMap::new(),
        }
    }

    fn capacitance(circuits: &[usize], configs: &[NeuronConfig]) -> f64 {
        let sum: u32 = circuits.iter().map(|&c| configs[c].membrane_capacitor_size.get()).sum();
        f64::from(sum.max(1))
    }

    fn group(
        memory: &Memory,
        circuits: &[usize],
        configs: &[NeuronConfig],
        params: &[CircuitParameters],
        threshold_noise_mv: &[f64],
        faults: &NeuronFaults,
    ) -> Group {
        // Conductances add: g_i = (C_i / 63) / tau_i, scaled by the division / multiplication switches.
        let capacitance = Self::capacitance(circuits, configs) / 63.0;
        let mut conductance = 0.0;
        let mut leak_weighted = 0.0;
        for &c in circuits {
            let cfg = &configs[c];
            let mut g = f64::from(cfg.membrane_capacitor_size.get()) / 63.0 / params[c].tau_mem_us;
            if cfg.enable_leak_division {
                g /= 8.0;
            }
            if cfg.enable_leak_multiplication {
                g *= 8.0;
            }
            conductance += g;
            leak_weighted += g * params[c].leak_mv;
        }
        let first = circuits[0];
        let leak_mv = if conductance > 0.0 { leak_weighted / conductance } else { params[first].leak_mv };
        let tau_mem = if conductance > 0.0 { (capacitance / conductance).min(1e9) } else { 1e9 };
        let mut tau_syn = [tau_mem; MAX_CHANNELS];
        for (position, &c) in circuits.iter().enumerate() {
            if configs[c].enable_synaptic_input_excitatory {
                tau_syn[2 * position] = params[c].tau_syn_exc_us.min(1e9);
            }
            if configs[c].enable_synaptic_input_inhibitory {
                tau_syn[2 * position + 1] = params[c].tau_syn_inh_us.min(1e9);
            }
        }
        let spiking = circuits.iter().copied().find(|&c| configs[c].enable_threshold_comparator);
        // Reset (spikes and reset strobes) pulls to the reset potential of the spiking circuit, else the first.
        let mut reset = params[spiking.unwrap_or(first)].reset_mv - leak_mv;
        let (mut threshold, mut refractory, mut output) = (f64::INFINITY, 0.0, None);
        if let Some(c) = spiking {
            let neuron = Neuron::from_index(c).expect("circuit index");
            let backend: NeuronBackendConfig = read_container(memory, neuron);
            threshold = params[c].threshold_mv + threshold_noise_mv[c] - leak_mv;
            refractory = refractory_us(memory, neuron, &backend);
            if faults.spontaneous.contains(&c) {
                threshold = reset.min(0.0) - 20.0;
                reset = threshold - 40.0;
            }
            if faults.silent.contains(&c) {
                threshold = f64::INFINITY;
            }
            output = spike_output(neuron, &backend);
        }
        Group {
            circuits: circuits.to_vec(),
            params: MembraneParameters { tau_mem, tau_syn, threshold, reset, refractory },
            leak_mv,
            output,
        }
    }

    /// The physics of a delay pair, if `circuits` are one: `[D, T]` joined, D even with its excitatory bypass,
    /// T with adaptation.
    #[allow(clippy::too_many_arguments)]
    fn pair(
        memory: &Memory,
        curves: &TransferCurves,
        pattern: &FixedPattern,
        circuits: &[usize],
        configs: &[NeuronConfig],
        params: &[CircuitParameters],
        (threshold_noise_mv, trigger_noise_scale): (&[f64], f64),
        faults: &NeuronFaults,
    ) -> Option<PairPhysics> {
        let &[d, t] = circuits else { return None };
        if d % 2 != 0 || !configs[d].enable_bypass_excitatory || !configs[t].enable_adaptation {
            return None;
        }
        let neuron = |c: usize| Neuron::from_index(c).expect("circuit index");
        let refractory = |c: usize| refractory_us(memory, neuron(c), &read_container(memory, neuron(c)));
        let cell = |p| capmem(memory, neuron(t).capmem_cell(p));
        let adaptation = AdaptationCapMem {
            v_adapt_ref: cell(NeuronParameter::VAdaptRef),
            v_adapt_leak: cell(NeuronParameter::VAdaptLeak),
            i_bias_adapt_tau: cell(NeuronParameter::IBiasAdaptTau),
            i_bias_adapt_a: cell(NeuronParameter::IBiasAdaptA),
        };
        let threshold_mv = if !configs[t].enable_threshold_comparator || faults.silent.contains(&t) {
            f64::INFINITY
        } else if faults.spontaneous.contains(&t) {
            f64::NEG_INFINITY
        } else {
            params[t].threshold_mv + threshold_noise_mv[t] * trigger_noise_scale
        };
        let inputs = PairInputs {
            delay: &params[d],
            trigger: &params[t],
            adaptation,
            delay_capacitance: configs[d].membrane_capacitor_size.get(),
            refractory_us: refractory(d),
            threshold_mv,
            trigger_refractory_us: refractory(t),
        };
        Some(PairPhysics::new(curves, &pattern.pairs.pairs[d / 2], &inputs))
    }

    fn synapse_rows(memory: &Memory, pattern: &FixedPattern, synram: usize) -> Vec<Vec<(u8, u8, f64)>> {
        (0..256)
            .map(|row| {
                let mut synapses = Vec::new();
                for q in 0..64 {
                    let (a, b) = (memory.weight_words[synram][row * 64 + q], memory.label_words[synram][row * 64 + q]);
                    if a & 0x3F3F_3F3F == 0 {
                        continue;
                    }
                    for e in 0..4 {
                        let shift = 8 * (3 - e as u32);
                        let weight = permute_weight_bits(a >> shift & 0x3F);
                        if weight == 0 {
                            continue;
                        }
                        let column = ((q % 32) * 4 + e) * 2 + q / 32;
                        let label = (b >> shift & 0x3F) as u8;
                        let factor = f64::from(pattern.synapses[synram][row * 256 + column]);
                        synapses.push((column as u8, label, f64::from(weight) * factor));
                    }
                }
                synapses
            })
            .collect()
    }

    /// The route of an event with 14-bit `label` entering crossbar input `input`.
    pub fn route(&mut self, input: u8, label: u16) -> Arc<Route> {
        if let Some(r) = self.routes.get(&(input, label)) {
            return r.clone();
        }
        let route = Arc::new(self.build_route(input, label));
        self.routes.insert((input, label), route.clone());
        route
    }

    fn build_route(&self, input: u8, label: u16) -> Route {
        let mut route = Route::default();
        for &(i, o, node) in &self.nodes {
            if i.index() != usize::from(input) || !node.forwards(SpikeLabel(label)) {
                continue;
            }
            let out = o.index();
            if out >= 8 {
                route.recorded.push(((out - 8) as u16) << 14 | label);
                continue;
            }
            let (hemisphere, bus) = (out / 4, out % 4);
            if self.spl1_enabled[hemisphere][bus] {
                self.drive_bus(hemisphere, bus, label, &mut route);
            }
        }
        route
    }

    fn drive_bus(&self, hemisphere: usize, bus: usize, label: u16, route: &mut Route) {
        let row_select = (label >> 6 & 0x1F) as u8;
        for index_on_bus in 0..32u8 {
            let driver = &self.drivers[hemisphere][usize::from(index_on_bus) * 4 + bus];
            if !driver.receiver || (row_select ^ index_on_bus) & driver.compare_mask != 0 {
                continue;
            }
            let synapse_label = if driver.address_out { (label & 0x3F) as u8 } else { (label & 0x20) as u8 };
            let d = usize::from(index_on_bus) * 4 + bus;
            // Row-on-driver 0 is the top row 2d + 1, row-on-driver 1 the bottom row 2d.
            for (row_on_driver, mode) in driver.row_modes.iter().enumerate() {
                let row = if row_on_driver == 0 { 2 * d + 1 } else { 2 * d };
                let kinds: &[usize] = match mode {
                    RowMode::Disabled => &[],
                    RowMode::Excitatory => &[0],
                    RowMode::Inhibitory => &[1],
                    RowMode::ExcitatoryAndInhibitory => &[0, 1],
                };
                for &(column, stored, weight) in &self.rows[hemisphere][row] {
                    if stored != synapse_label {
                        continue;
                    }
                    let circuit = hemisphere * 256 + usize::from(column);
                    let (group, position) = self.circuit_group[circuit];
                    if self.bypass[circuit] && kinds.contains(&0) {
                        route.triggers.push(group);
                    }
                    for &kind in kinds {
                        if !self.inputs_enabled[circuit][kind] {
                            continue;
                        }
                        let sign = if kind == 0 { 1.0 } else { -1.0 };
                        let amount = sign * weight * self.amplitude[circuit][kind];
                        route.targets.push((group, 2 * position + kind as u8, amount));
                    }
                }
            }
        }
    }

    /// The crossbar input of FPGA link `spl1` (0..4).
    pub fn l2_input(spl1: u8) -> u8 {
        8 + spl1
    }
}
