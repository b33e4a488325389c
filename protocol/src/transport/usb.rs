//! USB bulk transport (nusb): the device with a given vendor and product id, interface 0, bulk OUT endpoint
//! 0x01 and bulk IN endpoint 0x81, used as a byte stream carrying COBS + CRC-32 frames (packet boundaries do
//! not matter). On Linux the user needs access to the device node (a udev rule for the board's VID:PID).

use nusb::transfer::{Bulk, In, Out};

use super::datagram::Transport;

/// Bulk OUT endpoint (host to device).
pub const USB_OUT_ENDPOINT: u8 = 0x01;
/// Bulk IN endpoint (device to host).
pub const USB_IN_ENDPOINT: u8 = 0x81;
/// The interface that is claimed.
pub const USB_INTERFACE: u8 = 0;

/// What failed when opening a USB device.
#[derive(Debug, thiserror::Error)]
pub enum UsbError {
    /// The devices cannot be listed at all.
    #[error("no device found: the USB devices cannot be listed; this system may have no USB subsystem")]
    List(#[source] nusb::Error),
    /// No device has this vendor and product id.
    #[error("no device with this vendor and product id is connected")]
    NoDevice,
    /// The device is there but cannot be opened.
    #[error("cannot open the device; check permissions (udev rule)")]
    Open(#[source] nusb::Error),
    /// The interface cannot be claimed.
    #[error("cannot claim interface {USB_INTERFACE}")]
    Claim(#[source] nusb::Error),
    /// The interface has no bulk OUT endpoint 0x01.
    #[error("no bulk OUT endpoint {USB_OUT_ENDPOINT:#04x} on interface {USB_INTERFACE}")]
    OutEndpoint(#[source] nusb::Error),
    /// The interface has no bulk IN endpoint 0x81.
    #[error("no bulk IN endpoint {USB_IN_ENDPOINT:#04x} on interface {USB_INTERFACE}")]
    InEndpoint(#[source] nusb::Error),
}

/// Bytes per USB transfer.
const TRANSFER_BYTES: usize = 16 * 1024;

/// Opens the device (the caller names it in errors).
pub(crate) async fn open(vid: u16, pid: u16) -> Result<Transport, UsbError> {
    let devices = nusb::list_devices().await.map_err(UsbError::List)?;
    let info = devices.into_iter().find(|d| d.vendor_id() == vid && d.product_id() == pid).ok_or(UsbError::NoDevice)?;
    let device = info.open().await.map_err(UsbError::Open)?;
    let interface = device.claim_interface(USB_INTERFACE).await.map_err(UsbError::Claim)?;
    let out = interface.endpoint::<Bulk, Out>(USB_OUT_ENDPOINT).map_err(UsbError::OutEndpoint)?;
    let input = interface.endpoint::<Bulk, In>(USB_IN_ENDPOINT).map_err(UsbError::InEndpoint)?;
    let reader = input.reader(TRANSFER_BYTES).with_num_transfers(4);
    let writer = out.writer(TRANSFER_BYTES).with_num_transfers(4);
    Ok(Transport::stream(reader, writer, format!("usb://{vid:04x}:{pid:04x}")))
}
