//! The principal branch W0 of the Lambert W function, to full double precision.
//!
//! The first-spike time of a neuron with tau_mem = tau_syn is a Lambert-W expression (spec §2). We only need
//! the principal branch, which gives the earlier (upward) threshold crossing.

use std::f64::consts::E;

/// -1/e, the branch point: W0 is real for z >= -1/e.
const BRANCH_POINT: f64 = -1.0 / E;

/// Principal branch W0(z): the solution w >= -1 of w e^w = z.
///
/// Returns NaN where W0 is not real (z < -1/e) and for NaN or -inf input; returns +inf for +inf.
pub fn lambert_w0(z: f64) -> f64 {
    if z.is_nan() || z < BRANCH_POINT {
        // Allow the rounding of -1/e itself: anything within a few ulp of the branch point is -1.
        if z.is_finite() && z > BRANCH_POINT - 4.0 * f64::EPSILON {
            return -1.0;
        }
        return f64::NAN;
    }
    if z == 0.0 {
        return 0.0;
    }
    if z == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut w = initial_guess(z);
    // Halley's iteration converges cubically; from the guesses below two or three steps reach full precision.
    for _ in 0..12 {
        let ew = w.exp();
        let f = w * ew - z;
        let wp1 = w + 1.0;
        if wp1 == 0.0 {
            break;
        }
        let denom = ew * wp1 - (w + 2.0) * f / (2.0 * wp1);
        let step = f / denom;
        if !step.is_finite() {
            break;
        }
        w -= step;
        if step.abs() <= 1e-11 * w.abs().max(1e-300) {
            break;
        }
    }
    w
}

/// A starting point for Halley's iteration: within 3e-7 of W0(z) below z = -1/4 and 2.2e-5 relative up to
/// z = 0, where the first-spike times' arguments lie (there one step reaches full precision and a second one
/// confirms it); within about 1e-2 beyond.
fn initial_guess(z: f64) -> f64 {
    if z < -0.25 {
        // Least-squares polynomial in p = sqrt(2 (e z + 1)), exact at the branch point (W0(-1/e) = -1).
        const C: [f64; 6] = [
            0.999_985_288_609_465,
            -0.333_044_628_847_736_33,
            0.150_657_894_163_724_94,
            -0.071_805_851_089_613_79,
            0.028_299_510_371_122_22,
            -0.006_076_012_270_572_572,
        ];
        let p = (2.0 * (E * z + 1.0)).max(0.0).sqrt();
        -1.0 + p * C.iter().rev().fold(0.0, |acc, &c| acc * p + c)
    } else if z < 0.0 {
        // Least-squares polynomial for W0(z) / z on [-1/4, 0].
        const C: [f64; 7] = [
            1.000_018_490_387_723_8,
            -0.996_084_128_931_406_6,
            1.696_806_496_910_793_4,
            1.307_209_835_242_368,
            43.358_204_858_010_2,
            166.546_296_554_266_6,
            361.231_997_087_494_96,
        ];
        z * C.iter().rev().fold(0.0, |acc, &c| acc * z + c)
    } else if z < 3.0 {
        // Winitzki's approximation.
        let l = z.ln_1p();
        l * (1.0 - l.ln_1p() / (2.0 + l))
    } else {
        // Asymptotic expansion for large z.
        let l1 = z.ln();
        let l2 = l1.ln();
        l1 - l2 + l2 / l1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // The omega constant W0(1), and W0(e) = 1, W0(-1/e) = -1.
        assert!((lambert_w0(1.0) - 0.567_143_290_409_783_8).abs() < 1e-16);
        assert!((lambert_w0(E) - 1.0).abs() < 1e-15);
        assert_eq!(lambert_w0(BRANCH_POINT), -1.0);
        assert_eq!(lambert_w0(0.0), 0.0);
        // W0(-ln 2 / 2) = -ln 2.
        let z = -std::f64::consts::LN_2 / 2.0;
        assert!((lambert_w0(z) + std::f64::consts::LN_2).abs() < 1e-15);
    }

    #[test]
    fn outside_domain_is_nan() {
        assert!(lambert_w0(-0.5).is_nan());
        assert!(lambert_w0(f64::NAN).is_nan());
        assert!(lambert_w0(f64::NEG_INFINITY).is_nan());
        assert_eq!(lambert_w0(f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn inverts_w_exp_w_over_the_whole_domain() {
        // Sweep z logarithmically towards the branch point and out to large values.
        let mut zs = Vec::new();
        for k in 1..300 {
            zs.push(BRANCH_POINT + 10f64.powf(-(k as f64) / 20.0));
        }
        for k in -300..300 {
            zs.push(10f64.powf(k as f64 / 20.0));
            zs.push(-10f64.powf(k as f64 / 20.0).min(0.36));
        }
        for z in zs {
            let w = lambert_w0(z);
            assert!(w >= -1.0, "z={z} w={w}");
            let back = w * w.exp();
            // One ulp of w moves w e^w by (1 + w) ulp relative, so that is the attainable accuracy.
            let tolerance = 4.0 * f64::EPSILON * z.abs() * (1.0 + w.abs()) + 1e-300;
            assert!((back - z).abs() <= tolerance, "z={z} w={w} back={back}");
        }
    }

    #[test]
    fn the_starting_points_are_as_close_as_documented() {
        for k in 0..=20_000 {
            let z = BRANCH_POINT + (0.0 - BRANCH_POINT) * f64::from(k) / 20_000.0;
            let (guess, w) = (initial_guess(z), lambert_w0(z));
            if z < -0.25 {
                assert!((guess - w).abs() < 3e-7, "z={z}: guess {guess}, W0 {w}");
            } else if z < 0.0 {
                assert!((guess - w).abs() < 2.2e-5 * w.abs(), "z={z}: guess {guess}, W0 {w}");
            }
        }
    }
}
