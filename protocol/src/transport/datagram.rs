//! Moving link datagrams: one [`Transport`] type over an in-process channel pair, UDP, or any byte stream (TCP,
//! serial, USB) carrying the link's COBS + CRC-32 stream framing.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::link::frame::{HEADER_BYTES, MAX_PDU_WORDS};
use crate::link::{Datagram, StreamDeframer, encode_stream_frame};

/// The largest datagram on the wire (a full frame), in bytes.
const MAX_DATAGRAM_BYTES: usize = HEADER_BYTES + 8 * MAX_PDU_WORDS;

/// Socket buffer size requested for UDP transports (see [`Transport::udp`]).
pub const UDP_BUFFER_BYTES: usize = 4 << 20;

/// Bytes read from a byte stream at once.
const STREAM_READ_BYTES: usize = 1 << 16;

/// [`Transport::udp`] was given a socket that is not connected to a peer.
#[derive(Debug, thiserror::Error)]
#[error("the UDP socket must be connected to its peer first")]
struct NotConnected(#[source] io::Error);

/// How datagrams are put on a medium.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The medium keeps message boundaries (in-process channel, UDP): one datagram is the bytes of
    /// [`Datagram::encode`].
    Datagrams,
    /// A byte stream (TCP, serial, USB): each datagram is a COBS + CRC-32 frame of [`encode_stream_frame`].
    Stream,
}

/// A sender that takes encoded datagrams one by one and decides at once what becomes of them (the fault
/// injector: it queues them for later release), wrapping another sender.
pub(crate) trait EncodedSender: Send {
    /// Takes one encoded datagram.
    fn send(&mut self, bytes: Vec<u8>) -> io::Result<()>;
}

enum SenderKind {
    Channel(mpsc::UnboundedSender<Vec<u8>>),
    Udp(Arc<UdpSocket>),
    Stream(Box<dyn AsyncWrite + Unpin + Send>),
    Wrapped(Box<dyn EncodedSender>),
}

/// The sending half of a [`Transport`].
pub struct DatagramSender {
    kind: SenderKind,
    framing: Framing,
    buffer: Vec<u8>,
}

impl fmt::Debug for DatagramSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            SenderKind::Channel(_) => "channel",
            SenderKind::Udp(_) => "udp",
            SenderKind::Stream(_) => "stream",
            SenderKind::Wrapped(_) => "wrapped",
        };
        f.debug_struct("DatagramSender").field("kind", &kind).field("framing", &self.framing).finish()
    }
}

fn gone(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, what.to_string())
}

impl DatagramSender {
    fn new(kind: SenderKind, framing: Framing) -> DatagramSender {
        DatagramSender { kind, framing, buffer: Vec::new() }
    }

    /// A sender that hands its encoded datagrams (framed as `framing`) to `inner`.
    pub(crate) fn wrapped(inner: Box<dyn EncodedSender>, framing: Framing) -> DatagramSender {
        DatagramSender::new(SenderKind::Wrapped(inner), framing)
    }

    /// How this sender frames datagrams.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Appends the bytes of `datagram` as this sender puts them on its medium.
    pub fn encode_into(&self, datagram: &Datagram, out: &mut Vec<u8>) {
        match self.framing {
            Framing::Datagrams => datagram.encode_into(out),
            Framing::Stream => encode_stream_frame(datagram, out),
        }
    }

    /// Sends one datagram.
    pub async fn send(&mut self, datagram: &Datagram) -> io::Result<()> {
        self.send_all(std::slice::from_ref(datagram)).await
    }

    /// Sends datagrams in order (on a byte stream with a single write).
    ///
    /// Not cancel-safe on byte streams: cancelling it may leave half a frame on the stream, which the peer's
    /// deframer discards (the CRC fails) and the ARQ resends.
    pub async fn send_all(&mut self, datagrams: &[Datagram]) -> io::Result<()> {
        let framing = self.framing;
        let encode = |d: &Datagram, out: &mut Vec<u8>| match framing {
            Framing::Datagrams => d.encode_into(out),
            Framing::Stream => encode_stream_frame(d, out),
        };
        match &mut self.kind {
            SenderKind::Channel(tx) => {
                for d in datagrams {
                    tx.send(d.encode()).map_err(|_| gone("the in-process peer is gone"))?;
                }
                Ok(())
            }
            SenderKind::Udp(socket) => {
                for d in datagrams {
                    self.buffer.clear();
                    d.encode_into(&mut self.buffer);
                    send_udp(socket, &self.buffer).await?;
                }
                Ok(())
            }
            SenderKind::Stream(writer) => {
                self.buffer.clear();
                for d in datagrams {
                    encode_stream_frame(d, &mut self.buffer);
                }
                writer.write_all(&self.buffer).await?;
                writer.flush().await
            }
            SenderKind::Wrapped(inner) => {
                for d in datagrams {
                    let mut bytes = Vec::new();
                    encode(d, &mut bytes);
                    inner.send(bytes)?;
                }
                Ok(())
            }
        }
    }

