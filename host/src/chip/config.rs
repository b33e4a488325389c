//! The chip's static configuration for a mapped network: neuron circuits, refractory clocks, CapMem, synapse
//! drivers, PADI buses, crossbar and event recording, as omnibus writes; and the synapse arrays as quad writes.

use bss2_calibration::values::capmem_value;
use bss2_firmware_sim::NominalInverse;
use bss2_firmware_sim::profile::TransferCurves;
use bss2_protocol::containers::{
    CommonNeuronBackendConfig, CommonPadiBusConfig, CrossbarNodeConfig, EventRecordingConfig, NeuronBackendConfig,
    NeuronConfig, RefractoryClock, RowMode, SynapseDriverConfig, SynapseQuad, UInt, WritableContainer,
};
use bss2_protocol::coords::{
    BackendBlock, CapMemCell, CrossbarInput, CrossbarNode, CrossbarOutput, Hemisphere, Neuron, Quadrant,
    SharedCapMemCell, SynapseDriver, SynapseDriverOnChip, SynapseQuadColumn, SynapseQuadOnChip, SynapseRow,
};

use super::layout::{self, LOGICAL_NEURONS};
use super::mapping::{ChipMapping, SynapseImage};
use crate::model::NeuronParams;

/// Refractory clock: 250 MHz / 2^(4 + 1) = 7.8125 MHz, so 125 counts are 16 us (the reference's target).
const REFRACTORY_CLOCK_SCALE: u32 = 4;
/// The refractory counter value (16 us at the clock above).
const REFRACTORY_COUNTS: u8 = 125;
/// Synapse DAC bias written to every quadrant (the reference's backend writes 1000).
pub const SYNAPSE_DAC_BIAS: u16 = 1000;
/// Leak and reset potential: 80 CADC LSB of about 4.5 mV, the reference's calibration target.
pub const LEAK_MV: f64 = 360.0;

pub use bss2_calibration::values::{CircuitValues, capmem_writes};

/// How model units become chip units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scales {
    /// Microseconds per model time unit.
    pub time_unit_us: f64,
    /// Weight LSB per model weight unit.
    pub scale_weights: f64,
}

/// Nominal CapMem values that realise a layer's model parameters on a chip without mismatch.
///
/// Time constants come from the inverse curves. The ratio that fixes spike times, (threshold - leak) over the
/// gain of one weight LSB, must equal `(theta - E_l) * scale_weights * g_l * tau_mem * time_unit` (us); the leak
/// is fixed, and the integer pair (threshold, gm) that realises this ratio most closely is searched, which keeps
/// the relative error near 1e-5 instead of the 1e-3 of rounding one of them.
pub fn nominal_values(curves: &TransferCurves, p: &NeuronParams, scales: Scales) -> CircuitValues {
    let inv = NominalInverse(curves);
    let tau_mem_us = p.tau_mem * scales.time_unit_us;
    let tau_syn_us = p.tau_syn * scales.time_unit_us;
    let leak = capmem_value(inv.potential(LEAK_MV));
    let ratio_us = (p.threshold - p.leak) * scales.scale_weights * p.g_leak * p.tau_mem * scales.time_unit_us;
    let mv_per_lsb = curves.mv_per_capmem_lsb;
    let mut best: Option<(f64, u16, u16)> = None;
    for gm in 100..=1022u16 {
        let gain = inv.gain(f64::from(gm), f64::from(SYNAPSE_DAC_BIAS));
        let span = (ratio_us * gain / mv_per_lsb).round();
        if !(span >= 1.0) || f64::from(leak) + span > 1022.0 {
            continue;
        }
        let error = (span * mv_per_lsb / gain - ratio_us).abs();
        let better = match best {
            None => true,
            Some((e, _, g)) => {
                error < e * (1.0 - 1e-9) || (error <= e * (1.0 + 1e-9) && gm.abs_diff(550) < g.abs_diff(550))
            }
        };
        if better {
            best = Some((error, leak + span as u16, gm));
        }
    }
    let (threshold, gm) = best.map_or((1022, 1022), |(_, t, g)| (t, g));
    CircuitValues {
        v_leak: leak,
        v_reset: leak,
        v_threshold: threshold,
        i_bias_leak: capmem_value(inv.tau_mem_bias(tau_mem_us)),
        i_bias_syn_exc_tau: capmem_value(inv.tau_syn_bias(tau_syn_us)),
        i_bias_syn_inh_tau: capmem_value(inv.tau_syn_bias(tau_syn_us)),
        i_bias_syn_exc_gm: gm,
        i_bias_syn_inh_gm: gm,
    }
}

