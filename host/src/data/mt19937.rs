//! The Mersenne Twister MT19937 with the semantics of numpy's legacy `RandomState`.
//!
//! The reference draws its data sets from `numpy.random.RandomState`; reproducing its streams bit for bit is
//! what makes our yin-yang splits identical to the published ones. Only what the data sets need is here:
//! seeding (`init_genrand` and `init_by_array`), raw 32-bit outputs, `random_sample`, small-range `randint`,
//! `uniform`, and `standard_normal`/`normal` with the legacy polar Box-Muller generator and its cached value.

use std::fmt;
use std::num::NonZeroU32;

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// MT19937 generator state, equivalent to numpy's legacy `RandomState`.
#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    /// Next word of `state` to temper; `N` means the state must be regenerated first.
    index: usize,
    /// The second value of the last polar Box-Muller pair, returned by the next `standard_normal` call.
    cached_gauss: Option<f64>,
}

impl fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The 624-word state is noise in logs; position and the cached normal identify the situation well enough.
        f.debug_struct("Mt19937").field("index", &self.index).field("cached_gauss", &self.cached_gauss).finish()
    }
}

impl Mt19937 {
    /// Seeds like `numpy.random.RandomState(seed)` with an integer seed (`init_genrand`).
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: N, cached_gauss: None }
    }

    /// Seeds like `numpy.random.RandomState(key)` with a 1-d array of integers (`init_by_array`).
    ///
    /// Returns `None` for an empty key, which numpy rejects too.
    pub fn from_key(key: &[u32]) -> Option<Self> {
        if key.is_empty() { None } else { Some(Self::init_by_array(key)) }
    }

    /// [`Mt19937::from_key`] for a key of fixed, non-zero length (checked at compile time), so it cannot fail.
    pub fn from_key_array<const K: usize>(key: [u32; K]) -> Self {
        const { assert!(K > 0, "the key must not be empty") };
        Self::init_by_array(&key)
    }

    /// The reference `init_by_array`; `key` must not be empty.
    fn init_by_array(key: &[u32]) -> Self {
        let mut g = Mt19937::new(19_650_218);
        let mt = &mut g.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        // The most significant bit set guarantees a non-zero state.
        mt[0] = 0x8000_0000;
        g
    }

    /// Regenerates all N words (in place, exactly as the reference implementation does).
    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % N] & LOWER_MASK);
            let mut v = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= MATRIX_A;
            }
            self.state[i] = v;
        }
        self.index = 0;
    }

    /// The next raw 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// A uniform double in [0, 1) with 53 random bits, like `RandomState.random_sample()` / `rand()`.
    ///
    /// Consumes two raw outputs a, b: `((a >> 5) * 67108864 + (b >> 6)) / 2^53`.
    pub fn random_sample(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }

    /// A uniform integer in `0..n`, like legacy `RandomState.randint(n)` for n ≤ 2^32.
    ///
    /// numpy's masked rejection: draw one raw output, keep the bits under the smallest all-ones mask ≥ n − 1,
    /// and redraw while the result exceeds n − 1. For n = 1 numpy draws nothing and returns 0; so do we.
    pub fn randint(&mut self, n: NonZeroU32) -> u32 {
        let max = n.get() - 1;
        if max == 0 {
            return 0;
        }
        let mask = u32::MAX >> max.leading_zeros();
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `low + (high − low) · random_sample()`, like legacy `RandomState.uniform(low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let range = high - low;
        low + range * self.random_sample()
    }

    /// A standard normal value, like legacy `RandomState.standard_normal()` (`legacy_gauss`).
    ///
    /// The polar Box-Muller method yields two values per accepted pair; the second is cached and returned by the
    /// next call, exactly as numpy does, so interleaving with other draws reproduces numpy's stream.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.cached_gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `loc + scale · standard_normal()`, like legacy `RandomState.normal(loc, scale)`.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.standard_normal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_42_first_raw_outputs() {
        let mut g = Mt19937::new(42);
        let out: Vec<u32> = (0..4).map(|_| g.next_u32()).collect();
        assert_eq!(out, [1_608_637_542, 3_421_126_067, 4_083_286_876, 787_846_414]);
    }

    #[test]
    fn reference_init_by_array_outputs() {
        // From mt19937ar.out, the authors' reference output for init_by_array({0x123, 0x234, 0x345, 0x456}).
        let mut g = Mt19937::from_key(&[0x123, 0x234, 0x345, 0x456]).expect("non-empty key");
        let first: Vec<u32> = (0..5).map(|_| g.next_u32()).collect();
        assert_eq!(first, [1_067_595_299, 955_945_823, 477_289_528, 4_107_218_783, 4_228_976_476]);
        let more: Vec<u32> = (0..5).map(|_| g.next_u32()).collect();
        assert_eq!(more, [3_344_332_714, 3_355_579_695, 227_628_506, 810_200_273, 2_591_290_167]);
        assert!(Mt19937::from_key(&[]).is_none());
        let mut h = Mt19937::from_key_array([0x123, 0x234, 0x345, 0x456]);
        assert_eq!(h.next_u32(), 1_067_595_299);
    }

    #[test]
    fn ten_thousandth_output_of_default_seed() {
        // C++ requires this of std::mt19937 (seed 5489): it checks the state regeneration many times over.
        let mut g = Mt19937::new(5489);
        for _ in 0..9999 {
            g.next_u32();
        }
        assert_eq!(g.next_u32(), 4_123_659_995);
    }

    #[test]
    fn random_sample_matches_numpy() {
        // numpy: RandomState(42).rand(3)
        let mut g = Mt19937::new(42);
        let v: Vec<f64> = (0..3).map(|_| g.random_sample()).collect();
        assert_eq!(v, [0.3745401188473625, 0.9507143064099162, 0.7319939418114051]);
    }

    #[test]
    fn random_sample_formula_uses_two_outputs() {
        let mut a = Mt19937::new(7);
        let mut b = Mt19937::new(7);
        let (x, y) = (u64::from(b.next_u32() >> 5), u64::from(b.next_u32() >> 6));
        let expected = ((x << 26) + y) as f64 / (1u64 << 53) as f64;
        assert_eq!(a.random_sample().to_bits(), expected.to_bits());
        assert_eq!(a.next_u32(), b.next_u32());
    }

    #[test]
    fn randint_masks_and_rejects_like_numpy() {
        // Raw outputs of seed 42 mod 4 are 2, 3, 0, 2: the 3 is rejected for n = 3.
        let mut g = Mt19937::new(42);
        let three = NonZeroU32::new(3).expect("nonzero");
        let v: Vec<u32> = (0..3).map(|_| g.randint(three)).collect();
        assert_eq!(v, [2, 0, 2]);
        // Cross-check against the masking rule on the raw stream for another n.
        let five = NonZeroU32::new(5).expect("nonzero");
        let mut raw = Mt19937::new(3);
        let mut g = Mt19937::new(3);
        for _ in 0..200 {
            let expected = loop {
                let r = raw.next_u32() & 7;
                if r < 5 {
                    break r;
                }
            };
            assert_eq!(g.randint(five), expected);
        }
        // n = 1 draws nothing.
        let mut g = Mt19937::new(42);
        assert_eq!(g.randint(NonZeroU32::MIN), 0);
        assert_eq!(g.next_u32(), 1_608_637_542);
    }

    #[test]
    fn standard_normal_matches_numpy_including_cached_value() {
        // numpy: RandomState(42).randn(4)
        let mut g = Mt19937::new(42);
        let v: Vec<f64> = (0..4).map(|_| g.standard_normal()).collect();
        assert_eq!(v, [0.4967141530112327, -0.13826430117118466, 0.6476885381006925, 1.5230298564080254]);
    }

    #[test]
    fn normal_and_uniform_are_affine_in_the_base_draws() {
        let mut a = Mt19937::new(11);
        let mut b = Mt19937::new(11);
        assert_eq!(a.normal(1.0, 0.5), 1.0 + 0.5 * b.standard_normal());
        assert_eq!(a.normal(1.0, 0.5), 1.0 + 0.5 * b.standard_normal());
        assert_eq!(a.uniform(-2.0, 3.0), -2.0 + 5.0 * b.random_sample());
    }
}
