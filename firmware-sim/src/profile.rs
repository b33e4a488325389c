//! Chip profiles: the nominal CapMem transfer curves of the emulated chip, and the sizes of its fixed-pattern
//! mismatch and trial-to-trial noise. A profile is YAML; `ideal` has no mismatch and no noise, `default`
//! has magnitudes taken from the spec (see the field docs).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Nominal transfer curves from CapMem values (0..1022) and switches to physical values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferCurves {
    /// tau_mem (us) = this / (`i_bias_leak` + `bias_offset_lsb`) at membrane capacitance 63 (x8 with leak
    /// division, /8 with leak multiplication, proportional to the capacitance). 3000 puts 6 us at 485 LSB.
    pub tau_mem_us_lsb: f64,
    /// tau_syn (us) = this / (`i_bias_synin_*_tau` + `bias_offset_lsb`). 2400 puts 6 us at 385 LSB.
    pub tau_syn_us_lsb: f64,
    /// Leakage that flows even at bias 0, in bias LSB: time constants saturate at `tau_*_us_lsb / 15` (200 us and
    /// 160 us), so a target beyond that cannot be reached.
    #[serde(default = "default_bias_offset")]
    pub bias_offset_lsb: f64,
    /// Voltage cells (leak, reset, threshold): mV per CapMem LSB (spec §1.6: about 1.9 mV).
    pub mv_per_capmem_lsb: f64,
    /// Synaptic gain: membrane slope jump in mV/us per weight LSB at `i_bias_synin_*_gm` 500 and synapse DAC
    /// bias 1000; proportional to both. 0.61 puts the reference's effective scale (threshold 150 - leak 80
    /// CADC LSB = 2.6 model units with 30 LSB per model weight and tau 6 us) near gm 550.
    pub gain_mv_per_us_lsb: f64,
    /// CADC: mV per LSB (spec §1.6: about 4.5 mV).
    pub cadc_mv_per_lsb: f64,
    /// MADC: mV per LSB of a membrane sample (spec hardware-reference §2.5: about 2 mV); synaptic-input samples
    /// read `256 + 10 |x|` for the input's slope x in mV/us.
    #[serde(default = "default_madc_mv_per_lsb")]
    pub madc_mv_per_lsb: f64,
    /// Adaptation time constant of a delay pair's trigger: tau_w (us) = this / (`i_bias_adapt_tau` +
    /// `bias_offset_lsb`). 2400 (the synaptic curve's constant, chosen) puts 2.36 us at the reference's 1000.
    #[serde(default = "default_tau_adapt_us_lsb")]
    pub tau_adapt_us_lsb: f64,
    /// Adaptation strength of a delay pair's trigger: the adaptation charged during a hold, per us, per mV of
    /// `rest - hold`, at `i_bias_adapt_a` 1000 (proportional to it). 0.36 (chosen) gives the rebound peak of
    /// about 0.095 (rest - hold) at 3.2 us after release, and with the threshold at the midpoint of rest and
    /// peak a delay of about `counts / 8 + 2` us (spec hardware-reference §4.1).
    #[serde(default = "default_adapt_a_per_us")]
    pub adapt_a_per_us: f64,
}

fn default_tau_adapt_us_lsb() -> f64 {
    2400.0
}

fn default_adapt_a_per_us() -> f64 {
    0.36
}

fn default_madc_mv_per_lsb() -> f64 {
    2.0
}

fn default_bias_offset() -> f64 {
    15.0
}

