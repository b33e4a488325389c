//! The CapMem values that set one neuron circuit's LIF parameters, and their omnibus writes.

use bss2_protocol::coords::{Neuron, NeuronParameter};
use serde::{Deserialize, Serialize};

/// The CapMem values of one circuit (10-bit cells, 0..=1022).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitValues {
    /// v_leak.
    pub v_leak: u16,
    /// v_reset.
    pub v_reset: u16,
    /// v_threshold.
    pub v_threshold: u16,
    /// i_bias_leak (tau_mem).
    pub i_bias_leak: u16,
    /// i_bias_synin_exc_tau.
    pub i_bias_syn_exc_tau: u16,
    /// i_bias_synin_inh_tau.
    pub i_bias_syn_inh_tau: u16,
    /// i_bias_synin_exc_gm.
    pub i_bias_syn_exc_gm: u16,
    /// i_bias_synin_inh_gm.
    pub i_bias_syn_inh_gm: u16,
}

/// Rounds and clamps a real CapMem value to the usable range 0..=1022.
pub fn capmem_value(v: f64) -> u16 {
    if v.is_nan() { 0 } else { v.round().clamp(0.0, 1022.0) as u16 }
}

/// Appends the CapMem writes `(address, value)` of one circuit.
pub fn capmem_writes(circuit: usize, v: &CircuitValues, out: &mut Vec<(u32, u32)>) {
    use NeuronParameter as P;
    let neuron = Neuron::from_index(circuit).expect("circuit index below 512");
    for (p, value) in [
        (P::VLeak, v.v_leak),
        (P::VReset, v.v_reset),
        (P::VThreshold, v.v_threshold),
        (P::IBiasLeak, v.i_bias_leak),
        (P::IBiasSyninExcTau, v.i_bias_syn_exc_tau),
        (P::IBiasSyninInhTau, v.i_bias_syn_inh_tau),
        (P::IBiasSyninExcGm, v.i_bias_syn_exc_gm),
        (P::IBiasSyninInhGm, v.i_bias_syn_inh_gm),
    ] {
        out.push((neuron.capmem_cell(p).address(), u32::from(value)));
    }
}
