//! Data sets (spec §12): yin-yang, xor, bars, pattern, single-in-single-out, and MNIST from the user's files.
//!
//! Every data set is a [`Dataset`]: a row-major matrix of input spike times plus one label per sample. A
//! [`DatasetSpec`] describes one data set with its parameters and builds any of the three [`Split`]s.
//!
//! Randomness: all data sets draw from [`Mt19937`], our port of numpy's legacy `RandomState`, never from the
//! training RNG, so a data set depends only on its spec and seed. Yin-yang reproduces the reference bit for bit
//! (its seeds are fixed per split); bars mimics the reference's numpy stream; pattern and
//! single-in-single-out derive one independent stream per split from the seed (see [`split_stream`]).

pub mod bars;
pub mod mnist;
pub mod mt19937;
pub mod pattern;
pub mod single;
pub mod xor;
pub mod yin_yang;

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

pub use mt19937::Mt19937;
pub use pattern::PatternClass;

/// Errors while building a data set. Messages name the data set and the offending parameter.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// An MNIST file is missing or malformed.
    #[error(transparent)]
    Mnist(#[from] mnist::MnistError),
    /// A parameter is out of its valid range (e.g. a negative radius or a non-finite time).
    #[error("{dataset}: {name} = {value} is invalid: {reason}")]
    InvalidParameter {
        /// The data set name, e.g. `yin_yang`.
        dataset: &'static str,
        /// The parameter name as in the config, e.g. `r_small`.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What the value must satisfy.
        reason: &'static str,
    },
    /// A parameter of one entry of the pattern data set's `classes` list is invalid.
    #[error("pattern: class {class}: {name} = {value} is invalid: {reason}")]
    InvalidClass {
        /// Index of the class in the `classes` list (= its label).
        class: usize,
        /// The parameter name as in the config.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// What the value must satisfy.
        reason: &'static str,
    },
    /// A pattern class's `pattern` does not have `n_inputs` entries.
    #[error("pattern: class {class} has a pattern of length {found}, but n_inputs is {expected}")]
    PatternLength {
        /// Index of the class in the `classes` list (= its label).
        class: usize,
        /// `n_inputs`.
        expected: usize,
        /// The pattern's length.
        found: usize,
    },
    /// The pattern data set has no classes.
    #[error("pattern: the classes list is empty")]
    NoClasses,
    /// A seed that must seed numpy's `RandomState` directly does not fit in 32 bits.
    #[error("{dataset}: seed {seed} is outside numpy's seed range 0..=4294967295")]
    SeedOutOfRange {
        /// The data set name.
        dataset: &'static str,
        /// The seed given.
        seed: u64,
    },
    /// The requested data set would not fit in memory.
    #[error("{dataset}: {samples} samples of {n_inputs} inputs do not fit in memory")]
    TooLarge {
        /// The data set name.
        dataset: &'static str,
        /// Number of samples requested.
        samples: usize,
        /// Inputs per sample.
        n_inputs: usize,
    },
    /// Yin-yang rejection sampling found no point of the wanted class; the geometry makes it (nearly) empty.
    #[error("yin_yang: no point of class {goal} found in {attempts} attempts; check r_small and r_big")]
    RejectionStalled {
        /// The class that was sought.
        goal: u32,
        /// Attempts made.
        attempts: u64,
    },
    /// Parts given to [`Dataset::new`] do not fit together.
    #[error("{name}: inconsistent data set: {reason}")]
    Inconsistent {
        /// The data set name.
        name: String,
        /// What does not fit.
        reason: String,
    },
}

/// Which of the three sets of an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training set.
    Train,
    /// The validation set, evaluated after every epoch.
    Validation,
    /// The test set, evaluated once at the end.
    Test,
}

impl Split {
    /// All splits in the order the reference builds them.
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    /// Position in [`Split::ALL`]: 0, 1, 2.
    pub fn index(self) -> usize {
        match self {
            Split::Train => 0,
            Split::Validation => 1,
            Split::Test => 2,
        }
    }

