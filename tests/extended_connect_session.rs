//! The sans-IO halves of the HTTP/2 and HTTP/3 handshake (RFC 8441,
//! RFC 9220): `accept_extended_connect` and `ExtendedConnectStart`, each
//! against the other and against hand-made header lists, then a message
//! both ways through the two sessions.

#![cfg(feature = "alloc")]

use wsmachine::{
    accept_extended_connect, AcceptOptions, ConnectOptions, ExtendedConnectStart, Incoming, Message, Rejection,
    ResponseError, SecureRandom, Session, UpgradeError,
};

fn request_fields(start: &ExtendedConnectStart) -> Vec<(&str, &str)> {
    let mut fields = vec![
        (":method", start.method()),
        (":protocol", start.protocol()),
        (":scheme", start.scheme()),
        (":path", start.path()),
        (":authority", start.authority()),
    ];
    fields.extend(start.headers().iter().map(|(n, v)| (n.as_str(), v.as_str())));
    fields
}

fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

/// Moves everything one session wrote into the other.
fn deliver(from: &mut Session, to: &mut Session) {
    let out = from.poll_output().to_vec();
    from.consume_output(out.len());
    to.receive(&out);
}

#[test]
fn the_two_halves_agree_and_carry_messages() {
    let client_options = ConnectOptions {
        protocols: vec!["v2".into(), "v1".into()],
        origin: Some("https://app.example".into()),
        ..Default::default()
    };
    let start = ExtendedConnectStart::new(
        "wss://example.com:8443/feed?since=3",
        &client_options,
        SecureRandom::from_seed([9; 32]),
    )
    .expect("a valid URL");
    assert_eq!((start.host(), start.port(), start.is_secure()), ("example.com", 8443, true));
    assert_eq!((start.scheme(), start.authority(), start.path()), ("https", "example.com:8443", "/feed?since=3"));
    assert!(start.headers().contains(&("origin".into(), "https://app.example".into())));

    let server_options = AcceptOptions { protocols: vec!["v1".into()], ..AcceptOptions::default() };
    let fields = request_fields(&start);
    let (response, server) = accept_extended_connect(&server_options, &fields, |request, answer| {
        assert_eq!(request.split_path(), ("/feed", Some("since=3")));
        assert_eq!(request.origin(), Some("https://app.example"));
        answer.headers.push(("X-Served-By".into(), "test".into()));
        Ok(())
    });
    let mut server = server.expect("accepted");
    assert_eq!(response.status, 200);
    assert_eq!(pairs(&response.headers), [("sec-websocket-protocol", "v1"), ("x-served-by", "test")]);
    assert!(server.poll_output().is_empty(), "no HTTP/1.1 head to write");

    let mut client = start.finish(response.status, &pairs(&response.headers)).expect("a valid answer");
    assert_eq!((client.protocol(), server.protocol()), (Some("v1"), Some("v1")));
    client.send_text("over a stream").expect("send");
    deliver(&mut client, &mut server);
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::text("over a stream")))));
    server.send_binary(&[1, 2, 3]).expect("send");
    deliver(&mut server, &mut client);
    assert_eq!(client.poll_message(), Ok(Some(Incoming::Message(Message::Binary(vec![1, 2, 3])))));
}

