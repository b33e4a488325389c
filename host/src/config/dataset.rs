//! `dataset_params`: which data set, with its parameters.

use super::ConfigError;
use super::reader::Section;
use crate::data::{DataError, DatasetSpec, PatternClass, Split, mnist, yin_yang};
use crate::text::Excerpt;

/// A data-set error as a config error at the key it is about.
fn data_error(s: &Section, source: DataError) -> ConfigError {
    let key = match &source {
        DataError::InvalidParameter { name, .. } => (*name).to_string(),
        DataError::InvalidClass { class, name, .. } => format!("classes[{class}].{name}"),
        DataError::PatternLength { class, .. } => format!("classes[{class}].pattern"),
        _ => "name".to_string(),
    };
    ConfigError::Data { path: s.key_path(&key), source }
}

/// The checked `dataset_params`.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetConfig {
    spec: DatasetSpec,
}

fn parse_class(path: String, value: &yaml_serde::Value) -> Result<PatternClass, ConfigError> {
    let c = Section::item_section(path, value)?;
    let n_samples = c.opt_count("n_samples")?.unwrap_or(1);
    let class = match c.str("name")? {
        "pattern" => PatternClass::Pattern {
            pattern: c.f64_list("pattern")?,
            // The reference reads `std` here although its config writes `std_dev`; we read `std_dev`.
            std_dev: c.opt_nonnegative_f64("std_dev")?.unwrap_or(0.0),
            n_samples,
        },
        "noise" if c.opt_str("type")? == Some("uniform") => PatternClass::UniformNoise {
            low_bound: c.opt_f64("low_bound")?.unwrap_or(0.0),
            high_bound: c.opt_f64("high_bound")?.unwrap_or(1.0),
            n_samples,
        },
        "noise" => PatternClass::GaussianNoise {
            mean: c.opt_f64("mean")?.unwrap_or(0.0),
            std_dev: match c.opt_nonnegative_f64("std_dev")? {
                Some(s) => s,
                None => c.opt_nonnegative_f64("std")?.unwrap_or(1.0),
            },
            n_samples,
        },
        other => {
            return Err(
                c.error("name", format!("unknown pattern class {} (expected pattern or noise)", Excerpt::new(other)))
            );
        }
    };
    c.deny_unknown(&["name", "type", "pattern", "std_dev", "std", "mean", "low_bound", "high_bound", "n_samples"])?;
    Ok(class)
}

impl DatasetConfig {
    /// Reads `dataset_params`; `n_inputs` is `network_layout.n_inputs` (the pattern data set takes it from there).
    pub fn parse(s: &Section, n_inputs: usize) -> Result<DatasetConfig, ConfigError> {
        let multiply = s.opt_count("multiply_input_layer")?.unwrap_or(1);
        if multiply > 1 << 20 {
            return Err(s.error("multiply_input_layer", format!("{multiply} copies are too many")));
        }
        let name = s.str("name")?;
        let (spec, keys): (DatasetSpec, &[&str]) = match name {
            "yin_yang" => (
                DatasetSpec::YinYang {
                    r_small: s.opt_f64("r_small")?.unwrap_or(yin_yang::DEFAULT_R_SMALL),
                    r_big: s.opt_f64("r_big")?.unwrap_or(yin_yang::DEFAULT_R_BIG),
                    early: s.opt_f64("early")?.unwrap_or(yin_yang::DEFAULT_EARLY),
                    late: s.opt_f64("late")?.unwrap_or(yin_yang::DEFAULT_LATE),
                    multiply_input_layer: multiply,
                },
                &["early", "late", "r_small", "r_big"],
            ),
            "xor" => (DatasetSpec::Xor, &[]),
            "bars" => (
                DatasetSpec::Bars {
                    multiply_input_layer: multiply,
                    noise_level: s.opt_nonnegative_f64("noise_level")?.unwrap_or(0.0),
                },
                &["noise_level"],
            ),
            "pattern" => {
                let classes =
                    s.list("classes")?.into_iter().map(|(p, v)| parse_class(p, v)).collect::<Result<Vec<_>, _>>()?;
                if classes.is_empty() {
                    return Err(s.error("classes", "needs at least one class"));
                }
                (DatasetSpec::Pattern { classes, n_inputs }, &[])
            }
            "single_in_single_out" => (
                DatasetSpec::SingleInSingleOut {
                    input_mean: s.opt_f64("input_mean")?.unwrap_or(crate::data::single::DEFAULT_INPUT_MEAN),
                    input_std_dev: s
                        .opt_nonnegative_f64("input_std_dev")?
                        .unwrap_or(crate::data::single::DEFAULT_INPUT_STD_DEV),
                    num_samples: s.opt_count("num_samples")?.unwrap_or(crate::data::single::DEFAULT_NUM_SAMPLES),
                },
                &[],
            ),
            "mnist" | "16x16_mnist" => {
                let variant = if name == "mnist" { mnist::Variant::Full } else { mnist::Variant::Small16 };
                let dir = mnist::data_dir();
                // Only the files' presence now: reading 60 000 images is the training's first step, not the
                // config's. `early`/`late` are read and ignored, as by the reference.
                mnist::check_files(&dir).map_err(|e| data_error(s, e.into()))?;
                (DatasetSpec::Mnist { variant, dir }, &["early", "late"])
            }
            other => {
                return Err(s.error(
                    "name",
                    format!(
                        "unknown data set {} (known: yin_yang, mnist, 16x16_mnist, xor, bars, pattern, \
                         single_in_single_out)",
                        Excerpt::new(other)
                    ),
                ));
            }
        };
        let mut known = vec!["name", "multiply_input_layer"];
        known.extend_from_slice(keys);
        s.deny_unknown(&known)?;
        // The data sets check their own parameters; building the (smallest) test split finds any problem now,
        // before any work, and names the key. MNIST's files were found above.
        if !matches!(spec, DatasetSpec::Mnist { .. }) {
            spec.build(Split::Test, 0).map_err(|e| data_error(s, e))?;
        }
        Ok(DatasetConfig { spec })
    }

    /// The data set to build.
    pub fn spec(&self) -> &DatasetSpec {
        &self.spec
    }

    /// The data set's name.
    pub fn name(&self) -> &str {
        self.spec.name()
    }

    /// Inputs per sample.
    pub fn n_inputs(&self) -> usize {
        match &self.spec {
            DatasetSpec::YinYang { multiply_input_layer, .. } => 4 * multiply_input_layer,
            DatasetSpec::Xor => 4,
            DatasetSpec::Bars { multiply_input_layer, .. } => 9 * multiply_input_layer,
            DatasetSpec::Pattern { n_inputs, .. } => *n_inputs,
            DatasetSpec::SingleInSingleOut { .. } => 1,
            DatasetSpec::Mnist { variant, .. } => variant.n_inputs(),
        }
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        match &self.spec {
            DatasetSpec::YinYang { .. } | DatasetSpec::Bars { .. } => 3,
            DatasetSpec::Xor => 2,
            DatasetSpec::Pattern { classes, .. } => classes.len(),
            DatasetSpec::SingleInSingleOut { .. } => 1,
            DatasetSpec::Mnist { .. } => 10,
        }
    }
}
