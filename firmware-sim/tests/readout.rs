//! Readout through the protocol: a MADC trace of a membrane relaxing after a forced reset follows the closed form
//! sample by sample, with its time stamps reconstructed, and CADC reads see the resting potential.

use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::containers::{
    EventRecordingConfig, MadcControl, NEURON_RESET_BASE, NeuronConfig, ReadoutSource, UInt, WritableContainer,
};
use bss2_protocol::coords::{Neuron, NeuronParameter};
use bss2_protocol::program::{ProgramBuilder, decode_response};

fn capmem(program: &mut ProgramBuilder, circuit: usize, p: NeuronParameter, value: u32) {
    let cell = Neuron::from_index(circuit).unwrap().capmem_cell(p);
    program.write(cell.address(), value);
}

#[test]
fn a_madc_trace_after_a_reset_follows_the_exponential_relaxation() {
    let mut emulator = Emulator::new(ChipProfile::ideal(), 5);
    let mut program = ProgramBuilder::new();
    let neuron = Neuron::from_index(0).unwrap();
    let config = NeuronConfig {
        membrane_capacitor_size: UInt::new(63).unwrap(),
        enable_readout: true,
        readout_source: ReadoutSource::Membrane,
        ..NeuronConfig::default()
    };
    program.write_all(config.writes(neuron).into_iter().map(Into::<(u32, u32)>::into));
    capmem(&mut program, 0, NeuronParameter::VLeak, 400);
    capmem(&mut program, 0, NeuronParameter::VReset, 200);
    capmem(&mut program, 0, NeuronParameter::IBiasLeak, 500);
    let recording = EventRecordingConfig { enable_event_recording: true };
    program.write_all(recording.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    program.systime_sync();
    program.timer_reset();
    program.wait_until(100);
    program.write(NEURON_RESET_BASE[0], 0);
    let madc = MadcControl { enable_sampling: true, number_of_samples: UInt::new(1000).unwrap(), ..Default::default() };
    program.write_all(madc.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    let cadc = program.read(0x02C0_0000 + 0x8_0000);
    program.wait_until(100 + 40 * 125);
    let program = program.build();
    let response = decode_response(&program, &emulator.execute(&program.words()).unwrap()).unwrap();
    assert_eq!(response.samples.len(), 1000);
    // tau_mem = 3000 us / (bias 500 + leakage 15) on the nominal curves.
    let (t0, tau, period) = (0.8, 3000.0 / 515.0, 17.0 / 500.0);
    for (k, sample) in response.samples.iter().enumerate() {
        let t = t0 + k as f64 * period;
        let mv = 760.0 + (380.0 - 760.0) * (-(t - t0) / tau).exp();
        assert!(
            (f64::from(sample.value) - mv / 2.0).abs() <= 0.5 + 1e-9,
            "sample {k}: {} vs {}",
            sample.value,
            mv / 2.0
        );
        assert_eq!(sample.chip_time, (t * 125.0).floor() as u64, "sample {k}");
    }
    // The CADC read at t0 sees the reset potential of circuit 0 (entry 0 of quad 0 is column 0, byte 3).
    let read = response.read(cadc).unwrap();
    assert_eq!(read >> 24, (380.0f64 / 4.5).round() as u32);
}
