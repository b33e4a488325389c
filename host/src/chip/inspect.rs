//! `bss2 emulator inspect`: the true parameters of every neuron circuit of an emulated chip with given CapMem
//! values, as CSV, to check a calibration against ground truth.

use std::fmt::Write;

use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::coords::{CapMemCell, Quadrant, SharedCapMemCell};
use bss2_protocol::program::ProgramBuilder;

use super::config::{CircuitValues, SYNAPSE_DAC_BIAS, Scales, capmem_writes, nominal_values};
use crate::model::{NeuronParams, TauRatio};

/// The CSV header.
pub const HEADER: &str =
    "neuron,tau_mem_us,tau_syn_exc_us,tau_syn_inh_us,leak_mv,threshold_mv,reset_mv,gain_exc,gain_inh";

/// The reference's chip model (tau_syn = tau_mem = 1, g_leak 1, leak 0, threshold 2.6) at 6 us and 30 LSB per
/// weight unit: what the nominal values of `inspect` realise.
pub fn reference_params() -> NeuronParams {
    NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 2.6, ratio: TauRatio::One }
}

/// Nominal values of every circuit for the reference's chip model.
pub fn nominal_circuit_values(profile: &ChipProfile) -> Vec<CircuitValues> {
    let scales = Scales { time_unit_us: 6.0, scale_weights: 30.0 };
    vec![nominal_values(&profile.curves, &reference_params(), scales, SYNAPSE_DAC_BIAS); 512]
}

/// One CSV row per circuit: the true values with these CapMem values on the chip of this profile and seed.
pub fn inspect_csv(profile: &ChipProfile, chip_seed: u64, values: &[CircuitValues]) -> String {
    let mut emulator = Emulator::new(profile.clone(), chip_seed);
    let mut writes = Vec::new();
    for (circuit, v) in values.iter().enumerate() {
        capmem_writes(circuit, v, &mut writes);
    }
    for quadrant in Quadrant::ALL {
        let dac = CapMemCell::shared(quadrant, SharedCapMemCell::SynIBiasDac);
        writes.push((dac.address(), u32::from(SYNAPSE_DAC_BIAS)));
    }
    let mut program = ProgramBuilder::new();
    program.write_all(writes);
    emulator.execute(&program.build().words()).expect("a program built here is well formed");
    let mut out = String::from(HEADER);
    out.push('\n');
    for (n, p) in emulator.circuit_parameters().iter().enumerate() {
        let _ = writeln!(
            out,
            "{n},{},{},{},{},{},{},{},{}",
            p.tau_mem_us,
            p.tau_syn_exc_us,
            p.tau_syn_inh_us,
            p.leak_mv,
            p.threshold_mv,
            p.reset_mv,
            p.gain_exc,
            p.gain_inh
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ideal_chip_shows_the_nominal_values_and_a_default_chip_its_spread() {
        let ideal = ChipProfile::ideal();
        let csv = inspect_csv(&ideal, 3, &nominal_circuit_values(&ideal));
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], HEADER);
        assert_eq!(rows.len(), 513);
        let first: Vec<f64> = rows[1].split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(&first[1..3], &[6.0, 6.0]);
        assert!(rows[1..].iter().all(|r| r.split_once(',').unwrap().1 == rows[1].split_once(',').unwrap().1));
        let default = ChipProfile::default_chip();
        let csv = inspect_csv(&default, 3, &nominal_circuit_values(&default));
        let taus: Vec<f64> = csv.lines().skip(1).map(|r| r.split(',').nth(1).unwrap().parse().unwrap()).collect();
        let mean = taus.iter().sum::<f64>() / 512.0;
        let std = (taus.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / 511.0).sqrt();
        assert!((0.1..0.2).contains(&(std / mean)), "relative spread {}", std / mean);
    }
}
