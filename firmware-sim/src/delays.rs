//! Ground truth of the delay pairs: every pair's noise-free delay (no jitter, no run noise, no miss) for given
//! CapMem values and counts, from the same physics the emulator runs ([`crate::pair`]), for pairs written with
//! `bss2_protocol::delay_pair::pair_writes` and `common_backend_writes`.

use bss2_protocol::delay_pair::{DELAY_CAPACITANCE, DelayPair, PairCapMem, SLOW_CLOCK_SCALE};

use crate::analog::{CircuitCapMem, CircuitParameters, FixedPattern, capmem_value};
use crate::pair::{AdaptationCapMem, PairInputs, PairPhysics};
use crate::profile::{ChipProfile, TransferCurves};

/// The pairs of one emulated chip (its fixed pattern drawn once).
#[derive(Clone, Debug)]
pub struct ChipDelays {
    curves: TransferCurves,
    pattern: FixedPattern,
}

/// The hold (us) of `counts` cycles of the slow refractory clock at `delay_pair::SLOW_CLOCK_SCALE`.
pub fn counts_us(counts: u8) -> f64 {
    // As the emulator's refractory counter computes it.
    let f_mhz = 250.0 / f64::from(1u32 << (SLOW_CLOCK_SCALE + 1));
    f64::from(counts) / f_mhz
}

impl ChipDelays {
    /// The chip of this profile and seed.
    pub fn new(profile: &ChipProfile, chip_seed: u64) -> ChipDelays {
        ChipDelays { curves: profile.curves.clone(), pattern: FixedPattern::draw(profile, chip_seed) }
    }

    /// The physics of `pair` with these values and counts, its threshold comparator on (no run noise).
    pub fn physics(&self, pair: DelayPair, values: &PairCapMem, counts: u8) -> PairPhysics {
        let (d, t) = (pair.delay_circuit(), pair.trigger_circuit());
        let delay_cells = CircuitCapMem { v_reset: values.hold_reset, ..CircuitCapMem::default() };
        let trigger_cells = CircuitCapMem {
            v_leak: values.v_leak,
            v_reset: values.trigger_reset,
            v_threshold: values.v_threshold,
            i_bias_leak: values.i_bias_leak,
            ..CircuitCapMem::default()
        };
        let circuits = &self.pattern.circuits;
        let delay = CircuitParameters::from_capmem(&self.curves, &circuits[d], &delay_cells);
        let trigger = CircuitParameters::from_capmem(&self.curves, &circuits[t], &trigger_cells);
        let inputs = PairInputs {
            delay: &delay,
            trigger: &trigger,
            adaptation: AdaptationCapMem {
                v_adapt_ref: values.v_adapt_ref,
                v_adapt_leak: values.v_adapt_leak,
                i_bias_adapt_tau: values.i_bias_adapt_tau,
                i_bias_adapt_a: values.i_bias_adapt_a,
            },
            delay_capacitance: DELAY_CAPACITANCE,
            refractory_us: counts_us(counts),
            threshold_mv: trigger.threshold_mv,
            // Not part of a first spike's delay.
            trigger_refractory_us: 0.0,
        };
        PairPhysics::new(&self.curves, &self.pattern.pairs.pairs[d / 2], &inputs)
    }

    /// The noise-free delay (us) from an event to the trigger's spike; `None` if the pair never fires.
    pub fn delay_us(&self, pair: DelayPair, values: &PairCapMem, counts: u8) -> Option<f64> {
        self.physics(pair, values, counts).delay_us()
    }

    /// The true rest and rebound peak (mV) of `pair` after one noise-free trigger with these counts.
    pub fn rest_and_peak_mv(&self, pair: DelayPair, values: &PairCapMem, counts: u8) -> (f64, f64) {
        let physics = self.physics(pair, values, counts);
        (physics.rest_mv, physics.rebound_peak().0)
    }

