//! What the std examples share: the opening handshake over a blocking
//! `TcpStream` on either side, and the receive loop. Each example includes
//! this file with `mod support;`.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wsmachine::handshake::{
    Accept, ClientHandshake, ClientOptions, Header, ServerHandshake, Status, DEFAULT_MAX_HEADERS,
};
use wsmachine::{
    CloseCode, Config, Connection, Event, HandshakeError, Instant, Message, MessageAssembler, ProtocolError,
    SecureRandom,
};

/// permessage-deflate state of a connection (feature `deflate`).
#[cfg(feature = "deflate")]
pub type Compression = wsmachine::ext::deflate::Deflate;
/// Without feature `deflate` compression is never negotiated.
#[cfg(not(feature = "deflate"))]
pub enum Compression {}

/// What both example roles want from permessage-deflate: the defaults
/// (any window the peer asks for is kept; context takeover).
#[cfg(feature = "deflate")]
pub fn deflate_config() -> wsmachine::ext::deflate::DeflateConfig {
    wsmachine::ext::deflate::DeflateConfig::default()
}

/// What a client offers (with feature `deflate`; without, nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateOffer {
    /// No permessage-deflate.
    None,
    /// The defaults: `permessage-deflate; client_max_window_bits`.
    Default,
    /// Also `client_no_context_takeover`: we promise to compress each
    /// message on its own, which servers such as the Autobahn testsuite's
    /// read as "the client supports the parameter".
    NoContextTakeover,
}

#[cfg(feature = "deflate")]
impl DeflateOffer {
    fn config(self) -> Option<wsmachine::ext::deflate::DeflateConfig> {
        match self {
            DeflateOffer::None => None,
            DeflateOffer::Default => Some(deflate_config()),
            DeflateOffer::NoContextTakeover => {
                Some(wsmachine::ext::deflate::DeflateConfig { client_no_context_takeover: true, ..deflate_config() })
            }
        }
    }
}

/// Any displayable error as an `io::Error`.
pub fn io_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// How a server-side handshake ended.
pub enum Upgrade {
    /// A WebSocket connection, with the request's path, the bytes that
    /// followed the request and the permessage-deflate state if it was
    /// negotiated.
    WebSocket { conn: Box<Connection>, path: String, leftover: Vec<u8>, deflate: Option<Box<Compression>> },
    /// A plain HTTP request that was answered (a page, or an error).
    Answered,
}

/// How long a client has to send its whole request. The handshake
/// machines have no clock: the deadline is ours, answered with 408.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the client's request over a `TcpStream` (giving it
/// [`HANDSHAKE_TIMEOUT`], then answering 408) and answers it; see
/// [`server_handshake_on`].
pub fn server_handshake(stream: &mut TcpStream, config: Config, page: &[u8]) -> io::Result<Upgrade> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let upgrade = match server_handshake_on(stream, config, page) {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            let mut out = Vec::new();
            HandshakeError::Timeout.write_response(&mut out).map_err(io_error)?;
            stream.write_all(&out)?;
            return Ok(Upgrade::Answered);
        }
        other => other?,
    };
    stream.set_read_timeout(None)?;
    Ok(upgrade)
}

