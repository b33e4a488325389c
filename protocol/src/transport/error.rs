//! Why a transport could not be opened. Each error names the endpoint; the cause is its source (printed once,
//! by whoever prints the chain).

use std::io;

use super::usb::UsbError;

/// Why a transport could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The operating system refused (resolve, connect, bind).
    #[error("{endpoint}")]
    Io {
        /// The endpoint.
        endpoint: String,
        /// The OS error.
        source: io::Error,
    },
    /// The host name resolved to no address.
    #[error("{endpoint}: the host has no address")]
    NoAddress {
        /// The endpoint.
        endpoint: String,
    },
    /// The serial port cannot be opened.
    #[error("{endpoint}: cannot open the serial port")]
    Serial {
        /// The endpoint.
        endpoint: String,
        /// The driver's error.
        source: tokio_serial::Error,
    },
    /// No USB device with these ids, no USB subsystem, or the device lacks the expected interface/endpoints.
    #[error("usb://{vid:04x}:{pid:04x}")]
    Usb {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
        /// What went wrong.
        source: UsbError,
    },
    /// The endpoint kind cannot do this (e.g. listen on a serial port).
    #[error("{endpoint}: {reason}")]
    Unsupported {
        /// The endpoint.
        endpoint: String,
        /// What is not supported.
        reason: &'static str,
    },
}
