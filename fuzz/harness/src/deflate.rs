//! Fuzz bodies for permessage-deflate (feature `deflate`): the extension
//! header negotiation, and inflating arbitrary payloads under the limits.

use alloc::vec::Vec;

use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
use wsmachine::handshake::Extensions;
use wsmachine::{
    Config, Connection, Event, FrameHeader, MessageAssembler, MessageKind, OpCode, ProtocolError, Role, SecureRandom,
};

/// The input as a `Sec-WebSocket-Extensions` value, read both as a client's
/// offers (by servers of several configurations) and as a server's answer
/// (by a client). Invariants: no panic; whatever a server accepts it answers
/// with a value that parses, that a client with the default offer accepts,
/// and that gives both ends the same parameters; windows stay in 8–15.
pub fn deflate_extension_header(data: &[u8]) {
    let Ok(value) = core::str::from_utf8(data) else { return };
    let Some(exts) = Extensions::parse(value) else { return };
    let configs = [
        DeflateConfig::default(),
        DeflateConfig { server_max_window_bits: 9, client_max_window_bits: 8, ..DeflateConfig::default() },
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..DeflateConfig::default()
        },
    ];
    for config in &configs {
        let Some(params) = config.accept(exts.clone()) else { continue };
        check_windows(&params);
        let answer = params.answer();
        let parsed = Extensions::parse(&answer);
        assert!(parsed.is_some(), "the answer {answer:?} does not parse");
        let Some(parsed) = parsed else { return };
        let agreed = DeflateConfig::default().check_response(parsed);
        assert_eq!(agreed, Ok(Some(params)), "answer {answer:?} to offer {value:?}");
    }
    for config in &configs {
        if let Ok(Some(params)) = config.check_response(exts.clone()) {
            check_windows(&params);
        }
    }
}

fn check_windows(params: &DeflateParams) {
    for bits in [params.server_max_window_bits, params.client_max_window_bits].into_iter().flatten() {
        assert!((8..=15).contains(&bits), "window {bits} out of range in {params:?}");
    }
}

/// `[limit, chunk, flags, cuts..., 0xFF, payload...]`: the payload, sent as
/// one compressed message from a server (text if `flags & 1`) cut into
/// frames at the given offsets, fed to a client with a message limit of
/// `limit * 257` bytes and an inflate chunk of `chunk * 16 + 1`.
/// Invariants: no panic; no message hands out more than the limit; the only
/// errors are the four the extension may report, or an empty-fragment
/// flood refused by the connection; a message that completes
/// is what a one-shot inflate of the payload gives.
pub fn deflate_inflate(data: &[u8]) {
    let [limit, chunk, flags, rest @ ..] = data else { return };
    let limit = u64::from(*limit) * 257;
    let split = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
    let (cuts, payload) = (&rest[..split], rest.get(split + 1..).unwrap_or(&[]));
    let text = flags & 1 == 1;
    let config = DeflateConfig {
        chunk_size: usize::from(*chunk) * 16 + 1,
        max_ratio: u32::from(flags >> 4),
        ..DeflateConfig::default()
    };

    // The frames: RSV1 and the opcode on the first, FIN on the last.
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| usize::from(c) % (payload.len() + 1)).collect();
    bounds.push(payload.len());
    bounds.sort_unstable();
    let mut wire = Vec::new();
    let mut start = 0;
    for (i, &end) in bounds.iter().enumerate() {
        let opcode = if i > 0 {
            OpCode::Continuation
        } else if text {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let mut header = FrameHeader::new(i + 1 == bounds.len(), opcode, None, (end - start) as u64);
        header.rsv1 = i == 0;
        if header.encode(&mut wire).is_err() {
            return;
        }
        wire.extend_from_slice(payload.get(start..end).unwrap_or(&[]));
        start = end;
    }

    let conn_config = Deflate::connection_config(Config { max_message_size: limit, ..Config::default() });
    let mut conn = Connection::client(conn_config, SecureRandom::from_seed([1; 32]));
    let mut deflate = Deflate::new(Role::Client, DeflateParams::default(), &config);
    let mut assembler = MessageAssembler::new(u64::MAX);
    let mut handed_out = 0u64;
    let mut message = None;
    let mut error = None;
    let mut pos = 0;
    'feed: while pos < wire.len() {
        let received = match conn.receive(&mut wire[pos..]) {
            Ok(r) => r,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        pos += received.consumed;
        let Some(event) = received.event else { continue };
        let mut decoded = deflate.decode(&mut conn, event);
        while let Some(event) = decoded.next() {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            };
            if let Event::Text { data, .. } | Event::Binary { data, .. } = event {
                handed_out += data.len() as u64;
                assert!(handed_out <= limit, "{handed_out} bytes handed out under a limit of {limit}");
            }
            if let Ok(Some(m)) = assembler.push(&event) {
                message = Some(m);
            }
        }
    }
    if let Some(e) = error {
        assert!(
            matches!(
                e,
                ProtocolError::MessageTooLarge
                    | ProtocolError::InvalidCompressedData
                    | ProtocolError::InvalidUtf8
                    | ProtocolError::CompressionRatio
                    | ProtocolError::TooManyFragments
            ),
            "unexpected error {e:?}"
        );
        assert!(conn.wants_write(), "a failure queues a Close");
        return;
    }
    // Differential: a one-shot inflate of payload + tail, when it succeeds
    // within the limit, is the message.
    if payload.is_empty() {
        return;
    }
    let mut whole = payload.to_vec();
    whole.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if let Ok(expected) = miniz_oxide::inflate::decompress_to_vec_with_limit(&whole, limit) {
        let message = message.map(|m| m.as_bytes().to_vec());
        assert_eq!(message.as_deref(), Some(&expected[..]), "streamed inflate differs from one-shot");
    }
}

