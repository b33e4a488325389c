//! The yin-yang data set (Kriener et al.), bit-exact with the reference generator (spec §12).
//!
//! Every floating-point operation is written in the order the Python code evaluates it, because the goal is
//! bit-for-bit equality with the published splits, not just the same distribution.

use std::num::NonZeroU32;

use super::{DataError, Dataset, Inputs, Mt19937, Split, alloc_inputs, at_least_one, finite};

/// Name in the config.
pub const NAME: &str = "yin_yang";
/// Default radius of the dots.
pub const DEFAULT_R_SMALL: f64 = 0.1;
/// Default radius of the big circle.
pub const DEFAULT_R_BIG: f64 = 0.5;
/// Default time of the value 0.
pub const DEFAULT_EARLY: f64 = 0.15;
/// Default time of the value 1.
pub const DEFAULT_LATE: f64 = 2.0;
/// Raw values per sample: x, y, 1 − x, 1 − y.
pub const N_RAW_INPUTS: usize = 4;
/// Classes: yin, yang, dot.
pub const CLASS_NAMES: [&str; 3] = ["yin", "yang", "dot"];

/// Rejection-sampling attempts per sample before giving up. With the default geometry a draw is accepted with
/// probability ≥ 5 %; the cap only turns a degenerate geometry into an error instead of an endless loop.
const MAX_ATTEMPTS: u64 = 10_000_000;

const THREE: NonZeroU32 = NonZeroU32::new(3).expect("3 is not zero");

/// The fixed `(seed, size)` of each split, as set in the reference's `src/experiment.py`.
pub fn split_seed_and_size(split: Split) -> (u32, usize) {
    match split {
        Split::Train => (42, 5000),
        Split::Validation => (41, 1000),
        Split::Test => (40, 1000),
    }
}

/// The class of point (x, y): 0 = yin, 1 = yang, 2 = dot.
///
/// `dR`, `dL` are the distances to the right and left dot centres (1.5R, R) and (0.5R, R). Dots (`dR < r` or
/// `dL < r`) are class 2; otherwise the point is yang if `dR ≤ r`, or `r < dL ≤ 0.5R`, or (`y > R` and
/// `dR > 0.5R`), else yin.
pub fn which_class(x: f64, y: f64, r_small: f64, r_big: f64) -> u32 {
    let d_right = dist(x - 1.5 * r_big, y - r_big);
    let d_left = dist(x - 0.5 * r_big, y - r_big);
    let criterion1 = d_right <= r_small;
    let criterion2 = d_left > r_small && d_left <= 0.5 * r_big;
    let criterion3 = y > r_big && d_right > 0.5 * r_big;
    if d_right < r_small || d_left < r_small {
        return 2;
    }
    u32::from(criterion1 || criterion2 || criterion3)
}

/// `sqrt(dx**2 + dy**2)` as numpy computes it for float64 scalars (each square rounded, then the sum).
fn dist(dx: f64, dy: f64) -> f64 {
    (dx * dx + dy * dy).sqrt()
}

/// Generates `size` raw samples `[x, y, 1 − x, 1 − y]` and their classes with `RandomState(seed)`.
///
/// For each sample: `goal = randint(3)`, then draw `x, y = rand(2) * 2 * R` (x first, each as `(u * 2.0) * R`)
/// until the point lies inside the big circle and has class `goal`. Balanced classes come from the goal draw.
///
/// # Errors
/// [`DataError::InvalidParameter`] unless `0 < r_small < r_big / 2` (both finite), [`DataError::TooLarge`] if
/// `size` samples do not fit in memory, [`DataError::RejectionStalled`] if a class cannot be found.
pub fn generate(r_small: f64, r_big: f64, size: usize, seed: u32) -> Result<(Vec<[f64; 4]>, Vec<usize>), DataError> {
    check_geometry(r_small, r_big)?;
    let mut rng = Mt19937::new(seed);
    let mut samples = Vec::new();
    samples.try_reserve_exact(size).map_err(|_| DataError::TooLarge {
        dataset: NAME,
        samples: size,
        n_inputs: N_RAW_INPUTS,
    })?;
    let mut labels = Vec::with_capacity(size);
    for _ in 0..size {
        let goal = rng.randint(THREE);
        let (x, y) = sample_point(&mut rng, goal, r_small, r_big)?;
        samples.push([x, y, 1.0 - x, 1.0 - y]);
        labels.push(goal as usize);
    }
    Ok((samples, labels))
}

