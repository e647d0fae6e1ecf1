//! The opening handshake over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220),
//! sequenced for the adapters: an extended CONNECT request on one stream
//! of a connection the HTTP layer owns. Only header fields cross this
//! boundary; the HTTP/2 or HTTP/3 stack sends and receives them, and the
//! stream's data then carries WebSocket frames as a TCP connection would.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::start::{Answer, Rejection, ServerExtensions, UpgradeError};
use super::Session;
use crate::config::Config;
use crate::conn::Connection;
use crate::handshake::client::parse_url;
use crate::handshake::ext::Source;
use crate::handshake::head::{is_field_value, is_token};
use crate::handshake::{ExtendedConnect, Extensions, Protocols, ResponseError, UsageError};
use crate::options::{AcceptOptions, ConnectOptions};
use crate::random::{RandomSource, SecureRandom};

#[cfg(feature = "deflate")]
use crate::ext::deflate::{Deflate, DeflateConfig};

/// The `:protocol` value of a WebSocket extended CONNECT.
pub const CONNECT_PROTOCOL: &str = "websocket";

/// Fields the handshake writes itself, or that HTTP/2 and HTTP/3 forbid
/// (RFC 9113 §8.2.2): an application's extra header may not be one.
const RESERVED: &[&str] = &[
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-key",
    "sec-websocket-accept",
    "connection",
    "upgrade",
    "transfer-encoding",
    "keep-alive",
    "proxy-connection",
    "te",
    "host",
    "content-length",
];

/// An extra header the application asked for, checked for HTTP/2: a
/// lowercase token name that is not reserved, and a field value.
fn check_extra_header(name: &str, value: &str) -> Result<(), UsageError> {
    if !is_token(name.as_bytes()) || name.starts_with(':') || name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(UsageError::InvalidHeaderName);
    }
    if RESERVED.contains(&name) {
        return Err(UsageError::ReservedHeader);
    }
    if !is_field_value(value.as_bytes()) {
        return Err(UsageError::InvalidHeaderValue);
    }
    Ok(())
}

/// The server's answer to an extended CONNECT, as header fields for the
/// HTTP/2 or HTTP/3 stack to send: the status, then the fields, then (for
/// a refusal) a body. `200` opens the WebSocket; anything else ends the
/// stream after the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectResponse {
    /// The status: 200 to accept; the error's or the rejection's status to
    /// refuse.
    pub status: u16,
    /// Regular header fields, names in lowercase (HTTP/2 and HTTP/3 forbid
    /// uppercase).
    pub headers: Vec<(String, String)>,
    /// The body of a refusal (empty for an acceptance).
    pub body: Vec<u8>,
}

/// Answers an RFC 8441 / RFC 9220 extended CONNECT, sans-IO.
///
/// `fields` is the request's decoded header block, pseudo-headers first,
/// as the HTTP/2 or HTTP/3 stack delivered it (the `:method`, `:protocol`,
/// `:scheme`, `:path` and `:authority` pseudo-headers, then the regular
/// fields). The request is validated ([`ExtendedConnect::parse`]); then
/// `decide` sees it with the [`Answer`] prepared from `options` (the first
/// of [`AcceptOptions::protocols`] offered, [`AcceptOptions::headers`]),
/// and may change the answer or refuse with a [`Rejection`]; then
/// permessage-deflate is negotiated when the options enable it.
///
/// Returns the response to send on the stream in every case, and either
/// the [`Session`] to run over the stream's data (its output starts empty:
/// there is no HTTP/1.1 head to write) or the [`UpgradeError`] saying why
/// the request was refused (an invalid request is
/// [`UpgradeError::ExtendedConnect`] with status 400 or 501).
///
/// ```
/// use wsmachine::{accept_extended_connect, AcceptOptions};
///
/// let fields = [
///     (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
///     (":path", "/chat"), (":authority", "example.com"),
///     ("sec-websocket-version", "13"), ("sec-websocket-protocol", "chat"),
/// ];
/// let options = AcceptOptions { protocols: vec!["chat".into()], ..AcceptOptions::default() };
/// let (response, session) = accept_extended_connect(&options, &fields, |_, _| Ok(()));
/// assert_eq!(response.status, 200);
/// assert_eq!(response.headers, [("sec-websocket-protocol".to_string(), "chat".to_string())]);
/// assert_eq!(session?.protocol(), Some("chat"));
/// # Ok::<(), wsmachine::UpgradeError>(())
/// ```
pub fn accept_extended_connect<F>(
    options: &AcceptOptions,
    fields: &[(&str, &str)],
    decide: F,
) -> (ConnectResponse, Result<Session, UpgradeError>)
where
    F: FnOnce(&ExtendedConnect<'_, '_>, &mut Answer) -> Result<(), Rejection>,
{
    let request = match ExtendedConnect::parse(fields) {
        Ok(request) => request,
        Err(e) => {
            let head = e.response_headers();
            let headers = head.iter().skip(1).map(|(n, v)| (n.to_string(), v.to_string())).collect();
            return (
                ConnectResponse { status: e.status(), headers, body: Vec::new() },
                Err(UpgradeError::ExtendedConnect(e)),
            );
        }
    };
    let mut answer = Answer::prepared(options, |p| request.protocols().any(|offer| offer == p));
    if let Err(rejection) = decide(&request, &mut answer) {
        if !(300..=599).contains(&rejection.status) {
            return refused_internally(UsageError::InvalidStatus);
        }
        let mut headers = Vec::with_capacity(rejection.headers.len());
        for (name, value) in rejection.headers {
            let name = name.to_ascii_lowercase();
            if let Err(e) = check_extra_header(&name, &value) {
                return refused_internally(e);
            }
            headers.push((name, value));
        }
        let response = ConnectResponse { status: rejection.status, headers, body: rejection.body };
        return (response, Err(UpgradeError::Rejected(rejection.status)));
    }
    let extensions = ServerExtensions::negotiate(options, request.extensions());
    let accepted = match request.accept(answer.protocol.as_deref(), extensions.answer()) {
        Ok(accepted) => accepted,
        Err(e) => return refused_internally(e),
    };
    let mut headers: Vec<(String, String)> =
        accepted.iter().skip(1).map(|(n, v)| (n.to_string(), v.to_string())).collect();
    for (name, value) in answer.headers {
        let name = name.to_ascii_lowercase();
        if let Err(e) = check_extra_header(&name, &value) {
            return refused_internally(e);
        }
        headers.push((name, value));
    }
    let mut session = extensions.session(options.config);
    session.protocol = answer.protocol;
    (ConnectResponse { status: 200, headers, body: Vec::new() }, Ok(session))
}