/// Reads the client's request from `stream` and answers it: the 101 for a
/// valid WebSocket upgrade (accepting permessage-deflate when offered and
/// the feature is on); for a plain GET without any WebSocket header, `page`
/// on `/` and [`ENDPOINT_PAGE`] on any other path; the error's own status
/// (400, 405, 426, 431…) for anything else.
pub fn server_handshake_on(stream: &mut (impl Read + Write), config: Config, page: &[u8]) -> io::Result<Upgrade> {
    let mut machine = ServerHandshake::default();
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(Upgrade::Answered);
        }
        // Only the bytes of this read: the machine keeps the head it has seen.
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        match machine.receive(&buf[..n], &mut headers) {
            Ok(Status::Partial) => continue,
            Ok(Status::Complete(request)) => {
                // No subprotocol. permessage-deflate: the first offer we can
                // accept, answered with the agreed parameters.
                #[cfg(feature = "deflate")]
                let params = deflate_config().accept(request.extensions());
                #[cfg(feature = "deflate")]
                let answer = params.map(|p| p.answer());
                #[cfg(not(feature = "deflate"))]
                let answer: Option<String> = None;
                let accept = Accept {
                    extensions: answer.as_deref(),
                    extra_headers: &[("Server", "wsmachine")],
                    ..Accept::default()
                };
                request.accept(&accept, &mut out).map_err(io_error)?;
                stream.write_all(&out)?;
                let path = request.path().to_string();
                let leftover = buf[request.consumed()..n].to_vec();
                #[cfg(feature = "deflate")]
                if let Some(params) = params {
                    use wsmachine::{ext::deflate::Deflate, Role};
                    let conn = Connection::server(Deflate::connection_config(config));
                    let deflate = Deflate::new(Role::Server, params, &deflate_config());
                    let (conn, deflate) = (Box::new(conn), Some(Box::new(deflate)));
                    return Ok(Upgrade::WebSocket { conn, path, leftover, deflate });
                }
                let conn = Box::new(Connection::server(config));
                return Ok(Upgrade::WebSocket { conn, path, leftover, deflate: None });
            }
            Err(e) => {
                // On this error the request's header lines are in `headers`.
                if e == HandshakeError::MissingHeader("Upgrade") && is_plain_http(&headers) {
                    let body = if is_root(machine.head()) { page } else { ENDPOINT_PAGE.as_bytes() };
                    stream.write_all(&plain_http_answer(body))?;
                } else {
                    e.write_response(&mut out).map_err(io_error)?;
                    stream.write_all(&out)?;
                }
                return Ok(Upgrade::Answered);
            }
        }
    }
}

