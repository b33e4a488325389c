//! The analog side of one neuron circuit: fixed-pattern mismatch drawn from the chip seed, and the transfer
//! from CapMem values to physical parameters.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::pair::PairPattern;
use crate::profile::{ChipProfile, TransferCurves};

/// Neuron circuits on the chip.
pub const CIRCUITS: usize = 512;

/// Synapses per synram (256 rows x 256 columns).
pub const SYNAPSES: usize = 256 * 256;

/// One circuit's deviations from the nominal curves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitMismatch {
    /// Factor on tau_mem.
    pub tau_mem: f64,
    /// Factors on tau_syn (excitatory, inhibitory).
    pub tau_syn: [f64; 2],
    /// Offsets (mV) of the leak, reset and threshold potentials.
    pub leak_mv: f64,
    /// See `leak_mv`.
    pub reset_mv: f64,
    /// See `leak_mv`.
    pub threshold_mv: f64,
    /// Factors on the synaptic gains (excitatory, inhibitory).
    pub gain: [f64; 2],
    /// The circuit's CADC channel offset (LSB).
    pub cadc_offset_lsb: f64,
}

/// The whole chip's fixed pattern: a pure function of the profile and the chip seed.
#[derive(Clone, Debug)]
pub struct FixedPattern {
    /// Per circuit (index `row * 256 + column`).
    pub circuits: Vec<CircuitMismatch>,
    /// Per synram, a factor per synapse (index `row * 256 + column`).
    pub synapses: [Vec<f32>; 2],
    /// The delay pairs' mismatch (its own stream).
    pub pairs: PairPattern,
}

impl FixedPattern {
    /// Draws the pattern.
    pub fn draw(profile: &ChipProfile, chip_seed: u64) -> FixedPattern {
        let m = &profile.mismatch;
        let mut rng = ChaCha8Rng::seed_from_u64(chip_seed);
        let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
        let circuits = (0..CIRCUITS)
            .map(|_| CircuitMismatch {
                tau_mem: (m.tau_mem_rel * normal()).exp(),
                tau_syn: [(m.tau_syn_rel * normal()).exp(), (m.tau_syn_rel * normal()).exp()],
                leak_mv: m.potential_mv * normal(),
                reset_mv: m.potential_mv * normal(),
                threshold_mv: m.potential_mv * normal(),
                gain: [(m.gain_rel * normal()).exp(), (m.gain_rel * normal()).exp()],
                cadc_offset_lsb: m.cadc_offset_lsb * normal(),
            })
            .collect();
        let mut synapse_rng = ChaCha8Rng::seed_from_u64(chip_seed ^ 0x5EED_5A9A_95E5_0000);
        let mut synram = || -> Vec<f32> {
            (0..SYNAPSES)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut synapse_rng);
                    (m.synapse_rel * z).exp() as f32
                })
                .collect()
        };
        let synapses = [synram(), synram()];
        FixedPattern { circuits, synapses, pairs: PairPattern::draw(profile, chip_seed) }
    }
}

/// The CapMem values that set one circuit's LIF parameters (plus the quadrant's synapse DAC bias).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CircuitCapMem {
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
    /// i_bias_synin_exc_gm.
    pub i_bias_syn_exc_gm: u16,
    /// i_bias_synin_inh_tau.
    pub i_bias_syn_inh_tau: u16,
    /// i_bias_synin_inh_gm.
    pub i_bias_syn_inh_gm: u16,
    /// The quadrant's syn_i_bias_dac.
    pub synapse_dac_bias: u16,
}

/// A circuit's true parameters, standing alone (membrane capacitance 63, no leak division or
/// multiplication): what `bss2 emulator inspect` prints.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CircuitParameters {
    /// Membrane time constant (us).
    pub tau_mem_us: f64,
    /// Excitatory synaptic time constant (us).
    pub tau_syn_exc_us: f64,
    /// Inhibitory synaptic time constant (us).
    pub tau_syn_inh_us: f64,
    /// Leak potential (mV).
    pub leak_mv: f64,
    /// Threshold potential (mV).
    pub threshold_mv: f64,
    /// Reset potential (mV).
    pub reset_mv: f64,
    /// Excitatory gain: jump of the membrane slope (mV/us) per weight LSB.
    pub gain_exc: f64,
    /// Inhibitory gain (mV/us per weight LSB).
    pub gain_inh: f64,
}

/// tau (us) of a bias-controlled time constant: inversely proportional to the bias plus a leakage offset.
fn tau_from_bias(k: f64, bias: u16, offset: f64, factor: f64) -> f64 {
    k / (f64::from(bias) + offset) * factor
}