    /// Sends already encoded datagrams (each as [`DatagramSender::encode_into`] gives it).
    pub(crate) async fn send_encoded(&mut self, packets: &[Vec<u8>]) -> io::Result<()> {
        match &mut self.kind {
            SenderKind::Channel(tx) => {
                for p in packets {
                    tx.send(p.clone()).map_err(|_| gone("the in-process peer is gone"))?;
                }
                Ok(())
            }
            SenderKind::Udp(socket) => {
                for p in packets {
                    send_udp(socket, p).await?;
                }
                Ok(())
            }
            SenderKind::Stream(writer) => {
                self.buffer.clear();
                for p in packets {
                    self.buffer.extend_from_slice(p);
                }
                writer.write_all(&self.buffer).await?;
                writer.flush().await
            }
            SenderKind::Wrapped(inner) => {
                for p in packets {
                    inner.send(p.clone())?;
                }
                Ok(())
            }
        }
    }
}

async fn send_udp(socket: &UdpSocket, bytes: &[u8]) -> io::Result<()> {
    match socket.send(bytes).await {
        Ok(_) => Ok(()),
        // Nobody listens (yet): the datagram is lost, as on any network; the ARQ resends it.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(e),
    }
}

enum ReceiverKind {
    Channel(mpsc::UnboundedReceiver<Vec<u8>>),
    Udp(Arc<UdpSocket>),
    Stream { reader: Box<dyn AsyncRead + Unpin + Send>, deframer: StreamDeframer, ready: VecDeque<Datagram> },
}

/// The receiving half of a [`Transport`].
pub struct DatagramReceiver {
    kind: ReceiverKind,
    buffer: Vec<u8>,
    rejected: Arc<AtomicU64>,
}

impl fmt::Debug for DatagramReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            ReceiverKind::Channel(_) => "channel",
            ReceiverKind::Udp(_) => "udp",
            ReceiverKind::Stream { .. } => "stream",
        };
        f.debug_struct("DatagramReceiver").field("kind", &kind).field("rejected", &self.rejected()).finish()
    }
}

impl DatagramReceiver {
    fn new(kind: ReceiverKind) -> DatagramReceiver {
        let size = match kind {
            ReceiverKind::Channel(_) => 0,
            // One byte more than the largest datagram, so that an oversized one is seen as such.
            ReceiverKind::Udp(_) => MAX_DATAGRAM_BYTES + 1,
            ReceiverKind::Stream { .. } => STREAM_READ_BYTES,
        };
        DatagramReceiver { kind, buffer: vec![0; size], rejected: Arc::default() }
    }

