//! Calibration targets of the chip model and the identity of a chip.
//!
//! The chip realises a layer's model (tau_syn, tau_mem, g_leak, E_l, threshold) at `time_unit_us` per model time
//! unit with a fixed potential scale: leak and reset at 360 mV and 121.15 mV per model potential unit (the
//! reference's calibration targets leak 80 and threshold 150 CADC LSB of ~4.5 mV for threshold 2.6), so the
//! threshold is `360 + 121.15 (theta - E_l)` mV and one weight LSB must raise the membrane slope by
//! `121.15 / (scale_weights g_l tau_mem time_unit)` mV/us.

use bss2_calibration::calibrate::Targets;
use bss2_calibration::file::fnv1a;
use bss2_firmware_sim::ChipProfile;

use super::config::{LEAK_MV, Scales};
use crate::config::{Config, LayerKind};
use crate::model::NeuronParams;

/// mV per model potential unit: (150 - 80) CADC LSB x 4.5 mV over a threshold of 2.6.
pub const MV_PER_UNIT: f64 = 70.0 * 4.5 / 2.6;

/// The per-circuit values one model neuron needs: (tau_mem, tau_syn, leak, reset, threshold, gain).
pub fn circuit_targets(p: &NeuronParams, scales: Scales) -> [f64; 6] {
    let tau_mem = p.tau_mem * scales.time_unit_us;
    let gain = MV_PER_UNIT / (scales.scale_weights * p.g_leak * p.tau_mem * scales.time_unit_us);
    [tau_mem, p.tau_syn * scales.time_unit_us, LEAK_MV, LEAK_MV, LEAK_MV + MV_PER_UNIT * (p.threshold - p.leak), gain]
}

/// The same targets for all 512 circuits.
pub fn uniform_targets(p: &NeuronParams, scales: Scales) -> Targets {
    let [tau_mem, tau_syn, leak, reset, threshold, gain] = circuit_targets(p, scales);
    let all = |x: f64| vec![x; 512];
    Targets {
        tau_mem_us: all(tau_mem),
        tau_syn_exc_us: all(tau_syn),
        tau_syn_inh_us: all(tau_syn),
        leak_mv: all(leak),
        reset_mv: all(reset),
        threshold_mv: all(threshold),
        gain_exc: all(gain),
        gain_inh: all(gain),
    }
}

/// The targets an experiment config needs: its first NeuronLayer's model on every circuit (the backend checks
/// that the other layers share it). None if the config has no NeuronLayer.
pub fn config_targets(config: &Config, scales: Scales) -> Option<Targets> {
    config.layout.layers.iter().find_map(|l| match &l.kind {
        LayerKind::Neuron(n) => Some(uniform_targets(&n.neuron.params, scales)),
        _ => None,
    })
}

/// The identity of an emulated chip: its profile (name and a hash of its content, serialised as JSON, where every
/// number is written so that it reads back exactly) and seed.
pub fn emulator_identity(profile: &ChipProfile, chip_seed: u64) -> String {
    // A profile is plain numbers and strings: serialising it cannot fail.
    let content = serde_json::to_string(profile).expect("a chip profile serialises");
    let hash = fnv1a(&content);
    format!("emulator profile={}#{:08x} chip_seed={chip_seed}", profile.name, hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TauRatio;

    #[test]
    fn the_reference_chip_model_gives_the_reference_targets() {
        let p =
            NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 2.6, ratio: TauRatio::One };
        let [tau_mem, tau_syn, leak, reset, threshold, gain] =
            circuit_targets(&p, Scales { time_unit_us: 6.0, scale_weights: 30.0 });
        assert_eq!((tau_mem, tau_syn, leak, reset), (6.0, 6.0, 360.0, 360.0));
        assert!((threshold - 675.0).abs() < 1e-9);
        assert!((gain - 315.0 / 468.0).abs() < 1e-12);
        let a = emulator_identity(&ChipProfile::default_chip(), 1);
        assert_ne!(a, emulator_identity(&ChipProfile::default_chip(), 2));
        assert_ne!(a, emulator_identity(&ChipProfile::ideal(), 1));
    }

    #[test]
    fn the_identity_follows_the_profile_content_and_not_its_debug_text() {
        let default = ChipProfile::default_chip();
        // The identity of today's built-in profiles; a change means every cached calibration is made anew.
        assert_eq!(emulator_identity(&default, 1), "emulator profile=default#03449841 chip_seed=1");
        assert_eq!(emulator_identity(&ChipProfile::ideal(), 1), "emulator profile=ideal#25c8f528 chip_seed=1");
        let mut changed = default.clone();
        changed.curves.mv_per_capmem_lsb = f64::from_bits(default.curves.mv_per_capmem_lsb.to_bits() + 1);
        assert_ne!(emulator_identity(&changed, 1), emulator_identity(&default, 1), "one ulp is another chip");
    }
}
