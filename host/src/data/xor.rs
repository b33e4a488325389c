//! The xor data set: four samples `(a, b, 0, 1)` encoded as times, label `a xor b` (spec §12).
//!
//! The last two inputs are bias spikes at `early` and `late`. The reference computes in float32 (an integer
//! tensor times a Python float); we compute in float64, which is what the model consumes.

use super::{Dataset, Inputs};

/// Name in the config.
pub const NAME: &str = "xor";
/// Time of the value 0.
pub const EARLY: f64 = 0.15;
/// Time of the value 1.
pub const LATE: f64 = 2.0;

/// The four samples; all splits are identical.
pub fn build() -> Dataset {
    let span = LATE - EARLY;
    let mut inputs = Vec::with_capacity(16);
    let mut labels = Vec::with_capacity(4);
    for (a, b) in [(0u8, 0u8), (0, 1), (1, 0), (1, 1)] {
        for v in [a, b, 0, 1] {
            inputs.push(EARLY + f64::from(v) * span);
        }
        labels.push(usize::from(a ^ b));
    }
    Dataset { name: NAME.to_string(), n_inputs: 4, n_classes: 2, inputs: Inputs::Times(inputs), labels }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DatasetSpec, Split};

    #[test]
    fn four_samples_with_bias_spikes() {
        let d = build();
        assert_eq!(d.labels, vec![0, 1, 1, 0]);
        assert_eq!(*d.sample(0), [0.15, 0.15, 0.15, 2.0]);
        assert_eq!(*d.sample(1), [0.15, 2.0, 0.15, 2.0]);
        assert_eq!(*d.sample(2), [2.0, 0.15, 0.15, 2.0]);
        assert_eq!(*d.sample(3), [2.0, 2.0, 0.15, 2.0]);
        for split in Split::ALL {
            assert_eq!(DatasetSpec::Xor.build(split, 3).expect("build"), d);
        }
    }
}