    /// Lower-case name as used in file names: `train`, `validation`, `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The input times of a data set, row-major `[samples, n_inputs]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// One float per input.
    Times(Vec<f64>),
    /// One byte per input (an image's pixels) and the time of each byte value: an eighth of the memory, for
    /// MNIST's tens of thousands of images.
    Coded {
        /// The bytes, row-major.
        codes: Vec<u8>,
        /// `table[v]` is the time of byte value `v`.
        table: Box<[f64; 256]>,
    },
}

impl Inputs {
    /// Number of input times (samples × inputs).
    pub fn len(&self) -> usize {
        match self {
            Inputs::Times(t) => t.len(),
            Inputs::Coded { codes, .. } => codes.len(),
        }
    }

    /// True if there are no inputs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The times of `range` (of the flat row-major index).
    fn slice(&self, range: std::ops::Range<usize>) -> Cow<'_, [f64]> {
        match self {
            Inputs::Times(t) => Cow::Borrowed(&t[range]),
            Inputs::Coded { codes, table } => Cow::Owned(codes[range].iter().map(|&c| table[usize::from(c)]).collect()),
        }
    }

    /// Appends the times of `range` to `out`.
    fn extend(&self, range: std::ops::Range<usize>, out: &mut Vec<f64>) {
        match self {
            Inputs::Times(t) => out.extend_from_slice(&t[range]),
            Inputs::Coded { codes, table } => out.extend(codes[range].iter().map(|&c| table[usize::from(c)])),
        }
    }

    /// All times, row-major.
    pub fn times(&self) -> Cow<'_, [f64]> {
        self.slice(0..self.len())
    }
}

/// A data set: `len()` samples of `n_inputs` input spike times each, with one label per sample.
///
/// Invariants (checked by [`Dataset::new`], kept by every builder here): `inputs.len() == len() * n_inputs`
/// and every label is `< n_classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Data set name as in the config, e.g. `yin_yang`.
    pub name: String,
    /// Inputs per sample.
    pub n_inputs: usize,
    /// Number of classes; labels lie in `0..n_classes`.
    pub n_classes: usize,
    /// Input times, row-major `[len, n_inputs]`.
    pub inputs: Inputs,
    /// One class label per sample.
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Assembles a data set from parts, checking that they fit together.
    ///
    /// # Errors
    /// [`DataError::Inconsistent`] if `inputs.len() != labels.len() * n_inputs` or a label is `>= n_classes`.
    pub fn new(
        name: impl Into<String>,
        n_inputs: usize,
        n_classes: usize,
        inputs: Vec<f64>,
        labels: Vec<usize>,
    ) -> Result<Self, DataError> {
        Dataset::checked(name.into(), n_inputs, n_classes, Inputs::Times(inputs), labels)
    }

    /// A data set of byte-coded inputs: `table[v]` is the time of byte value `v` (see [`Inputs::Coded`]).
    ///
    /// # Errors
    /// As [`Dataset::new`].
    pub fn coded(
        name: impl Into<String>,
        n_inputs: usize,
        n_classes: usize,
        codes: Vec<u8>,
        table: [f64; 256],
        labels: Vec<usize>,
    ) -> Result<Self, DataError> {
        Dataset::checked(name.into(), n_inputs, n_classes, Inputs::Coded { codes, table: Box::new(table) }, labels)
    }

    fn checked(
        name: String,
        n_inputs: usize,
        n_classes: usize,
        inputs: Inputs,
        labels: Vec<usize>,
    ) -> Result<Self, DataError> {
        let inconsistent = |reason: String| DataError::Inconsistent { name: name.clone(), reason };
        if labels.len().checked_mul(n_inputs) != Some(inputs.len()) {
            return Err(inconsistent(format!(
                "{} inputs for {} samples of {n_inputs} inputs",
                inputs.len(),
                labels.len()
            )));
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= n_classes) {
            return Err(inconsistent(format!("sample {i} has label {l}, but there are {n_classes} classes")));
        }
        Ok(Dataset { name, n_inputs, n_classes, inputs, labels })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if the data set has no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The input times of sample `i`.
    ///
    /// # Panics
    /// If `i >= len()`, like slice indexing. Use [`Dataset::get`] for a checked access.
    pub fn sample(&self, i: usize) -> Cow<'_, [f64]> {
        self.inputs.slice(i * self.n_inputs..(i + 1) * self.n_inputs)
    }

    /// Appends the input times of sample `i` to `out` (for building a batch without a copy per sample).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn extend_with_sample(&self, i: usize, out: &mut Vec<f64>) {
        self.inputs.extend(i * self.n_inputs..(i + 1) * self.n_inputs, out);
    }

    /// Sample `i` and its label, or `None` if `i` is out of range.
    pub fn get(&self, i: usize) -> Option<(Cow<'_, [f64]>, usize)> {
        let label = *self.labels.get(i)?;
        let start = i.checked_mul(self.n_inputs)?;
        let end = start.checked_add(self.n_inputs)?;
        (end <= self.inputs.len()).then(|| (self.inputs.slice(start..end), label))
    }

    /// Iterates over `(inputs, label)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (Cow<'_, [f64]>, usize)> + '_ {
        (0..self.len()).map_while(|i| self.get(i))
    }

    /// Number of samples per class, indexed by label (length `n_classes`, longer only if a label is out of range).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in &self.labels {
            if l >= counts.len() {
                counts.resize(l + 1, 0);
            }
            counts[l] += 1;
        }
        counts
    }
}

