//! Moving link datagrams: one [`Transport`] type over an in-process channel pair, UDP, or any byte stream (TCP,
//! serial, USB) carrying the link's COBS + CRC-32 stream framing.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::endpoint::Endpoint;
use super::fault::FaultySender;
use crate::link::fault::Faults;
use crate::link::frame::{HEADER_BYTES, MAX_PDU_WORDS};
use crate::link::{Datagram, StreamDeframer, encode_stream_frame};

/// The largest datagram on the wire (a full frame), in bytes.
const MAX_DATAGRAM_BYTES: usize = HEADER_BYTES + 8 * MAX_PDU_WORDS;

/// Socket buffer size requested for UDP transports (see [`Transport::udp`]).
pub const UDP_BUFFER_BYTES: usize = 4 << 20;

/// Bytes read from a byte stream at once.
const STREAM_READ_BYTES: usize = 1 << 16;

/// Why a transport could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The operating system refused (resolve, connect, bind, open).
    #[error("{endpoint}: {source}")]
    Io {
        /// The endpoint.
        endpoint: String,
        /// The OS error.
        source: io::Error,
    },
    /// No USB device with these ids, no USB subsystem, or the device lacks the expected interface/endpoints.
    #[error("usb://{vid:04x}:{pid:04x}: {reason}")]
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
        /// What went wrong.
        reason: String,
    },
    /// The endpoint kind cannot do this (e.g. listen on a serial port).
    #[error("{endpoint}: {reason}")]
    Unsupported {
        /// The endpoint.
        endpoint: String,
        /// What is not supported.
        reason: String,
    },
}

/// How datagrams are put on a medium.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The medium keeps message boundaries (in-process channel, UDP): one datagram is the bytes of
    /// [`Datagram::encode`].
    Datagrams,
    /// A byte stream (TCP, serial, USB): each datagram is a COBS + CRC-32 frame of [`encode_stream_frame`].
    Stream,
}

pub(crate) enum SenderKind {
    Channel(mpsc::UnboundedSender<Vec<u8>>),
    Udp(Arc<UdpSocket>),
    Stream(Box<dyn AsyncWrite + Unpin + Send>),
    Faulty(FaultySender),
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
            SenderKind::Faulty(_) => "faulty",
        };
        f.debug_struct("DatagramSender").field("kind", &kind).field("framing", &self.framing).finish()
    }
}

fn gone(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, what.to_string())
}

