//! The pseudo-terminal server: one client at a time. A session begins when a client opens the slave side
//! (as `serial://PATH`) and ends when it closes it (the master then reads EIO); data the last client left
//! unread is cleared before the next one comes.

#[cfg(unix)]
use std::time::Duration;

#[cfg(unix)]
use bss2_protocol::transport::{Endpoint, Link};

use super::error::ServeError;
use super::session::Shared;
#[cfg(unix)]
use super::session::{SessionFaults, report, serve_link, with_link_faults};
use crate::faults::ServerFaults;
#[cfg(unix)]
use crate::faults::session_seeds;

#[cfg(not(unix))]
pub(crate) async fn serve_pty(
    _shared: Shared,
    _faults: ServerFaults,
    _fault_seed: u64,
    _ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    Err(ServeError::PtyUnsupported)
}

#[cfg(unix)]
pub(crate) async fn serve_pty(
    shared: Shared,
    faults: ServerFaults,
    fault_seed: u64,
    ready: impl FnOnce(String),
) -> Result<(), ServeError> {
    use tokio_serial::SerialPort;

    let (master, slave) = tokio_serial::SerialStream::pair().map_err(ServeError::PtyCreate)?;
    let path = slave.name().ok_or(ServeError::PtyNoPath)?;
    // The client opens the slave side itself; while nobody has it open, the master reads EIO.
    drop(slave);
    let endpoint = Endpoint::Serial { path: path.clone(), baud: bss2_protocol::transport::DEFAULT_BAUD }.to_string();
    let (mut reader, mut writer) = tokio::io::split(master);
    tracing::info!("serving the emulator on {endpoint} (faults: {faults})");
    ready(endpoint.clone());
    for session in 1u64.. {
        let prefix = lending::wait_for_client(&mut reader).await;
        tracing::info!("{endpoint}: a client opened the pseudo-terminal");
        let (link_seed, stall_seed) = session_seeds(fault_seed, session);
        let (transport, returned) = lending::lend(reader, writer, prefix, &endpoint);
        let link = Link::new(with_link_faults(transport, &faults, link_seed));
        let session = SessionFaults { stall: faults.stall, seed: stall_seed };
        report(serve_link(link, shared.clone(), session).await, &endpoint, true);
        (reader, writer) = tokio::time::timeout(Duration::from_secs(30), returned)
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| ServeError::PtyKept { endpoint: endpoint.clone() })?;
        lending::clear_unread(&path);
    }
    Ok(())
}

/// Lending the pseudo-terminal's master to one session at a time.
#[cfg(unix)]
mod lending {
    use std::io;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use bss2_protocol::transport::Transport;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
    use tokio::sync::oneshot;
    use tokio_serial::{ClearBuffer, SerialStream};

    const EIO: i32 = 5;

    /// Set when the client closed the slave side (the master read EIO); wakes a writer blocked on a full
    /// queue, which nobody will drain any more.
    #[derive(Default)]
    struct Hangup {
        flag: AtomicBool,
        writer: Mutex<Option<Waker>>,
    }

    impl Hangup {
        fn signal(&self) {
            self.flag.store(true, Ordering::Release);
            if let Some(waker) = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take() {
                waker.wake();
            }
        }

        fn closed() -> io::Error {
            io::Error::new(io::ErrorKind::BrokenPipe, "the client closed the pseudo-terminal")
        }
    }

    /// Gives a value back when dropped.
    struct Lent<T> {
        value: Option<T>,
        back: Option<oneshot::Sender<T>>,
    }

    impl<T> Lent<T> {
        fn new(value: T) -> (Lent<T>, oneshot::Receiver<T>) {
            let (back, returned) = oneshot::channel();
            (Lent { value: Some(value), back: Some(back) }, returned)
        }

        fn get(&mut self) -> io::Result<&mut T> {
            self.value.as_mut().ok_or_else(Hangup::closed)
        }
    }

    impl<T> Drop for Lent<T> {
        fn drop(&mut self) {
            if let (Some(value), Some(back)) = (self.value.take(), self.back.take()) {
                let _ = back.send(value);
            }
        }
    }

