//! Links over real transports, each end sending through the fault wrapper (10 % drops, 1 % corruption, 2 %
//! duplicates, 5 % reordering): 10^5 messages (sends of 64-bit words carrying a sequence number) in each
//! direction arrive exactly once and in order over an in-process pair, loopback TCP, loopback UDP and a
//! pseudo-terminal pair with a serial transport on each end. A peer that stops answering is reported as such.
#![cfg(feature = "io")]

use std::time::{Duration, Instant};

use bss2_protocol::link::fault::{Faults, SplitMix};
use bss2_protocol::transport::{Endpoint, Link, LinkConfig, LinkError, Listener, Transport};

const MESSAGES: u64 = 100_000;

fn faults() -> Faults {
    Faults { drop: 0.10, corrupt: 0.01, duplicate: 0.02, reorder: 0.05, ..Faults::default() }
}

/// One end: sends `MESSAGES` messages, mostly of 1 to 4 words (one frame each, so the 8-bit sequence numbers
/// wrap hundreds of times), every 100th of 100 to 400 words (split over several frames). Word `n` of the
/// stream is `tag_out ^ n`. Checks that the words from the other end are `tag_in ^ n`, n = 0, 1, 2, ... with
/// nothing missing, repeated or extra.
async fn side(mut link: Link, tag_out: u64, tag_in: u64, seed: u64) -> Link {
    let mut rng = SplitMix::new(seed);
    let lengths: Vec<u64> = (0..MESSAGES)
        .map(|m| if m % 100 == 99 { 100 + rng.next_u64() % 301 } else { 1 + rng.next_u64() % 4 })
        .collect();
    let total: u64 = lengths.iter().sum();
    // Both ends draw the same lengths only if they share the seed, so announce the total first.
    link.send(&[total]).await.unwrap();
    let expected = loop {
        if let [n] = link.recv().await.unwrap()[..] {
            break n;
        }
    };
    let (mut sent, mut next) = (0u64, 0u64);
    for len in lengths {
        let words: Vec<u64> = (sent..sent + len).map(|w| tag_out ^ w).collect();
        link.send(&words).await.unwrap();
        sent += len;
        while let Some(payload) = link.try_recv() {
            check(&payload, tag_in, &mut next, expected);
        }
    }
    while next < expected {
        let payload = link.recv().await.unwrap();
        check(&payload, tag_in, &mut next, expected);
    }
    link.flush().await.unwrap();
    link
}

fn check(payload: &[u64], tag: u64, next: &mut u64, expected: u64) {
    assert!(!payload.is_empty() && payload.len() <= 180);
    for &word in payload {
        assert_eq!(word ^ tag, *next, "lost, duplicated or out of order");
        *next += 1;
    }
    assert!(*next <= expected, "more words than were sent");
}

/// Runs both ends; reports what the first end saw.
async fn exchange(a: Link, b: Link, what: &str) {
    let start = Instant::now();
    let (a, b) = tokio::join!(
        side(a, 0xA000_0000_0000_0000, 0xB000_0000_0000_0000, 1),
        side(b, 0xB000_0000_0000_0000, 0xA000_0000_0000_0000, 2)
    );
    finish(a, b, what, start).await;
}

