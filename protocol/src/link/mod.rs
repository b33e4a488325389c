//! The link layer, free of I/O: datagrams in the UDP HostARQ format, framing of datagrams on byte streams, the
//! ARQ state machine that makes a lossy link lossless, and a fault-injecting channel for tests.

pub mod arq;
pub mod fault;
pub mod frame;
pub mod stream_frame;

pub use arq::{Arq, ArqConfig, ArqError};
pub use frame::{Datagram, Frame, FrameError};
pub use stream_frame::{StreamDeframer, encode_stream_frame};
