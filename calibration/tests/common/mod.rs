//! Shared by the calibration tests: the emulator as a `Chip` without a link, and uniform targets.

use bss2_calibration::calibrate::Targets;
use bss2_calibration::measure::Chip;
use bss2_firmware_sim::Emulator;
use bss2_protocol::program::{Program, Response, decode_response};

/// An emulator answering programs directly.
pub struct Direct(pub Emulator);

impl Chip for Direct {
    fn run(&mut self, program: &Program) -> Result<Response, String> {
        let words = self.0.execute(&program.words()).map_err(|e| e.to_string())?;
        decode_response(program, &words).map_err(|e| e.to_string())
    }
}

/// The same targets for all 512 circuits (time constants in us for both inputs, leak = reset).
pub fn uniform(tau: f64, leak: f64, threshold: f64, gain: f64) -> Targets {
    let all = |x: f64| vec![x; 512];
    Targets {
        tau_mem_us: all(tau),
        tau_syn_exc_us: all(tau),
        tau_syn_inh_us: all(tau),
        leak_mv: all(leak),
        reset_mv: all(leak),
        threshold_mv: all(threshold),
        gain_exc: all(gain),
        gain_inh: all(gain),
    }
}
