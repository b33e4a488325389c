//! Opening endpoints: [`Transport::connect`] for clients of every endpoint kind, [`Listener`] for TCP and UDP
//! servers.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::datagram::Transport;
use super::endpoint::Endpoint;
use super::error::TransportError;
use super::usb;

impl Transport {
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
                    .ok_or_else(|| TransportError::NoAddress { endpoint: endpoint.to_string() })?;
                let local: SocketAddr = if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(local).await.map_err(io_err)?;
                socket.connect(peer).await.map_err(io_err)?;
                Transport::udp(socket).map_err(io_err)?
            }
            Endpoint::Serial { path, baud } => {
                let port = tokio_serial::SerialStream::open(&tokio_serial::new(path, *baud))
                    .map_err(|source| TransportError::Serial { endpoint: endpoint.to_string(), source })?;
                Transport::serial(port, endpoint.to_string())
            }
            Endpoint::Usb { vid, pid } => {
                let (vid, pid) = (*vid, *pid);
                usb::open(vid, pid).await.map_err(|source| TransportError::Usb { vid, pid, source })?
            }
        };
        Ok(transport.named(endpoint.to_string()))
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
                         Transport::connect on both ends",
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
