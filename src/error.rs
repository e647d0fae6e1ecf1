//! Errors: what the peer did wrong (with the close code to answer) and what
//! the caller asked for that cannot be done.

use crate::close::{CloseCode, ClosePayloadError};
use crate::output::BufferTooSmall;

/// The peer violated the protocol or a configured limit. The connection is
/// failed: it queued a Close frame with [`ProtocolError::close_code`]
/// (drain it with `Connection::poll_transmit`), and every later call to
/// `Connection::receive` returns this same error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A server received an unmasked frame (§5.1). 1002.
    UnmaskedFrame,
    /// A client received a masked frame (§5.1). 1002.
    MaskedFrame,
    /// An RSV bit no negotiated extension claims (§5.2). 1002.
    ReservedBits,
    /// An opcode RFC 6455 reserves (§5.2). 1002.
    ReservedOpcode(u8),
    /// A control frame with more than 125 bytes of payload (§5.5). 1002.
    ControlFrameTooLong,
    /// A control frame without FIN (§5.5). 1002.
    FragmentedControlFrame,
    /// A continuation frame with no message in progress (§5.4). 1002.
    UnexpectedContinuation,
    /// A text or binary frame while a fragmented message is in progress
    /// (§5.4). 1002.
    ExpectedContinuation,
    /// A length not in its shortest form (§5.2). 1002.
    NonMinimalLength,
    /// A 64-bit length with its most significant bit set (§5.2). 1002.
    LengthMsbSet,
    /// A text message or close reason that is not UTF-8 (§8.1). 1007.
    InvalidUtf8,
    /// A Close frame payload that is invalid (§5.5.1, §7.4). 1002, or 1007
    /// for a reason that is not UTF-8.
    InvalidClosePayload(ClosePayloadError),
    /// A frame payload over `Config::frame_limit()` (twice that for a
    /// compressed frame). 1009.
    FrameTooLarge,
    /// A message over `Config::max_message_size`. 1009.
    MessageTooLarge,
    /// A message in more frames than `Config::max_fragments` when that is
    /// set, or with more empty frames than its size limit pays for (each
    /// costs `EMPTY_FRAME_COST` bytes): an empty-fragment flood. 1009.
    TooManyFragments,
    /// A compressed message (permessage-deflate, RFC 7692 §6.2) whose
    /// payload is not a valid DEFLATE stream. 1007: data "not consistent
    /// with the type of the message" (RFC 6455 §7.4.1).
    InvalidCompressedData,
    /// A compressed message that inflates more than the configured
    /// compression ratio allows (`DeflateConfig::max_ratio`). 1009.
    CompressionRatio,
    /// Nothing arrived within `Config::ping_timeout` of a keepalive Ping:
    /// the peer or the path to it is gone. 1011, as Python's `websockets`
    /// sends; the Close is most likely never read, and the application is
    /// told 1006 (see `Connection::handle_timeout`).
    PingTimeout,
    /// Nothing arrived for `Config::idle_timeout`. 1011, as for
    /// [`PingTimeout`](Self::PingTimeout).
    IdleTimeout,
    /// The first bytes fed to the connection spell an HTTP request or
    /// response (`GET `, `HTTP/`, …) instead of a frame header: the caller
    /// fed the opening handshake to the `Connection`. Feed it only the bytes
    /// after the handshake head (`input[request.consumed()..]` of the read that completed the handshake).
    /// This is a mistake of the caller, not the peer; the queued Close
    /// carries 1002.
    HttpInput,
}

