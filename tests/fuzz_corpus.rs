//! Replays the committed fuzz corpora and every saved regression input on
//! the stable compiler, so a plain `cargo test` re-checks what the fuzzers
//! found interesting.

use std::fs;
use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
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
    replay("frame_header", wsmachine::fuzzing::frame_header);
}

#[test]
fn conn_server_corpus() {
    replay("conn_server", wsmachine::fuzzing::conn_server);
}

#[test]
fn conn_client_corpus() {
    replay("conn_client", wsmachine::fuzzing::conn_client);
}

#[test]
fn roundtrip_corpus() {
    replay("roundtrip", wsmachine::fuzzing::roundtrip);
}

#[test]
fn handshake_request_corpus() {
    replay("handshake_request", wsmachine::fuzzing::handshake_request);
}

#[test]
fn handshake_response_corpus() {
    replay("handshake_response", wsmachine::fuzzing::handshake_response);
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_extension_header_corpus() {
    replay("deflate_extension_header", wsmachine::fuzzing::deflate_extension_header);
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_inflate_corpus() {
    replay("deflate_inflate", wsmachine::fuzzing::deflate_inflate);
}