/// A data set and its parameters, as described by `dataset_params` in the config.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSpec {
    /// The yin-yang benchmark. Its splits are fixed (seeds 42/41/40, sizes 5000/1000/1000), whatever the seed.
    YinYang {
        /// Radius of the two dots (`r_small`, 0.1 by default).
        r_small: f64,
        /// Radius of the big circle (`r_big`, 0.5 by default).
        r_big: f64,
        /// Time of the value 0 (0.15 by default).
        early: f64,
        /// Time of the value 1 (2.0 by default).
        late: f64,
        /// How often the 4 inputs are tiled (1 in simulation, 5 on hardware).
        multiply_input_layer: usize,
    },
    /// The four xor samples with two bias inputs; all splits are identical.
    Xor,
    /// The 3x3 bars data set; see [`bars`].
    Bars {
        /// How often each input is repeated consecutively.
        multiply_input_layer: usize,
        /// Scale of the uniform noise added to every input (0 in the reference).
        noise_level: f64,
    },
    /// One class per entry of `classes`, label = index; see [`pattern`].
    Pattern {
        /// The classes in label order.
        classes: Vec<PatternClass>,
        /// Inputs per sample (`network_layout.n_inputs`); every pattern must have this length.
        n_inputs: usize,
    },
    /// MNIST (784 inputs) or 16x16 MNIST (256 inputs) from the IDX files in `dir`; see [`mnist`].
    Mnist {
        /// Which of the two.
        variant: mnist::Variant,
        /// The folder of the four files, resolved when the config was read (see [`mnist::data_dir`]).
        dir: PathBuf,
    },
    /// `num_samples` samples of one input drawn from N(input_mean, input_std_dev²), label 0.
    SingleInSingleOut {
        /// Mean of the input time.
        input_mean: f64,
        /// Standard deviation of the input time.
        input_std_dev: f64,
        /// Number of samples per split.
        num_samples: usize,
    },
}

impl DatasetSpec {
    /// The yin-yang data set with the reference defaults (r 0.1, R 0.5, times 0.15..2.0, no tiling).
    pub fn yin_yang_default() -> Self {
        DatasetSpec::YinYang {
            r_small: yin_yang::DEFAULT_R_SMALL,
            r_big: yin_yang::DEFAULT_R_BIG,
            early: yin_yang::DEFAULT_EARLY,
            late: yin_yang::DEFAULT_LATE,
            multiply_input_layer: 1,
        }
    }