/// Rejection sampling of one point of class `goal`.
fn sample_point(rng: &mut Mt19937, goal: u32, r_small: f64, r_big: f64) -> Result<(f64, f64), DataError> {
    for _ in 0..MAX_ATTEMPTS {
        // numpy evaluates `rand(2) * 2. * r_big` left to right: (u * 2.0) * R.
        let x = (rng.random_sample() * 2.0) * r_big;
        let y = (rng.random_sample() * 2.0) * r_big;
        if dist(x - r_big, y - r_big) > r_big {
            continue;
        }
        if which_class(x, y, r_small, r_big) == goal {
            return Ok((x, y));
        }
    }
    Err(DataError::RejectionStalled { goal, attempts: MAX_ATTEMPTS })
}

/// Radii must be positive and the dots must fit in their half of the circle, so that every class has area.
fn check_geometry(r_small: f64, r_big: f64) -> Result<(), DataError> {
    let invalid = |name, value: f64, reason| DataError::InvalidParameter {
        dataset: NAME,
        name,
        value: value.to_string(),
        reason,
    };
    if finite(NAME, "r_big", r_big)? <= 0.0 {
        return Err(invalid("r_big", r_big, "must be > 0"));
    }
    if finite(NAME, "r_small", r_small)? <= 0.0 {
        return Err(invalid("r_small", r_small, "must be > 0"));
    }
    if r_small >= 0.5 * r_big {
        return Err(invalid("r_small", r_small, "must be < r_big / 2 so the dots fit inside the circle"));
    }
    Ok(())
}

/// Maps values in [0, 1] to spike times: `early + v · (late − early)`, with `late − early` computed first as in
/// the reference wrapper.
pub fn encode_times(values: &[f64], early: f64, late: f64) -> Vec<f64> {
    let span = late - early;
    values.iter().map(|&v| early + v * span).collect()
}

/// Tiles a row `times` times: `(x, y, 1−x, 1−y, x, y, …)`, like torch's `repeat` on a 1-d tensor.
pub fn multiply_input_layer(row: &[f64], times: usize) -> Vec<f64> {
    row.repeat(times)
}

