//! The pattern data set (spec §12): one class per entry of `dataset_params.classes`, label = list index.
//!
//! Per class, `n_samples` samples of `n_inputs` values are drawn, then every value is passed through a ReLU
//! (negatives become 0). Two deliberate fixes of reference quirks (spec §21.18):
//! - Gaussian noise classes read `std_dev` (the reference read `std`, ignoring the config's `std_dev`);
//! - uniform noise is float64 (the reference drew float32).
//!
//! Also, `n_inputs` is given up front, so a noise class may come before the first pattern class.
//!
//! Draw order, from the split's [`Mt19937`] stream: classes in order, samples in order, inputs in order; each
//! value takes one `normal` or one `uniform` draw.

use super::{DataError, Dataset, Inputs, Mt19937, alloc_inputs};

/// Name in the config.
pub const NAME: &str = "pattern";

/// One entry of the `classes` list.
#[derive(Debug, Clone, PartialEq)]
pub enum PatternClass {
    /// `name: pattern`: the vector `pattern` plus N(0, `std_dev`²) per input.
    Pattern {
        /// The noise-free input times, `n_inputs` long.
        pattern: Vec<f64>,
        /// Standard deviation of the Gaussian noise added to each input.
        std_dev: f64,
        /// Number of samples of this class.
        n_samples: usize,
    },
    /// `name: noise, type: uniform`: each input ~ U(`low_bound`, `high_bound`) (defaults 0 and 1).
    UniformNoise {
        /// Lower bound.
        low_bound: f64,
        /// Upper bound.
        high_bound: f64,
        /// Number of samples of this class.
        n_samples: usize,
    },
    /// `name: noise` of any other type: each input ~ N(`mean`, `std_dev`²) (defaults 0 and 1).
    GaussianNoise {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std_dev: f64,
        /// Number of samples of this class.
        n_samples: usize,
    },
}

impl PatternClass {
    /// Number of samples of this class.
    pub fn n_samples(&self) -> usize {
        match self {
            PatternClass::Pattern { n_samples, .. }
            | PatternClass::UniformNoise { n_samples, .. }
            | PatternClass::GaussianNoise { n_samples, .. } => *n_samples,
        }
    }

    /// Checks the class's parameters; `index` is its position in the list, used in messages.
    fn validate(&self, index: usize, n_inputs: usize) -> Result<(), DataError> {
        let invalid = |name, value: String, reason| DataError::InvalidClass { class: index, name, value, reason };
        let finite =
            |name, v: f64| if v.is_finite() { Ok(()) } else { Err(invalid(name, v.to_string(), "must be finite")) };
        let std_dev_ok = |v: f64| {
            finite("std_dev", v)?;
            if v < 0.0 { Err(invalid("std_dev", v.to_string(), "must be >= 0")) } else { Ok(()) }
        };
        if self.n_samples() == 0 {
            return Err(invalid("n_samples", "0".to_string(), "must be at least 1"));
        }
        match self {
            PatternClass::Pattern { pattern, std_dev, .. } => {
                if pattern.len() != n_inputs {
                    return Err(DataError::PatternLength { class: index, expected: n_inputs, found: pattern.len() });
                }
                // +inf is a legal time ("no spike"); NaN is not.
                if let Some(v) = pattern.iter().find(|v| v.is_nan()) {
                    return Err(invalid("pattern", v.to_string(), "must not contain NaN"));
                }
                std_dev_ok(*std_dev)
            }
            PatternClass::UniformNoise { low_bound, high_bound, .. } => {
                finite("low_bound", *low_bound)?;
                finite("high_bound", *high_bound)?;
                if low_bound > high_bound {
                    return Err(invalid("high_bound", high_bound.to_string(), "must be >= low_bound"));
                }
                Ok(())
            }
            PatternClass::GaussianNoise { mean, std_dev, .. } => {
                finite("mean", *mean)?;
                std_dev_ok(*std_dev)
            }
        }
    }
}

