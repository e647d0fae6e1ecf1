//! The error of the adapters (feature `std`): I/O, the opening handshake,
//! the protocol and refused sends, in one type.

use std::boxed::Box;
use std::io::{self, ErrorKind};

use crate::close::CloseCode;
use crate::error::{ProtocolError, SendError};
use crate::handshake::{HandshakeError, ResponseError};
use crate::session::{Refusal, UpgradeError};

/// Why a call on a WebSocket failed, in either adapter: `wsmachine::blocking`
/// and the `wsmachine-tokio` crate both return this type.
///
/// ```
/// use wsmachine::{CloseCode, Error, ProtocolError};
/// let e = Error::from(ProtocolError::PingTimeout);
/// assert!(e.is_timeout());
/// assert_eq!(e.close_code(), Some(CloseCode::INTERNAL_ERROR));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed (or could not be opened).
    Io(io::Error),
    /// The opening handshake failed; [`UpgradeError::status`] gives the
    /// HTTP status answered (server) or received (client).
    Handshake(UpgradeError),
    /// Client: the server refused the upgrade with this answer, a status
    /// other than 101 (or outside 2xx over HTTP/2), with its headers and
    /// body (as much as [`Refusal`] says is kept): a redirect's
    /// `Location`, a 401's `WWW-Authenticate`, a 429's `Retry-After`.
    ///
    /// ```no_run
    /// use wsmachine::{blocking, Error};
    /// match blocking::connect("ws://127.0.0.1:9001/chat") {
    ///     Err(Error::Refused(refusal)) if refusal.status == 401 => {
    ///         println!("log in first: {:?}", refusal.header("WWW-Authenticate"));
    ///     }
    ///     Err(e) => eprintln!("{e}"),
    ///     Ok(_ws) => {}
    /// }
    /// ```
    Refused(Box<Refusal>),
    /// The peer broke the protocol, sent more than a limit allows, or a
    /// timer found it dead ([`ProtocolError::PingTimeout`]). We sent a
    /// Close with [`ProtocolError::close_code`] and
    /// [`ProtocolError::reason`], and closed the connection.
    Protocol(ProtocolError),
    /// The connection ended without a close handshake (reported to the
    /// peer's application as 1006): the transport ended, or failed.
    ConnectionLost,
    /// The connection is closed or closing: nothing more can be sent.
    Closed,
    /// The send was refused and changed nothing: a close code that may not
    /// be sent, a reason or ping payload too long, text that is not UTF-8.
    Send(SendError),
    /// Nothing arrived within the timeout set with the blocking adapter's
    /// [`WebSocket::set_read_timeout`](crate::blocking::WebSocket::set_read_timeout).
    /// The connection is intact (and its timers ran meanwhile): read again,
    /// or send. Only the blocking adapter reports it (wsmachine-tokio
    /// bounds a receive with `tokio::time::timeout` instead).
    ReadTimeout,
}

impl Error {
    /// Whether this is a timeout that ended the connection: of the opening
    /// handshake, of a keepalive ping or of the idle timer. (Not
    /// [`Error::ReadTimeout`], after which the connection goes on.)
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Io(e) => matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
            Error::Handshake(UpgradeError::Request(HandshakeError::Timeout))
            | Error::Handshake(UpgradeError::Response(ResponseError::Head(HandshakeError::Timeout))) => true,
            Error::Protocol(e) => matches!(e, ProtocolError::PingTimeout | ProtocolError::IdleTimeout),
            _ => false,
        }
    }

    /// Whether the peer or the network ended the connection without a
    /// close handshake: [`Error::ConnectionLost`], or the stream failing
    /// with a reset, an abort, a broken pipe or an unexpected end (a
    /// browser tab killed, a phone that lost its network, a peer that
    /// crashed). A server sees these all day: worth a log line, not an
    /// alarm. Timeouts are [`is_timeout`](Self::is_timeout)'s.
    ///
    /// ```no_run
    /// # fn serve(mut ws: wsmachine::blocking::WebSocket<std::net::TcpStream>) {
    /// let served = (|| -> Result<(), wsmachine::Error> {
    ///     while let Some(message) = ws.read()? {
    ///         ws.send(message)?;
    ///     }
    ///     Ok(())
    /// })();
    /// match served {
    ///     Ok(()) => {}                              // closed with a close handshake
    ///     Err(e) if e.is_disconnect() => {}         // gone: nothing to report
    ///     Err(e) => eprintln!("connection failed: {e}"),
    /// }
    /// # }
    /// ```
    pub fn is_disconnect(&self) -> bool {
        match self {
            Error::ConnectionLost => true,
            Error::Io(e) => matches!(
                e.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::NotConnected
            ),
            _ => false,
        }
    }

    /// The HTTP status of a failed opening handshake: the one we answered
    /// a refused client with (server), or the one the server refused us
    /// with (client). `None` for everything else, a client's URL that is
    /// not a WebSocket URL among them: it fails before anything is sent.
    ///
    /// ```
    /// use wsmachine::{Error, Refusal, UpgradeError};
    /// assert_eq!(Error::Handshake(UpgradeError::Rejected(403)).status(), Some(403));
    /// let refusal = Refusal { status: 503, ..Refusal::default() };
    /// assert_eq!(Error::Refused(Box::new(refusal)).status(), Some(503));
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Handshake(e) => e.status(),
            Error::Refused(refusal) => Some(refusal.status),
            _ => None,
        }
    }

    /// The close code we sent, for a protocol failure.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "the stream failed: {e}"),
            Error::Handshake(e) => write!(f, "the opening handshake failed: {e}"),
            Error::Refused(refusal) => {
                write!(f, "the server refused the upgrade with {}", refusal.status)?;
                // The first line of a text body usually says why.
                let line = core::str::from_utf8(&refusal.body).ok().and_then(|body| body.lines().next());
                match line.map(str::trim).filter(|line| !line.is_empty()) {
                    Some(line) => match line.char_indices().nth(120) {
                        Some((end, _)) => write!(f, ": {}…", &line[..end]),
                        None => write!(f, ": {line}"),
                    },
                    None => Ok(()),
                }
            }
            Error::Protocol(e) => write!(f, "the connection failed: {e}"),
            Error::ConnectionLost => f.write_str("the connection ended without a closing handshake"),
            Error::Closed => f.write_str("the connection is closed: nothing more can be sent"),
            Error::Send(e) => write!(f, "the send was refused: {e}"),
            Error::ReadTimeout => f.write_str("nothing arrived within the read timeout"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<UpgradeError> for Error {
    fn from(e: UpgradeError) -> Self {
        Error::Handshake(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Closing => Error::Closed,
            SendError::Failed(e) => Error::Protocol(e),
            e => Error::Send(e),
        }
    }
}