    /// The data set's name as in the config (`dataset_params.name`).
    pub fn name(&self) -> &'static str {
        match self {
            DatasetSpec::YinYang { .. } => yin_yang::NAME,
            DatasetSpec::Xor => xor::NAME,
            DatasetSpec::Bars { .. } => bars::NAME,
            DatasetSpec::Pattern { .. } => pattern::NAME,
            DatasetSpec::SingleInSingleOut { .. } => single::NAME,
            DatasetSpec::Mnist { variant, .. } => variant.name(),
        }
    }

    /// Builds one split.
    ///
    /// `seed` drives the random data sets (bars noise, pattern, single-in-single-out); the same spec, split and
    /// seed always give the same data. Yin-yang ignores it (its seeds are fixed per split) and xor is fixed.
    ///
    /// # Errors
    /// A [`DataError`] naming the data set and the parameter when a parameter is out of range (for pattern, the
    /// class index too), when bars gets a seed above 2^32 − 1, or when the data would not fit in memory.
    pub fn build(&self, split: Split, seed: u64) -> Result<Dataset, DataError> {
        match self {
            DatasetSpec::YinYang { r_small, r_big, early, late, multiply_input_layer } => {
                yin_yang::build(*r_small, *r_big, *early, *late, *multiply_input_layer, split)
            }
            DatasetSpec::Xor => Ok(xor::build()),
            DatasetSpec::Bars { multiply_input_layer, noise_level } => {
                bars::build(*multiply_input_layer, *noise_level, split, seed)
            }
            DatasetSpec::Pattern { classes, n_inputs } => {
                pattern::build(classes, *n_inputs, &mut split_stream(seed, split))
            }
            DatasetSpec::SingleInSingleOut { input_mean, input_std_dev, num_samples } => {
                single::build(*input_mean, *input_std_dev, *num_samples, &mut split_stream(seed, split))
            }
            DatasetSpec::Mnist { variant, dir } => Ok(mnist::build(*variant, dir, split)?),
        }
    }
}

/// The generator for one split of a seeded data set: `RandomState([seed & 0xffffffff, seed >> 32, split.index()])` in numpy
/// terms. Different splits (and different seeds) get unrelated streams, so the three splits are independent draws.
pub fn split_stream(seed: u64, split: Split) -> Mt19937 {
    Mt19937::from_key_array([seed as u32, (seed >> 32) as u32, split.index() as u32])
}

/// Checks that a float parameter is finite.
fn finite(dataset: &'static str, name: &'static str, value: f64) -> Result<f64, DataError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DataError::InvalidParameter { dataset, name, value: value.to_string(), reason: "must be finite" })
    }
}

/// Checks that a count parameter is at least 1.
fn at_least_one(dataset: &'static str, name: &'static str, value: usize) -> Result<usize, DataError> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(DataError::InvalidParameter { dataset, name, value: value.to_string(), reason: "must be at least 1" })
    }
}