/// The page a plain GET gets on any path but `/`.
pub const ENDPOINT_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
<title>WebSocket endpoint</title></head>\n<body>\n<h1>This is a WebSocket endpoint</h1>\n\
<p>This address speaks WebSocket (RFC 6455): connect to it with a WebSocket client, such as \
<code>new WebSocket(\"ws://&hellip;\")</code> in a browser, rather than opening it as a page.</p>\n\
<p>The <a href=\"/\">echo demo page</a> does that for you.</p>\n</body>\n</html>\n";

/// Whether a GET that lacks `Upgrade` carries no other sign of a WebSocket
/// handshake either (no `Sec-WebSocket-*` header, `Connection` without
/// `upgrade`): a browser or curl asking for a page, not a broken client.
/// `headers` holds the request's header lines, as the machine left them.
pub fn is_plain_http(headers: &[Header<'_>]) -> bool {
    headers.iter().take_while(|h| !h.name.is_empty()).all(|h| {
        let name = h.name.to_ascii_lowercase();
        let upgrade_token = name == "connection"
            && h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"));
        !name.starts_with("sec-websocket-") && !upgrade_token
    })
}

/// Whether the request line in `head` asks for `/` (with or without a query).
pub fn is_root(head: &[u8]) -> bool {
    let mut parts = head.split(|&b| b == b' ');
    let target = parts.nth(1).unwrap_or(b"");
    target == b"/" || target.starts_with(b"/?")
}

/// A `200 OK` HTML answer that closes the connection.
pub fn plain_http_answer(body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

/// Connects to a `ws://` URL and performs the client handshake. Returns the
/// stream, the connection and the bytes that followed the server's answer.
pub fn client_handshake(url: &str, protocols: &[&str]) -> io::Result<(TcpStream, Connection, Vec<u8>)> {
    client_handshake_config(url, protocols, Config::default())
}

/// As [`client_handshake`], the connection built with `config` (limits and
/// timers).
pub fn client_handshake_config(
    url: &str,
    protocols: &[&str],
    config: Config,
) -> io::Result<(TcpStream, Connection, Vec<u8>)> {
    let (stream, conn, leftover, _) = client_handshake_via(url, protocols, DeflateOffer::None, config, connect_tcp)?;
    Ok((stream, conn, leftover))
}

/// Opens a TCP connection with Nagle's algorithm off.
fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A connected client: the stream, the connection, the bytes that followed
/// the server's answer, and the permessage-deflate state if it was agreed.
pub type ClientConnected<S = TcpStream> = (S, Connection, Vec<u8>, Option<Box<Compression>>);

/// As [`client_handshake`], offering permessage-deflate as `deflate` says
/// (with feature `deflate`); returns its state if the server accepted.
pub fn client_handshake_with(url: &str, protocols: &[&str], deflate: DeflateOffer) -> io::Result<ClientConnected> {
    client_handshake_via(url, protocols, deflate, Config::default(), connect_tcp)
}

/// As [`client_handshake_with`], with the connection built on `config`,
/// over the stream `connect` opens to the URL's host and port.
pub fn client_handshake_via<S: Read + Write>(
    url: &str,
    protocols: &[&str],
    deflate: DeflateOffer,
    config: Config,
    connect: impl FnOnce(&str, u16) -> io::Result<S>,
) -> io::Result<ClientConnected<S>> {
    let mut rng = SecureRandom::from_os().map_err(io_error)?;
    #[cfg(feature = "deflate")]
    let deflate = deflate.config();
    #[cfg(feature = "deflate")]
    let offer = deflate.map(|config| config.offer());
    #[cfg(not(feature = "deflate"))]
    let offer: Option<String> = {
        let _ = deflate; // nothing to offer without the feature
        None
    };
    let options = ClientOptions { protocols, extensions: offer.as_deref(), ..ClientOptions::default() };
    let invalid_input = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
    let mut machine = ClientHandshake::new(url, options, &mut rng).map_err(|e| invalid_input(format!("{url}: {e}")))?;
    if machine.is_secure() {
        return Err(invalid_input(format!("{url} needs TLS, which these examples do not include")));
    }
    let mut stream = connect(machine.host(), machine.port())?;
    let mut request = Vec::new();
    machine.write_request(&mut request).map_err(io_error)?;
    stream.write_all(&request)?;

    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection during the handshake",
            ));
        }
        // Only the bytes of this read: the machine keeps the head it has seen.
        let mut headers = [Header::EMPTY; DEFAULT_MAX_HEADERS];
        match machine.receive(&buf[..n], &mut headers).map_err(io_error)? {
            Status::Partial => continue,
            Status::Complete(response) => {
                let leftover = buf[response.consumed()..n].to_vec();
                #[cfg(feature = "deflate")]
                if let Some(offered) = deflate {
                    use wsmachine::{ext::deflate::Deflate, Role};
                    // RFC 7692 §5.1: an answer that does not fit the offer fails the connection.
                    if let Some(params) = offered.check_response(response.extensions()).map_err(io_error)? {
                        let conn = Connection::client(Deflate::connection_config(config), rng);
                        let deflate = Deflate::new(Role::Client, params, &offered);
                        return Ok((stream, conn, leftover, Some(Box::new(deflate))));
                    }
                }
                let conn = Connection::client(config, rng);
                return Ok((stream, conn, leftover, None));
            }
        }
    }
}

/// What the receive loop reports to its caller.
pub enum Incoming {
    /// A whole message.
    Message(Message),
    /// The peer's Close frame or the end of the transport.
    Closed { code: u16, reason: String },
    /// The peer broke the protocol; the Close with the error's code was sent.
    Failed(ProtocolError),
}

/// Feeds `input` to `conn`, calling `on_message` for each whole message and
/// writing the connection's automatic replies (and whatever `on_message`
/// sends) to `out` after every event, so each ping gets its pong in order.
pub fn feed(
    conn: &mut Connection,
    assembler: &mut MessageAssembler,
    input: &mut [u8],
    out: &mut Vec<u8>,
    mut on_message: impl FnMut(&mut Connection, Incoming, &mut Vec<u8>),
) {
    feed_with(conn, None, assembler, input, out, |conn, _, incoming, out| on_message(conn, incoming, out));
}