/// Fixed-pattern mismatch, drawn per neuron circuit (and per synapse) from the chip seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mismatch {
    /// Relative std of tau_mem (log-normal). "Neurons differ by tens of percent" (spec); calix's pass bound
    /// asks calibration to reduce the spread to 45 % of this.
    pub tau_mem_rel: f64,
    /// Relative std of each tau_syn (log-normal); calix's bound: 20 % of this after calibration.
    pub tau_syn_rel: f64,
    /// Std (mV) of the offsets of leak, reset and threshold potentials: about 4 CADC LSB, so that calix's
    /// "threshold within 8 LSB for 95 % of neurons" needs calibration.
    pub potential_mv: f64,
    /// Relative std of the synaptic gains (calix: amplitude spread below 10 LSB of ~100 after calibration).
    pub gain_rel: f64,
    /// Relative std of each synapse's weight (per synapse, fixed).
    pub synapse_rel: f64,
    /// Std of the CADC per-channel offsets (LSB; calix: channel offsets std below 20 LSB).
    pub cadc_offset_lsb: f64,
}

/// Trial-to-trial noise, drawn per run from the chip seed and the run counter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Std (mV) of a per-run, per-neuron threshold offset (spec: batch-to-batch std 0.04 model units of the
    /// hardware-aware configs, ~121 mV per unit).
    pub threshold_mv: f64,
    /// Std (ns) of the jitter of recorded spike times (readout; the hardware-aware configs use 0.01 model units
    /// = 60 ns for delays; spike timing jitter is not given in the sources, we use a smaller 10 ns).
    pub spike_time_ns: f64,
    /// Std (CADC LSB) of each CADC read.
    pub cadc_lsb: f64,
    /// Std (MADC LSB, about 2 mV) of each MADC sample.
    #[serde(default)]
    pub madc_lsb: f64,
}

/// Fixed pattern and noise of the delay pairs (DelGrad's delay element, spec hardware-reference §4.1). Absent
/// in old profile files: then all zero, as in `ideal`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PairMagnitudes {
    /// Relative std (log-normal) of a pair's factor on its hold time (slope mismatch of the delay map; chosen,
    /// 1 %: the reference fits a map per pair because pairs differ, §4.1 stage 3).
    pub clock_rel: f64,
    /// Relative std (log-normal) of a pair's factor on its adaptation strength (offset mismatch of the delay
    /// map through the rebound's latency; chosen, 15 %).
    pub rebound_rel: f64,
    /// Fraction of "weak" pairs, whose rebound is scaled by `weak_factor` (chosen, 3 %): they never reach a
    /// usable threshold, and calibration must list them as failed.
    pub weak_fraction: f64,
    /// The rebound factor of a weak pair (chosen, 0.2).
    pub weak_factor: f64,
    /// Std (mV) of the offsets of the adaptation reference and adaptation leak potentials (as
    /// `mismatch.potential_mv`).
    pub adapt_potential_mv: f64,
    /// Relative std (log-normal) of a pair's factor on its adaptation time constant (chosen, 10 %).
    pub tau_adapt_rel: f64,
    /// Std (ns) of the trial-to-trial jitter of a hold's length (60 ns: the hardware-aware configs' delay
    /// jitter of 0.01 model units x 6 us, spec hardware-reference §6).
    pub jitter_ns: f64,
    /// Probability that a trigger loses its delayed spike (chosen, 0.002: "occasional missing outputs").
    pub miss_probability: f64,
    /// Std (mV) of a trigger's per-run threshold offset (0). `jitter_ns` is the whole trial-to-trial spread of a
    /// delay that the hardware-aware configs measured; the neurons' per-run drift (`noise.threshold_mv`) on a
    /// trigger, whose rebound crosses its threshold at a shallow slope, would add 0.1-0.7 us per run on top, 2 to
    /// 10 times that.
    pub trigger_threshold_noise_mv: f64,
}

/// A chip profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipProfile {
    /// Name, recorded with calibrations.
    pub name: String,
    /// Nominal curves.
    pub curves: TransferCurves,
    /// Fixed-pattern mismatch.
    pub mismatch: Mismatch,
    /// Trial-to-trial noise.
    pub noise: Noise,
    /// Delay pairs' fixed pattern and noise.
    #[serde(default)]
    pub pairs: PairMagnitudes,
}

