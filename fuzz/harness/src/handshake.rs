//! Fuzz bodies for the handshake parsers. Each feeds the input whole, in
//! pieces whose sizes come from the input itself and (for short inputs) one
//! byte at a time, and asserts that all three agree. The head is kept in a
//! fixed array when fed whole and a growing `HeadBuffer` when fed in
//! pieces, so the two storages are compared too.

use alloc::string::String;

use wsmachine::handshake::{
    Accept, ClientHandshake, ClientOptions, HandshakeConfig, HandshakeError, HeadBuffer, HeadStorage, Header,
    ResponseError, ServerHandshake, Status, UsageError,
};
use wsmachine::RandomSource;

/// Small enough that fuzz inputs reach the size limit.
pub(crate) const MAX_HEAD: usize = 2048;
const HEADERS: usize = 24;
/// Inputs up to this size are also fed one byte at a time.
pub(crate) const BYTEWISE_MAX: usize = 1024;

/// Ends of growing prefixes of `data`, the last one whole; chunk sizes derived from the bytes.
pub(crate) fn prefixes(data: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut n = 0usize;
    let mut k = 0usize;
    core::iter::from_fn(move || {
        if n >= data.len() {
            return None;
        }
        let step = data.get(k % data.len().max(1)).map_or(1, |&b| 1 + usize::from(b % 61));
        k += 1;
        n = n.saturating_add(step).min(data.len());
        Some(n)
    })
}

#[derive(Debug, PartialEq, Eq)]
enum RequestOutcome {
    Partial,
    Complete { head_len: usize, path: String, host: String, key: String, protocols: usize, extensions: usize },
    Error(HandshakeError),
}

fn request_outcome<S: HeadStorage>(hs: &mut ServerHandshake<S>, buf: &[u8]) -> RequestOutcome {
    let mut headers = [Header::EMPTY; HEADERS];
    match hs.receive(buf, &mut headers) {
        Ok(Status::Partial) => RequestOutcome::Partial,
        Ok(Status::Complete(req)) => {
            assert!(req.consumed() <= buf.len() && req.head_len() <= MAX_HEAD);
            let mut answer = [0u8; 1024];
            let accept = Accept {
                protocol: req.protocols().next(),
                extensions: req.extensions().next().map(|e| e.name()),
                extra_headers: &[("Server", "fuzz")],
            };
            match req.accept(&accept, &mut answer[..]) {
                Ok(n) => assert!(answer.get(..n).is_some_and(|a| a.starts_with(b"HTTP/1.1 101 "))),
                Err(UsageError::BufferTooSmall(_)) => {}
                Err(e) => panic!("accept of offered values failed: {e}"),
            }
            RequestOutcome::Complete {
                head_len: req.head_len(),
                path: req.path().into(),
                host: req.host().into(),
                key: req.key().into(),
                protocols: req.protocols().count(),
                extensions: req.extensions().map(|e| e.params().count() + 1).sum(),
            }
        }
        Err(e) => {
            let mut answer = [0u8; HandshakeError::MAX_RESPONSE_LEN];
            assert!(e.write_response(&mut answer[..]).is_ok());
            RequestOutcome::Error(e)
        }
    }
}

/// Fuzz body for the server-side request parser.
pub fn handshake_request(data: &[u8]) {
    let config = HandshakeConfig::default().with_max_head_len(MAX_HEAD);
    let whole = request_outcome(&mut ServerHandshake::new(config), data);

    let mut hs = ServerHandshake::with_storage(config, HeadBuffer::new());
    let mut pieces = RequestOutcome::Partial;
    let mut fed = 0;
    for n in prefixes(data) {
        pieces = request_outcome(&mut hs, data.get(fed..n).unwrap_or(data));
        fed = n;
        if pieces != RequestOutcome::Partial {
            break;
        }
    }
    assert_eq!(whole, pieces, "whole and pieces disagree");
    // Sticky or stable: asking again with everything gives the same answer.
    if pieces != RequestOutcome::Partial {
        assert_eq!(whole, request_outcome(&mut hs, data));
    }

    if data.len() <= BYTEWISE_MAX {
        let mut hs = ServerHandshake::new(config);
        let mut bytewise = RequestOutcome::Partial;
        for byte in data.chunks(1) {
            bytewise = request_outcome(&mut hs, byte);
            if bytewise != RequestOutcome::Partial {
                break;
            }
        }
        assert_eq!(whole, bytewise, "whole and byte-at-a-time disagree");
    }
}

/// Always the RFC 6455 §1.3 sample nonce, so seeds can carry the matching
/// accept value `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub(crate) struct SampleNonce;

impl RandomSource for SampleNonce {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for (d, s) in dest.iter_mut().zip(b"the sample nonce".iter().cycle()) {
            *d = *s;
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ResponseOutcome {
    Partial,
    Complete { head_len: usize, protocol: Option<String>, extensions: usize, headers: usize },
    Error(ResponseError),
}

fn response_outcome<S: HeadStorage>(client: &mut ClientHandshake<'_, S>, buf: &[u8]) -> ResponseOutcome {
    let mut headers = [Header::EMPTY; HEADERS];
    match client.receive(buf, &mut headers) {
        Ok(Status::Partial) => ResponseOutcome::Partial,
        Ok(Status::Complete(resp)) => {
            assert!(resp.consumed() <= buf.len());
            ResponseOutcome::Complete {
                head_len: resp.head_len(),
                protocol: resp.protocol().map(String::from),
                extensions: resp.extensions().map(|e| e.params().count() + 1).sum(),
                headers: resp.headers().len(),
            }
        }
        Err(e) => {
            if let ResponseError::UnexpectedStatus { status, head_len, consumed } = e {
                assert!(consumed <= buf.len() && consumed <= head_len);
                // How the head was split is not part of the outcome.
                return ResponseOutcome::Error(ResponseError::UnexpectedStatus { status, head_len, consumed: 0 });
            }
            ResponseOutcome::Error(e)
        }
    }
}

fn new_client<S>(storage: S) -> Option<ClientHandshake<'static, S>> {
    let options = ClientOptions {
        protocols: &["chat", "superchat"],
        extensions: Some("permessage-deflate; client_max_window_bits, x-foo"),
        ..ClientOptions::default()
    };
    let config = HandshakeConfig::default().with_max_head_len(MAX_HEAD);
    ClientHandshake::with_storage("ws://server.example.com/chat", options, config, storage, &mut SampleNonce).ok()
}

/// Fuzz body for the client-side response parser, and for the session's
/// client handshake over the same bytes.
pub fn handshake_response(data: &[u8]) {
    crate::client_start::client_start(data);
    let (Some(mut a), Some(mut b), Some(mut c)) =
        (new_client([0; MAX_HEAD]), new_client(HeadBuffer::new()), new_client([0; MAX_HEAD]))
    else {
        panic!("fixed client options are valid");
    };
    let whole = response_outcome(&mut a, data);

    let mut pieces = ResponseOutcome::Partial;
    let mut fed = 0;
    for n in prefixes(data) {
        pieces = response_outcome(&mut b, data.get(fed..n).unwrap_or(data));
        fed = n;
        if pieces != ResponseOutcome::Partial {
            break;
        }
    }
    assert_eq!(whole, pieces, "whole and pieces disagree");

    if data.len() <= BYTEWISE_MAX {
        let mut bytewise = ResponseOutcome::Partial;
        for byte in data.chunks(1) {
            bytewise = response_outcome(&mut c, byte);
            if bytewise != ResponseOutcome::Partial {
                break;
            }
        }
        assert_eq!(whole, bytewise, "whole and byte-at-a-time disagree");
    }
}
