//! `bss2 emulator inspect`: the true parameters of every neuron circuit of an emulated chip with given CapMem
//! values, as CSV, to check a calibration against ground truth.

use std::fmt::Write;

use bss2_calibration::{CIRCUITS, Parameter};
use bss2_firmware_sim::{ChipProfile, CircuitParameters, Emulator};
use bss2_protocol::coords::{CapMemCell, Quadrant, SharedCapMemCell};
use bss2_protocol::program::ProgramBuilder;

use super::config::{CircuitValues, SYNAPSE_DAC_BIAS, Scales, capmem_writes, nominal_values};
use super::targets::reference_params;

/// The CSV columns after `neuron`: every parameter by its key, in the order of the emulator's
/// [`CircuitParameters`] (threshold before reset), which the first readers of this CSV know.
pub const COLUMNS: [Parameter; Parameter::COUNT] = [
    Parameter::TauMem,
    Parameter::TauSynExc,
    Parameter::TauSynInh,
    Parameter::Leak,
    Parameter::Threshold,
    Parameter::Reset,
    Parameter::GainExc,
    Parameter::GainInh,
];

/// The CSV header: `neuron,tau_mem_us,...`.
pub fn header() -> String {
    std::iter::once("neuron").chain(COLUMNS.iter().map(|p| p.key())).collect::<Vec<_>>().join(",")
}

/// A circuit's true value of a parameter.
pub fn truth(p: &CircuitParameters, parameter: Parameter) -> f64 {
    match parameter {
        Parameter::TauMem => p.tau_mem_us,
        Parameter::TauSynExc => p.tau_syn_exc_us,
        Parameter::TauSynInh => p.tau_syn_inh_us,
        Parameter::Leak => p.leak_mv,
        Parameter::Reset => p.reset_mv,
        Parameter::Threshold => p.threshold_mv,
        Parameter::GainExc => p.gain_exc,
        Parameter::GainInh => p.gain_inh,
    }
}

/// Nominal values of every circuit for the reference's chip model at the reference's scales.
pub fn nominal_circuit_values(profile: &ChipProfile) -> Vec<CircuitValues> {
    vec![nominal_values(&profile.curves, &reference_params(), Scales::REFERENCE, SYNAPSE_DAC_BIAS); CIRCUITS]
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
    let mut out = header();
    out.push('\n');
    for (n, p) in emulator.circuit_parameters().iter().enumerate() {
        let _ = write!(out, "{n}");
        for parameter in COLUMNS {
            let _ = write!(out, ",{}", truth(p, parameter));
        }
        out.push('\n');
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
        assert_eq!(rows[0], header());
        assert_eq!(
            rows[0],
            "neuron,tau_mem_us,tau_syn_exc_us,tau_syn_inh_us,leak_mv,threshold_mv,reset_mv,gain_exc,gain_inh"
        );
        assert_eq!(rows.len(), CIRCUITS + 1);
        let first: Vec<f64> = rows[1].split(',').map(|x| x.parse().unwrap()).collect();
        assert_eq!(&first[1..3], &[6.0, 6.0]);
        assert!(rows[1..].iter().all(|r| r.split_once(',').unwrap().1 == rows[1].split_once(',').unwrap().1));
        let default = ChipProfile::default_chip();
        let csv = inspect_csv(&default, 3, &nominal_circuit_values(&default));
        let taus: Vec<f64> = csv.lines().skip(1).map(|r| r.split(',').nth(1).unwrap().parse().unwrap()).collect();
        let n = taus.len() as f64;
        let mean = taus.iter().sum::<f64>() / n;
        let std = (taus.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!((0.1..0.2).contains(&(std / mean)), "relative spread {}", std / mean);
    }
}