/// Builds one split from `rng` (the caller derives one independent stream per split).
///
/// # Errors
/// [`DataError::NoClasses`] for an empty list; [`DataError::PatternLength`] or [`DataError::InvalidClass`]
/// naming the class index; [`DataError::InvalidParameter`] for `n_inputs == 0`; [`DataError::TooLarge`].
pub fn build(classes: &[PatternClass], n_inputs: usize, rng: &mut Mt19937) -> Result<Dataset, DataError> {
    if classes.is_empty() {
        return Err(DataError::NoClasses);
    }
    if n_inputs == 0 {
        return Err(DataError::InvalidParameter {
            dataset: NAME,
            name: "n_inputs",
            value: "0".to_string(),
            reason: "must be at least 1",
        });
    }
    let mut total: usize = 0;
    for (i, class) in classes.iter().enumerate() {
        class.validate(i, n_inputs)?;
        total = total.checked_add(class.n_samples()).ok_or(DataError::TooLarge {
            dataset: NAME,
            samples: usize::MAX,
            n_inputs,
        })?;
    }
    let mut inputs = alloc_inputs(NAME, total, n_inputs)?;
    let mut labels = Vec::new();
    labels.try_reserve_exact(total).map_err(|_| DataError::TooLarge { dataset: NAME, samples: total, n_inputs })?;
    for (label, class) in classes.iter().enumerate() {
        for _ in 0..class.n_samples() {
            for j in 0..n_inputs {
                let v = match class {
                    PatternClass::Pattern { pattern, std_dev, .. } => pattern[j] + rng.normal(0.0, *std_dev),
                    PatternClass::UniformNoise { low_bound, high_bound, .. } => rng.uniform(*low_bound, *high_bound),
                    PatternClass::GaussianNoise { mean, std_dev, .. } => rng.normal(*mean, *std_dev),
                };
                inputs.push(relu(v));
            }
            labels.push(label);
        }
    }
    Ok(Dataset { name: NAME.to_string(), n_inputs, n_classes: classes.len(), inputs: Inputs::Times(inputs), labels })
}