    /// The `v_threshold` CapMem value that puts `pair`'s true threshold nearest the midpoint of its true rest
    /// and rebound peak (with these counts), the other values as given.
    pub fn midpoint_threshold(&self, pair: DelayPair, values: &PairCapMem, counts: u8) -> u16 {
        let (rest, peak) = self.rest_and_peak_mv(pair, values, counts);
        self.threshold_value(pair, 0.5 * (rest + peak))
    }

    /// The `v_threshold` CapMem value that puts `pair`'s true threshold nearest `threshold_mv`.
    pub fn threshold_value(&self, pair: DelayPair, threshold_mv: f64) -> u16 {
        let offset = self.pattern.circuits[pair.trigger_circuit()].threshold_mv;
        capmem_value((threshold_mv - offset) / self.curves.mv_per_capmem_lsb)
    }

    /// The `trigger_reset` CapMem value that puts `pair`'s true reset after its spike nearest `reset_mv` (a reset
    /// above the threshold makes the trigger fire again after each refractory time).
    pub fn trigger_reset_value(&self, pair: DelayPair, reset_mv: f64) -> u16 {
        let offset = self.pattern.circuits[pair.trigger_circuit()].reset_mv;
        capmem_value((reset_mv - offset) / self.curves.mv_per_capmem_lsb)
    }

    /// `values` with its threshold at [`ChipDelays::midpoint_threshold`].
    pub fn with_midpoint_threshold(&self, pair: DelayPair, values: &PairCapMem, counts: u8) -> PairCapMem {
        PairCapMem { v_threshold: self.midpoint_threshold(pair, values, counts), ..*values }
    }
}

/// Every pair's noise-free delay (us) with these counts: `values[p]` are pair `p`'s CapMem values (pairs beyond
/// [`bss2_protocol::delay_pair::PAIRS`] are ignored). `None` for a pair that never fires.
pub fn true_delays(profile: &ChipProfile, chip_seed: u64, values: &[PairCapMem], counts: u8) -> Vec<Option<f64>> {
    let chip = ChipDelays::new(profile, chip_seed);
    DelayPair::all().zip(values).map(|(pair, v)| chip.delay_us(pair, v, counts)).collect()
}

/// [`ChipDelays::midpoint_threshold`] of one pair on the chip of this profile and seed.
pub fn midpoint_threshold(
    profile: &ChipProfile,
    chip_seed: u64,
    pair: DelayPair,
    values: &PairCapMem,
    counts: u8,
) -> u16 {
    ChipDelays::new(profile, chip_seed).midpoint_threshold(pair, values, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_delays_on_ideal_are_about_counts_over_8_plus_2() {
        let chip = ChipDelays::new(&ChipProfile::ideal(), 1);
        let pair = DelayPair::new(0).unwrap();
        let (rest, peak) = chip.rest_and_peak_mv(pair, &PairCapMem::NOMINAL, 150);
        // Rest 600 LSB; the rebound peaks near +0.095 (rest - hold) about 3 us after the release.
        assert_eq!(rest, 1140.0);
        let (_, after) = chip.physics(pair, &PairCapMem::NOMINAL, 150).rebound_peak();
        assert!(((peak - rest) / (rest - 475.0) - 0.095).abs() < 0.005 && (after - 3.1).abs() < 0.2, "{peak} {after}");
        let v = chip.with_midpoint_threshold(pair, &PairCapMem::NOMINAL, 150);
        assert_eq!(v.v_threshold, 616);
        for counts in [50, 100, 150, 200, 250] {
            let d = chip.delay_us(pair, &v, counts).unwrap();
            assert!((d - counts_us(counts) - 1.89).abs() < 0.01, "{counts}: {d}");
        }
        // The nominal threshold is that midpoint: an uncalibrated ideal chip's pairs all fire.
        assert_eq!(PairCapMem::NOMINAL.v_threshold, 616);
        assert!(true_delays(&ChipProfile::ideal(), 1, &[PairCapMem::NOMINAL; 128], 100).iter().all(Option::is_some));
    }
}
