//! Seeded random streams. Every random draw of a run comes from a stream derived from the run's seed, a
//! purpose and an index (e.g. the epoch), so results do not depend on thread count, and a resumed run draws
//! exactly what an uninterrupted one would without saving generator states.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The generator used everywhere.
pub type Rng = ChaCha8Rng;

/// What a stream is for; each purpose gets independent streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Initial weights, delays and fixed-pattern threshold offsets.
    Init = 1,
    /// The order of training samples in an epoch.
    Shuffle = 2,
    /// Noise on training inputs.
    TrainingNoise = 3,
    /// Threshold noise and jitter in the forward passes of training.
    TrainingForward = 4,
    /// Threshold noise and jitter in validation.
    Validation = 5,
    /// Threshold noise and jitter in the final test and snapshot passes.
    Test = 6,
    /// Threshold noise and jitter in `bss2 inference`.
    Inference = 7,
}

/// The stream for (seed, purpose, index).
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 48) ^ index);
    rng
}

/// One draw of N(mean, std^2).
pub fn normal(rng: &mut Rng, mean: f64, std: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    mean + std * z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, purpose, index| {
            let mut rng = stream(seed, purpose, index);
            (0..4).map(|_| normal(&mut rng, 0.0, 1.0)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, Purpose::Shuffle, 3), draw(1, Purpose::Shuffle, 3));
        assert_ne!(draw(1, Purpose::Shuffle, 3), draw(1, Purpose::Shuffle, 4));
        assert_ne!(draw(1, Purpose::Shuffle, 3), draw(1, Purpose::Init, 3));
        assert_ne!(draw(1, Purpose::Shuffle, 3), draw(2, Purpose::Shuffle, 3));
    }
}