/// The server's own mistake (an answer that cannot be sent as given): 500.
fn refused_internally(e: UsageError) -> (ConnectResponse, Result<Session, UpgradeError>) {
    (ConnectResponse { status: 500, headers: Vec::new(), body: Vec::new() }, Err(UpgradeError::Usage(e)))
}

/// The client's half of an RFC 8441 / RFC 9220 handshake, sans-IO: the
/// extended CONNECT request for a `ws://` or `wss://` URL as header
/// fields for the HTTP/2 or HTTP/3 stack to send, then the check of the
/// answer, giving the [`Session`] to run over the stream's data.
///
/// The stack must first have seen the server's
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3).
///
/// ```
/// use wsmachine::{accept_extended_connect, AcceptOptions, ConnectOptions, ExtendedConnectStart, SecureRandom};
///
/// let options = ConnectOptions::default();
/// let start = ExtendedConnectStart::new("wss://example.com/feed?x=1", &options, SecureRandom::from_seed([1; 32]))?;
/// assert_eq!((start.scheme(), start.authority(), start.path()), ("https", "example.com", "/feed?x=1"));
///
/// // The server, normally across an HTTP/2 connection.
/// let mut fields = vec![
///     (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", start.scheme()),
///     (":path", start.path()), (":authority", start.authority()),
/// ];
/// fields.extend(start.headers().iter().map(|(n, v)| (n.as_str(), v.as_str())));
/// let (response, _server) = accept_extended_connect(&Default::default(), &fields, |_, _| Ok(()));
///
/// let answer: Vec<(&str, &str)> = response.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
/// let session = start.finish(response.status, &answer)?;
/// assert_eq!(session.protocol(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ExtendedConnectStart<R: RandomSource = SecureRandom> {
    scheme: &'static str,
    host: String,
    port: u16,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    protocols: Vec<String>,
    config: Config,
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateConfig>,
    rng: R,
}

