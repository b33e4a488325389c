//! The emulator served in-process, over TCP, UDP and a pseudo-terminal, with faults: every response equals
//! what `Emulator::execute` gives on a fresh emulator with the same seed; garbage from one client does not
//! stop the server; stalls make the client time out.

use std::net::UdpSocket as StdUdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bss2_firmware_sim::memory::CADC_CAUSAL_OFFSET;
use bss2_firmware_sim::serve::{InProcessServer, ServerFaults, serve};
use bss2_firmware_sim::{ChipProfile, Emulator};
use bss2_protocol::containers::SYNRAM_BASE;
use bss2_protocol::program::{Program, ProgramBuilder, Response, decode_response};
use bss2_protocol::transport::{BlockingConnection, Connection, ConnectionError, Endpoint, Link, Transport};
use bss2_protocol::{Loopback, SpikeLabel, ToFpga};

const CHIP_SEED: u64 = 17;

fn emulator() -> Emulator {
    Emulator::new(ChipProfile::builtin("default").expect("a built-in profile"), CHIP_SEED)
}

fn shared() -> Arc<Mutex<Emulator>> {
    Arc::new(Mutex::new(emulator()))
}

/// CapMem cells written and read back by every program.
const CELLS: u32 = 200;

/// What program `k` writes to CapMem cell `i`.
fn cell_value(k: u32, i: u32) -> u32 {
    (k * 37 + i * 11) % 1023
}

/// Program `k` (about 900 words, its response about 400: both span several link frames): CapMem writes read
/// back, noisy CADC reads of both synrams (they depend on the chip seed and on how many programs ran before),
/// input spikes, and reads after them.
fn program(k: u32) -> Program {
    let mut builder = ProgramBuilder::new();
    builder.timer_reset();
    for i in 0..CELLS {
        builder.write(0x14_0000 + i, cell_value(k, i));
    }
    for i in 0..CELLS {
        builder.read(0x14_0000 + i);
    }
    let spikes: Vec<(u32, SpikeLabel)> =
        (0..30).map(|i| (100 + 40 * i, SpikeLabel(((i * 7 + k) % 64) as u16 | 0x4000))).collect();
    builder.spikes(&spikes);
    for base in SYNRAM_BASE {
        for q in 0..64 {
            builder.read(base + CADC_CAUSAL_OFFSET + q);
        }
    }
    builder.wait_until(4000);
    builder.read(0x14_0003);
    builder.build()
}

/// The CapMem values a response read back.
fn cells(response: &Response) -> Vec<u32> {
    response.reads[..CELLS as usize].iter().map(|&(v, _)| v).collect()
}

fn programs(n: u32) -> Vec<Program> {
    (0..n).map(program).collect()
}

/// The responses of a fresh emulator with the same seed, executing the programs directly.
fn reference(programs: &[Program]) -> Vec<Response> {
    let mut emulator = emulator();
    programs
        .iter()
        .map(|p| decode_response(p, &emulator.execute(&p.words()).expect("a valid program")).expect("a response"))
        .collect()
}

fn link_faults() -> ServerFaults {
    ServerFaults { drop: 0.05, corrupt: 0.01, ..ServerFaults::default() }
}

/// Starts a server; returns the endpoint it announced.
async fn start(listen: &'static str, emulator: Arc<Mutex<Emulator>>, faults: ServerFaults) -> String {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(serve(listen, emulator, faults, 5, move |endpoint| {
        let _ = tx.send(endpoint);
    }));
    match rx.await {
        Ok(endpoint) => endpoint,
        Err(_) => panic!("the server ended before it was ready: {:?}", server.await),
    }
}

async fn connect(endpoint: &str) -> Connection {
    let endpoint = Endpoint::parse(endpoint).expect("the announced endpoint parses");
    Connection::new(Link::new(Transport::connect(&endpoint).await.expect("the server accepts clients")))
}

