//! A Connection runs programs against a tiny fake FPGA over the in-process pair (with faults): the halt comes
//! back, reads are answered, recorded spikes arrive with their times. Timeouts and unusable connections give
//! errors naming the endpoint; USB endpoints parse and, without a device, fail clearly.
#![cfg(feature = "io")]

use std::time::Duration;

use bss2_protocol::link::fault::Faults;
use bss2_protocol::program::ProgramBuilder;
use bss2_protocol::stream::{Item, encode_from_fpga};
use bss2_protocol::transport::{
    BlockingConnection, Connection, ConnectionError, Endpoint, Link, Transport, TransportError,
};
use bss2_protocol::{FromFpga, Loopback, Pack, SpikeEvent, SpikeLabel, ToFpga};

const READ_VALUE: u32 = 0xC0FF_EE42;

fn faults() -> Faults {
    Faults { drop: 0.10, corrupt: 0.01, duplicate: 0.02, reorder: 0.05, ..Faults::default() }
}

/// The FPGA's answer to one program: every omnibus read gets `READ_VALUE`, then the FPGA time is set to 1000
/// and two spikes recorded at 990 and 995 are reported, then the halt is echoed.
fn answer(reads: usize) -> Vec<u64> {
    let mut out: Vec<Item<FromFpga>> = (0..reads).map(|_| Item::Message(FromFpga::OmnibusData(READ_VALUE))).collect();
    out.push(Item::Message(FromFpga::Systime(1000)));
    let stamp = |t: u32| ((t % 128) << 1) as u8;
    let spikes = [SpikeEvent::new(stamp(995), SpikeLabel(9)), SpikeEvent::new(stamp(990), SpikeLabel(7))];
    out.push(Item::Message(FromFpga::Spikes(Pack::new(&spikes).unwrap())));
    out.push(Item::Message(FromFpga::Loopback(Loopback::Halt)));
    encode_from_fpga(&out)
}

/// A fake FPGA: executes nothing, answers each program (everything up to a halt) as [`answer`] does, until
/// the host goes away. With `mute`, it never answers.
async fn fake_fpga(transport: Transport, mute: bool) {
    let mut link = Link::new(transport);
    let mut reads = 0;
    while let Ok(words) = link.recv().await {
        for word in words {
            match ToFpga::decode(word) {
                Ok(ToFpga::OmnibusAddress { is_read: true, .. }) => reads += 1,
                Ok(ToFpga::Loopback(Loopback::Halt)) if !mute => {
                    let Ok(()) = link.send(&answer(std::mem::take(&mut reads))).await else { return };
                }
                _ => {}
            }
        }
    }
}

fn program() -> (bss2_protocol::program::Program, Vec<bss2_protocol::program::Ticket>) {
    let mut builder = ProgramBuilder::new();
    builder.timer_reset();
    let tickets = (0..3).map(|i| builder.read(0x0014_0000 + i)).collect();
    builder.spikes(&[(100, SpikeLabel(1)), (200, SpikeLabel(2))]);
    builder.write(0x0014_0010, 5);
    (builder.build(), tickets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_runs_programs_against_a_fake_fpga() {
    let (host, fpga) = Transport::pair();
    tokio::spawn(fake_fpga(fpga.with_faults(faults(), 9), false));
    let mut connection = Connection::new(Link::new(host.with_faults(faults(), 10)));
    let (program, tickets) = program();
    // Several runs in a row: each response ends at its own halt.
    for _ in 0..20 {
        let response = connection.run(&program).await.unwrap();
        assert!(response.halted);
        for &ticket in &tickets {
            assert_eq!(response.read(ticket), Some(READ_VALUE));
        }
        let spikes: Vec<_> = response.spikes.iter().map(|s| (s.label.0, s.chip_time)).collect();
        assert_eq!(spikes, vec![(7, 990), (9, 995)]);
    }
}

#[tokio::test]
async fn a_silent_fpga_times_out_naming_the_endpoint_and_the_connection_becomes_unusable() {
    let (host, fpga) = Transport::pair();
    tokio::spawn(fake_fpga(fpga, true));
    let mut connection = Connection::new(Link::new(host));
    connection.set_timeout(Duration::from_millis(200));
    let (program, _) = program();
    let e = connection.run(&program).await.unwrap_err();
    assert!(matches!(e, ConnectionError::Timeout { .. }), "{e}");
    let text = e.to_string();
    assert!(text.starts_with("in-process peer b: no complete response within 200ms"), "{text}");
    let e = connection.run(&program).await.unwrap_err();
    assert!(matches!(e, ConnectionError::Unusable { .. }), "{e}");
    // The earlier failure is kept as the cause.
    let text = chain(&e);
    assert!(
        text.contains("unusable after an earlier failure") && text.contains("no complete response within 200ms"),
        "{text}"
    );
}

#[test]
fn the_blocking_wrapper_runs_programs() {
    let (host, fpga) = Transport::pair();
    // The fake FPGA lives on its own runtime in another thread.
    let fpga_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(fake_fpga(fpga, false));
    });
    let mut connection = BlockingConnection::with_link(|| Link::new(host.with_faults(faults(), 3))).unwrap();
    let (program, tickets) = program();
    for _ in 0..3 {
        let response = connection.run(&program).unwrap();
        assert_eq!(response.read(tickets[2]), Some(READ_VALUE));
        assert_eq!(response.spikes.len(), 2);
    }
    drop(connection);
    fpga_thread.join().unwrap();
}

