//! The opening handshake of a server built on the `http` crate's types
//! (hyper, axum): the HTTP library has read the request and will write the
//! answer; this turns [`AcceptOptions`] into that answer and the
//! [`Session`] to run on the upgraded connection, as [`ServerStart`]
//! does for bytes read from a socket.
//!
//! [`ServerStart`]: super::ServerStart

use alloc::vec::Vec;

use http::{HeaderName, HeaderValue, Request, Response, StatusCode};

use super::start::{Answer, Rejection, ServerExtensions, UpgradeError};
use super::Session;
use crate::handshake::http::{reject_response, UpgradeRequest};
use crate::handshake::{check_extra_headers, Accept, HandshakeError, UsageError};
use crate::options::AcceptOptions;

/// Answers an HTTP/1.1 WebSocket upgrade that an HTTP library (hyper,
/// axum…) has parsed into an `http::Request`, with `options`: the same
/// validation, subprotocol choice, extra headers, permessage-deflate and
/// limits as the adapters' `accept_or_reject` on a socket.
///
/// `decide` sees the validated request with the [`Answer`] prepared from
/// `options` (the first of [`AcceptOptions::protocols`] the client
/// offered, [`AcceptOptions::headers`]); it may change the answer or
/// refuse with a [`Rejection`].
///
/// Returns the response for the HTTP library to send in every case
/// (`101` with an empty body to accept; the error's status with a text
/// body saying what was wrong, the rejection, or 500 for an answer that
/// cannot be sent as given), and
/// either the [`Session`] to run on the upgraded connection or the
/// [`UpgradeError`] saying why the request was refused. The session's
/// output starts empty (the library writes the `101`); bytes the library
/// read past the request head belong to the WebSocket and go to
/// [`Session::receive`] first, unless the upgraded connection replays
/// them itself (hyper's `Upgraded` does).
///
/// ```
/// use wsmachine::{accept_http, AcceptOptions};
///
/// let request = http::Request::builder()
///     .uri("/chat")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .header("sec-websocket-protocol", "chat")
///     .body(())?;
/// let options = AcceptOptions { protocols: vec!["chat".into()], ..AcceptOptions::default() };
/// let (response, session) = accept_http(&options, &request, |_, _| Ok(()));
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// assert_eq!(session?.protocol(), Some("chat"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_http<B, F>(
    options: &AcceptOptions,
    request: &Request<B>,
    decide: F,
) -> (Response<Vec<u8>>, Result<Session, UpgradeError>)
where
    F: FnOnce(&UpgradeRequest<'_>, &mut Answer) -> Result<(), Rejection>,
{
    let request = match UpgradeRequest::parse(request) {
        Ok(request) => request,
        Err(e) => return (error_response(&e), Err(UpgradeError::Request(e))),
    };
    let mut answer = Answer::prepared(options, |p| request.protocols().any(|offer| offer == p));
    if let Err(rejection) = decide(&request, &mut answer) {
        return match rejection_response(rejection) {
            Ok((response, status)) => (response, Err(UpgradeError::Rejected(status))),
            Err(e) => refused_internally(e),
        };
    }
    let extensions = ServerExtensions::negotiate(options, request.extensions());
    let headers: Vec<(&str, &str)> = answer.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let accept =
        Accept { protocol: answer.protocol.as_deref(), extensions: extensions.answer(), extra_headers: &headers };
    let response = match request.accept(&accept) {
        Ok(response) => response.map(|()| Vec::new()),
        Err(e) => return refused_internally(e),
    };
    let mut session = extensions.session(options.config);
    session.protocol = answer.protocol;
    (response, Ok(session))
}

/// The answer to a request that is not a valid upgrade, with the text
/// body [`HandshakeError::write_response`] sends.
fn error_response(error: &HandshakeError) -> Response<Vec<u8>> {
    let mut body = alloc::string::String::new();
    let _ = error.write_body(&mut body);
    let mut response = reject_response(error).map(|()| body.into_bytes());
    if !response.body().is_empty() {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    response
}

/// The application's refusal as a response, checked as on a socket
/// (status 300–599, token names, no header the answer writes itself) and
/// with `Connection: close`, as every refusal of this crate has.
fn rejection_response(rejection: Rejection) -> Result<(Response<Vec<u8>>, u16), UsageError> {
    let headers: Vec<(&str, &str)> = rejection.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    check_extra_headers(&headers)?;
    let status = match StatusCode::from_u16(rejection.status) {
        Ok(status) if (300..=599).contains(&rejection.status) => status,
        _ => return Err(UsageError::InvalidStatus),
    };
    let mut fields = http::HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| UsageError::InvalidHeaderName)?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| UsageError::InvalidHeaderValue)?;
        fields.append(name, value);
    }
    fields.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    let mut response = Response::new(rejection.body);
    *response.status_mut() = status;
    *response.headers_mut() = fields;
    Ok((response, status.as_u16()))
}

/// The server's own mistake (an answer that cannot be sent as given): 500.
fn refused_internally(e: UsageError) -> (Response<Vec<u8>>, Result<Session, UpgradeError>) {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    (response, Err(UpgradeError::Usage(e)))
}
