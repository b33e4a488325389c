//! Calibration targets of the chip model and the identity of a chip.
//!
//! The chip realises a layer's model (tau_syn, tau_mem, g_leak, E_l, threshold) at `time_unit_us` per model time
//! unit with a fixed potential scale: leak and reset at 360 mV and 121.15 mV per model potential unit (the
//! reference's calibration targets leak 80 and threshold 150 CADC LSB of ~4.5 mV for threshold 2.6), so the
//! threshold is `360 + 121.15 (theta - E_l)` mV and one weight LSB must raise the membrane slope by
//! `121.15 / (scale_weights g_l tau_mem time_unit)` mV/us.

use bss2_calibration::calibrate::Targets;
use bss2_calibration::file::fnv1a;
use bss2_calibration::{Parameter, PerParameter};
use bss2_firmware_sim::ChipProfile;

use super::config::{LEAK_MV, Scales};
use crate::config::{Config, LayerKind};
use crate::model::{NeuronParams, TauRatio};

/// mV per model potential unit: (150 - 80) CADC LSB x 4.5 mV over a threshold of 2.6.
pub const MV_PER_UNIT: f64 = 70.0 * 4.5 / 2.6;

/// The reference's chip model: tau_syn = tau_mem = 1, g_leak 1, leak 0, threshold 2.6 (at
/// [`Scales::REFERENCE`]: tau 6 us, leak 360 mV, threshold 675 mV).
pub fn reference_params() -> NeuronParams {
    NeuronParams { tau_syn: 1.0, tau_mem: 1.0, g_leak: 1.0, leak: 0.0, threshold: 2.6, ratio: TauRatio::One }
}

/// The values every circuit of one model neuron needs: both synaptic inputs get the model's tau_syn and gain.
pub fn circuit_targets(p: &NeuronParams, scales: Scales) -> PerParameter<f64> {
    let tau_mem = p.tau_mem * scales.time_unit_us;
    let tau_syn = p.tau_syn * scales.time_unit_us;
    let threshold = LEAK_MV + MV_PER_UNIT * (p.threshold - p.leak);
    let gain = MV_PER_UNIT / (scales.scale_weights * p.g_leak * p.tau_mem * scales.time_unit_us);
    PerParameter::from_fn(|parameter| match parameter {
        Parameter::TauMem => tau_mem,
        Parameter::TauSynExc | Parameter::TauSynInh => tau_syn,
        Parameter::Leak | Parameter::Reset => LEAK_MV,
        Parameter::Threshold => threshold,
        Parameter::GainExc | Parameter::GainInh => gain,
    })
}

/// The same targets for every circuit.
pub fn uniform_targets(p: &NeuronParams, scales: Scales) -> Targets {
    Targets::uniform(&circuit_targets(p, scales))
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

    #[test]
    fn the_reference_chip_model_gives_the_reference_targets() {
        let t = circuit_targets(&reference_params(), Scales::REFERENCE);
        use Parameter as P;
        assert_eq!((t[P::TauMem], t[P::TauSynExc], t[P::Leak], t[P::Reset]), (6.0, 6.0, 360.0, 360.0));
        assert_eq!((t[P::TauSynInh], t[P::GainInh]), (t[P::TauSynExc], t[P::GainExc]));
        assert!((t[P::Threshold] - 675.0).abs() < 1e-9);
        assert!((t[P::GainExc] - 315.0 / 468.0).abs() < 1e-12);
        let a = emulator_identity(&ChipProfile::default_chip(), 1);
        assert_ne!(a, emulator_identity(&ChipProfile::default_chip(), 2));
        assert_ne!(a, emulator_identity(&ChipProfile::ideal(), 1));
    }

    #[test]
    fn the_identity_follows_the_profile_content_and_not_its_debug_text() {
        let default = ChipProfile::default_chip();
        // The identity of today's built-in profiles (since the delay pairs' profile fields); a change means every
        // cached calibration is made anew.
        assert_eq!(emulator_identity(&default, 1), "emulator profile=default#0f3de214 chip_seed=1");
        assert_eq!(emulator_identity(&ChipProfile::ideal(), 1), "emulator profile=ideal#52be093b chip_seed=1");
        let mut changed = default.clone();
        changed.curves.mv_per_capmem_lsb = f64::from_bits(default.curves.mv_per_capmem_lsb.to_bits() + 1);
        assert_ne!(emulator_identity(&changed, 1), emulator_identity(&default, 1), "one ulp is another chip");
    }
}
