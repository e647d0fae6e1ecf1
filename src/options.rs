//! What an adapter needs to know to run a connection in each role: limits,
//! timers, subprotocols, extra headers, permessage-deflate and the
//! handshake deadline (feature `alloc`).

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::config::Config;
use crate::handshake::HandshakeConfig;

/// Time allowed for the opening handshake head to arrive: 10 s. A request
/// not complete by then is answered 408 (slowloris protection).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes an adapter may hold queued for writing before sends wait: 1 MiB.
pub const DEFAULT_MAX_WRITE_BUFFER: usize = 1 << 20;

/// How a server accepts connections: what the adapters'
/// `accept` functions and [`ServerStart`](crate::ServerStart) use.
///
/// (The handshake layer's [`Accept`](crate::Accept) is one answer to one
/// request; these options are the policy behind every answer.)
///
/// ```
/// use wsmachine::AcceptOptions;
/// let options = AcceptOptions {
///     protocols: vec!["chat.v2".into(), "chat.v1".into()],
///     headers: vec![("Server".into(), "demo".into())],
///     ..AcceptOptions::default()
/// };
/// assert!(options.config.ping_interval.is_some()); // keepalive on by default
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptOptions {
    /// Limits and timers of the connection. Default [`Config::default()`]:
    /// a 64 MiB message limit, a keepalive ping after 20–40 s of silence
    /// (see [`Config::ping_interval`]), a dead peer dropped 20 s after an
    /// unanswered ping, 10 s for the close handshake. Change it as `Config { max_message_size: 1 << 20,
    /// ..Config::default() }`.
    pub config: Config,
    /// Subprotocols this server speaks, by preference: the first one the
    /// client also offered is chosen (RFC 6455 §4.2.2 leaves the choice to
    /// the server). Default none.
    pub protocols: Vec<String>,
    /// Headers added to every `101` answer (`Server`, `Set-Cookie`…).
    /// Default none.
    pub headers: Vec<(String, String)>,
    /// permessage-deflate (feature `deflate`): `Some` accepts a client's
    /// offer and compresses and inflates messages transparently. Default
    /// `None` (off): compression costs memory (about 253 KiB per connection
    /// once used in both directions) and opens the door to attacks on
    /// secrets mixed with attacker data (CRIME/BREACH), so it is opted into.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::ext::deflate::DeflateConfig>,
    /// Time allowed for the request head; a request not complete by then is
    /// answered 408 ([`HandshakeError::Timeout`](crate::HandshakeError::Timeout)).
    /// Default [`DEFAULT_HANDSHAKE_TIMEOUT`] (10 s); `None` waits forever.
    /// The adapters keep this deadline; [`ServerStart`](crate::ServerStart)
    /// has no clock: a loop of your own calls
    /// [`ServerStart::timeout`](crate::ServerStart::timeout) when it passes
    /// and writes the 408 it leaves in `response()`.
    pub handshake_timeout: Option<Duration>,
    /// Limits of the request head (size; the header count is 64). The head
    /// is kept in a [`HeadBuffer`](crate::handshake::HeadBuffer), which
    /// grows to what arrived, so any `max_head_len` holds.
    pub handshake: HandshakeConfig,
    /// Bytes queued for writing before a send waits for the transport
    /// (used by the async adapter; the blocking adapter writes each send
    /// through). A single larger message is still accepted when the queue
    /// is empty. Default [`DEFAULT_MAX_WRITE_BUFFER`] (1 MiB).
    pub max_write_buffer: usize,
}

impl Default for AcceptOptions {
    fn default() -> Self {
        AcceptOptions {
            config: Config::default(),
            protocols: Vec::new(),
            headers: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake: HandshakeConfig::default(),
            max_write_buffer: DEFAULT_MAX_WRITE_BUFFER,
        }
    }
}

/// How a client connects: what the adapters' `connect` and `client`
/// functions and [`ClientStart`](crate::ClientStart) use.
///
/// (The handshake layer's [`ClientOptions`](crate::ClientOptions) borrows
/// what one request sends; these options own it, with the limits and
/// timers of the connection.)
///
/// ```
/// use wsmachine::ConnectOptions;
/// let options = ConnectOptions {
///     protocols: vec!["chat.v1".into()],
///     origin: Some("https://app.example".into()),
///     ..ConnectOptions::default()
/// };
/// assert_eq!(options.handshake_timeout, Some(core::time::Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Limits and timers of the connection. Default [`Config::default()`],
    /// as for [`AcceptOptions::config`].
    pub config: Config,
    /// Subprotocols to offer, by preference (each a token, each once).
    /// Default none. A server may choose none of them (RFC 6455 §4.2.2):
    /// the connection then opens with `protocol()` `None`; refuse it
    /// yourself if you need one.
    pub protocols: Vec<String>,
    /// Headers added to the request (`Authorization`, `Cookie`,
    /// `User-Agent`…). Default none.
    pub headers: Vec<(String, String)>,
    /// The `Origin` header. Default none (browsers send one; other clients
    /// MAY, RFC 6455 §4.1).
    pub origin: Option<String>,
    /// permessage-deflate (feature `deflate`): `Some` offers it with these
    /// parameters and, if the server accepts, compresses and inflates
    /// messages transparently. Default `None` (off), for the reasons given
    /// on [`AcceptOptions::deflate`].
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::ext::deflate::DeflateConfig>,
    /// Time allowed for connecting and for the server's answer. Default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`] (10 s); `None` waits forever.
    pub handshake_timeout: Option<Duration>,
    /// Limits of the answer head (kept, as on the server, in a
    /// [`HeadBuffer`](crate::handshake::HeadBuffer)).
    pub handshake: HandshakeConfig,
    /// As [`AcceptOptions::max_write_buffer`].
    pub max_write_buffer: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            config: Config::default(),
            protocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            #[cfg(feature = "deflate")]
            deflate: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            handshake: HandshakeConfig::default(),
            max_write_buffer: DEFAULT_MAX_WRITE_BUFFER,
        }
    }
}
