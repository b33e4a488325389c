//! The 3x3 bars data set (`BarsDataset(3)` of the reference, spec §12).
//!
//! Bar pixels spike late (0.5), background pixels early (0.05). Class 0 = horizontal bars (in rows 2, 1, 0),
//! class 1 = vertical bars (columns 2, 1, 0), class 2 = diagonals (main, then anti-diagonal). Each class has 10
//! samples cycling through its patterns, stored class by class. Every sample gets `noise_level · U(0,1)` added
//! to each pixel.
//!
//! Noise stream: the reference draws the noise from numpy's global RNG while building train, validation and
//! test in that order. We model that with one `RandomState(seed)` stream: the train split takes the first
//! 30 × 9 uniforms, validation the next, test the ones after. With `noise_level = 0` (the reference setting) the
//! three splits are identical, as in the reference.

use super::{DataError, Dataset, Inputs, Mt19937, Split, alloc_inputs, at_least_one, finite};

/// Name in the config.
pub const NAME: &str = "bars";
/// Side length of the square image.
pub const SIDE: usize = 3;
/// Time of background pixels.
pub const EARLY: f64 = 0.05;
/// Time of bar pixels.
pub const LATE: f64 = 0.5;
/// Samples per class.
pub const SAMPLES_PER_CLASS: usize = 10;
/// Classes: horizontal, vertical, diagonal.
pub const CLASS_NAMES: [&str; 3] = ["horiz", "vert", "diag"];

const PIXELS: usize = SIDE * SIDE;

/// The patterns of each class in the reference's order, row-major 3x3.
///
/// Pixel values are computed as the reference does (`1 + (late − 1)` for bars, `(late − early) + early` on
/// diagonals, `0 + early` for background) so they match it bit for bit.
pub fn patterns() -> [Vec<[f64; PIXELS]>; 3] {
    let bar = 1.0 + (LATE - 1.0);
    let background = 0.0 + EARLY;
    let diag = (LATE - EARLY) + EARLY;
    let image = |on: &dyn Fn(usize, usize) -> bool, value: f64| {
        let mut img = [background; PIXELS];
        for r in 0..SIDE {
            for c in 0..SIDE {
                if on(r, c) {
                    img[r * SIDE + c] = value;
                }
            }
        }
        img
    };
    // np.unique sorts the horizontal permutations lexicographically: the bar in the last row comes first.
    let horizontal = (0..SIDE).rev().map(|row| image(&|r, _| r == row, bar)).collect();
    let vertical = (0..SIDE).rev().map(|col| image(&|_, c| c == col, bar)).collect();
    let diagonal = vec![image(&|r, c| r == c, diag), image(&|r, c| r + c == SIDE - 1, diag)];
    [horizontal, vertical, diagonal]
}

/// Repeats every element `times` times consecutively (`x0, x0, …, x1, x1, …`), like numpy's `repeat` on axis 1.
pub fn multiply_input_layer(row: &[f64], times: usize) -> Vec<f64> {
    row.iter().flat_map(|&v| std::iter::repeat_n(v, times)).collect()
}

