//! A hostile client cannot crash or exhaust a served emulator (`bss2 emulator serve`, over TCP and over UDP):
//! random bytes, huge frames and datagrams, a program longer than a server takes, a program asking for an
//! endless MADC recording, a flood of programs, and 1000 connections (TCP) or client addresses (UDP). The
//! server process's peak resident memory (VmHWM in /proc/PID/status) stays under 200 MB, the refused programs
//! are answered with a timeout notification, and a normal client is served afterwards.
//!
//! Nothing here depends on timing: every step waits for an answer or an end of stream, and the normal client
//! at the end retries a bounded number of times (a UDP server makes room for it once a departed client's
//! session has been silent for a second).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bss2_protocol::containers::{EventRecordingConfig, MadcControl, UInt, WritableContainer};
use bss2_protocol::link::{Datagram, Frame, encode_stream_frame, frame::PTYPE_UT};
use bss2_protocol::program::{Program, ProgramBuilder, ResponseError};
use bss2_protocol::transport::{Connection, ConnectionError, Endpoint, Link, Transport};
use bss2_protocol::{Loopback, ToFpga};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bound of the done-when criterion.
const MEMORY_LIMIT_KB: u64 = 200 * 1024;

/// An outer bound for waits that normally end at once (never reached unless something is broken).
const GENEROUS: Duration = Duration::from_secs(60);

/// A `bss2 emulator serve` child process (its log in a file), killed when dropped.
struct Server {
    child: Child,
    endpoint: String,
    log: tempfile::NamedTempFile,
}