async fn finish(mut a: Link, mut b: Link, what: &str, start: Instant) {
    // Nothing extra arrives later (a duplicate delivered after the last expected word would show here).
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(a.try_recv(), None);
    assert_eq!(b.try_recv(), None);
    let (sa, sb) = (a.stats(), b.stats());
    eprintln!(
        "{what}: 2 x {MESSAGES} messages in {:.2?}; a sent {} datagrams, received {} (+{} damaged, {} dropped); b \
         sent {}, received {} (+{} damaged, {} dropped)",
        start.elapsed(),
        sa.datagrams_sent,
        sa.datagrams_received,
        sa.datagrams_rejected,
        sa.datagrams_dropped,
        sb.datagrams_sent,
        sb.datagrams_received,
        sb.datagrams_rejected,
        sb.datagrams_dropped,
    );
    assert!(sa.datagrams_rejected + sb.datagrams_rejected > 0, "corruption was injected but nothing was rejected");
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_pair_with_faults() {
    let (a, b) = Transport::pair();
    // Here also an order-preserving delay of 100 to 400 us.
    let delayed = Faults { latency_us: 100, jitter_us: 300, ..faults() };
    let (a, b) = (a.with_faults(delayed, 11), b.with_faults(delayed, 12));
    exchange(Link::new(a), Link::new(b), "in-process").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_tcp_with_faults() {
    let mut listener = Listener::bind(&Endpoint::parse("tcp://127.0.0.1:0").unwrap()).await.unwrap();
    let endpoint = listener.endpoint().unwrap();
    let (client, server) = tokio::join!(Transport::connect(&endpoint), listener.accept());
    let (client, server) = (client.unwrap(), server.unwrap());
    assert_eq!(client.peer(), endpoint.to_string());
    exchange(Link::new(client.with_faults(faults(), 21)), Link::new(server.with_faults(faults(), 22)), "tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_udp_with_faults() {
    let mut listener = Listener::bind(&Endpoint::parse("udp://127.0.0.1:0").unwrap()).await.unwrap();
    let endpoint = listener.endpoint().unwrap();
    let client = Transport::connect(&endpoint).await.unwrap();
    // The server learns its peer from the client's first datagram, so the client starts sending first.
    let start = Instant::now();
    let client = Link::new(client.with_faults(faults(), 31));
    let client_side = side(client, 0xA000_0000_0000_0000, 0xB000_0000_0000_0000, 1);
    let server_side = async {
        let server = listener.accept().await.unwrap();
        side(Link::new(server.with_faults(faults(), 32)), 0xB000_0000_0000_0000, 0xA000_0000_0000_0000, 2).await
    };
    let (a, b) = tokio::join!(client_side, server_side);
    finish(a, b, "udp", start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pseudo_terminal_serial_pair_with_faults() {
    let (a, b) = tokio_serial::SerialStream::pair().expect("a pseudo-terminal pair");
    let (a, b) = (Transport::serial(a, "pty master"), Transport::serial(b, "pty slave"));
    exchange(Link::new(a.with_faults(faults(), 41)), Link::new(b.with_faults(faults(), 42)), "pty").await;
}

fn quick_timeout() -> LinkConfig {
    LinkConfig { peer_timeout: Duration::from_millis(300), ..LinkConfig::default() }
}

#[tokio::test]
async fn a_silent_peer_is_reported() {
    let (a, _silent) = Transport::pair();
    let config = quick_timeout();
    let mut link = Link::with_config(a, config);
    link.send(&[1, 2, 3]).await.unwrap();
    let e = link.flush().await.unwrap_err();
    // Reported only after the whole configured silence, and the frame was retried meanwhile (the first
    // retransmission is due one RTO after the first send, long before the silence ends).
    let LinkError::PeerSilent { silent, .. } = e else { panic!("{e}") };
    assert!(silent >= config.peer_timeout, "{e}");
    let sent = link.stats().datagrams_sent;
    let at_most = 1 + config.peer_timeout.as_micros() as u64 / config.arq.rto_us + 1;
    assert!((2..=at_most).contains(&sent), "{sent} transmissions of the frame, expected 2 to {at_most}");
    assert!(e.to_string().contains("no answer from the peer"), "{e}");
    // Later calls give the same error.
    assert!(matches!(link.recv().await, Err(LinkError::PeerSilent { .. })));
    assert!(matches!(link.send(&[4]).await, Err(LinkError::PeerSilent { .. })));
}

#[tokio::test]
async fn nobody_listening_on_udp_is_reported_with_the_endpoint() {
    // Bind a port, then free it, so that nothing listens there.
    let endpoint = Listener::bind(&Endpoint::parse("udp://127.0.0.1:0").unwrap()).await.unwrap().endpoint().unwrap();
    let mut link = Link::with_config(Transport::connect(&endpoint).await.unwrap(), quick_timeout());
    link.send(&[7]).await.unwrap();
    let e = link.flush().await.unwrap_err().to_string();
    assert!(e.starts_with(&endpoint.to_string()) && e.contains("no answer"), "{e}");
}

#[tokio::test]
async fn a_closed_tcp_peer_is_a_transport_error() {
    let mut listener = Listener::bind(&Endpoint::parse("tcp://127.0.0.1:0").unwrap()).await.unwrap();
    let endpoint = listener.endpoint().unwrap();
    let (client, server) = tokio::join!(Transport::connect(&endpoint), listener.accept());
    drop(server.unwrap());
    let mut link = Link::with_config(client.unwrap(), quick_timeout());
    let e = link.recv().await.unwrap_err();
    assert!(matches!(e, LinkError::Io { .. }), "{e}");
    let text = format!("{e}: {}", std::error::Error::source(&e).expect("the transport's error"));
    assert!(text.contains("transport failed: the peer closed the connection"), "{text}");
}
