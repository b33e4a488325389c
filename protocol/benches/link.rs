//! Throughput of a [`Link`] over loopback UDP without injected faults: one end sends full frames (180 words)
//! as fast as the window allows, the other receives them; criterion reports payload bytes per second (the
//! HostARQ headers, acknowledgements and any retransmissions are not counted).

use std::time::{Duration, Instant};

use bss2_protocol::transport::{Endpoint, Link, Listener, Transport};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Payload words per measured iteration (8 MiB).
const WORDS: usize = 1 << 20;

fn udp_pair(runtime: &tokio::runtime::Runtime) -> (Link, Link) {
    runtime.block_on(async {
        let mut listener = Listener::bind(&Endpoint::parse("udp://127.0.0.1:0").unwrap()).await.unwrap();
        let endpoint = listener.endpoint().unwrap();
        let mut client = Link::new(Transport::connect(&endpoint).await.unwrap());
        // The server learns the client from its first datagram.
        client.send(&[0]).await.unwrap();
        let mut server = Link::new(listener.accept().await.unwrap());
        assert_eq!(server.recv().await.unwrap(), [0]);
        client.flush().await.unwrap();
        (client, server)
    })
}

/// Sends `words` words from `tx` to `rx` and waits until all have arrived.
async fn transfer(tx: &mut Link, rx: &mut Link, payload: &[u64], words: usize) {
    let send = async {
        let mut sent = 0;
        while sent < words {
            let n = payload.len().min(words - sent);
            tx.send(&payload[..n]).await.unwrap();
            sent += n;
        }
    };
    let receive = async {
        let mut got = 0;
        while got < words {
            got += rx.recv().await.unwrap().len();
        }
        assert_eq!(got, words);
    };
    tokio::join!(send, receive);
}

fn link_udp(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut client, mut server) = udp_pair(&runtime);
    let payload: Vec<u64> = (0..180 * 64).collect();
    let mut group = c.benchmark_group("link");
    group.throughput(Throughput::Bytes(8 * WORDS as u64)).sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("udp_loopback_8MiB", |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            runtime.block_on(async {
                for _ in 0..iterations {
                    transfer(&mut client, &mut server, &payload, WORDS).await;
                }
            });
            start.elapsed()
        })
    });
    group.finish();
    let (sent, received) = (client.stats(), server.stats());
    let frames = received.payloads_delivered;
    eprintln!(
        "link/udp: {frames} frames delivered; the sender sent {} datagrams ({:.2} % more than frames: \
         retransmissions), the receiver sent {} acknowledgements; {} datagrams rejected",
        sent.datagrams_sent,
        100.0 * (sent.datagrams_sent as f64 / frames.max(1) as f64 - 1.0),
        received.datagrams_sent,
        received.datagrams_rejected,
    );
}

criterion_group!(benches, link_udp);
criterion_main!(benches);