#[test]
fn invalid_requests_are_answered_with_their_status() {
    let options = AcceptOptions::default();
    let base =
        [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/"), (":authority", "a")];
    let (response, result) = accept_extended_connect(&options, &base, |_, _| Ok(()));
    assert_eq!(response.status, 400);
    assert_eq!(pairs(&response.headers), [("sec-websocket-version", "13")]);
    assert!(matches!(result, Err(UpgradeError::ExtendedConnect(_))));
    assert_eq!(result.err().and_then(|e| e.status()), Some(400));

    let mut other = base.to_vec();
    other[1] = (":protocol", "webtransport");
    other.push(("sec-websocket-version", "13"));
    let (response, result) = accept_extended_connect(&options, &other, |_, _| Ok(()));
    assert_eq!((response.status, result.err().and_then(|e| e.status())), (501, Some(501)));
}

#[test]
fn a_rejection_is_answered_as_given_and_a_bad_one_with_500() {
    let options = AcceptOptions::default();
    let start = ExtendedConnectStart::new("ws://a/", &ConnectOptions::default(), SecureRandom::from_seed([1; 32]))
        .expect("url");
    let fields = request_fields(&start);
    let (response, result) = accept_extended_connect(&options, &fields, |_, _| {
        Err(Rejection::new(401).header("WWW-Authenticate", "Bearer").body("log in"))
    });
    assert_eq!(result.err(), Some(UpgradeError::Rejected(401)));
    assert_eq!(
        (response.status, pairs(&response.headers), response.body.as_slice()),
        (401, vec![("www-authenticate", "Bearer")], &b"log in"[..])
    );

    let (response, result) = accept_extended_connect(&options, &fields, |_, answer| {
        answer.protocol = Some("never-offered".into());
        Ok(())
    });
    assert_eq!((response.status, result.err().and_then(|e| e.status())), (500, Some(500)));

    let (response, _) = accept_extended_connect(&options, &fields, |_, answer| {
        answer.headers.push(("Connection".into(), "close".into())); // forbidden in HTTP/2
        Ok(())
    });
    assert_eq!(response.status, 500);
}

#[test]
fn the_client_refuses_answers_that_do_not_fit() {
    let options = ConnectOptions { protocols: vec!["chat".into()], ..Default::default() };
    let start = || ExtendedConnectStart::new("ws://a/x", &options, SecureRandom::from_seed([2; 32])).expect("url");
    let refused = |status, fields: &[(&str, &str)]| start().finish(status, fields).err();
    assert_eq!(
        refused(403, &[]),
        Some(UpgradeError::Response(ResponseError::UnexpectedStatus { status: 403, head_len: 0, consumed: 0 }))
    );
    assert_eq!(
        refused(200, &[("sec-websocket-protocol", "other")]),
        Some(UpgradeError::Response(ResponseError::ProtocolNotOffered))
    );
    assert_eq!(
        refused(200, &[("sec-websocket-protocol", "chat"), ("sec-websocket-protocol", "chat")]),
        Some(UpgradeError::Response(ResponseError::MultipleProtocols))
    );
    assert_eq!(
        refused(200, &[("sec-websocket-extensions", "x-custom")]),
        Some(UpgradeError::Response(ResponseError::ExtensionNotOffered))
    );
    assert_eq!(
        refused(200, &[("sec-websocket-extensions", ";;")]),
        Some(UpgradeError::Response(ResponseError::InvalidExtensions))
    );
    assert!(start().finish(200, &[]).is_ok(), "no subprotocol chosen is allowed");
}

#[test]
fn the_client_refuses_options_it_cannot_send() {
    let bad = |options: ConnectOptions| {
        ExtendedConnectStart::new("ws://a/", &options, SecureRandom::from_seed([3; 32])).err()
    };
    assert!(bad(ConnectOptions { protocols: vec!["not a token".into()], ..Default::default() }).is_some());
    assert!(bad(ConnectOptions { protocols: vec!["a".into(), "a".into()], ..Default::default() }).is_some());
    assert!(
        bad(ConnectOptions { headers: vec![("Upgrade".into(), "websocket".into())], ..Default::default() }).is_some()
    );
    assert!(
        bad(ConnectOptions { headers: vec![("x-ok".into(), "line\r\nbreak".into())], ..Default::default() }).is_some()
    );
    assert!(
        ExtendedConnectStart::new("http://a/", &ConnectOptions::default(), SecureRandom::from_seed([3; 32])).is_err()
    );
    let start =
        ExtendedConnectStart::new("ws://[::1]/?q", &ConnectOptions::default(), SecureRandom::from_seed([3; 32]))
            .expect("url");
    assert_eq!((start.host(), start.port(), start.authority(), start.path()), ("::1", 80, "[::1]", "/?q"));
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_is_negotiated_over_extended_connect() {
    use wsmachine::ext::deflate::DeflateConfig;
    let client_options = ConnectOptions { deflate: Some(DeflateConfig::default()), ..Default::default() };
    let start = ExtendedConnectStart::new("wss://a/", &client_options, SecureRandom::from_seed([4; 32])).expect("url");
    assert!(start
        .headers()
        .iter()
        .any(|(n, v)| n == "sec-websocket-extensions" && v.starts_with("permessage-deflate")));
    let server_options = AcceptOptions { deflate: Some(DeflateConfig::default()), ..AcceptOptions::default() };
    let fields = request_fields(&start);
    let (response, server) = accept_extended_connect(&server_options, &fields, |_, _| Ok(()));
    let mut server = server.expect("accepted");
    let mut client = start.finish(200, &pairs(&response.headers)).expect("answer");
    assert!(client.is_compressed() && server.is_compressed());
    let text = "compress me ".repeat(200);
    client.send_text(&text).expect("send");
    let wire = client.poll_output().len();
    assert!(wire < text.len() / 4, "{wire} bytes on the wire for {}", text.len());
    deliver(&mut client, &mut server);
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::text(text)))));

    // A server without deflate leaves the offer unanswered; the client goes on uncompressed.
    let start = ExtendedConnectStart::new("wss://a/", &client_options, SecureRandom::from_seed([5; 32])).expect("url");
    let (response, _) = accept_extended_connect(&AcceptOptions::default(), &request_fields(&start), |_, _| Ok(()));
    assert!(response.headers.is_empty());
    assert!(!start.finish(200, &[]).expect("answer").is_compressed());
}