impl DatagramSender {
    pub(crate) fn new(kind: SenderKind, framing: Framing) -> DatagramSender {
        DatagramSender { kind, framing, buffer: Vec::new() }
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
            SenderKind::Faulty(faulty) => {
                for d in datagrams {
                    let mut bytes = Vec::new();
                    encode(d, &mut bytes);
                    faulty.send(bytes)?;
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
            SenderKind::Faulty(faulty) => {
                for p in packets {
                    faulty.send(p.clone())?;
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
/// * [`Transport::connect`] opens one of these from an [`Endpoint`]; a [`Listener`] is the server side for
///   TCP and UDP.
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
        let peer = socket.peer_addr().map_err(|e| {
            io::Error::new(e.kind(), format!("the UDP socket must be connected to its peer first ({e})"))
        })?;
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

    /// Opens a client transport to an endpoint.
    ///
    /// UDP binds an OS-chosen local port and connects to the peer; nothing is sent until the link sends.
    /// Serial opens the device at the endpoint's speed (8N1, no flow control). USB looks the device up by
    /// vendor and product id, claims interface 0 and uses bulk endpoints 0x01 (OUT) and 0x81 (IN) as a byte
    /// stream; without such a device, or without a USB subsystem, the error says so.
    pub async fn connect(endpoint: &Endpoint) -> Result<Transport, TransportError> {
        let io_err = |source| TransportError::Io { endpoint: endpoint.to_string(), source };
        let transport = match endpoint {
            Endpoint::Tcp { .. } => {
                let address = endpoint.socket_address().unwrap_or_default();
                let stream = TcpStream::connect(&address).await.map_err(io_err)?;
                Transport::tcp(stream).map_err(io_err)?
            }
            Endpoint::Udp { .. } => {
                let address = endpoint.socket_address().unwrap_or_default();
                let peer = tokio::net::lookup_host(&address)
                    .await
                    .map_err(io_err)?
                    .next()
                    .ok_or_else(|| io_err(io::Error::new(io::ErrorKind::NotFound, "the host has no address")))?;
                let local: SocketAddr = if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(local).await.map_err(io_err)?;
                socket.connect(peer).await.map_err(io_err)?;
                Transport::udp(socket).map_err(io_err)?
            }
            Endpoint::Serial { path, baud } => {
                let port = tokio_serial::SerialStream::open(&tokio_serial::new(path, *baud))
                    .map_err(|e| io_err(io::Error::other(format!("cannot open the serial port: {e}"))))?;
                Transport::serial(port, endpoint.to_string())
            }
            Endpoint::Usb { vid, pid } => super::usb::open(*vid, *pid).await?,
        };
        Ok(Transport { peer: endpoint.to_string(), ..transport })
    }

    /// Wraps this transport so that every datagram it sends suffers seeded faults: loss, corruption,
    /// duplication, reordering and delay (see [`Faults`]; the same seed and send order give the same faults).
    ///
    /// * `drop`: the datagram is lost.
    /// * `corrupt`: on a byte stream one bit of the frame is flipped (the stream framing's CRC must catch
    ///   it); on UDP and in-process the datagram loses its last byte (a real UDP checksum would drop a
    ///   corrupted datagram; a truncated one exercises the receiver's size check instead).
    /// * `duplicate`: the datagram goes out twice.
    /// * `reorder`: the datagram is held back until the next datagram has passed it (or at most 1 ms). Not
    ///   further: HostARQ's 8-bit cumulative acknowledgements go wrong when one is overtaken by two others,
    ///   each of which can advance the acknowledgement by a whole window.
    /// * `latency_us`, `jitter_us`: each datagram is delayed by the latency plus a random part of the jitter,
    ///   but never overtakes an earlier one (order-preserving delay).
    /// * `spacing_us`: at least this much time between datagrams (a bandwidth limit).
    ///
    /// Only the sending direction of this end is affected: wrap both ends for faults both ways. Spawns a task,
    /// so it must be called within a tokio runtime.
    pub fn with_faults(self, faults: Faults, seed: u64) -> Transport {
        let framing = self.sender.framing;
        let faulty = FaultySender::spawn(self.sender, faults, seed);
        Transport { sender: DatagramSender::new(SenderKind::Faulty(faulty), framing), ..self }
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

/// The server side for TCP and UDP: binds an endpoint and accepts one peer at a time.
#[derive(Debug)]
pub enum Listener {
    /// TCP: every accepted connection becomes a transport.
    Tcp(TcpListener),
    /// UDP: the bound socket becomes the transport to whoever sends the first datagram (the client must
    /// speak first, as a HostARQ host does); `None` once it has been handed out.
    Udp(Option<UdpSocket>),
}

impl Listener {
    /// Binds a `tcp://` or `udp://` endpoint (port 0 picks a free port; see [`Listener::local_addr`]).
    pub async fn bind(endpoint: &Endpoint) -> Result<Listener, TransportError> {
        let io_err = |source| TransportError::Io { endpoint: endpoint.to_string(), source };
        match endpoint {
            Endpoint::Tcp { .. } => {
                let address = endpoint.socket_address().unwrap_or_default();
                Ok(Listener::Tcp(TcpListener::bind(address).await.map_err(io_err)?))
            }
            Endpoint::Udp { .. } => {
                let address = endpoint.socket_address().unwrap_or_default();
                Ok(Listener::Udp(Some(UdpSocket::bind(address).await.map_err(io_err)?)))
            }
            other => Err(TransportError::Unsupported {
                endpoint: other.to_string(),
                reason: "only tcp:// and udp:// endpoints can listen; serial and USB ports are opened with \
                         Transport::connect on both ends"
                    .into(),
            }),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr(),
            Listener::Udp(Some(socket)) => socket.local_addr(),
            Listener::Udp(None) => Err(io::Error::other("the UDP socket was handed to the accepted peer")),
        }
    }

    /// The endpoint string of the bound address (e.g. to hand to a client after binding port 0).
    pub fn endpoint(&self) -> io::Result<Endpoint> {
        let address = self.local_addr()?;
        let host = match address.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        Ok(match self {
            Listener::Tcp(_) => Endpoint::Tcp { host, port: address.port() },
            Listener::Udp(_) => Endpoint::Udp { host, port: address.port() },
        })
    }

    /// Waits for the next peer. For UDP this can be called once: it waits for the first datagram (which
    /// stays queued for the link), connects the socket to its sender and hands the socket out; datagrams from
    /// anyone else are ignored from then on.
    pub async fn accept(&mut self) -> io::Result<Transport> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                Transport::tcp(stream)
            }
            Listener::Udp(slot) => {
                let socket = slot.as_ref().ok_or_else(|| {
                    io::Error::other("the UDP listener serves one peer, and it has been accepted already")
                })?;
                // Large enough for any datagram: some systems fail a peek into a buffer that is too small.
                let mut probe = vec![0u8; 1 << 16];
                let peer = loop {
                    match socket.peek_from(&mut probe).await {
                        Ok((_, peer)) => break peer,
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                        Err(e) => return Err(e),
                    }
                };
                let socket = slot.take().ok_or_else(|| io::Error::other("the UDP socket is gone"))?;
                socket.connect(peer).await?;
                Transport::udp(socket)
            }
        }
    }
}
