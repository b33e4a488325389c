//! Silent and self-firing circuits are flagged (their threshold cannot be measured) and every other circuit is
//! calibrated; a target no circuit reaches is an error naming the parameter and the closest value.

use bss2_calibration::calibrate::{CalibrationError, Targets, calibrate};
use bss2_calibration::{CIRCUITS, Parameter};
use bss2_firmware_sim::serve::neuron_faults;
use bss2_firmware_sim::{ChipProfile, Emulator};

mod common;
use common::{Direct, uniform};

fn targets(tau_mem: f64) -> Targets {
    let mut targets = uniform(6.0, 360.0, 675.0, 0.673);
    targets[Parameter::TauMem] = vec![tau_mem; CIRCUITS];
    targets
}

#[test]
fn faulty_circuits_are_flagged_and_the_rest_calibrated() {
    let faults = neuron_faults(4, 0.01, 0.01);
    let faulty: Vec<usize> = faults.silent.iter().chain(&faults.spontaneous).copied().collect();
    assert!(faulty.len() >= 6);
    let mut emulator = Emulator::new(ChipProfile::default_chip(), 4);
    emulator.set_faults(faults);
    let outcome = calibrate(&mut Direct(emulator), &targets(6.0), &mut |_, _, _| {}).unwrap();
    let flagged: Vec<usize> =
        outcome.failures.iter().filter(|f| f.parameter == Parameter::Threshold).map(|f| f.circuit).collect();
    for c in &faulty {
        assert!(flagged.contains(c), "faulty circuit {c} not flagged: {flagged:?}");
    }
    let others = outcome.failures.iter().filter(|f| !faulty.contains(&f.circuit)).count();
    assert!(others <= 5, "{others} healthy circuits failed: {:?}", outcome.failures);
}

#[test]
fn an_unreachable_target_names_the_parameter_and_the_closest_value() {
    let emulator = Emulator::new(ChipProfile::default_chip(), 5);
    let error = calibrate(&mut Direct(emulator), &targets(1000.0), &mut |_, _, _| {}).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CalibrationError::Unreachable { parameter: Parameter::TauMem, .. }), "{text}");
    assert!(text.contains("tau_mem = 1000") && text.contains("closest value measured"), "{text}");
}