impl CircuitParameters {
    /// The true parameters of a circuit with these CapMem values and this mismatch.
    pub fn from_capmem(curves: &TransferCurves, m: &CircuitMismatch, c: &CircuitCapMem) -> CircuitParameters {
        let volts = |v: u16, offset: f64| f64::from(v) * curves.mv_per_capmem_lsb + offset;
        let gain = |gm: u16, factor: f64| {
            curves.gain_mv_per_us_lsb * f64::from(gm) / 500.0 * f64::from(c.synapse_dac_bias) / 1000.0 * factor
        };
        CircuitParameters {
            tau_mem_us: tau_from_bias(curves.tau_mem_us_lsb, c.i_bias_leak, curves.bias_offset_lsb, m.tau_mem),
            tau_syn_exc_us: tau_from_bias(
                curves.tau_syn_us_lsb,
                c.i_bias_syn_exc_tau,
                curves.bias_offset_lsb,
                m.tau_syn[0],
            ),
            tau_syn_inh_us: tau_from_bias(
                curves.tau_syn_us_lsb,
                c.i_bias_syn_inh_tau,
                curves.bias_offset_lsb,
                m.tau_syn[1],
            ),
            leak_mv: volts(c.v_leak, m.leak_mv),
            threshold_mv: volts(c.v_threshold, m.threshold_mv),
            reset_mv: volts(c.v_reset, m.reset_mv),
            gain_exc: gain(c.i_bias_syn_exc_gm, m.gain[0]),
            gain_inh: gain(c.i_bias_syn_inh_gm, m.gain[1]),
        }
    }
}

/// The nominal inverse curves: CapMem values for wanted physical values on a chip without mismatch. Results are
/// real numbers; callers round and clamp to 0..=1022.
#[derive(Clone, Copy, Debug)]
pub struct NominalInverse<'a>(pub &'a TransferCurves);

impl NominalInverse<'_> {
    /// i_bias_leak for tau_mem (us) at capacitance 63.
    pub fn tau_mem_bias(&self, tau_us: f64) -> f64 {
        self.0.tau_mem_us_lsb / tau_us - self.0.bias_offset_lsb
    }
    /// i_bias_synin_*_tau for tau_syn (us).
    pub fn tau_syn_bias(&self, tau_us: f64) -> f64 {
        self.0.tau_syn_us_lsb / tau_us - self.0.bias_offset_lsb
    }
    /// A voltage cell for a potential (mV).
    pub fn potential(&self, mv: f64) -> f64 {
        mv / self.0.mv_per_capmem_lsb
    }
    /// The gain (mV/us per LSB) of gm and DAC bias values.
    pub fn gain(&self, gm: f64, dac: f64) -> f64 {
        self.0.gain_mv_per_us_lsb * gm / 500.0 * dac / 1000.0
    }
}

/// Rounds and clamps a real CapMem value to the usable range 0..=1022.
pub fn capmem_value(v: f64) -> u16 {
    if v.is_nan() { 0 } else { v.round().clamp(0.0, 1022.0) as u16 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_pattern_is_a_function_of_the_seed_and_ideal_has_none() {
        let p = ChipProfile::default_chip();
        let (a, b, c) = (FixedPattern::draw(&p, 1), FixedPattern::draw(&p, 1), FixedPattern::draw(&p, 2));
        assert_eq!(a.circuits, b.circuits);
        assert_ne!(a.circuits, c.circuits);
        let ideal = FixedPattern::draw(&ChipProfile::ideal(), 7);
        assert!(ideal.circuits.iter().all(|m| m.tau_mem == 1.0 && m.leak_mv == 0.0 && m.gain == [1.0, 1.0]));
        assert!(ideal.synapses.iter().all(|s| s.iter().all(|&f| f == 1.0)));
        // The default spread is about what the profile says.
        let taus: Vec<f64> = a.circuits.iter().map(|m| m.tau_mem.ln()).collect();
        let mean = taus.iter().sum::<f64>() / 512.0;
        let std = (taus.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 511.0).sqrt();
        assert!((std - 0.15).abs() < 0.02, "{std}");
    }

    #[test]
    fn nominal_inverse_curves_invert_the_transfer_without_mismatch() {
        let p = ChipProfile::ideal();
        let inv = NominalInverse(&p.curves);
        let none = FixedPattern::draw(&p, 0).circuits[0];
        let c = CircuitCapMem {
            v_leak: capmem_value(inv.potential(380.0)),
            v_threshold: 365,
            i_bias_leak: capmem_value(inv.tau_mem_bias(6.0)),
            i_bias_syn_exc_tau: capmem_value(inv.tau_syn_bias(6.0)),
            i_bias_syn_exc_gm: 500,
            synapse_dac_bias: 1000,
            ..Default::default()
        };
        let t = CircuitParameters::from_capmem(&p.curves, &none, &c);
        assert_eq!((t.tau_mem_us, t.tau_syn_exc_us, t.leak_mv), (6.0, 6.0, 380.0));
        assert!((t.gain_exc - inv.gain(500.0, 1000.0)).abs() < 1e-15);
        assert_eq!(t.tau_syn_inh_us, 2400.0 / 15.0, "bias 0 leaves the leakage");
    }
}
