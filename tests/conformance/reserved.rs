//! Section 3: reserved bits. No extension is negotiated, so any RSV bit on
//! any frame fails the connection with 1002 (RFC 6455 §5.2), detected from
//! the frame header. When a valid text message precedes the bad frame
//! (3.2–3.4), Autobahn's strict OK wants its echo first, and no pong for the
//! ping that follows the bad frame.
//!
//! Autobahn counts RSV as a 3-bit number: 1 = RSV3, 2 = RSV2, 4 = RSV1.

use crate::harness::{binary, close_raw, ping, run_case, text, Expect, Reply, BOTH};

const HELLO: &[u8] = b"Hello, world!";

#[test]
fn case_3_1() {
    run_case("3.1", BOTH, |s| {
        let f = s.send(text(HELLO).rsv(1));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

#[test]
fn case_3_2() {
    run_case("3.2", BOTH, |s| {
        s.send(text(HELLO));
        let f = s.send(text(HELLO).rsv(2));
        s.send(ping(b""));
        Expect::fail(1002, vec![Reply::text(HELLO)], s.header_window(f))
    });
}

#[test]
fn case_3_3() {
    run_case("3.3", BOTH, |s| {
        s.send_sync(text(HELLO));
        let f = s.send_sync(text(HELLO).rsv(3));
        s.send_sync(ping(b""));
        Expect::fail(1002, vec![Reply::text(HELLO)], s.header_window(f))
    });
}

#[test]
fn case_3_4() {
    run_case("3.4", BOTH, |s| {
        s.send_chopped(text(HELLO), 1);
        let f = s.send_chopped(text(HELLO).rsv(4), 1);
        s.send_chopped(ping(b""), 1);
        Expect::fail(1002, vec![Reply::text(HELLO)], s.header_window(f))
    });
}

#[test]
fn case_3_5() {
    run_case("3.5", BOTH, |s| {
        let f = s.send(binary([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]).rsv(5));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

/// Upstream describes 3.6 as "Ping with RSV = 6" but its code sends a binary
/// frame (opcode 2) with RSV = 6; this sends those bytes.
#[test]
fn case_3_6() {
    run_case("3.6", BOTH, |s| {
        let f = s.send(binary(HELLO).rsv(6));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

/// 3.6 as its description reads: a ping with RSV = 6 (not an upstream case).
#[test]
fn case_3_6_as_described_ping() {
    run_case("3.6 (ping variant)", BOTH, |s| {
        let f = s.send(ping(HELLO).rsv(6));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

#[test]
fn case_3_7() {
    run_case("3.7", BOTH, |s| {
        let f = s.send(close_raw(b"").rsv(7));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}
