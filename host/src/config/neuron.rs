//! `default_neuron_params` and per-layer `neuron_params`: parsed, merged key by key, and checked.

use super::ConfigError;
use super::reader::Section;
use crate::model::{NeuronParams, TauRatio};

/// Every key a `neuron_params` mapping may hold.
const KEYS: &[&str] = &[
    "tau_syn",
    "tau_mem",
    "g_leak",
    "leak",
    "threshold",
    "max_dw_norm",
    "model_tau_ratio",
    "threshold_noise_fp_mean",
    "threshold_noise_fp_std",
    "threshold_noise_s2s_std",
    "threshold_noise_b2b_std",
    "jitter",
    "clip_weights_max",
];

/// A per-layer weight clip: a bound, or `true` meaning "no clamping for this layer" (as in the reference).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerClip {
    /// Clamp to [-m, m].
    Bound(f64),
    /// `true`: do not clamp this layer.
    Unclamped,
}

/// Threshold noise of a layer (spec §4), all standard deviations.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ThresholdNoise {
    /// Mean of the fixed-pattern offset drawn once per neuron.
    pub fp_mean: f64,
    /// Standard deviation of the fixed-pattern offset.
    pub fp_std: f64,
    /// Sample-to-sample noise, fresh per sample, neuron and forward pass.
    pub s2s_std: f64,
    /// Batch-to-batch noise, fresh per neuron and forward pass, shared by the batch.
    pub b2b_std: f64,
}

/// The resolved neuron settings of one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronSettings {
    /// What the exact model needs.
    pub params: NeuronParams,
    /// Per-sample weight-gradient column limit; None = off (YAML null or false).
    pub max_dw_norm: Option<f64>,
    /// Threshold noise.
    pub noise: ThresholdNoise,
    /// Standard deviation of Gaussian noise added to every output spike time.
    pub jitter: f64,
    /// The layer's own weight clip, overriding the global one.
    pub clip: Option<LayerClip>,
}

/// `neuron_params` as written, every key optional; layers override the defaults key by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartialNeuronParams {
    tau_syn: Option<f64>,
    tau_mem: Option<f64>,
    g_leak: Option<f64>,
    leak: Option<f64>,
    threshold: Option<f64>,
    /// Outer None: key absent; inner None: null/false.
    max_dw_norm: Option<Option<f64>>,
    model_tau_ratio: Option<f64>,
    fp_mean: Option<f64>,
    fp_std: Option<f64>,
    s2s_std: Option<f64>,
    b2b_std: Option<f64>,
    jitter: Option<f64>,
    clip: Option<LayerClip>,
}

impl PartialNeuronParams {
    /// Reads a `neuron_params` mapping.
    pub fn parse(s: &Section) -> Result<Self, ConfigError> {
        let clip = match s.raw("clip_weights_max") {
            None | Some(yaml_serde::Value::Null) | Some(yaml_serde::Value::Bool(false)) => None,
            Some(yaml_serde::Value::Bool(true)) => Some(LayerClip::Unclamped),
            Some(_) => {
                let m = s.f64("clip_weights_max")?;
                if !(m > 0.0) {
                    return Err(s.error("clip_weights_max", format!("must be positive, found {m}")));
                }
                Some(LayerClip::Bound(m))
            }
        };
        let parsed = PartialNeuronParams {
            tau_syn: s.opt_f64("tau_syn")?,
            tau_mem: s.opt_f64("tau_mem")?,
            g_leak: s.opt_f64("g_leak")?,
            leak: s.opt_f64("leak")?,
            threshold: s.opt_f64("threshold")?,
            max_dw_norm: if s.has("max_dw_norm") { Some(s.number_or_false("max_dw_norm")?) } else { None },
            model_tau_ratio: s.opt_f64("model_tau_ratio")?,
            fp_mean: s.opt_f64("threshold_noise_fp_mean")?,
            fp_std: s.opt_nonnegative_f64("threshold_noise_fp_std")?,
            s2s_std: s.opt_nonnegative_f64("threshold_noise_s2s_std")?,
            b2b_std: s.opt_nonnegative_f64("threshold_noise_b2b_std")?,
            jitter: s.opt_nonnegative_f64("jitter")?,
            clip,
        };
        s.deny_unknown(KEYS)?;
        Ok(parsed)
    }

    /// Whether this mapping sets `key`.
    fn sets(&self, key: &str) -> bool {
        // A consistency error is the layer's own if it sets any of the keys involved.
        let taus = self.tau_syn.is_some() || self.tau_mem.is_some();
        match key {
            "tau_syn" => self.tau_syn.is_some(),
            "tau_mem" => taus,
            "g_leak" => taus || self.g_leak.is_some(),
            "leak" => self.leak.is_some(),
            "threshold" => self.threshold.is_some() || self.leak.is_some(),
            "max_dw_norm" => self.max_dw_norm.is_some(),
            "model_tau_ratio" => taus || self.model_tau_ratio.is_some(),
            _ => true,
        }
    }