impl Server {
    fn start(listen: &str) -> Server {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_bss2-e2e"))
            .args(["-q", "emulator", "serve", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let endpoint = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
        Server { child, endpoint, log }
    }

    /// A field of /proc/PID/status in kB (VmRSS: resident now, VmHWM: the peak).
    fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap()
    }

    fn address(&self) -> String {
        Endpoint::parse(&self.endpoint).unwrap().socket_address().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(endpoint: &str) -> Connection {
    let endpoint = Endpoint::parse(endpoint).unwrap();
    let mut connection = Connection::new(Link::new(Transport::connect(&endpoint).await.unwrap()));
    // Long enough for the longest program the emulator takes (the endless recording is stopped at its limit).
    connection.set_timeout(Duration::from_secs(120));
    connection
}

/// Writes CapMem cells and reads them back.
fn normal_program(k: u32) -> (Program, Vec<u32>) {
    let mut builder = ProgramBuilder::new();
    let values: Vec<u32> = (0..100).map(|i| (k * 31 + i * 7) % 1023).collect();
    for (i, &v) in values.iter().enumerate() {
        builder.write(0x14_0000 + i as u32, v);
    }
    for i in 0..values.len() {
        builder.read(0x14_0000 + i as u32);
    }
    (builder.build(), values)
}

/// A normal client is served: the values it wrote read back.
async fn served(connection: &mut Connection, k: u32) -> Result<(), ConnectionError> {
    let (program, values) = normal_program(k);
    let response = connection.run(&program).await?;
    let read: Vec<u32> = response.reads.iter().map(|&(v, _)| v).collect();
    assert_eq!(read, values);
    Ok(())
}

/// The MADC records "until stopped" (sample count 0) over the longest wait: about a billion samples.
fn endless_recording() -> (Program, u32) {
    let mut program = ProgramBuilder::new();
    let recording = EventRecordingConfig { enable_event_recording: true };
    program.write_all(recording.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    program.systime_sync();
    program.timer_reset();
    let madc = MadcControl { enable_sampling: true, number_of_samples: UInt::new(0).unwrap(), ..Default::default() };
    program.write_all(madc.writes(()).into_iter().map(Into::<(u32, u32)>::into));
    program.wait_until(u32::MAX);
    let program = program.build();
    let wait = program.words().len() as u32 - 2;
    (program, wait)
}

/// A program of 3 Mi words (writes), three times what a server takes.
fn oversized_program() -> Program {
    let mut program = ProgramBuilder::new();
    for i in 0..(3 << 19) {
        program.write(0x14_0000 + (i % 100), i);
    }
    program.build()
}

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = bss2_protocol::link::fault::SplitMix::new(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// A data frame starting a program that never ends (sequence number 0, so a new session takes it in order).
fn unfinished_program_frame() -> Datagram {
    Datagram::Frame(Frame { ack: 255, seq: 0, ptype: PTYPE_UT, words: vec![ToFpga::TimerSetup.encode(); 100] })
}

/// Asserts that a run failed with the FPGA's timeout notification at `instruction`.
fn refused(outcome: Result<bss2_protocol::program::Response, ConnectionError>, instruction: u32) {
    match outcome {
        Err(ConnectionError::Response { source: ResponseError::Timeout { instruction: i, .. }, .. }) => {
            assert_eq!(i, instruction)
        }
        other => panic!("expected a timeout notification at instruction {instruction}, got {other:?}"),
    }
}

async fn attack_tcp(server: &Server) {
    let address = server.address();
    // Random bytes, then a huge frame: 8 MB without a frame terminator.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(&noise(1 << 20, 1)).await.unwrap();
    stream.write_all(&vec![0x55; 8 << 20]).await.unwrap();
    stream.write_all(&[0]).await.unwrap();
    drop(stream);
    // 1000 connections, 250 at a time: most of each batch are over the limit and closed by the server at once;
    // the others start a program that never ends.
    let mut frame = Vec::new();
    encode_stream_frame(&unfinished_program_frame(), &mut frame);
    for _ in 0..4 {
        let mut streams = Vec::new();
        for _ in 0..250 {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            // A closed connection may refuse the write; that is fine.
            let _ = stream.write_all(&frame).await;
            streams.push(stream);
        }
        // The server serves at most 32 at once and closes the others at once: at least 218 of these read the
        // end of the stream (or a reset). The served ones wait for more, so count until enough have closed.
        let mut reads = tokio::task::JoinSet::new();
        for mut stream in streams {
            reads.spawn(async move {
                let mut buffer = [0u8; 64];
                let closed = matches!(stream.read(&mut buffer).await, Ok(0) | Err(_));
                (closed, stream)
            });
        }
        let mut closed = 0;
        let mut open = Vec::new();
        while closed < 250 - 32 {
            match tokio::time::timeout(GENEROUS, reads.join_next()).await {
                Ok(Some(Ok((true, _)))) => closed += 1,
                Ok(Some(Ok((false, stream)))) => open.push(stream),
                other => panic!("only {closed} of 250 connections were closed by the server: {other:?}"),
            }
        }
        reads.abort_all();
    }
}

async fn attack_udp(server: &Server) {
    let address = server.address();
    // Random datagrams of any size, and huge ones.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..2000 {
        let size = if i % 10 == 0 { 60_000 } else { i % 1600 };
        stranger.send_to(&noise(size, i as u64), &address).await.unwrap();
    }
    // 1000 client addresses, each starting a program that never ends; only 32 get a session.
    let datagram = unfinished_program_frame().encode();
    for _ in 0..4 {
        let mut sockets = Vec::new();
        for _ in 0..250 {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.send_to(&datagram, &address).await.unwrap();
            sockets.push(socket);
        }
    }
}

async fn hostile(listen: &str) {
    let mut server = Server::start(listen);
    let endpoint = server.endpoint.clone();
    let mut first = connect(&endpoint).await;
    served(&mut first, 0).await.unwrap();
    let before = server.memory_kb("VmRSS:");

    // A program longer than the server takes: refused at its limit (1 Mi words).
    refused(first.run(&oversized_program()).await, 1 << 20);
    // An endless recording: stopped where the response reaches its limit, at the wait.
    let mut second = connect(&endpoint).await;
    let (endless, wait) = endless_recording();
    refused(second.run(&endless).await, wait);
    // A flood of programs sent without waiting for their answers: the session is closed (over TCP the client
    // reads the end of the stream; UDP has no such signal, the log says it).
    let mut link = connect(&endpoint).await.into_link();
    let halt = ToFpga::Loopback(Loopback::Halt).encode();
    link.send(&vec![halt; 5000]).await.unwrap();
    if listen.starts_with("tcp") {
        let ended = tokio::time::timeout(GENEROUS, async {
            loop {
                if let Err(e) = link.recv().await {
                    break e;
                }
            }
        })
        .await
        .expect("the flooding client's session ends");
        eprintln!("{listen}: the flooding client's link ended: {ended}");
    }
    drop(link);

    if listen.starts_with("tcp") {
        attack_tcp(&server).await;
    } else {
        attack_udp(&server).await;
    }

    // The server lives, and serves a normal client (UDP: once a departed client's session has been silent
    // long enough to make room; each attempt waits for its link's peer timeout at most).
    assert!(server.alive(), "the server died: {}", server.log());
    let mut attempts = 0;
    loop {
        attempts += 1;
        match served(&mut connect(&endpoint).await, attempts).await {
            Ok(()) => break,
            // TCP: the server may not have seen the last batch close yet, so all its slots are taken.
            Err(e) if attempts < 50 => {
                eprintln!("{listen}: attempt {attempts}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{listen}: no normal client served after {attempts} attempts: {e}\n{}", server.log()),
        }
    }
    let (peak, after) = (server.memory_kb("VmHWM:"), server.memory_kb("VmRSS:"));
    eprintln!("{listen}: resident {before} kB before the attacks, peak {peak} kB, {after} kB after");
    assert!(peak < MEMORY_LIMIT_KB, "{listen}: peak resident memory {peak} kB");
    for why in ["is longer than 1048576 words", "its response would exceed 2097152 words", "programs queued"] {
        let logged = (0..600).any(|_| {
            let found = server.log().contains(why);
            if !found {
                std::thread::sleep(Duration::from_millis(100));
            }
            found
        });
        assert!(logged, "{listen}: no log line saying {why:?}:\n{}", server.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_tcp_client_cannot_exhaust_the_served_emulator() {
    hostile("tcp://127.0.0.1:0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_udp_client_cannot_exhaust_the_served_emulator() {
    hostile("udp://127.0.0.1:0").await;
}