/// Builds one split; see the module docs for the noise stream. `seed` must fit numpy's 32-bit seed range.
pub(super) fn build(multiply: usize, noise_level: f64, split: Split, seed: u64) -> Result<Dataset, DataError> {
    let multiply = at_least_one(NAME, "multiply_input_layer", multiply)?;
    if finite(NAME, "noise_level", noise_level)? < 0.0 {
        return Err(DataError::InvalidParameter {
            dataset: NAME,
            name: "noise_level",
            value: noise_level.to_string(),
            reason: "must be >= 0",
        });
    }
    let seed32 = u32::try_from(seed).map_err(|_| DataError::SeedOutOfRange { dataset: NAME, seed })?;
    let n_inputs = PIXELS.checked_mul(multiply).ok_or(DataError::TooLarge {
        dataset: NAME,
        samples: 3 * SAMPLES_PER_CLASS,
        n_inputs: usize::MAX,
    })?;

    let mut rng = Mt19937::new(seed32);
    // Skip the draws of the splits the reference builds earlier.
    for _ in 0..split.index() * 3 * SAMPLES_PER_CLASS * PIXELS {
        rng.random_sample();
    }
    let mut inputs = alloc_inputs(NAME, 3 * SAMPLES_PER_CLASS, n_inputs)?;
    let mut labels = Vec::with_capacity(3 * SAMPLES_PER_CLASS);
    for (class, class_patterns) in patterns().iter().enumerate() {
        for pattern in class_patterns.iter().cycle().take(SAMPLES_PER_CLASS) {
            // `pattern + rand(9) * noise_level`: the product first, then the sum.
            let row: Vec<f64> = pattern.iter().map(|&p| p + rng.random_sample() * noise_level).collect();
            inputs.extend(multiply_input_layer(&row, multiply));
            labels.push(class);
        }
    }
    Ok(Dataset {
        name: NAME.to_string(),
        n_inputs,
        n_classes: CLASS_NAMES.len(),
        inputs: Inputs::Times(inputs),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetSpec;

    const B: f64 = 0.5;
    const E: f64 = 0.05;

    fn spec(multiply: usize, noise_level: f64) -> DatasetSpec {
        DatasetSpec::Bars { multiply_input_layer: multiply, noise_level }
    }

    #[test]
    fn patterns_in_reference_order_and_class_by_class() {
        let d = spec(1, 0.0).build(Split::Train, 0).expect("build");
        assert_eq!((d.len(), d.n_inputs, d.n_classes), (30, 9, 3));
        assert_eq!(d.class_counts(), vec![10, 10, 10]);
        assert!(d.labels.windows(2).all(|w| w[0] <= w[1]), "stored class by class");
        // Horizontal: rows 2, 1, 0, then cycling.
        assert_eq!(*d.sample(0), [E, E, E, E, E, E, B, B, B]);
        assert_eq!(*d.sample(1), [E, E, E, B, B, B, E, E, E]);
        assert_eq!(*d.sample(2), [B, B, B, E, E, E, E, E, E]);
        assert_eq!(d.sample(3), d.sample(0));
        // Vertical: columns 2, 1, 0.
        assert_eq!(*d.sample(10), [E, E, B, E, E, B, E, E, B]);
        assert_eq!(*d.sample(11), [E, B, E, E, B, E, E, B, E]);
        assert_eq!(*d.sample(12), [B, E, E, B, E, E, B, E, E]);
        // Diagonals: main, anti, main, …
        assert_eq!(*d.sample(20), [B, E, E, E, B, E, E, E, B]);
        assert_eq!(*d.sample(21), [E, E, B, E, B, E, B, E, E]);
        assert_eq!(d.sample(29), d.sample(21));
    }

    #[test]
    fn splits_identical_without_noise() {
        let train = spec(1, 0.0).build(Split::Train, 5).expect("build");
        assert_eq!(spec(1, 0.0).build(Split::Validation, 5).expect("build"), train);
        assert_eq!(spec(1, 0.0).build(Split::Test, 5).expect("build"), train);
    }

    #[test]
    fn noise_follows_the_numpy_stream() {
        let noise = 0.01;
        let clean = spec(1, 0.0).build(Split::Train, 0).expect("build");
        let train = spec(1, noise).build(Split::Train, 7).expect("build");
        let val = spec(1, noise).build(Split::Validation, 7).expect("build");
        let mut rng = Mt19937::new(7);
        for d in [&train, &val] {
            for (got, base) in d.inputs.times().iter().zip(clean.inputs.times().iter()) {
                assert_eq!(*got, base + rng.random_sample() * noise);
            }
        }
        assert_ne!(train, val);
        assert_eq!(spec(1, noise).build(Split::Train, 7).expect("build"), train);
    }

    #[test]
    fn multiply_repeats_elements_consecutively() {
        assert_eq!(multiply_input_layer(&[1.0, 2.0], 3), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        let d = spec(2, 0.0).build(Split::Train, 0).expect("build");
        assert_eq!(d.n_inputs, 18);
        assert_eq!(*d.sample(0), [E, E, E, E, E, E, E, E, E, E, E, E, B, B, B, B, B, B]);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert_eq!(
            spec(1, -0.1).build(Split::Train, 0).expect_err("negative").to_string(),
            "bars: noise_level = -0.1 is invalid: must be >= 0"
        );
        assert!(spec(1, f64::NAN).build(Split::Train, 0).is_err());
        assert_eq!(
            spec(0, 0.0).build(Split::Train, 0).expect_err("zero").to_string(),
            "bars: multiply_input_layer = 0 is invalid: must be at least 1"
        );
        assert_eq!(
            spec(1, 0.0).build(Split::Train, 1 << 32).expect_err("seed").to_string(),
            "bars: seed 4294967296 is outside numpy's seed range 0..=4294967295"
        );
    }
}