/// A profile file that cannot be used. The cause of a failed read or parse is the source.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Reading the file failed.
    #[error("chip profile {path}: cannot read it")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not YAML of a profile.
    #[error("chip profile {path}: not a profile")]
    Yaml {
        /// The file.
        path: String,
        /// The parser's error.
        source: yaml_serde::Error,
    },
    /// The profile's values are out of range.
    #[error("chip profile {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ChipProfile {
    /// The nominal curves shared by every built-in profile.
    fn nominal_curves() -> TransferCurves {
        TransferCurves {
            tau_mem_us_lsb: 3000.0,
            tau_syn_us_lsb: 2400.0,
            bias_offset_lsb: 15.0,
            mv_per_capmem_lsb: 1.9,
            gain_mv_per_us_lsb: 0.61,
            cadc_mv_per_lsb: 4.5,
            madc_mv_per_lsb: 2.0,
            tau_adapt_us_lsb: default_tau_adapt_us_lsb(),
            adapt_a_per_us: default_adapt_a_per_us(),
        }
    }

    /// No mismatch and no noise: the chip is the exact model.
    pub fn ideal() -> ChipProfile {
        ChipProfile {
            name: "ideal".into(),
            curves: Self::nominal_curves(),
            mismatch: Mismatch {
                tau_mem_rel: 0.0,
                tau_syn_rel: 0.0,
                potential_mv: 0.0,
                gain_rel: 0.0,
                synapse_rel: 0.0,
                cadc_offset_lsb: 0.0,
            },
            noise: Noise { threshold_mv: 0.0, spike_time_ns: 0.0, cadc_lsb: 0.0, madc_lsb: 0.0 },
            pairs: PairMagnitudes::default(),
        }
    }

    /// The default chip: mismatch and noise of the sizes documented on [`Mismatch`] and [`Noise`].
    pub fn default_chip() -> ChipProfile {
        ChipProfile {
            name: "default".into(),
            curves: Self::nominal_curves(),
            mismatch: Mismatch {
                tau_mem_rel: 0.15,
                tau_syn_rel: 0.15,
                potential_mv: 18.0,
                gain_rel: 0.10,
                synapse_rel: 0.03,
                cadc_offset_lsb: 8.0,
            },
            noise: Noise { threshold_mv: 4.8, spike_time_ns: 10.0, cadc_lsb: 1.0, madc_lsb: 1.0 },
            pairs: PairMagnitudes {
                clock_rel: 0.01,
                rebound_rel: 0.15,
                weak_fraction: 0.03,
                weak_factor: 0.2,
                adapt_potential_mv: 18.0,
                tau_adapt_rel: 0.10,
                jitter_ns: 60.0,
                miss_probability: 0.002,
                trigger_threshold_noise_mv: 0.0,
            },
        }
    }

    /// A built-in profile by name (`default`, `ideal`).
    pub fn builtin(name: &str) -> Option<ChipProfile> {
        match name {
            "default" => Some(Self::default_chip()),
            "ideal" => Some(Self::ideal()),
            _ => None,
        }
    }

    /// Loads a YAML profile.
    pub fn load(path: &Path) -> Result<ChipProfile, ProfileError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io { path: name.clone(), source })?;
        let profile: ChipProfile =
            yaml_serde::from_str(&text).map_err(|source| ProfileError::Yaml { path: name.clone(), source })?;
        profile.check().map_err(|message| ProfileError::Invalid { path: name, message })?;
        Ok(profile)
    }

    /// Checks that every magnitude is finite and in range.
    pub fn check(&self) -> Result<(), String> {
        let c = &self.curves;
        let positive = [
            ("curves.tau_mem_us_lsb", c.tau_mem_us_lsb),
            ("curves.tau_syn_us_lsb", c.tau_syn_us_lsb),
            ("curves.bias_offset_lsb", c.bias_offset_lsb),
            ("curves.mv_per_capmem_lsb", c.mv_per_capmem_lsb),
            ("curves.gain_mv_per_us_lsb", c.gain_mv_per_us_lsb),
            ("curves.cadc_mv_per_lsb", c.cadc_mv_per_lsb),
            ("curves.madc_mv_per_lsb", c.madc_mv_per_lsb),
            ("curves.tau_adapt_us_lsb", c.tau_adapt_us_lsb),
            ("curves.adapt_a_per_us", c.adapt_a_per_us),
        ];
        for (key, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                return Err(format!("{key} must be a positive number, got {v}"));
            }
        }
        let (m, n, d) = (&self.mismatch, &self.noise, &self.pairs);
        let non_negative = [
            ("mismatch.tau_mem_rel", m.tau_mem_rel),
            ("mismatch.tau_syn_rel", m.tau_syn_rel),
            ("mismatch.potential_mv", m.potential_mv),
            ("mismatch.gain_rel", m.gain_rel),
            ("mismatch.synapse_rel", m.synapse_rel),
            ("mismatch.cadc_offset_lsb", m.cadc_offset_lsb),
            ("noise.threshold_mv", n.threshold_mv),
            ("noise.spike_time_ns", n.spike_time_ns),
            ("noise.cadc_lsb", n.cadc_lsb),
            ("noise.madc_lsb", n.madc_lsb),
            ("pairs.clock_rel", d.clock_rel),
            ("pairs.rebound_rel", d.rebound_rel),
            ("pairs.weak_factor", d.weak_factor),
            ("pairs.adapt_potential_mv", d.adapt_potential_mv),
            ("pairs.tau_adapt_rel", d.tau_adapt_rel),
            ("pairs.jitter_ns", d.jitter_ns),
            ("pairs.trigger_threshold_noise_mv", d.trigger_threshold_noise_mv),
        ];
        for (key, v) in non_negative {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("{key} must be a non-negative number, got {v}"));
            }
        }
        for (key, v) in [("mismatch.gain_rel", m.gain_rel), ("mismatch.synapse_rel", m.synapse_rel)] {
            if v >= 0.5 {
                return Err(format!("{key} must be below 0.5 (gains must stay positive), got {v}"));
            }
        }
        for (key, v) in [("pairs.weak_fraction", d.weak_fraction), ("pairs.miss_probability", d.miss_probability)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{key} must be a probability (0 to 1), got {v}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_round_trip_through_yaml_and_bad_files_are_named() {
        for p in [ChipProfile::ideal(), ChipProfile::default_chip()] {
            let text = yaml_serde::to_string(&p).unwrap();
            let back: ChipProfile = yaml_serde::from_str(&text).unwrap();
            assert_eq!(back, p);
            assert!(p.check().is_ok());
        }
        let dir = std::env::temp_dir().join(format!("bss2-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.yaml");
        let mut p = ChipProfile::default_chip();
        p.mismatch.gain_rel = -1.0;
        std::fs::write(&path, yaml_serde::to_string(&p).unwrap()).unwrap();
        let e = ChipProfile::load(&path).unwrap_err().to_string();
        assert!(e.contains("bad.yaml") && e.contains("mismatch.gain_rel"), "{e}");
        // A file written before the delay pairs (no `pairs` section, no adaptation curves) still loads.
        let mut old = yaml_serde::to_value(ChipProfile::default_chip()).unwrap();
        let map = old.as_mapping_mut().unwrap();
        map.remove("pairs").unwrap();
        let curves = map.get_mut("curves").unwrap().as_mapping_mut().unwrap();
        curves.remove("tau_adapt_us_lsb").unwrap();
        curves.remove("adapt_a_per_us").unwrap();
        std::fs::write(&path, yaml_serde::to_string(&old).unwrap()).unwrap();
        let loaded = ChipProfile::load(&path).unwrap();
        assert_eq!(loaded.pairs, PairMagnitudes::default());
        assert_eq!(loaded.curves, ChipProfile::default_chip().curves);
        std::fs::write(&path, "name: x\ncurves: 3\n").unwrap();
        assert!(ChipProfile::load(&path).unwrap_err().to_string().contains("bad.yaml"));
    }
}