    /// Damaged datagrams received so far (wrong size, failed checksum, bad framing); they are skipped.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    pub(crate) fn rejected_counter(&self) -> Arc<AtomicU64> {
        self.rejected.clone()
    }

    /// The next datagram that decodes; damaged ones are counted in [`rejected`](Self::rejected) and skipped.
    /// An error means the medium failed or the peer closed it (for UDP: only a real socket error).
    ///
    /// Cancel-safe: nothing is lost when the future is dropped before it completes (usable in `select!`).
    pub async fn recv(&mut self) -> io::Result<Datagram> {
        loop {
            let decoded = match &mut self.kind {
                ReceiverKind::Channel(rx) => {
                    let bytes = rx.recv().await.ok_or_else(|| gone("the in-process peer is gone"))?;
                    Datagram::decode(&bytes)
                }
                ReceiverKind::Udp(socket) => {
                    let n = match socket.recv(&mut self.buffer).await {
                        Ok(n) => n,
                        // An ICMP "port unreachable" for something we sent: the peer is not there (yet).
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                        Err(e) => return Err(e),
                    };
                    Datagram::decode(&self.buffer[..n])
                }
                ReceiverKind::Stream { reader, deframer, ready } => {
                    if let Some(d) = ready.pop_front() {
                        return Ok(d);
                    }
                    let n = reader.read(&mut self.buffer).await?;
                    if n == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the connection"));
                    }
                    for result in deframer.push(&self.buffer[..n]) {
                        match result {
                            Ok(d) => ready.push_back(d),
                            Err(_) => {
                                self.rejected.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    continue;
                }
            };
            match decoded {
                Ok(d) => return Ok(d),
                Err(_) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Datagrams to and from one peer, over any medium.
///
/// * [`Transport::pair`]: two connected in-process ends (tokio channels carrying the encoded datagrams).
/// * [`Transport::udp`]: one HostARQ datagram per UDP datagram, as the real systems do.
/// * [`Transport::stream`]: any byte stream; datagrams travel as COBS + CRC-32 frames (TCP, serial, USB).
/// * [`Transport::connect`] opens one of these from an [`Endpoint`](super::Endpoint); a
///   [`Listener`](super::Listener) is the server side for TCP and UDP.
/// * [`Transport::with_faults`] wraps a transport so that what it sends suffers seeded faults (tests).
///
/// A transport does not make the medium reliable: that is the job of [`Link`](super::Link).
#[derive(Debug)]
pub struct Transport {
    sender: DatagramSender,
    receiver: DatagramReceiver,
    peer: String,
}

impl Transport {
    /// Assembles a transport from halves; `peer` names the other end in error messages.
    pub fn from_parts(sender: DatagramSender, receiver: DatagramReceiver, peer: impl Into<String>) -> Transport {
        Transport { sender, receiver, peer: peer.into() }
    }

    /// Two connected in-process ends (unbounded tokio channels; they work across runtimes and threads).
    pub fn pair() -> (Transport, Transport) {
        let (a_tx, b_rx) = mpsc::unbounded_channel();
        let (b_tx, a_rx) = mpsc::unbounded_channel();
        let end = |tx, rx, name: &str| Transport {
            sender: DatagramSender::new(SenderKind::Channel(tx), Framing::Datagrams),
            receiver: DatagramReceiver::new(ReceiverKind::Channel(rx)),
            peer: name.to_string(),
        };
        (end(a_tx, a_rx, "in-process peer b"), end(b_tx, b_rx, "in-process peer a"))
    }

    /// HostARQ datagrams over a UDP socket that is connected to its peer (`UdpSocket::connect`).
    ///
    /// The socket's buffers are enlarged to [`UDP_BUFFER_BYTES`] (as far as the system allows, e.g. Linux's
    /// `net.core.rmem_max`): the peer may send a whole window of 128 full frames at once, which overflows a
    /// default-sized receive buffer and turns into loss and retransmissions.
    pub fn udp(socket: UdpSocket) -> io::Result<Transport> {
        let peer = socket.peer_addr().map_err(|e| io::Error::new(e.kind(), NotConnected(e)))?;
        let options = socket2::SockRef::from(&socket);
        // Best effort: the system caps the sizes silently; a refusal only costs speed.
        let _ = options.set_recv_buffer_size(UDP_BUFFER_BYTES);
        let _ = options.set_send_buffer_size(UDP_BUFFER_BYTES);
        let socket = Arc::new(socket);
        Ok(Transport {
            sender: DatagramSender::new(SenderKind::Udp(socket.clone()), Framing::Datagrams),
            receiver: DatagramReceiver::new(ReceiverKind::Udp(socket)),
            peer: format!("udp://{peer}"),
        })
    }

    /// Datagrams over a byte stream, COBS + CRC-32 framed; `peer` names the other end in error messages.
    pub fn stream(
        reader: impl AsyncRead + Unpin + Send + 'static,
        writer: impl AsyncWrite + Unpin + Send + 'static,
        peer: impl Into<String>,
    ) -> Transport {
        Transport {
            sender: DatagramSender::new(SenderKind::Stream(Box::new(writer)), Framing::Stream),
            receiver: DatagramReceiver::new(ReceiverKind::Stream {
                reader: Box::new(reader),
                deframer: StreamDeframer::new(),
                ready: VecDeque::new(),
            }),
            peer: peer.into(),
        }
    }

    /// Datagrams over a connected TCP stream (Nagle's algorithm is switched off).
    pub fn tcp(stream: TcpStream) -> io::Result<Transport> {
        stream.set_nodelay(true)?;
        let peer = format!("tcp://{}", stream.peer_addr()?);
        let (reader, writer) = stream.into_split();
        Ok(Transport::stream(reader, writer, peer))
    }

    /// Datagrams over an open serial port (e.g. one end of `tokio_serial::SerialStream::pair()`).
    pub fn serial(port: tokio_serial::SerialStream, name: impl Into<String>) -> Transport {
        let (reader, writer) = tokio::io::split(port);
        Transport::stream(reader, writer, name)
    }

    /// The same transport, naming its peer `peer` in error messages.
    pub(crate) fn named(self, peer: impl Into<String>) -> Transport {
        Transport { peer: peer.into(), ..self }
    }

    /// The same transport with its sender replaced by `wrap(sender)` (e.g. the fault injector around it).
    pub(crate) fn wrap_sender(self, wrap: impl FnOnce(DatagramSender) -> DatagramSender) -> Transport {
        Transport { sender: wrap(self.sender), ..self }
    }

    /// Names the other end (the endpoint string where there is one).
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// How datagrams are framed on this transport's medium.
    pub fn framing(&self) -> Framing {
        self.sender.framing
    }

    /// Splits into the sending and the receiving half (to use them from different tasks).
    pub fn split(self) -> (DatagramSender, DatagramReceiver) {
        (self.sender, self.receiver)
    }

    /// Sends one datagram (see [`DatagramSender::send`]).
    pub async fn send(&mut self, datagram: &Datagram) -> io::Result<()> {
        self.sender.send(datagram).await
    }

    /// Receives the next datagram that decodes (see [`DatagramReceiver::recv`]; cancel-safe).
    pub async fn recv(&mut self) -> io::Result<Datagram> {
        self.receiver.recv().await
    }

    /// Damaged datagrams received and skipped so far.
    pub fn rejected(&self) -> u64 {
        self.receiver.rejected()
    }
}