    struct Reader {
        half: Lent<ReadHalf<SerialStream>>,
        /// Bytes read while waiting for the client, delivered first.
        prefix: Vec<u8>,
        at: usize,
        hangup: Arc<Hangup>,
    }

    impl AsyncRead for Reader {
        fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if this.at < this.prefix.len() {
                let n = buf.remaining().min(this.prefix.len() - this.at);
                buf.put_slice(&this.prefix[this.at..this.at + n]);
                this.at += n;
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            let half = match this.half.get() {
                Ok(half) => half,
                Err(e) => return Poll::Ready(Err(e)),
            };
            match Pin::new(half).poll_read(cx, buf) {
                Poll::Ready(Err(e)) => {
                    this.hangup.signal();
                    Poll::Ready(Err(if e.raw_os_error() == Some(EIO) {
                        io::Error::new(io::ErrorKind::UnexpectedEof, "the client closed the pseudo-terminal")
                    } else {
                        e
                    }))
                }
                Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                    this.hangup.signal();
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        }
    }

    struct Writer {
        half: Lent<WriteHalf<SerialStream>>,
        hangup: Arc<Hangup>,
    }

    impl Writer {
        /// Fails once the client has gone; otherwise makes sure a hangup wakes this task.
        fn check(&mut self, cx: &Context<'_>) -> io::Result<&mut WriteHalf<SerialStream>> {
            *self.hangup.writer.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            if self.hangup.flag.load(Ordering::Acquire) {
                return Err(Hangup::closed());
            }
            self.half.get()
        }
    }

    impl AsyncWrite for Writer {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            match self.get_mut().check(cx) {
                Ok(half) => Pin::new(half).poll_write(cx, buf),
                Err(e) => Poll::Ready(Err(e)),
            }
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match self.get_mut().check(cx) {
                Ok(half) => Pin::new(half).poll_flush(cx),
                Err(e) => Poll::Ready(Err(e)),
            }
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            // The master stays open for the next client.
            Poll::Ready(Ok(()))
        }
    }

    type Halves = (ReadHalf<SerialStream>, WriteHalf<SerialStream>);

    /// A transport over the master for one session; the future gives both halves back once the session has
    /// dropped them (its link's tasks have ended).
    pub(super) fn lend(
        reader: ReadHalf<SerialStream>,
        writer: WriteHalf<SerialStream>,
        prefix: Vec<u8>,
        name: &str,
    ) -> (Transport, impl Future<Output = Result<Halves, oneshot::error::RecvError>>) {
        let hangup = Arc::new(Hangup::default());
        let (reader, reader_back) = Lent::new(reader);
        let (writer, writer_back) = Lent::new(writer);
        let transport = Transport::stream(
            Reader { half: reader, prefix, at: 0, hangup: hangup.clone() },
            Writer { half: writer, hangup },
            name,
        );
        (transport, async move { Ok((reader_back.await?, writer_back.await?)) })
    }

    /// Waits until a client has the slave side open (reading the master no longer fails with EIO); returns
    /// what the client has sent already.
    pub(super) async fn wait_for_client(reader: &mut ReadHalf<SerialStream>) -> Vec<u8> {
        let mut buffer = vec![0u8; 1 << 12];
        loop {
            match tokio::time::timeout(Duration::from_millis(20), reader.read(&mut buffer)).await {
                // Nothing to read, but no error either: the slave side is open.
                Err(_) => return Vec::new(),
                Ok(Ok(n)) if n > 0 => return buffer[..n].to_vec(),
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Clears what the server sent that the last client left unread (it would reach the next client and,
    /// being frames of another session, confuse its link) by opening the slave side and flushing its input.
    pub(super) fn clear_unread(path: &str) {
        let cleared = tokio_serial::new(path, bss2_protocol::transport::DEFAULT_BAUD)
            .open()
            .and_then(|port| port.clear(ClearBuffer::Input));
        if let Err(e) = cleared {
            // Most likely the next client has opened it already.
            tracing::warn!("serial://{path}: cannot clear data the last client left unread: {e}");
        }
    }
}
