//! The client's opening handshake at the session layer (`ClientStart`),
//! fed the server's answer whole, in pieces and one byte at a time: the
//! three must agree on the outcome, including a refusal's status, headers
//! and the part of its body that is kept.

use alloc::string::String;
use alloc::vec::Vec;

use wsmachine::handshake::{HandshakeConfig, ResponseError};
use wsmachine::{ClientStart, ConnectOptions, Refusal, RequestParts, UpgradeError};

use crate::handshake::{prefixes, SampleNonce, BYTEWISE_MAX, MAX_HEAD};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Still reading: what the end of the transport then reports.
    Partial {
        at_end: UpgradeError,
        refusal: Option<Refusal>,
    },
    Open {
        protocol: Option<String>,
    },
    Refused(Refusal),
    Failed(UpgradeError),
}

/// Feeds `pieces` until one completes or fails the handshake.
fn outcome<'a>(options: &ConnectOptions, pieces: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let parts = RequestParts::new(options);
    let Ok(mut start) = ClientStart::new("ws://server.example.com/chat", &parts, SampleNonce) else {
        panic!("fixed client options are valid");
    };
    for piece in pieces {
        match start.receive(piece) {
            Ok(None) => {}
            Ok(Some(session)) => return Outcome::Open { protocol: session.protocol().map(String::from) },
            Err(e) => {
                let refusal = start.take_refusal();
                assert_eq!(start.take_refusal(), None, "a refusal is taken once");
                return match (e, refusal) {
                    (UpgradeError::Response(ResponseError::UnexpectedStatus { status, .. }), Some(mut refusal)) => {
                        assert_eq!(refusal.status, status);
                        assert!(refusal.body.len() <= MAX_HEAD, "more body kept than the head's limit");
                        if refusal.header("transfer-encoding").is_some() {
                            // Kept as it came with the head: how the input
                            // was split decides how much.
                            refusal.body.clear();
                        }
                        Outcome::Refused(refusal)
                    }
                    (UpgradeError::Response(ResponseError::UnexpectedStatus { .. }), None) => {
                        panic!("a refusal reported without its answer")
                    }
                    (e, None) => Outcome::Failed(without_split(e)),
                    (e, Some(refusal)) => panic!("{e} reported with a refusal {refusal:?}"),
                };
            }
        }
    }
    let at_end = without_split(start.ended());
    Outcome::Partial { at_end, refusal: start.take_refusal() }
}

/// The error without what depends on how the input was split: how many
/// bytes of the last piece were head.
fn without_split(e: UpgradeError) -> UpgradeError {
    match e {
        UpgradeError::Response(ResponseError::UnexpectedStatus { status, head_len, .. }) => {
            UpgradeError::Response(ResponseError::UnexpectedStatus { status, head_len, consumed: 0 })
        }
        e => e,
    }
}

/// Fuzz body: `ClientStart` over the bytes of a server's answer.
pub(crate) fn client_start(data: &[u8]) {
    let options = ConnectOptions {
        protocols: alloc::vec!["chat".into(), "superchat".into()],
        handshake: HandshakeConfig::default().with_max_head_len(MAX_HEAD),
        ..ConnectOptions::default()
    };
    let whole = outcome(&options, core::iter::once(data));
    let mut fed = 0;
    let pieces: Vec<&[u8]> = prefixes(data)
        .map(|n| {
            let piece = data.get(fed..n).unwrap_or(&[]);
            fed = n;
            piece
        })
        .collect();
    assert_eq!(whole, outcome(&options, pieces.into_iter()), "whole and pieces disagree");
    if data.len() <= BYTEWISE_MAX {
        assert_eq!(whole, outcome(&options, data.chunks(1)), "whole and byte-at-a-time disagree");
    }
}
