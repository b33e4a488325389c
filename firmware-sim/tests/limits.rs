//! What one program may produce is bounded: an MADC recording "until stopped" over a long wait, or writes to
//! ever new addresses, stop the program with a timeout notification at the instruction where the limit was
//! reached; the emulator then runs the next program as usual.

use bss2_firmware_sim::{ChipProfile, Emulator, Exceeded, ExecError, Limits};
use bss2_protocol::containers::{EventRecordingConfig, MadcControl, UInt, WritableContainer};
use bss2_protocol::program::{Program, ProgramBuilder, ResponseError, decode_response};

fn emulator(limits: Limits) -> Emulator {
    let mut emulator = Emulator::new(ChipProfile::ideal(), 3);
    emulator.set_limits(limits);
    emulator
}

/// Records the MADC "until stopped" (sample count 0), then waits `wait` cycles; returns the wait's index.
fn endless_recording(wait: u32) -> (Program, usize) {
    let mut program = ProgramBuilder::new();
    let recording = EventRecordingConfig { enable_event_recording: true };
    program.write_all(recording.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    program.systime_sync();
    program.timer_reset();
    let madc = MadcControl { enable_sampling: true, number_of_samples: UInt::new(0).unwrap(), ..Default::default() };
    program.write_all(madc.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    program.wait_until(wait);
    let program = program.build();
    let at = program.words().len() - 2;
    (program, at)
}

/// A program that writes and reads back a CapMem cell.
fn normal() -> (Program, bss2_protocol::program::Ticket) {
    let mut program = ProgramBuilder::new();
    program.write(0x14_0003, 321);
    let ticket = program.read(0x14_0003);
    (program.build(), ticket)
}

#[test]
fn an_endless_madc_recording_is_stopped_and_answered_with_a_timeout() {
    let limits = Limits { response_words: 10_000, events: 1 << 20, ..Limits::default() };
    let mut emulator = emulator(limits);
    // A short recording fits: 1000 cycles at 34 ns per sample are about 235 samples.
    let (short, _) = endless_recording(1000);
    let response = decode_response(&short, &emulator.execute(&short.words()).unwrap()).unwrap();
    assert!((200..300).contains(&response.samples.len()), "{}", response.samples.len());
    // Over the longest wait (34 s) it would be a billion samples.
    let (endless, wait) = endless_recording(u32::MAX);
    let e = emulator.execute(&endless.words()).unwrap_err();
    assert_eq!(e, ExecError::Stopped { instruction: wait, limit: Exceeded::ResponseWords(10_000) });
    // The answer is what an FPGA sends for a stuck program: the client's decoder reports the instruction.
    let answer = e.answer().expect("a stopped program is answered");
    assert_eq!(
        decode_response(&endless, &answer),
        Err(ResponseError::Timeout { instruction: wait as u32, reads_in_flight: 0 })
    );
    // The recording was stopped with the program: the next program gets its answer and no samples.
    let (program, ticket) = normal();
    let response = decode_response(&program, &emulator.execute(&program.words()).unwrap()).unwrap();
    assert_eq!((response.read(ticket), response.samples.len()), (Some(321), 0));
}

#[test]
fn events_are_bounded_even_when_nothing_is_recorded() {
    // Sampling without event recording produces no words, but takes time: the event limit stops it.
    let mut emulator = emulator(Limits { events: 50_000, ..Limits::default() });
    let mut program = ProgramBuilder::new();
    let madc = MadcControl { enable_sampling: true, number_of_samples: UInt::new(0).unwrap(), ..Default::default() };
    program.write_all(madc.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    program.wait_until(u32::MAX);
    let program = program.build();
    let e = emulator.execute(&program.words()).unwrap_err();
    assert!(matches!(e, ExecError::Stopped { limit: Exceeded::Events(50_000), .. }), "{e:?}");
}

#[test]
fn writes_to_ever_new_addresses_are_bounded_and_the_configuration_stays_writable() {
    let mut emulator = emulator(Limits { unmapped_words: 1000, ..Limits::default() });
    let mut program = ProgramBuilder::new();
    for a in 0..2000 {
        program.write(0x0100_0000 + a, a);
    }
    let program = program.build();
    let e = emulator.execute(&program.words()).unwrap_err();
    // Each write is two words (address, data); the 1001st write's data word is where it stopped.
    assert_eq!(e, ExecError::Stopped { instruction: 2 * 1000 + 1, limit: Exceeded::UnmappedWords(1000) });
    // The chip's configuration words are not affected by the full map.
    let (program, ticket) = normal();
    let response = decode_response(&program, &emulator.execute(&program.words()).unwrap()).unwrap();
    assert_eq!(response.read(ticket), Some(321));
}