impl<R: RandomSource> ExtendedConnectStart<R> {
    /// Prepares the request for `url` with `options`; `rng` draws the
    /// connection's masking keys and MUST be unpredictable
    /// ([`SecureRandom`]). [`ConnectOptions::handshake`] does not apply:
    /// the HTTP/2 or HTTP/3 stack parses the answer.
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Usage`] for an invalid URL, subprotocol or header.
    pub fn new(url: &str, options: &ConnectOptions, rng: R) -> Result<Self, UpgradeError> {
        let parsed = parse_url(url).map_err(|e| UpgradeError::Usage(e.into()))?;
        let authority = match parsed.port {
            Some(port) => alloc::format!("{}:{port}", parsed.host),
            None => parsed.host.to_string(),
        };
        let path = match parsed.resource {
            "" => "/".to_string(),
            r if r.starts_with('?') => alloc::format!("/{r}"),
            r => r.to_string(),
        };
        let mut headers = alloc::vec![("sec-websocket-version".to_string(), "13".to_string())];
        for (i, p) in options.protocols.iter().enumerate() {
            if !is_token(p.as_bytes()) || options.protocols[..i].contains(p) {
                return Err(UpgradeError::Usage(UsageError::InvalidProtocol));
            }
        }
        if !options.protocols.is_empty() {
            headers.push(("sec-websocket-protocol".to_string(), options.protocols.join(", ")));
        }
        #[cfg(feature = "deflate")]
        if let Some(config) = options.deflate {
            headers.push(("sec-websocket-extensions".to_string(), config.offer()));
        }
        if let Some(origin) = &options.origin {
            if !is_field_value(origin.as_bytes()) {
                return Err(UpgradeError::Usage(UsageError::InvalidHeaderValue));
            }
            headers.push(("origin".to_string(), origin.clone()));
        }
        for (name, value) in &options.headers {
            let name = name.to_ascii_lowercase();
            check_extra_header(&name, value).map_err(UpgradeError::Usage)?;
            headers.push((name, value.clone()));
        }
        Ok(ExtendedConnectStart {
            scheme: if parsed.secure { "https" } else { "http" },
            host: parsed.host.trim_start_matches('[').trim_end_matches(']').to_string(),
            port: parsed.port.unwrap_or(if parsed.secure { 443 } else { 80 }),
            authority,
            path,
            headers,
            protocols: options.protocols.clone(),
            config: options.config,
            #[cfg(feature = "deflate")]
            deflate: options.deflate,
            rng,
        })
    }

    /// The `:method`: `CONNECT`.
    pub fn method(&self) -> &'static str {
        "CONNECT"
    }

    /// The `:protocol`: `websocket`.
    pub fn protocol(&self) -> &'static str {
        CONNECT_PROTOCOL
    }

    /// The `:scheme`: `https` for `wss://`, `http` for `ws://`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The host to connect to (without the brackets of an IPv6 literal).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to: the URL's, or 443 for `wss` and 80 for `ws`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL is `wss://`: the HTTP/2 connection must be TLS.
    pub fn is_secure(&self) -> bool {
        self.scheme == "https"
    }

    /// The `:authority`: the URL's host and port, as written.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The `:path`: the URL's path and query (`/` when empty).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The regular fields to send, lowercase: `sec-websocket-version`,
    /// the offered subprotocols and extensions, `origin` and the options'
    /// headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Checks the server's answer: its status and its regular header
    /// fields (any pseudo-header among them is ignored).
    ///
    /// # Errors
    ///
    /// [`UpgradeError::Response`]: a status outside 200–299
    /// ([`ResponseError::UnexpectedStatus`]), a subprotocol that was not
    /// offered, an extension that was not offered;
    /// `UpgradeError::Deflate` (feature `deflate`) for permessage-deflate parameters that do
    /// not fit the offer. The stream MUST then be reset or ended.
    pub fn finish(self, status: u16, fields: &[(&str, &str)]) -> Result<Session<R>, UpgradeError> {
        if !(200..=299).contains(&status) {
            return Err(UpgradeError::Response(ResponseError::UnexpectedStatus { status, head_len: 0, consumed: 0 }));
        }
        let mut answered = Protocols::new(Source::Pairs(fields.iter(), "sec-websocket-protocol"));
        let protocol = match (answered.next(), answered.next()) {
            (None, _) => None,
            (Some(_), Some(_)) => return Err(UpgradeError::Response(ResponseError::MultipleProtocols)),
            (Some(p), None) if self.protocols.iter().any(|offered| offered == p) => Some(p.to_string()),
            (Some(_), None) => return Err(UpgradeError::Response(ResponseError::ProtocolNotOffered)),
        };
        let extensions = || Extensions::new(Source::Pairs(fields.iter(), "sec-websocket-extensions"));
        if fields
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("sec-websocket-extensions") && Extensions::parse(v).is_none())
        {
            return Err(UpgradeError::Response(ResponseError::InvalidExtensions));
        }
        #[cfg(feature = "deflate")]
        let deflate_name = |name: &str| self.deflate.is_some() && name.eq_ignore_ascii_case("permessage-deflate");
        #[cfg(not(feature = "deflate"))]
        let deflate_name = |_: &str| false;
        if extensions().any(|ext| !deflate_name(ext.name())) {
            return Err(UpgradeError::Response(ResponseError::ExtensionNotOffered));
        }
        #[cfg(feature = "deflate")]
        let mut session = match self.deflate {
            Some(config) => match config.check_response(extensions()).map_err(UpgradeError::Deflate)? {
                Some(params) => Session::with_deflate(
                    Connection::client(Deflate::connection_config(self.config), self.rng),
                    Deflate::new(crate::conn::Role::Client, params, &config),
                ),
                None => Session::new(Connection::client(self.config, self.rng)),
            },
            None => Session::new(Connection::client(self.config, self.rng)),
        };
        #[cfg(not(feature = "deflate"))]
        let mut session = Session::new(Connection::client(self.config, self.rng));
        session.protocol = protocol;
        Ok(session)
    }
}
