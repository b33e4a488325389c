//! Why a server could not start or went on no longer.

use bss2_protocol::transport::{EndpointError, TransportError};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address is not `tcp://ADDR:PORT`, `udp://ADDR:PORT` or `pty`.
    #[error(
        "cannot listen on {listen}: a server listens on tcp://ADDR:PORT, udp://ADDR:PORT or pty (a new pseudo-terminal)"
    )]
    Form {
        /// The address given (cut).
        listen: bss2_protocol::Excerpt,
    },
    /// The listen address does not parse.
    #[error("cannot listen")]
    Endpoint(#[source] EndpointError),
    /// Binding the socket failed.
    #[error("cannot listen")]
    Bind(#[from] TransportError),
    /// The pseudo-terminal could not be created.
    #[error("pty: cannot create a pseudo-terminal")]
    PtyCreate(#[source] tokio_serial::Error),
    /// The pseudo-terminal's slave side has no path.
    #[error("pty: the pseudo-terminal's slave side has no path")]
    PtyNoPath,
    /// A session kept the pseudo-terminal.
    #[error("{endpoint}: the session did not release the pseudo-terminal")]
    PtyKept {
        /// The serial endpoint.
        endpoint: String,
    },
    /// Pseudo-terminals need a Unix system.
    #[error("pty: pseudo-terminals need a Unix system")]
    PtyUnsupported,
}
