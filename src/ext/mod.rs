//! WebSocket extensions (RFC 6455 §9), between the connection machine and
//! the message layer.
//!
//! The [`Connection`](crate::Connection) knows nothing of extensions beyond
//! [`Config::extension_rsv_bits`](crate::Config::extension_rsv_bits): it
//! admits the RSV bits an extension claims and tells which message had RSV1
//! set ([`Connection::message_rsv1`](crate::Connection::message_rsv1)). An
//! extension here negotiates its parameters through the handshake types,
//! turns the data events of the messages it owns back into plain data
//! events, and writes its own messages through the connection.
//!
//! - `deflate` (feature `deflate`): permessage-deflate, RFC 7692.

#[cfg(feature = "deflate")]
pub mod deflate;