/// Runs programs over a connection and checks each response against the reference.
async fn run_all(connection: &mut Connection, programs: &[Program], expected: &[Response], what: &str) {
    for (i, (p, want)) in programs.iter().zip(expected).enumerate() {
        let got = connection.run(p).await.unwrap_or_else(|e| panic!("{what}: program {i}: {e}"));
        assert_eq!(&got, want, "{what}: program {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_with_link_faults_answers_like_the_emulator() {
    let programs = programs(12);
    let expected = reference(&programs);
    // Every read is answered, CapMem reads back, and the CADC noise is there (the comparison would be weak if
    // every run read the same).
    assert_eq!(expected[3].reads.len(), CELLS as usize + 128 + 1);
    assert_eq!(cells(&expected[3]), (0..CELLS).map(|i| cell_value(3, i)).collect::<Vec<_>>());
    let cadc = |r: &Response| r.reads[CELLS as usize..][..128].iter().map(|&(v, _)| v).collect::<Vec<_>>();
    assert!(expected.iter().map(cadc).collect::<std::collections::HashSet<_>>().len() > 1);
    let start = Instant::now();
    let mut connection = Connection::new(Link::new(InProcessServer::new(shared(), link_faults(), 3).connect()));
    run_all(&mut connection, &programs, &expected, "in-process").await;
    eprintln!("in-process: {} programs in {:.2?}, {:?}", programs.len(), start.elapsed(), connection.link().stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_link_faults_are_applied() {
    let programs = programs(4);
    let expected = reference(&programs);
    let faults = ServerFaults { corrupt: 0.5, drop: 0.2, ..ServerFaults::default() };
    let mut connection = Connection::new(Link::new(InProcessServer::new(shared(), faults, 4).connect()));
    run_all(&mut connection, &programs, &expected, "in-process, heavy faults").await;
    let stats = connection.link().stats();
    assert!(stats.datagrams_rejected > 0, "half the datagrams were corrupted, none rejected: {stats:?}");
}

/// Two clients one after the other (the second after the first has closed its link), each with half of the
/// programs, against one server with link faults.
async fn two_clients_in_turn(listen: &'static str, pause: Duration) {
    let programs = programs(6);
    let expected = reference(&programs);
    let start = Instant::now();
    let endpoint = start_server(listen).await;
    let mut first = connect(&endpoint).await;
    run_all(&mut first, &programs[..3], &expected[..3], listen).await;
    first.into_link().close().await.expect("the first client closes cleanly");
    tokio::time::sleep(pause).await;
    let mut second = connect(&endpoint).await;
    run_all(&mut second, &programs[3..], &expected[3..], listen).await;
    eprintln!("{listen} ({endpoint}): 2 clients x 3 programs in {:.2?}", start.elapsed());
}

async fn start_server(listen: &'static str) -> String {
    start(listen, shared(), link_faults()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_server_answers_like_the_emulator() {
    let endpoint = start_server("tcp://127.0.0.1:0").await;
    assert!(endpoint.starts_with("tcp://127.0.0.1:") && !endpoint.ends_with(":0"), "{endpoint}");
    two_clients_in_turn("tcp://127.0.0.1:0", Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_server_answers_like_the_emulator() {
    two_clients_in_turn("udp://127.0.0.1:0", Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pty_server_answers_like_the_emulator() {
    let endpoint = start_server("pty").await;
    assert!(endpoint.starts_with("serial:///"), "{endpoint}");
    // The server notices that the first client closed the pseudo-terminal when its read fails; give it a
    // moment before the next client opens it.
    two_clients_in_turn("pty", Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_clients_are_served_concurrently() {
    let endpoint = start("tcp://127.0.0.1:0", shared(), link_faults()).await;
    // Each client runs its own program repeatedly; whatever the interleaving, every program reads back what
    // it wrote.
    let client = |endpoint: String, k: u32| async move {
        let mut connection = connect(&endpoint).await;
        let written: Vec<u32> = (0..CELLS).map(|i| cell_value(k, i)).collect();
        for _ in 0..5 {
            let response = connection.run(&program(k)).await.expect("a response");
            assert_eq!(cells(&response), written);
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(client(endpoint.clone(), 1)), tokio::spawn(client(endpoint.clone(), 2)));
    a.unwrap();
    b.unwrap();
}

/// Words that are no to-FPGA instruction (unknown header 0x7F) or have bits outside the payload.
fn garbage() -> Vec<u64> {
    vec![0x7F00_0000_0000_0001, 0x0400_0000_0000_0001, 0x1234_5678_9ABC_DEF0, 0x0C00_1111_0000_0000]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_does_not_stop_the_server() {
    let programs = programs(4);
    let expected = reference(&programs);
    let endpoint = start("tcp://127.0.0.1:0", shared(), ServerFaults::default()).await;
    let halt = ToFpga::Loopback(Loopback::Halt).encode();

    // Garbage words ending in a halt: that "program" is dropped, the next one is answered.
    let mut link = Link::new(Transport::connect(&Endpoint::parse(&endpoint).unwrap()).await.unwrap());
    let mut words = garbage();
    words.push(halt);
    link.send(&words).await.unwrap();
    let mut connection = Connection::new(link);
    run_all(&mut connection, &programs[..1], &expected[..1], "after garbage and a halt").await;

    // Garbage without a halt poisons the next program of this client: it gets no answer.
    let mut link = connection.into_link();
    link.send(&garbage()).await.unwrap();
    let mut connection = Connection::new(link);
    connection.set_timeout(Duration::from_millis(300));
    let e = connection.run(&programs[1]).await.unwrap_err();
    assert!(matches!(e, ConnectionError::Timeout { .. }), "{e}");
    drop(connection);

    // Bytes that are no frames at all, then the connection is dropped.
    {
        use tokio::io::AsyncWriteExt;
        let address = Endpoint::parse(&endpoint).unwrap().socket_address().unwrap();
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        stream.write_all(&noise).await.unwrap();
        stream.write_all(&[0; 64]).await.unwrap();
    }

    // A new client is served, and the malformed programs changed nothing on the chip.
    let mut connection = connect(&endpoint).await;
    run_all(&mut connection, &programs[1..], &expected[1..], "a new client").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_garbage_datagrams_do_not_stop_the_server() {
    let programs = programs(2);
    let expected = reference(&programs);
    let endpoint = start("udp://127.0.0.1:0", shared(), ServerFaults::default()).await;
    let address = Endpoint::parse(&endpoint).unwrap().socket_address().unwrap();
    let stranger = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    for size in [0usize, 3, 4, 12, 100, 1500] {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 151 + 7) as u8).collect();
        stranger.send_to(&bytes, &address).unwrap();
    }
    let mut connection = connect(&endpoint).await;
    run_all(&mut connection, &programs, &expected, "udp after garbage").await;
}

#[test]
fn a_stalled_program_times_out() {
    let faults = ServerFaults { stall: 1.0, ..ServerFaults::default() };
    let emulator = shared();
    let mut server = InProcessServer::new(emulator.clone(), faults, 9);
    let mut connection = BlockingConnection::with_link(|| Link::new(server.connect())).unwrap();
    let timeout = Duration::from_secs(1);
    connection.set_timeout(timeout);
    let e = connection.run(&program(0)).unwrap_err();
    // The client gave up after its timeout with nothing received, and the server never ran the program.
    assert!(matches!(e, ConnectionError::Timeout { words: 0, timeout: t, .. } if t == timeout), "{e}");
    assert_eq!(emulator.lock().unwrap().runs(), 0);
    assert_eq!(connection.connection().link().stats().payloads_delivered, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_after_stalls_gives_the_same_responses() {
    // A stalled program is not executed, so retrying it on a new connection keeps the chip in step.
    let programs = programs(6);
    let expected = reference(&programs);
    let faults = ServerFaults { stall: 0.3, ..link_faults() };
    let mut server = InProcessServer::new(shared(), faults, 11);
    let new_connection = |server: &mut InProcessServer| {
        let mut connection = Connection::new(Link::new(server.connect()));
        connection.set_timeout(Duration::from_millis(150));
        connection
    };
    let mut connection = new_connection(&mut server);
    let mut stalls = 0;
    for (i, (p, want)) in programs.iter().zip(&expected).enumerate() {
        let got = loop {
            match connection.run(p).await {
                Ok(response) => break response,
                Err(ConnectionError::Timeout { .. }) if stalls < 20 => {
                    stalls += 1;
                    connection = new_connection(&mut server);
                }
                Err(e) => panic!("program {i}: {e}"),
            }
        };
        assert_eq!(&got, want, "program {i}");
    }
    assert!(stalls > 0, "with 30 % stalls some of {} programs should have stalled", programs.len());
}

#[tokio::test]
async fn bad_listen_addresses_are_errors() {
    for (listen, why) in [
        ("serial:///dev/ttyUSB0", "a server listens on tcp://ADDR:PORT, udp://ADDR:PORT or pty"),
        ("http://x:1", "unknown scheme \"http\""),
        ("localhost:5555", "a server listens on tcp://ADDR:PORT, udp://ADDR:PORT or pty"),
        ("tcp://127.0.0.1", "expected HOST:PORT"),
    ] {
        let e = chain(&serve(listen, shared(), ServerFaults::default(), 0, |_| panic!("not ready")).await.unwrap_err());
        assert!(e.contains(why), "{listen}: {e}");
    }
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = format!("tcp://{}", taken.local_addr().unwrap());
    let e = chain(&serve(&listen, shared(), ServerFaults::default(), 0, |_| panic!("not ready")).await.unwrap_err());
    assert!(e.starts_with(&format!("cannot listen: {listen}: ")), "{e}");
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
