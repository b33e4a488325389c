//! Shared by the calibration tests: the emulator as a `Chip` without a link, and uniform targets.

use bss2_calibration::calibrate::{Achieved, Targets};
use bss2_calibration::measure::Chip;
use bss2_calibration::parameter::Parameter;
use bss2_firmware_sim::{CircuitParameters, Emulator, ExecError};
use bss2_protocol::program::{Program, Response, ResponseError, decode_response};

/// An emulator answering programs directly.
#[derive(Debug)]
pub struct Direct(pub Emulator);

/// Why the emulator could not answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// The emulator refused the program.
    #[error("the emulator refused the program")]
    Exec(#[source] ExecError),
    /// The answer does not decode.
    #[error("the emulator's answer does not decode")]
    Decode(#[source] ResponseError),
}

impl Chip for Direct {
    type Error = DirectError;

    fn run(&mut self, program: &Program) -> Result<Response, DirectError> {
        let words = self.0.execute(&program.words()).map_err(DirectError::Exec)?;
        decode_response(program, &words).map_err(DirectError::Decode)
    }
}

/// The same targets for all circuits (time constants in us for both inputs, leak = reset).
#[allow(dead_code)] // not every test file calibrates neurons
pub fn uniform(tau: f64, leak: f64, threshold: f64, gain: f64) -> Targets {
    use Parameter as P;
    Targets::uniform(&Achieved::from_fn(|p| match p {
        P::TauMem | P::TauSynExc | P::TauSynInh => tau,
        P::Leak | P::Reset => leak,
        P::Threshold => threshold,
        P::GainExc | P::GainInh => gain,
    }))
}

/// A circuit's true value of a parameter.
#[allow(dead_code)] // not every test file reads the ground truth
pub fn truth(p: &CircuitParameters, parameter: Parameter) -> f64 {
    match parameter {
        Parameter::TauMem => p.tau_mem_us,
        Parameter::TauSynExc => p.tau_syn_exc_us,
        Parameter::TauSynInh => p.tau_syn_inh_us,
        Parameter::Leak => p.leak_mv,
        Parameter::Reset => p.reset_mv,
        Parameter::Threshold => p.threshold_mv,
        Parameter::GainExc => p.gain_exc,
        Parameter::GainInh => p.gain_inh,
    }
}