    /// Points an error about a layer's merged parameters (at `layer_path.<key>`) at `default_neuron_params`
    /// when the layer (whose own `neuron_params` are `self`) inherits that key.
    pub fn locate(&self, error: ConfigError, layer_path: &str) -> ConfigError {
        match error {
            ConfigError::Invalid { path, message } => match path
                .strip_prefix(layer_path)
                .and_then(|k| k.strip_prefix('.'))
            {
                Some(key) if !self.sets(key) => ConfigError::Invalid {
                    path: format!("default_neuron_params.{key}"),
                    message: format!("{message} (as inherited by {})", layer_path.trim_end_matches(".neuron_params")),
                },
                _ => ConfigError::Invalid { path, message },
            },
            other => other,
        }
    }

    /// `self` with every key present in `over` replaced (the reference's shallow copy plus update).
    pub fn merged(&self, over: &PartialNeuronParams) -> PartialNeuronParams {
        PartialNeuronParams {
            tau_syn: over.tau_syn.or(self.tau_syn),
            tau_mem: over.tau_mem.or(self.tau_mem),
            g_leak: over.g_leak.or(self.g_leak),
            leak: over.leak.or(self.leak),
            threshold: over.threshold.or(self.threshold),
            max_dw_norm: over.max_dw_norm.or(self.max_dw_norm),
            model_tau_ratio: over.model_tau_ratio.or(self.model_tau_ratio),
            fp_mean: over.fp_mean.or(self.fp_mean),
            fp_std: over.fp_std.or(self.fp_std),
            s2s_std: over.s2s_std.or(self.s2s_std),
            b2b_std: over.b2b_std.or(self.b2b_std),
            jitter: over.jitter.or(self.jitter),
            clip: over.clip.or(self.clip),
        }
    }

    /// Checks the merged parameters of a layer at `path` and resolves the tau ratio.
    ///
    /// `strict_leak` (simulation) requires `g_leak = tau_syn / tau_mem`, i.e. a membrane capacitance equal to
    /// tau_syn, which the closed forms assume; the reference asserts this as an exact float equality, we allow
    /// a relative 1e-12.
    pub fn resolve(&self, path: &str, strict_leak: bool) -> Result<NeuronSettings, ConfigError> {
        let need = |v: Option<f64>, key: &str| {
            v.ok_or_else(|| ConfigError::at(&format!("{path}.{key}"), "missing required key"))
        };
        let tau_syn = need(self.tau_syn, "tau_syn")?;
        let tau_mem = need(self.tau_mem, "tau_mem")?;
        let g_leak = need(self.g_leak, "g_leak")?;
        let leak = need(self.leak, "leak")?;
        let threshold = need(self.threshold, "threshold")?;
        let max_dw_norm = self.max_dw_norm.ok_or_else(|| {
            ConfigError::at(&format!("{path}.max_dw_norm"), "missing required key (use null to switch it off)")
        })?;
        for (key, v) in [("tau_syn", tau_syn), ("tau_mem", tau_mem), ("g_leak", g_leak)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(ConfigError::at(&format!("{path}.{key}"), format!("must be a positive number, found {v}")));
            }
        }
        if !(threshold > leak) {
            return Err(ConfigError::at(
                &format!("{path}.threshold"),
                format!("must lie above the leak potential {leak}, found {threshold}"),
            ));
        }
        let natural = tau_mem / tau_syn;
        let ratio = match self.model_tau_ratio {
            Some(r) if r == 1.0 || r == 2.0 => {
                if strict_leak && (natural - r).abs() > 1e-12 * r {
                    return Err(ConfigError::at(
                        &format!("{path}.model_tau_ratio"),
                        format!(
                            "is {r} but tau_mem / tau_syn = {natural}; the closed forms would not match the neuron"
                        ),
                    ));
                }
                if r == 1.0 { TauRatio::One } else { TauRatio::Two }
            }
            Some(r) => {
                return Err(ConfigError::at(&format!("{path}.model_tau_ratio"), format!("must be 1 or 2, found {r}")));
            }
            None if natural == 1.0 => TauRatio::One,
            None if natural == 2.0 => TauRatio::Two,
            None => {
                return Err(ConfigError::at(
                    &format!("{path}.tau_mem"),
                    format!("tau_mem / tau_syn = {natural}; the exact model needs a ratio of exactly 1 or 2"),
                ));
            }
        };
        if strict_leak && (tau_syn / tau_mem - g_leak).abs() > 1e-12 * g_leak {
            return Err(ConfigError::at(
                &format!("{path}.g_leak"),
                format!("must equal tau_syn / tau_mem = {} in simulation, found {g_leak}", tau_syn / tau_mem),
            ));
        }
        if let Some(m) = max_dw_norm
            && !(m > 0.0)
        {
            return Err(ConfigError::at(
                &format!("{path}.max_dw_norm"),
                format!("must be positive or null, found {m}"),
            ));
        }
        Ok(NeuronSettings {
            params: NeuronParams { tau_syn, tau_mem, g_leak, leak, threshold, ratio },
            max_dw_norm,
            noise: ThresholdNoise {
                fp_mean: self.fp_mean.unwrap_or(0.0),
                fp_std: self.fp_std.unwrap_or(0.0),
                s2s_std: self.s2s_std.unwrap_or(0.0),
                b2b_std: self.b2b_std.unwrap_or(0.0),
            },
            jitter: self.jitter.unwrap_or(0.0),
            clip: self.clip,
        })
    }
}