impl ProtocolError {
    /// The close code to send to the peer (RFC 6455 §7.4.1).
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidClosePayload(ClosePayloadError::InvalidReason)
            | ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge
            | ProtocolError::MessageTooLarge
            | ProtocolError::TooManyFragments
            | ProtocolError::CompressionRatio => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::PingTimeout | ProtocolError::IdleTimeout => CloseCode::INTERNAL_ERROR,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// What went wrong, in a few words. It is the reason of the Close
    /// frame that the failure sends, so that the peer's log says why, as
    /// well as the code. The error's `Display` adds, for the local log, the
    /// setting that refused the message and the close code.
    ///
    /// ```
    /// use wsmachine::ProtocolError;
    ///
    /// let e = ProtocolError::MessageTooLarge;
    /// assert_eq!(e.reason(), "message over the configured size limit");
    /// assert_eq!(
    ///     e.to_string(),
    ///     "message over the configured size limit; Config::max_message_size (close with 1009)"
    /// );
    /// ```
    pub const fn reason(&self) -> &'static str {
        match self {
            ProtocolError::UnmaskedFrame => "unmasked frame from a client",
            ProtocolError::MaskedFrame => "masked frame from a server",
            ProtocolError::ReservedBits => "reserved bits set without an extension that claims them",
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::ControlFrameTooLong => "control frame payload over 125 bytes",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnexpectedContinuation => "continuation frame outside a fragmented message",
            ProtocolError::ExpectedContinuation => "new data frame inside a fragmented message",
            ProtocolError::NonMinimalLength => "payload length not in its shortest form",
            ProtocolError::LengthMsbSet => "64-bit payload length has its most significant bit set",
            ProtocolError::InvalidUtf8 => "text is not valid UTF-8",
            ProtocolError::InvalidClosePayload(_) => "invalid close frame",
            ProtocolError::FrameTooLarge => "frame payload over the configured limit",
            ProtocolError::MessageTooLarge => "message over the configured size limit",
            ProtocolError::TooManyFragments => "message in too many fragments (or too many empty ones)",
            ProtocolError::InvalidCompressedData => "compressed message is not valid DEFLATE data",
            ProtocolError::CompressionRatio => "compressed message inflates past the configured ratio",
            // As Python's `websockets` says it.
            ProtocolError::PingTimeout => "keepalive ping timeout",
            ProtocolError::IdleTimeout => "idle timeout",
            ProtocolError::HttpInput => {
                "input is HTTP, not WebSocket frames: feed the connection only the bytes after the handshake head"
            }
        }
    }
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x} (close with 1002)"),
            ProtocolError::PingTimeout => {
                write!(f, "no answer to a keepalive ping within the ping timeout (close with 1011)")
            }
            ProtocolError::IdleTimeout => write!(f, "nothing received within the idle timeout (close with 1011)"),
            ProtocolError::InvalidClosePayload(e) => {
                write!(f, "invalid close frame: {e} (close with {})", self.close_code())
            }
            _ => {
                // The setting that refused it, for the log of whoever set it.
                let setting = match self {
                    ProtocolError::FrameTooLarge => "; Config::max_frame_payload, or max_message_size",
                    ProtocolError::MessageTooLarge => "; Config::max_message_size",
                    ProtocolError::TooManyFragments => "; Config::max_fragments, or max_message_size",
                    ProtocolError::CompressionRatio => "; DeflateConfig::max_ratio",
                    _ => "",
                };
                write!(f, "{}{setting} (close with {})", self.reason(), self.close_code())
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

/// A send the caller asked for cannot be done. Nothing was written and the
/// connection's state did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The output buffer cannot hold the frame.
    BufferTooSmall(BufferTooSmall),
    /// A Close frame was sent or received: no more data may be sent
    /// (§5.5.1), and after our Close nothing at all.
    Closing,
    /// The connection failed; only the queued Close frame can be written.
    Failed(ProtocolError),
    /// A whole message or a first fragment was sent while a fragmented
    /// message is in progress (§5.4): finish it first.
    MessageInProgress,
    /// A control payload over 125 bytes (§5.5).
    ControlPayloadTooLong,
    /// A close code that may not be sent (§7.4), or a reason given with
    /// `CloseCode::NO_STATUS`.
    InvalidCloseCode(CloseCode),
    /// A text fragment that is not valid UTF-8.
    InvalidUtf8,
    /// A payload longer than `i64::MAX` bytes.
    PayloadTooLong,
}

impl From<BufferTooSmall> for SendError {
    fn from(e: BufferTooSmall) -> Self {
        SendError::BufferTooSmall(e)
    }
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::BufferTooSmall(e) => e.fmt(f),
            SendError::Closing => f.write_str("the connection is closing: no more data may be sent"),
            SendError::Failed(e) => write!(f, "the connection failed: {e}"),
            SendError::MessageInProgress => f.write_str("a fragmented message is in progress"),
            SendError::ControlPayloadTooLong => f.write_str("control payload over 125 bytes"),
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::InvalidUtf8 => f.write_str("text fragment is not valid UTF-8"),
            SendError::PayloadTooLong => f.write_str("payload longer than i64::MAX bytes"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}
