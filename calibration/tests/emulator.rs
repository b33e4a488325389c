//! Calibration of an emulated chip, checked against the emulator's ground truth (its true circuit parameters with
//! the calibrated CapMem values), not against the calibration's own measurements.

use bss2_calibration::calibrate::calibrate;
use bss2_calibration::values::capmem_writes;
use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::program::ProgramBuilder;

mod common;
use common::{Direct, uniform};

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

fn check_calibration(seed: u64) {
    let targets = uniform(6.0, 360.0, 675.0, 0.673);
    let mut chip = Direct(Emulator::new(ChipProfile::default_chip(), seed));
    let started = std::time::Instant::now();
    let outcome = calibrate(&mut chip, &targets, &mut |_, _, _| {}).unwrap();
    let (values, failures) = (outcome.values, outcome.failures);
    eprintln!("chip seed {seed}: calibrated in {:.1} s, {} failures", started.elapsed().as_secs_f64(), failures.len());
    let mut program = ProgramBuilder::new();
    let mut writes = Vec::new();
    for (c, v) in values.iter().enumerate() {
        capmem_writes(c, v, &mut writes);
    }
    program.write_all(writes);
    chip.0.execute(&program.build().words()).unwrap();
    let truth = chip.0.circuit_parameters();
    let column = |f: fn(&bss2_firmware_sim::CircuitParameters) -> f64| truth.iter().map(f).collect::<Vec<f64>>();
    for (name, xs, target, relative, bound) in [
        ("tau_mem", column(|p| p.tau_mem_us), 6.0, true, 0.02),
        ("tau_syn_exc", column(|p| p.tau_syn_exc_us), 6.0, true, 0.02),
        ("tau_syn_inh", column(|p| p.tau_syn_inh_us), 6.0, true, 0.02),
        ("leak", column(|p| p.leak_mv), 360.0, false, 2.0),
        ("reset", column(|p| p.reset_mv), 360.0, false, 2.0),
        ("threshold", column(|p| p.threshold_mv), 675.0, false, 2.0),
        ("gain_exc", column(|p| p.gain_exc), 0.673, true, 0.03),
        ("gain_inh", column(|p| p.gain_inh), 0.673, true, 0.03),
    ] {
        let (mean, std) = spread(&xs);
        eprintln!("  {name}: mean {mean:.4} std {std:.4} (target {target})");
        if relative {
            assert!(std / mean <= bound && (mean / target - 1.0).abs() <= bound, "seed {seed} {name}: {mean} +- {std}");
        } else {
            assert!(std <= bound && (mean - target).abs() <= bound, "seed {seed} {name}: {mean} +- {std}");
        }
    }
}
