//! Replays the committed fuzz corpora and every saved regression input on
//! the stable compiler, so a plain `cargo test` re-checks what the fuzzers
//! found interesting.

use std::fs;
use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut count = 0;
    for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.expect("readable directory entry").path();
            let data = fs::read(&path).expect("readable corpus file");
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{target}: input {} fails", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "{target}: no corpus committed");
}

#[test]
fn frame_header_corpus() {
    replay("frame_header", wsmachine_fuzzing::frame_header);
}

#[test]
fn conn_server_corpus() {
    replay("conn_server", wsmachine_fuzzing::conn_server);
}

#[test]
fn conn_client_corpus() {
    replay("conn_client", wsmachine_fuzzing::conn_client);
}

#[test]
fn roundtrip_corpus() {
    replay("roundtrip", wsmachine_fuzzing::roundtrip);
}

#[test]
fn handshake_request_corpus() {
    replay("handshake_request", wsmachine_fuzzing::handshake_request);
}

#[test]
fn handshake_response_corpus() {
    replay("handshake_response", wsmachine_fuzzing::handshake_response);
}

#[test]
fn deflate_extension_header_corpus() {
    replay("deflate_extension_header", wsmachine_fuzzing::deflate_extension_header);
}

#[test]
fn deflate_inflate_corpus() {
    replay("deflate_inflate", wsmachine_fuzzing::deflate_inflate);
}

#[test]
fn deflate_compress_corpus() {
    replay("deflate_compress", wsmachine_fuzzing::deflate_compress);
}

#[test]
fn pair_corpus() {
    replay("pair", wsmachine_fuzzing::pair);
}

#[test]
fn session_corpus() {
    replay("session", wsmachine_fuzzing::session);
}

/// The `structured` target's corpus is in `arbitrary`'s format, which only
/// the fuzz crate reads (the harness does not depend on `arbitrary`); its
/// regressions are saved in the harness's compact form (`Script::encode`,
/// printed by `cargo fuzz fmt structured <input>`) and replay here, after
/// scripts that cover each unusual case on purpose.
#[test]
fn structured_regressions_and_edge_scripts() {
    use wsmachine_fuzzing::{
        run_script, Between, Content, Ending, LengthForm, MessageOp, Op, Script, BOUNDARIES, VALID_CLOSE_CODES,
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../regressions/structured");
    for entry in fs::read_dir(&dir).into_iter().flatten() {
        let path = entry.expect("readable directory entry").path();
        let data = fs::read(&path).expect("readable regression file");
        let outcome = std::panic::catch_unwind(|| wsmachine_fuzzing::structured(&data));
        assert!(outcome.is_ok(), "structured: input {} fails", path.display());
    }

    let base = Script {
        allow_non_minimal: false,
        max_fragments: 7,
        mask_seed: 1,
        splits: vec![],
        ops: vec![],
        ending: Ending::Close { code: 0, reason: String::new() },
    };
    let run = |script: Script| {
        assert_eq!(Script::decode(&script.encode()), script, "the compact form round-trips");
        run_script(&script);
    };
    // Every close code a Close frame may carry (RFC 6455 §7.4), with a reason.
    for code in 0..VALID_CLOSE_CODES as u16 {
        run(Script { ending: Ending::Close { code, reason: "fin ✓".into() }, ..base.clone() });
    }
    // Every length boundary, text and binary, in every length form, whole
    // and in two pieces with a ping between them.
    for allow_non_minimal in [false, true] {
        for boundary in 0..BOUNDARIES.len() as u8 {
            for form in [LengthForm::Minimal, LengthForm::Ext16, LengthForm::Ext64] {
                let ops = [false, true]
                    .into_iter()
                    .flat_map(|text| {
                        let message = MessageOp {
                            text,
                            content: Content::Fill { boundary, byte: boundary },
                            cuts: vec![],
                            pad_to_max: false,
                            between: Between::Nothing,
                            form,
                        };
                        let halves =
                            MessageOp { cuts: vec![125], between: Between::Ping(b"mid".to_vec()), ..message.clone() };
                        [Op::Message(message), Op::Message(halves)]
                    })
                    .collect();
                run(Script { allow_non_minimal, ops, splits: vec![7, 1, 200], ..base.clone() });
            }
        }
    }
    // Text cut inside every character, a control frame between every two
    // fragments, exactly max_fragments (64) frames, empty ones included.
    let text = "κόσμε 日本語 🦀";
    let cuts: Vec<u16> = (0..text.len() as u16).collect();
    for between in [Between::Nothing, Between::Ping(vec![]), Between::Pong(vec![0xAB; 125])] {
        let message = MessageOp {
            text: true,
            content: Content::Text(text.into()),
            cuts: cuts.clone(),
            pad_to_max: true,
            between,
            form: LengthForm::Minimal,
        };
        let ops = vec![Op::Ping(vec![]), Op::Message(message), Op::Pong(vec![1; 125])];
        for ending in [Ending::EmptyClose, Ending::Eof, Ending::OneFragmentTooMany] {
            run(Script { max_fragments: 63, ops: ops.clone(), splits: vec![1], ending, ..base.clone() });
        }
    }
}