/// max(v, 0), mapping −0.0 to +0.0 as well.
fn relu(v: f64) -> f64 {
    if v > 0.0 { v } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DatasetSpec, Split};

    fn classes() -> Vec<PatternClass> {
        vec![
            // A noise class first: the reference failed here, we know n_inputs up front.
            PatternClass::GaussianNoise { mean: 0.0, std_dev: 1.0, n_samples: 200 },
            PatternClass::Pattern { pattern: vec![1.0, 2.0, 3.0], std_dev: 0.0, n_samples: 2 },
            PatternClass::UniformNoise { low_bound: -1.0, high_bound: 1.0, n_samples: 200 },
            PatternClass::Pattern { pattern: vec![1.0, -2.0, f64::INFINITY], std_dev: 0.1, n_samples: 300 },
        ]
    }

    fn spec() -> DatasetSpec {
        DatasetSpec::Pattern { classes: classes(), n_inputs: 3 }
    }

    #[test]
    fn labels_follow_class_order_and_relu_applies() {
        let d = spec().build(Split::Train, 1).expect("build");
        assert_eq!((d.n_inputs, d.n_classes, d.len()), (3, 4, 702));
        assert_eq!(d.class_counts(), vec![200, 2, 200, 300]);
        assert!(d.inputs.times().iter().all(|&v| v >= 0.0 && v.to_bits() != (-0.0f64).to_bits()));
        // std_dev 0: the pattern exactly.
        assert_eq!(*d.sample(200), [1.0, 2.0, 3.0]);
        // Gaussian noise N(0, 1) after ReLU: about half the values are clipped to 0.
        let zeros = d.inputs.times()[..600].iter().filter(|&&v| v == 0.0).count();
        assert!((200..400).contains(&zeros), "{zeros}");
        // Uniform in [-1, 1) after ReLU: within [0, 1), about half clipped.
        let uniform = &d.inputs.times()[606..1206];
        assert!(uniform.iter().all(|&v| v < 1.0));
        let zeros = uniform.iter().filter(|&&v| v == 0.0).count();
        assert!((200..400).contains(&zeros), "{zeros}");
        // The last class: the -2 input is always clipped, +inf stays +inf, the first input scatters around 1.
        let rows: Vec<Vec<f64>> = (402..702).map(|i| d.sample(i).into_owned()).collect();
        assert!(rows.iter().all(|r| r[1] == 0.0 && r[2] == f64::INFINITY));
        let mean = rows.iter().map(|r| r[0]).sum::<f64>() / 300.0;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
    }

    #[test]
    fn gaussian_noise_reads_std_dev() {
        let narrow = vec![PatternClass::GaussianNoise { mean: 5.0, std_dev: 0.01, n_samples: 100 }];
        let d = DatasetSpec::Pattern { classes: narrow, n_inputs: 2 }.build(Split::Train, 3).expect("build");
        assert!(d.inputs.times().iter().all(|&v| (v - 5.0).abs() < 0.1), "std_dev is honoured");
    }

    #[test]
    fn draws_follow_the_documented_stream() {
        let cls = vec![
            PatternClass::Pattern { pattern: vec![10.0, 20.0], std_dev: 0.5, n_samples: 2 },
            PatternClass::UniformNoise { low_bound: 1.0, high_bound: 3.0, n_samples: 1 },
        ];
        let d = build(&cls, 2, &mut Mt19937::new(9)).expect("build");
        let mut rng = Mt19937::new(9);
        let mut expected = Vec::new();
        for _ in 0..2 {
            expected.push(10.0 + rng.normal(0.0, 0.5));
            expected.push(20.0 + rng.normal(0.0, 0.5));
        }
        expected.push(rng.uniform(1.0, 3.0));
        expected.push(rng.uniform(1.0, 3.0));
        assert_eq!(*d.inputs.times(), expected[..]);
    }

    #[test]
    fn splits_are_independent_and_seeded() {
        let train = spec().build(Split::Train, 1).expect("build");
        let val = spec().build(Split::Validation, 1).expect("build");
        let test = spec().build(Split::Test, 1).expect("build");
        assert_ne!(train.inputs, val.inputs);
        assert_ne!(val.inputs, test.inputs);
        assert_eq!(train.labels, test.labels);
        assert_eq!(spec().build(Split::Train, 1).expect("build"), train);
        assert_ne!(spec().build(Split::Train, 2).expect("build"), train);
    }

    #[test]
    fn errors_name_the_class() {
        let bad_len = DatasetSpec::Pattern {
            classes: vec![
                PatternClass::UniformNoise { low_bound: 0.0, high_bound: 1.0, n_samples: 1 },
                PatternClass::Pattern { pattern: vec![1.0, 2.0], std_dev: 0.1, n_samples: 1 },
            ],
            n_inputs: 3,
        };
        assert_eq!(
            bad_len.build(Split::Train, 0).expect_err("length").to_string(),
            "pattern: class 1 has a pattern of length 2, but n_inputs is 3"
        );
        let cases = [
            (PatternClass::GaussianNoise { mean: 0.0, std_dev: -1.0, n_samples: 1 }, "class 0: std_dev = -1"),
            (PatternClass::UniformNoise { low_bound: 2.0, high_bound: 1.0, n_samples: 1 }, "class 0: high_bound = 1"),
            (PatternClass::UniformNoise { low_bound: 0.0, high_bound: f64::NAN, n_samples: 1 }, "must be finite"),
            (PatternClass::Pattern { pattern: vec![f64::NAN], std_dev: 0.0, n_samples: 1 }, "NaN"),
            (PatternClass::Pattern { pattern: vec![1.0], std_dev: 0.0, n_samples: 0 }, "n_samples = 0"),
        ];
        for (class, needle) in cases {
            let err = build(&[class], 1, &mut Mt19937::new(0)).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err}");
        }
        assert!(matches!(build(&[], 1, &mut Mt19937::new(0)), Err(DataError::NoClasses)));
        let huge = PatternClass::GaussianNoise { mean: 0.0, std_dev: 1.0, n_samples: usize::MAX / 2 };
        assert!(matches!(build(&[huge], 4, &mut Mt19937::new(0)), Err(DataError::TooLarge { .. })));
    }
}