/// `[level, window, flags, repeat, messages split at 0xFF...]`: a server
/// compresses each message (repeated `repeat % 32 + 1` times, so windows
/// fill and slide) at `level % 10`, with window `8 + window % 8` bits,
/// context takeover unless `flags & 1`, freeing its state between messages
/// if `flags & 2`, and in fragments of `flags >> 2` bytes if that is not
/// 0; a client inflates them. Invariants: no panic (the compressor's debug
/// assertions include that no back-reference reaches past the window);
/// every message arrives as sent, in order.
pub fn deflate_compress(data: &[u8]) {
    let [level, window, flags, repeat, rest @ ..] = data else { return };
    let params = DeflateParams {
        server_max_window_bits: Some(8 + window % 8),
        server_no_context_takeover: flags & 1 == 1,
        ..DeflateParams::default()
    };
    let config =
        DeflateConfig { level: level % 10, threshold: 0, free_idle_state: flags & 2 == 2, ..DeflateConfig::default() };
    let fragment = usize::from(flags >> 2);
    let messages: Vec<Vec<u8>> = rest.split(|&b| b == 0xFF).map(|m| m.repeat(usize::from(repeat % 32) + 1)).collect();

    let conn_config = Deflate::connection_config(Config::default());
    let mut server = Connection::server(conn_config);
    let mut server_deflate = Deflate::new(Role::Server, params, &config);
    let mut client = Connection::client(conn_config, SecureRandom::from_seed([2; 32]));
    let mut client_deflate = Deflate::new(Role::Client, params, &config);
    let mut assembler = MessageAssembler::new(u64::MAX);
    let mut wire = Vec::new();
    for message in &messages {
        wire.clear();
        if fragment == 0 {
            let sent = server_deflate.send_binary(&mut server, message, &mut wire);
            assert!(sent.is_ok(), "send failed: {sent:?}");
        } else {
            let mut pieces = message.chunks(fragment).peekable();
            if pieces.peek().is_none() {
                let sent = server_deflate.send_fragment(&mut server, MessageKind::Binary, &[], true, &mut wire);
                assert!(sent.is_ok(), "send failed: {sent:?}");
            }
            while let Some(piece) = pieces.next() {
                let fin = pieces.peek().is_none();
                let sent = server_deflate.send_fragment(&mut server, MessageKind::Binary, piece, fin, &mut wire);
                assert!(sent.is_ok(), "send failed: {sent:?}");
            }
        }
        let mut received = None;
        let mut pos = 0;
        while pos < wire.len() {
            let r = client.receive(&mut wire[pos..]);
            assert!(r.is_ok(), "the client refused the server's frames: {r:?}");
            let Ok(r) = r else { return };
            pos += r.consumed;
            let Some(event) = r.event else { continue };
            let mut decoded = client_deflate.decode(&mut client, event);
            while let Some(event) = decoded.next() {
                assert!(event.is_ok(), "inflating failed: {event:?}");
                let Ok(event) = event else { return };
                if let Ok(Some(m)) = assembler.push(&event) {
                    received = Some(m.as_bytes().to_vec());
                }
            }
        }
        assert!(received.as_deref() == Some(&message[..]), "a {}-byte message came back changed", message.len());
    }
}