#[tokio::test]
async fn usb_endpoints_parse_and_a_missing_device_is_a_clear_error() {
    let endpoint = Endpoint::parse("usb://1234:ABCD").unwrap();
    assert_eq!(endpoint, Endpoint::Usb { vid: 0x1234, pid: 0xabcd });
    assert_eq!(endpoint.to_string(), "usb://1234:abcd");
    let e = Endpoint::parse("usb://12345:1").unwrap_err().to_string();
    assert!(e.contains("vendor id \"12345\" is not a 16-bit hexadecimal id"), "{e}");
    // No device (this container has no USB subsystem at all): an error, not a panic.
    let e = Transport::connect(&endpoint).await.unwrap_err();
    assert!(matches!(e, TransportError::Usb { vid: 0x1234, pid: 0xabcd, .. }), "{e}");
    let e = chain(&e);
    assert!(e.starts_with("usb://1234:abcd: no device"), "{e}");
    eprintln!("{e}");
    let e = chain(&Connection::open(&endpoint).await.unwrap_err());
    assert!(e.starts_with("cannot open: usb://1234:abcd: no device"), "{e}");
    // Blocking from within async code is refused, not a panic.
    let e = BlockingConnection::open(&endpoint).unwrap_err().to_string();
    assert!(e.contains("cannot be used from within an async context"), "{e}");
}

#[test]
fn usb_without_a_device_fails_clearly_in_the_blocking_wrapper_too() {
    let e = chain(&BlockingConnection::open(&Endpoint::Usb { vid: 0x1234, pid: 0xabcd }).unwrap_err());
    assert!(e.starts_with("cannot open: usb://1234:abcd: no device"), "{e}");
}

#[tokio::test]
async fn other_open_errors_name_the_endpoint() {
    let serial = Endpoint::parse("serial:///dev/does-not-exist?baud=115200").unwrap();
    let e = chain(&Transport::connect(&serial).await.unwrap_err());
    assert!(e.starts_with("serial:///dev/does-not-exist?baud=115200: cannot open the serial port: "), "{e}");
    let e = bss2_protocol::transport::Listener::bind(&serial).await.unwrap_err().to_string();
    assert!(e.contains("only tcp:// and udp:// endpoints can listen"), "{e}");
    // A closed TCP port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let tcp = Endpoint::Tcp { host: "127.0.0.1".into(), port };
    let e = chain(&Transport::connect(&tcp).await.unwrap_err());
    assert!(e.starts_with(&format!("tcp://127.0.0.1:{port}: ")), "{e}");
    // The OS error is printed once, by the chain, not repeated by the wrapper.
    assert_eq!(e.matches("os error").count(), 1, "{e}");
    let e = chain(&Connection::open(&tcp).await.unwrap_err());
    assert!(
        e.starts_with(&format!("cannot open: tcp://127.0.0.1:{port}: ")) && e.matches("os error").count() == 1,
        "{e}"
    );
}

/// An error and its sources, as the command line prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