/// Allocates the input matrix of `samples × n_inputs`, failing cleanly instead of aborting on absurd sizes.
fn alloc_inputs(dataset: &'static str, samples: usize, n_inputs: usize) -> Result<Vec<f64>, DataError> {
    let too_large = || DataError::TooLarge { dataset, samples, n_inputs };
    let n = samples.checked_mul(n_inputs).ok_or_else(too_large)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| too_large())?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_accessors() {
        let d = Dataset::new("t", 2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![2, 0, 2]).expect("valid");
        assert_eq!(d.len(), 3);
        assert!(!d.is_empty());
        assert_eq!(*d.sample(1), [3.0, 4.0]);
        assert_eq!(d.get(2), Some((Cow::Borrowed(&[5.0, 6.0][..]), 2)));
        assert_eq!(d.get(3), None);
        assert_eq!(d.class_counts(), vec![1, 0, 2]);
        let labels: Vec<usize> = d.iter().map(|(_, l)| l).collect();
        assert_eq!(labels, vec![2, 0, 2]);
    }

    #[test]
    fn dataset_new_rejects_inconsistent_parts() {
        let err = Dataset::new("t", 2, 3, vec![1.0; 5], vec![0, 1, 2]).expect_err("length");
        assert_eq!(err.to_string(), "t: inconsistent data set: 5 inputs for 3 samples of 2 inputs");
        let err = Dataset::new("t", 1, 2, vec![1.0; 3], vec![0, 2, 1]).expect_err("label");
        assert!(err.to_string().contains("sample 1 has label 2"), "{err}");
    }

    #[test]
    fn class_counts_tolerate_out_of_range_labels() {
        // The fields are public, so a caller may break the invariant; counting must not panic.
        let d =
            Dataset { name: "t".into(), n_inputs: 0, n_classes: 1, inputs: Inputs::Times(vec![]), labels: vec![0, 3] };
        assert_eq!(d.class_counts(), vec![1, 0, 0, 1]);
    }

    #[test]
    fn split_names_and_indices() {
        assert_eq!(Split::ALL.map(Split::index), [0, 1, 2]);
        assert_eq!(Split::ALL.map(|s| s.to_string()), ["train", "validation", "test"]);
    }

    #[test]
    fn split_streams_differ_between_splits_and_seeds() {
        let first = |seed, split| split_stream(seed, split).next_u32();
        assert_ne!(first(1, Split::Train), first(1, Split::Validation));
        assert_ne!(first(1, Split::Validation), first(1, Split::Test));
        assert_ne!(first(1, Split::Train), first(2, Split::Train));
        assert_ne!(first(1, Split::Train), first(1 << 32 | 1, Split::Train));
        assert_eq!(first(7, Split::Test), first(7, Split::Test));
    }

    #[test]
    fn spec_names() {
        assert_eq!(DatasetSpec::yin_yang_default().name(), "yin_yang");
        assert_eq!(DatasetSpec::Xor.name(), "xor");
        assert_eq!(DatasetSpec::Bars { multiply_input_layer: 1, noise_level: 0.0 }.name(), "bars");
        assert_eq!(DatasetSpec::Pattern { classes: vec![], n_inputs: 1 }.name(), "pattern");
        let s = DatasetSpec::SingleInSingleOut { input_mean: 1.0, input_std_dev: 0.001, num_samples: 1 };
        assert_eq!(s.name(), "single_in_single_out");
    }

    #[test]
    fn every_spec_builds_consistent_datasets() {
        let specs = vec![
            DatasetSpec::yin_yang_default(),
            DatasetSpec::Xor,
            DatasetSpec::Bars { multiply_input_layer: 2, noise_level: 0.01 },
            DatasetSpec::Pattern {
                classes: vec![
                    PatternClass::UniformNoise { low_bound: 0.0, high_bound: 1.0, n_samples: 3 },
                    PatternClass::Pattern { pattern: vec![0.5, 1.0], std_dev: 0.1, n_samples: 2 },
                ],
                n_inputs: 2,
            },
            DatasetSpec::SingleInSingleOut { input_mean: 1.0, input_std_dev: 0.001, num_samples: 4 },
        ];
        for spec in specs {
            for split in Split::ALL {
                let d = spec.build(split, 12345).expect("builds");
                let times = d.inputs.times().into_owned();
                let again = Dataset::new(d.name.clone(), d.n_inputs, d.n_classes, times.clone(), d.labels.clone())
                    .expect("consistent");
                assert_eq!(again, d);
                assert_eq!(d.name, spec.name());
                assert!(times.iter().all(|t| t.is_finite()), "{}", d.name);
                // Same inputs, same data.
                assert_eq!(spec.build(split, 12345).expect("builds"), d);
            }
        }
    }
}