/// Builds one split as the reference wrapper does: generate, tile, then encode as times.
pub(super) fn build(
    r_small: f64,
    r_big: f64,
    early: f64,
    late: f64,
    multiply: usize,
    split: Split,
) -> Result<Dataset, DataError> {
    let early = finite(NAME, "early", early)?;
    let late = finite(NAME, "late", late)?;
    let multiply = at_least_one(NAME, "multiply_input_layer", multiply)?;
    let n_inputs = N_RAW_INPUTS.checked_mul(multiply).ok_or(DataError::TooLarge {
        dataset: NAME,
        samples: 0,
        n_inputs: usize::MAX,
    })?;
    let (seed, size) = split_seed_and_size(split);
    let (raw, labels) = generate(r_small, r_big, size, seed)?;
    let mut inputs = alloc_inputs(NAME, size, n_inputs)?;
    for row in &raw {
        inputs.extend(encode_times(&multiply_input_layer(row, multiply), early, late));
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
    use std::path::Path;

    use super::*;
    use crate::data::DatasetSpec;
    use crate::io::{read_npy_f64, read_npy_i64};

    fn first_three(seed: u32) -> Vec<(f64, f64, usize)> {
        let (raw, labels) = generate(DEFAULT_R_SMALL, DEFAULT_R_BIG, 3, seed).expect("generate");
        raw.iter().zip(labels).map(|(r, l)| (r[0], r[1], l)).collect()
    }

    #[test]
    fn spec_section_18_vectors() {
        assert_eq!(
            first_three(42),
            [
                (0.6803075385877797, 0.450499251969543, 2),
                (0.09767211400638387, 0.6842330265121569, 1),
                (0.7553614103176525, 0.4251558744912447, 2)
            ]
        );
        assert_eq!(
            first_three(41),
            [
                (0.6805727261759029, 0.3209733938933629, 0),
                (0.6685157172603458, 0.9174478488708967, 1),
                (0.8019778902252007, 0.17902872922296542, 0)
            ]
        );
        assert_eq!(
            first_three(40),
            [
                (0.23409664559563403, 0.4017249751828972, 2),
                (0.7513290219574494, 0.4682425192680968, 2),
                (0.13832530718825586, 0.570953971325061, 1)
            ]
        );
    }

    /// The published splits of lkriener/yin_yang_data_set, compared bit for bit.
    #[test]
    fn published_splits_bit_exact() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/yinyang");
        for (split, file) in [(Split::Train, "train"), (Split::Validation, "validation"), (Split::Test, "test")] {
            let (seed, size) = split_seed_and_size(split);
            let (shape, expected) = read_npy_f64(&dir.join(format!("{file}_samples.npy"))).expect("samples");
            assert_eq!(shape, vec![size, 4], "{file}");
            let (shape, expected_labels) = read_npy_i64(&dir.join(format!("{file}_labels.npy"))).expect("labels");
            assert_eq!(shape, vec![size], "{file}");

            let (raw, labels) = generate(DEFAULT_R_SMALL, DEFAULT_R_BIG, size, seed).expect("generate");
            for (i, (row, want)) in raw.iter().zip(expected.chunks_exact(4)).enumerate() {
                let got: Vec<u64> = row.iter().map(|v| v.to_bits()).collect();
                let want: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "{file} sample {i}");
            }
            let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
            assert_eq!(labels, expected_labels, "{file} labels");
        }
    }

    #[test]
    fn class_counts_of_the_splits() {
        let spec = DatasetSpec::yin_yang_default();
        let counts: Vec<Vec<usize>> =
            Split::ALL.iter().map(|&s| spec.build(s, 0).expect("build").class_counts()).collect();
        assert_eq!(counts, vec![vec![1681, 1702, 1617], vec![316, 336, 348], vec![350, 316, 334]]);
    }

    #[test]
    fn build_encodes_and_tiles_like_the_wrapper() {
        let spec = DatasetSpec::YinYang { r_small: 0.1, r_big: 0.5, early: 0.15, late: 2.0, multiply_input_layer: 5 };
        let d = spec.build(Split::Train, 999).expect("build");
        assert_eq!((d.n_inputs, d.n_classes, d.len()), (20, 3, 5000));
        let (raw, _) = generate(0.1, 0.5, 1, 42).expect("generate");
        let expected: Vec<f64> = (0..20).map(|i| 0.15 + raw[0][i % 4] * (2.0 - 0.15)).collect();
        assert_eq!(*d.sample(0), expected[..]);
        assert_eq!(d.sample(0)[0], 0.15 + 0.6803075385877797 * 1.85);
        // The seed is ignored: the splits are fixed.
        assert_eq!(spec.build(Split::Train, 1).expect("build"), d);
    }

    #[test]
    fn encode_computes_span_first() {
        // early + v * (late - early), not early + v * late - v * early.
        let (early, late, v) = (0.15, 2.0, 0.3);
        assert_eq!(encode_times(&[v, 0.0, 1.0], early, late), vec![early + v * (late - early), 0.15, 2.0]);
        assert_eq!(multiply_input_layer(&[1.0, 2.0], 3), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn which_class_regions() {
        let (r, big) = (0.1, 0.5);
        assert_eq!(which_class(0.75, 0.5, r, big), 2); // right dot centre
        assert_eq!(which_class(0.25, 0.5, r, big), 2); // left dot centre
        assert_eq!(which_class(0.25, 0.9, r, big), 1); // top left: yang
        assert_eq!(which_class(0.75, 0.1, r, big), 0); // bottom right: yin
        assert_eq!(which_class(0.25, 0.5 + 0.2, r, big), 1); // ring around the left dot
        assert_eq!(which_class(0.75, 0.5 + 0.2, r, big), 0); // ring around the right dot
    }

    #[test]
    fn bad_geometry_is_rejected() {
        let err = generate(0.1, -0.5, 10, 1).expect_err("negative R");
        assert_eq!(err.to_string(), "yin_yang: r_big = -0.5 is invalid: must be > 0");
        assert!(generate(f64::NAN, 0.5, 10, 1).is_err());
        assert!(generate(0.0, 0.5, 10, 1).is_err());
        let err = generate(0.3, 0.5, 10, 1).expect_err("dots too big");
        assert!(err.to_string().contains("r_small = 0.3"), "{err}");
        let spec = DatasetSpec::YinYang {
            r_small: 0.1,
            r_big: 0.5,
            early: 0.15,
            late: f64::INFINITY,
            multiply_input_layer: 1,
        };
        assert_eq!(
            spec.build(Split::Test, 0).expect_err("inf").to_string(),
            "yin_yang: late = inf is invalid: must be finite"
        );
        let spec = DatasetSpec::YinYang { r_small: 0.1, r_big: 0.5, early: 0.15, late: 2.0, multiply_input_layer: 0 };
        assert!(spec.build(Split::Test, 0).is_err());
    }

    #[test]
    fn degenerate_geometry_errors_instead_of_hanging() {
        // Dots of radius 1e-12 have area ~1e-24: class 2 is never found.
        let err = generate(1e-12, 0.5, 50, 42).expect_err("stalls");
        assert!(matches!(err, DataError::RejectionStalled { goal: 2, .. }), "{err:?}");
    }
}