/// Turns one event into whole messages: through permessage-deflate when it
/// is in use (inflating compressed messages under the connection's limit),
/// straight into the assembler otherwise.
fn assemble(
    conn: &mut Connection,
    deflate: Option<&mut Compression>,
    assembler: &mut MessageAssembler,
    event: Event<'_>,
    messages: &mut Vec<Message>,
) -> Result<(), ProtocolError> {
    match deflate {
        #[cfg(feature = "deflate")]
        Some(deflate) => {
            let mut decoded = deflate.decode(conn, event);
            while let Some(event) = decoded.next() {
                messages.extend(assembler.push(&event?)?);
            }
            Ok(())
        }
        #[cfg(not(feature = "deflate"))]
        Some(never) => match *never {},
        None => {
            let _ = conn;
            messages.extend(assembler.push(&event)?);
            Ok(())
        }
    }
}

/// As [`feed`], for a connection that may use permessage-deflate: messages
/// are inflated before `on_message` sees them, which gets the deflate state
/// to send with.
pub fn feed_with(
    conn: &mut Connection,
    mut deflate: Option<&mut Compression>,
    assembler: &mut MessageAssembler,
    input: &mut [u8],
    out: &mut Vec<u8>,
    mut on_message: impl FnMut(&mut Connection, Option<&mut Compression>, Incoming, &mut Vec<u8>),
) {
    let mut pos = 0;
    let mut messages = Vec::new();
    while pos < input.len() {
        let received = match conn.receive(&mut input[pos..]) {
            Ok(received) => received,
            Err(e) => {
                let _ = conn.poll_transmit(out);
                on_message(conn, deflate.as_deref_mut(), Incoming::Failed(e), out);
                return;
            }
        };
        pos += received.consumed;
        let Some(event) = received.event else { continue };
        let close = match event {
            Event::Close(frame) => Some(Incoming::Closed { code: frame.code().0, reason: frame.reason().to_string() }),
            _ => None,
        };
        if let Err(e) = assemble(conn, deflate.as_deref_mut(), assembler, event, &mut messages) {
            // Inflation failures already failed the connection; an
            // assembler limit does it here.
            let e = conn.fail_with(e);
            let _ = conn.poll_transmit(out);
            on_message(conn, deflate.as_deref_mut(), Incoming::Failed(e), out);
            return;
        }
        for message in messages.drain(..) {
            on_message(conn, deflate.as_deref_mut(), Incoming::Message(message), out);
        }
        if let Some(close) = close {
            on_message(conn, deflate.as_deref_mut(), close, out);
        }
        let _ = conn.poll_transmit(out);
    }
}

/// Sends `message`, compressed when permessage-deflate is in use.
pub fn send_message(
    conn: &mut Connection,
    deflate: Option<&mut Compression>,
    message: &Message,
    out: &mut Vec<u8>,
) -> Result<usize, wsmachine::SendError> {
    match (deflate, message) {
        #[cfg(feature = "deflate")]
        (Some(deflate), Message::Text(text)) => deflate.send_text(conn, text, out),
        #[cfg(feature = "deflate")]
        (Some(deflate), Message::Binary(data)) => deflate.send_binary(conn, data, out),
        #[cfg(not(feature = "deflate"))]
        (Some(never), _) => match *never {},
        (None, Message::Text(text)) => conn.send_text(text, out),
        (None, Message::Binary(data)) => conn.send_binary(data, out),
    }
}

/// How long to keep reading after our side of the transport is shut down.
pub const LINGER: Duration = Duration::from_secs(2);

