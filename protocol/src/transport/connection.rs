//! Running programs on a chip (real or emulated) behind any transport.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::datagram::Transport;
use super::endpoint::Endpoint;
use super::error::TransportError;
use super::link::{Link, LinkError};
use crate::program::{Program, Response, ResponseDecoder, ResponseError};

/// How long [`Connection::run`] waits for a program's response by default.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a program could not be run. The endpoint is named once, by the outermost error that knows it; causes
/// are sources.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The endpoint could not be opened.
    #[error("cannot open")]
    Open(#[from] TransportError),
    /// The link failed (peer dead, silent or gone); the link's error names the peer.
    #[error(transparent)]
    Link(LinkError),
    /// The halt did not come back in time.
    #[error("{endpoint}: no complete response within {timeout:?} ({words} response words received, the halt missing)")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The timeout.
        timeout: Duration,
        /// Response words received before giving up.
        words: usize,
    },
    /// The response is malformed or does not fit the program.
    #[error("{endpoint}: bad response")]
    Response {
        /// The endpoint.
        endpoint: String,
        /// What is wrong.
        source: ResponseError,
    },
    /// An earlier run failed before its halt came back, so responses of that program may still arrive: the
    /// connection cannot tell them from the next program's. Open a new connection.
    #[error("{endpoint}: unusable after an earlier failure; open a new connection")]
    Unusable {
        /// The endpoint.
        endpoint: String,
        /// The earlier failure.
        source: Arc<ConnectionError>,
    },
    /// The blocking wrapper was used from within an async context, where blocking would stall the executor.
    #[error("a BlockingConnection cannot be used from within an async context; use Connection there")]
    InAsyncContext,
    /// The blocking wrapper could not start its runtime.
    #[error("blocking connection: cannot start its runtime")]
    Runtime(#[source] io::Error),
}

/// A connection to a chip: runs programs and returns their responses.
///
/// One program runs at a time: [`Connection::run`] sends the program's words and decodes the response
/// stream until the echo of the program's final halt.
#[derive(Debug)]
pub struct Connection {
    link: Link,
    endpoint: String,
    timeout: Duration,
    broken: Option<Arc<ConnectionError>>,
}

impl Connection {
    /// A connection over a link; error messages name the link's peer.
    pub fn new(link: Link) -> Connection {
        let endpoint = link.peer().to_string();
        Connection { link, endpoint, timeout: DEFAULT_RUN_TIMEOUT, broken: None }
    }

    /// Opens an endpoint with a default [`Link`] (must be called within a tokio runtime).
    pub async fn open(endpoint: &Endpoint) -> Result<Connection, ConnectionError> {
        Ok(Connection::new(Link::new(Transport::connect(endpoint).await?)))
    }

    /// Longest time [`Connection::run`] waits for a complete response (default [`DEFAULT_RUN_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The run timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The endpoint (or peer) name used in errors.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The link underneath (e.g. for its statistics).
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Gives the link back.
    pub fn into_link(self) -> Link {
        self.link
    }

    /// Runs a program: sends its words, feeds the words that come back to a [`ResponseDecoder`] until the
    /// program's halt is echoed, and checks the response against the program (every read answered).
    ///
    /// If the run fails before the halt came back (timeout, link failure, malformed stream, FPGA timeout
    /// notification), the connection becomes unusable: later runs return [`ConnectionError::Unusable`].
    pub async fn run(&mut self, program: &Program) -> Result<Response, ConnectionError> {
        if let Some(earlier) = &self.broken {
            return Err(ConnectionError::Unusable { endpoint: self.endpoint.clone(), source: earlier.clone() });
        }
        let mut words = 0;
        let outcome = tokio::time::timeout(self.timeout, exchange(&mut self.link, program, &mut words)).await;
        let failure = match outcome {
            // The halt has arrived, so the stream is in step: a mismatch found now leaves the connection usable.
            Ok(Ok(decoder)) => {
                return decoder
                    .finish(program)
                    .map_err(|source| ConnectionError::Response { endpoint: self.endpoint.clone(), source });
            }
            Ok(Err(failure)) => failure,
            Err(_) => Failure::Timeout(words),
        };
        // One copy for the caller, one kept as the cause of later `Unusable` errors.
        self.broken = Some(Arc::new(self.error(&failure)));
        Err(self.error(&failure))
    }

    fn error(&self, failure: &Failure) -> ConnectionError {
        let endpoint = self.endpoint.clone();
        match failure {
            Failure::Link(source) => ConnectionError::Link(source.clone()),
            Failure::Response(source) => ConnectionError::Response { endpoint, source: source.clone() },
            &Failure::Timeout(words) => ConnectionError::Timeout { endpoint, timeout: self.timeout, words },
        }
    }
}

/// How a run failed before its halt came back.
enum Failure {
    Link(LinkError),
    Response(ResponseError),
    /// The timeout passed after this many response words.
    Timeout(usize),
}

async fn exchange(link: &mut Link, program: &Program, words: &mut usize) -> Result<ResponseDecoder, Failure> {
    link.send(&program.words()).await.map_err(Failure::Link)?;
    let mut decoder = ResponseDecoder::new();
    loop {
        let payload = link.recv().await.map_err(Failure::Link)?;
        *words += payload.len();
        if decoder.push(&payload).map_err(Failure::Response)? {
            return Ok(decoder);
        }
    }
}

/// A [`Connection`] for callers that are not async.
///
/// It owns a tokio runtime with one worker thread, not a current-thread runtime: the link's driver must keep
/// running between calls (acknowledging the peer's retransmissions, finishing sends), and on a current-thread
/// runtime tasks only run inside `block_on`.
#[derive(Debug)]
pub struct BlockingConnection {
    connection: Connection,
    runtime: tokio::runtime::Runtime,
}

impl BlockingConnection {
    /// Opens an endpoint (not from within an async context: see [`BlockingConnection::run`]).
    pub fn open(endpoint: &Endpoint) -> Result<BlockingConnection, ConnectionError> {
        let runtime = runtime()?;
        let connection = runtime.block_on(Connection::open(endpoint))?;
        Ok(BlockingConnection { connection, runtime })
    }

    /// A connection over the link that `make` creates; `make` runs inside this connection's runtime, so it
    /// may spawn (e.g. `|| Link::new(transport)`).
    pub fn with_link(make: impl FnOnce() -> Link) -> Result<BlockingConnection, ConnectionError> {
        let runtime = runtime()?;
        let link = {
            let _context = runtime.enter();
            make()
        };
        Ok(BlockingConnection { connection: Connection::new(link), runtime })
    }

    /// Longest time [`BlockingConnection::run`] waits for a complete response.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.connection.set_timeout(timeout);
    }

    /// The async connection inside.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Runs a program (see [`Connection::run`]). Called from within an async context (where blocking would
    /// stall the executor) it returns [`ConnectionError::InAsyncContext`]; use [`Connection`] there.
    pub fn run(&mut self, program: &Program) -> Result<Response, ConnectionError> {
        not_async()?;
        self.runtime.block_on(self.connection.run(program))
    }
}

fn not_async() -> Result<(), ConnectionError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(ConnectionError::InAsyncContext),
        Err(_) => Ok(()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ConnectionError> {
    not_async()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bss2-link")
        .enable_all()
        .build()
        .map_err(ConnectionError::Runtime)
}