fn neuron(circuit: usize) -> Neuron {
    Neuron::from_index(circuit).expect("circuit index below 512")
}

/// The static configuration of a mapping: `values[circuit]` are the CapMem values of every circuit (nominal
/// or calibrated); compartment 1 of each pair gets no leak and no capacitance of its own.
pub fn static_writes(mapping: &ChipMapping, values: &[CircuitValues]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let used = mapping.neurons();
    for b in 0..LOGICAL_NEURONS {
        let [first, second] = layout::circuits(b);
        let spiking = b < used;
        let main = NeuronConfig {
            enable_synaptic_input_excitatory: true,
            enable_synaptic_input_inhibitory: true,
            membrane_capacitor_size: UInt::new(63).expect("6 bit"),
            enable_threshold_comparator: spiking,
            enable_fire: spiking,
            connect_membrane_right: true,
            ..NeuronConfig::default()
        };
        let partner = NeuronConfig {
            enable_synaptic_input_excitatory: true,
            enable_synaptic_input_inhibitory: true,
            enable_leak_division: true,
            ..NeuronConfig::default()
        };
        out.extend(main.writes(neuron(first)).into_iter().map(Into::<(u32, u32)>::into));
        out.extend(partner.writes(neuron(second)).into_iter().map(Into::<(u32, u32)>::into));
        let backend = NeuronBackendConfig {
            address_out: layout::neuron_address(mapping.neuron_slots[b]),
            refractory_time: REFRACTORY_COUNTS,
            input_clock: RefractoryClock::Fast,
            enable_spike_out: spiking,
            ..NeuronBackendConfig::default()
        };
        out.extend(backend.writes(neuron(first)).into_iter().map(Into::<(u32, u32)>::into));
        capmem_writes(first, &values[first], &mut out);
        let mut second_values = values[second];
        second_values.i_bias_leak = 0;
        capmem_writes(second, &second_values, &mut out);
    }
    for block in BackendBlock::ALL {
        let common = CommonNeuronBackendConfig {
            enable_event_registers: true,
            enable_clocks: true,
            clock_scale_fast: UInt::new(REFRACTORY_CLOCK_SCALE).expect("4 bit"),
            clock_scale_slow: UInt::new(9).expect("4 bit"),
            sample_positive_edge: [true; 4],
            ..CommonNeuronBackendConfig::default()
        };
        out.extend(common.writes(block).into_iter().map(Into::<(u32, u32)>::into));
    }
    for quadrant in Quadrant::ALL {
        out.push((CapMemCell::shared(quadrant, SharedCapMemCell::SynIBiasDac).address(), u32::from(SYNAPSE_DAC_BIAS)));
    }
    for hemisphere in Hemisphere::ALL {
        for d in 0..128 {
            let mut driver = SynapseDriverConfig {
                enable_receiver: true,
                enable_address_out: true,
                row_address_compare_mask: UInt::new(0b00011).expect("5 bit"),
                ..SynapseDriverConfig::default()
            };
            // Row-on-driver 0 is the top row 2d + 1 (excitatory), 1 the bottom row 2d (inhibitory).
            driver.row_modes = [RowMode::Excitatory, RowMode::Inhibitory];
            let coord = SynapseDriverOnChip { hemisphere, driver: SynapseDriver::new(d).expect("128 drivers") };
            out.extend(driver.writes(coord).into_iter().map(Into::<(u32, u32)>::into));
        }
        let padi = CommonPadiBusConfig { enable_spl1: [true; 4], ..CommonPadiBusConfig::default() };
        out.extend(padi.writes(hemisphere).into_iter().map(Into::<(u32, u32)>::into));
    }
    for n in 0..76 {
        let node = CrossbarNode::new(n).expect("76 nodes");
        out.extend(crossbar_node(node).writes(node).into_iter().map(Into::<(u32, u32)>::into));
    }
    let recording = EventRecordingConfig { enable_event_recording: true };
    out.extend(recording.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    out
}

/// Neuron outputs go everywhere they can (both hemispheres' buses and the FPGA); FPGA link 0 feeds each PADI
/// bus with the events whose label bits 12:11 name it; everything else is silent.
fn crossbar_node(node: CrossbarNode) -> CrossbarNodeConfig {
    let (input, output): (CrossbarInput, CrossbarOutput) = node.pair();
    let (i, o) = (input.index(), output.index());
    match i {
        0..8 => CrossbarNodeConfig::default(),
        8 if o < 8 => CrossbarNodeConfig {
            mask: UInt::new(0b11 << 11).expect("14 bit"),
            target: UInt::new(((o % 4) as u32) << 11).expect("14 bit"),
            enable_drop_counter: false,
        },
        _ => CrossbarNodeConfig::DROP_ALL,
    }
}

/// The two words of every synapse quad of both synrams, in address order `(address, data)`.
pub fn synapse_quad_words(image: &SynapseImage) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(2 * 2 * 256 * 64);
    for (h, hemisphere) in Hemisphere::ALL.into_iter().enumerate() {
        for row in 0..256 {
            for q in 0..64 {
                let column = SynapseQuadColumn::new(q).expect("64 quad columns");
                let mut quad = SynapseQuad::default();
                for (e, c) in column.columns().into_iter().enumerate() {
                    let index = row * 256 + c.index();
                    quad.synapses[e].weight = UInt::new(u32::from(image.weights[h][index])).expect("6 bit");
                    quad.synapses[e].label = UInt::new(u32::from(image.labels[h][index])).expect("6 bit");
                }
                let coord = SynapseQuadOnChip { hemisphere, row: SynapseRow::new(row).expect("256 rows"), column };
                out.extend(quad.writes(coord).into_iter().map(Into::<(u32, u32)>::into));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TauRatio;
    use bss2_firmware_sim::ChipProfile;

    #[test]
    fn nominal_values_realise_the_model_scale_to_1e_5() {
        let curves = ChipProfile::ideal().curves;
        for (tau_mem, threshold) in [(1.0, 2.6), (2.0, 1.0), (1.0, 1.0)] {
            let ratio = if tau_mem == 2.0 { TauRatio::Two } else { TauRatio::One };
            let p = NeuronParams { tau_syn: 1.0, tau_mem, g_leak: 1.0 / tau_mem, leak: 0.0, threshold, ratio };
            let scales = Scales { time_unit_us: 6.0, scale_weights: 30.0 };
            let v = nominal_values(&curves, &p, scales);
            let inv = NominalInverse(&curves);
            let gain = inv.gain(f64::from(v.i_bias_syn_exc_gm), f64::from(SYNAPSE_DAC_BIAS));
            let span_mv = f64::from(v.v_threshold - v.v_leak) * curves.mv_per_capmem_lsb;
            let want = threshold * 30.0 * p.g_leak * tau_mem * 6.0;
            assert!((span_mv / gain / want - 1.0).abs() < 1e-4, "{v:?}");
            assert_eq!(curves.tau_mem_us_lsb / (f64::from(v.i_bias_leak) + curves.bias_offset_lsb), 6.0 * tau_mem);
        }
    }
}