/// Ends our side of the transport without a reset: shut down the write
/// side (the peer reads the end of the stream after our last frame), then
/// read and discard what the peer still sends until it closes too, for
/// [`LINGER`] at most. Closing a socket that still holds unread bytes makes
/// the kernel send a reset, which can throw away our Close before the peer
/// reads it.
pub fn close_gracefully(stream: &mut TcpStream) {
    if stream.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let until = std::time::Instant::now() + LINGER;
    let mut sink = [0u8; 16 * 1024];
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// How an echo connection ended, for the log.
pub enum Ended {
    /// The peer's Close (or the end of the transport, 1006), and its reason.
    Closed { code: u16, reason: String },
    /// The peer broke the protocol; the Close with the error's code was sent.
    Failed(ProtocolError),
    /// A timer gave up on the peer (1006): it went quiet, or never answered
    /// our Close. The reason says which.
    GaveUp(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Closed { code, reason } if reason.is_empty() => write!(f, "closed with {code} (no reason)"),
            Ended::Closed { code, reason } => write!(f, "closed with {code} \"{}\"", reason.escape_debug()),
            Ended::Failed(e) => write!(f, "failed: {e}"),
            Ended::GaveUp(reason) => write!(f, "gave up on the peer: {reason} (1006)"),
        }
    }
}

/// Serves one upgraded connection: every text and binary message is sent
/// back unchanged, pings are answered, closes are completed.
pub fn echo(stream: TcpStream, conn: Connection, leftover: Vec<u8>) -> io::Result<Ended> {
    echo_with(stream, conn, None, leftover)
}

/// As [`echo`], compressing the echoes when permessage-deflate is in use.
/// The peer's Close is answered with its own code and reason.
pub fn echo_with(
    mut stream: TcpStream,
    mut conn: Connection,
    mut deflate: Option<Box<Compression>>,
    mut leftover: Vec<u8>,
) -> io::Result<Ended> {
    stream.set_nodelay(true)?;
    let mut assembler = MessageAssembler::new(conn.config().max_message_size);
    let mut buf = vec![0u8; 256 * 1024];
    let mut out = Vec::new();
    let mut input: &mut [u8] = &mut leftover;
    let (mut received_compressed, mut sent_compressed) = (0usize, 0usize);
    let mut ended = None;
    // Time for the connection's timers (keepalive, dead peer, close timeout).
    let epoch = std::time::Instant::now();
    let now = || Instant::from_duration(epoch.elapsed());
    loop {
        feed_with(
            &mut conn,
            deflate.as_deref_mut(),
            &mut assembler,
            input,
            &mut out,
            |conn, deflate, incoming, out| match incoming {
                Incoming::Message(message) => {
                    // The message just completed: RSV1 on its first frame means it came compressed.
                    received_compressed += usize::from(conn.message_rsv1());
                    sent_compressed += usize::from(deflate.is_some());
                    // A send fails only once the connection is closing, when the echo is moot.
                    let _ = send_message(conn, deflate, &message, out);
                }
                Incoming::Closed { code, reason } => {
                    // Echo the code and the reason (the automatic answer is then not sent);
                    // this fails only if our own Close went first.
                    let _ = conn.send_close(CloseCode(code), &reason, out);
                    ended = Some(Ended::Closed { code, reason });
                }
                Incoming::Failed(e) => ended = Some(Ended::Failed(e)),
            },
        );
        if let Some(Event::Close(frame)) = conn.handle_timeout(now()) {
            // The peer went quiet, or never answered our Close: 1006.
            ended = Some(Ended::GaveUp(frame.reason().to_string()));
        }
        conn.poll_transmit(&mut out).map_err(io_error)?; // a keepalive Ping, a timeout's Close
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if conn.should_close_transport() {
            close_gracefully(&mut stream);
            break;
        }
        // Read until input arrives or the next deadline passes.
        let wait = conn.poll_timeout().map(|at| at.saturating_duration_since(now()).max(Duration::from_millis(1)));
        stream.set_read_timeout(wait)?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                input = &mut [];
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            if let Some(Event::Close(frame)) = conn.receive_eof() {
                ended = Some(Ended::Closed { code: frame.code().0, reason: String::new() });
            }
            break;
        }
        input = &mut buf[..n];
    }
    if deflate.is_some() {
        // For the interop checks: proof that compression was used both ways.
        println!("permessage-deflate: received {received_compressed} compressed messages, sent {sent_compressed}");
    }
    Ok(ended.unwrap_or(Ended::Closed { code: CloseCode::ABNORMAL.0, reason: String::new() }))
}
