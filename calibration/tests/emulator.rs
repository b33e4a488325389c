//! Calibration of an emulated chip, checked against the emulator's ground truth (its true circuit parameters with
//! the calibrated CapMem values), not against the calibration's own measurements: the spread of every parameter,
//! the number of circuits that missed a target, and the worst circuit of every parameter.

use bss2_calibration::calibrate::calibrate;
use bss2_calibration::parameter::{Parameter, Tolerance};
use bss2_calibration::values::capmem_writes;
use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::program::ProgramBuilder;

mod common;
use common::{Direct, truth, uniform};

fn spread(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (mean, (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

#[test]
fn default_chips_are_calibrated_to_their_targets_by_ground_truth() {
    for seed in [1, 2, 3] {
        check_calibration(seed);
    }
}

/// Bounds on the ground truth of one parameter over a chip's circuits.
struct Bounds {
    /// Standard deviation and the mean's deviation from the target (relative or in mV, as the tolerance).
    spread: f64,
    /// The worst circuit's deviation from the target.
    worst: f64,
    /// Circuits outside the parameter's tolerance. The threshold and the gains are measured through
    /// trial-to-trial noise (threshold) or fits (gains), so some circuits land just outside by ground truth.
    outside: usize,
}

/// The bounds of each parameter; today's largest values over chip seeds 1-3 in the comments.
fn bounds(parameter: Parameter) -> Bounds {
    use Parameter as P;
    match parameter {
        // worst 0.0046, none outside
        P::TauMem | P::TauSynExc | P::TauSynInh => Bounds { spread: 0.02, worst: 0.008, outside: 0 },
        // worst 1.11 mV, none outside
        P::Leak => Bounds { spread: 2.0, worst: 1.5, outside: 0 },
        // worst 2.08 mV, 1 outside
        P::Reset => Bounds { spread: 2.0, worst: 2.6, outside: 3 },
        // worst 5.03 mV, 57 outside
        P::Threshold => Bounds { spread: 2.0, worst: 6.5, outside: 75 },
        // worst 0.042, 46 outside
        P::GainExc | P::GainInh => Bounds { spread: 0.03, worst: 0.055, outside: 60 },
    }
}

fn check_calibration(seed: u64) {
    let targets = uniform(6.0, 360.0, 675.0, 0.673);
    let mut chip = Direct(Emulator::new(ChipProfile::default_chip(), seed));
    let started = std::time::Instant::now();
    let outcome = calibrate(&mut chip, &targets, &mut |_, _, _| {}).unwrap();
    let (values, failures) = (outcome.values, outcome.failures);
    eprintln!("chip seed {seed}: calibrated in {:.1} s, {} failures", started.elapsed().as_secs_f64(), failures.len());
    // A chip without faults: the calibration reaches every target on every circuit by its own measurements.
    assert!(failures.is_empty(), "seed {seed}: {} failures on a healthy chip: {failures:?}", failures.len());
    let mut program = ProgramBuilder::new();
    let mut writes = Vec::new();
    for (c, v) in values.iter().enumerate() {
        capmem_writes(c, v, &mut writes);
    }
    program.write_all(writes);
    chip.0.execute(&program.build().words()).unwrap();
    let truth_of = chip.0.circuit_parameters();
    for parameter in Parameter::ALL {
        let xs: Vec<f64> = truth_of.iter().map(|p| truth(p, parameter)).collect();
        let target = targets[parameter][0];
        let tolerance = parameter.tolerance();
        let bounds = bounds(parameter);
        let (mean, std) = spread(&xs);
        eprintln!("  {parameter}: mean {mean:.4} std {std:.4} (target {target})");
        match tolerance {
            Tolerance::Relative(_) => assert!(
                std / mean <= bounds.spread && (mean / target - 1.0).abs() <= bounds.spread,
                "seed {seed} {parameter}: {mean} +- {std}"
            ),
            Tolerance::Absolute(_) => assert!(
                std <= bounds.spread && (mean - target).abs() <= bounds.spread,
                "seed {seed} {parameter}: {mean} +- {std}"
            ),
        }
        // NaN (a circuit without a usable value) counts as the worst deviation and as outside.
        let deviations: Vec<f64> = xs
            .iter()
            .map(|&x| tolerance.deviation(x, target))
            .map(|d| if d.is_nan() { f64::INFINITY } else { d })
            .collect();
        let (worst, deviation) =
            deviations.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).expect("circuits");
        let outside = deviations.iter().filter(|&&d| d > tolerance.bound()).count();
        eprintln!(
            "    worst circuit {worst}: {:.4} (deviation {deviation:.4}); {outside} circuits outside {tolerance:?}",
            xs[worst]
        );
        assert!(
            deviation <= bounds.worst,
            "seed {seed} {parameter}: circuit {worst} has {} (deviation {deviation}, bound {})",
            xs[worst],
            bounds.worst
        );
        assert!(
            outside <= bounds.outside,
            "seed {seed} {parameter}: {outside} circuits outside {tolerance:?} (at most {})",
            bounds.outside
        );
    }
}
