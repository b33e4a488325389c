//! The single-in-single-out data set (spec §12): `num_samples` samples of one input drawn from
//! N(`input_mean`, `input_std_dev`²), all with label 0.
//!
//! Draws: one `normal` per sample from the split's [`Mt19937`] stream (the caller derives one stream per split).

use super::{DataError, Dataset, Inputs, Mt19937, alloc_inputs, at_least_one, finite};

/// Name in the config.
pub const NAME: &str = "single_in_single_out";
/// Default mean of the input time.
pub const DEFAULT_INPUT_MEAN: f64 = 1.0;
/// Default standard deviation of the input time.
pub const DEFAULT_INPUT_STD_DEV: f64 = 0.001;
/// Default number of samples.
pub const DEFAULT_NUM_SAMPLES: usize = 1;

/// Builds one split from `rng`.
///
/// # Errors
/// [`DataError::InvalidParameter`] for a non-finite mean, a negative or non-finite standard deviation, or
/// `num_samples == 0`; [`DataError::TooLarge`] if the samples do not fit in memory.
pub fn build(input_mean: f64, input_std_dev: f64, num_samples: usize, rng: &mut Mt19937) -> Result<Dataset, DataError> {
    let mean = finite(NAME, "input_mean", input_mean)?;
    if finite(NAME, "input_std_dev", input_std_dev)? < 0.0 {
        return Err(DataError::InvalidParameter {
            dataset: NAME,
            name: "input_std_dev",
            value: input_std_dev.to_string(),
            reason: "must be >= 0",
        });
    }
    let n = at_least_one(NAME, "num_samples", num_samples)?;
    let mut inputs = alloc_inputs(NAME, n, 1)?;
    let mut labels = Vec::new();
    labels.try_reserve_exact(n).map_err(|_| DataError::TooLarge { dataset: NAME, samples: n, n_inputs: 1 })?;
    inputs.extend((0..n).map(|_| rng.normal(mean, input_std_dev)));
    labels.resize(n, 0);
    Ok(Dataset { name: NAME.to_string(), n_inputs: 1, n_classes: 1, inputs: Inputs::Times(inputs), labels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DatasetSpec, Split};

    fn spec(num_samples: usize, input_std_dev: f64) -> DatasetSpec {
        DatasetSpec::SingleInSingleOut { input_mean: DEFAULT_INPUT_MEAN, input_std_dev, num_samples }
    }

    #[test]
    fn samples_are_normal_around_the_mean_with_label_zero() {
        let d = spec(2000, 0.001).build(Split::Train, 4).expect("build");
        assert_eq!((d.len(), d.n_inputs, d.n_classes), (2000, 1, 1));
        assert!(d.labels.iter().all(|&l| l == 0));
        let mean = d.inputs.times().iter().sum::<f64>() / 2000.0;
        let var = d.inputs.times().iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 1999.0;
        assert!((mean - 1.0).abs() < 1e-4, "{mean}");
        assert!((var.sqrt() - 0.001).abs() < 1e-4, "{}", var.sqrt());
    }

    #[test]
    fn default_is_one_sample_and_splits_differ() {
        let train = spec(DEFAULT_NUM_SAMPLES, DEFAULT_INPUT_STD_DEV).build(Split::Train, 0).expect("build");
        let test = spec(DEFAULT_NUM_SAMPLES, DEFAULT_INPUT_STD_DEV).build(Split::Test, 0).expect("build");
        assert_eq!(train.len(), 1);
        assert_ne!(train.inputs, test.inputs);
        let mut rng = crate::data::split_stream(0, Split::Train);
        assert_eq!(train.inputs, Inputs::Times(vec![rng.normal(1.0, 0.001)]));
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(spec(0, 0.1).build(Split::Train, 0).is_err());
        assert_eq!(
            spec(1, -0.1).build(Split::Train, 0).expect_err("negative").to_string(),
            "single_in_single_out: input_std_dev = -0.1 is invalid: must be >= 0"
        );
        let nan_mean = DatasetSpec::SingleInSingleOut { input_mean: f64::NAN, input_std_dev: 0.1, num_samples: 1 };
        assert!(nan_mean.build(Split::Train, 0).is_err());
        assert!(matches!(spec(usize::MAX, 0.1).build(Split::Train, 0), Err(DataError::TooLarge { .. })));
    }
}
