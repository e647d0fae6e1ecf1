//! Section 4: reserved opcodes. A frame with a reserved non-control opcode
//! (0x3–0x7, 4.1.x) or control opcode (0xB–0xF, 4.2.x), with or without a
//! payload, fails the connection with 1002 from its header. Where a valid
//! text message comes first, its echo is expected before the failure, and
//! the ping sent after the bad frame gets no pong.

use crate::harness::{frame, ping, run_case, text, Expect, Reply, Script, BOTH};

const HELLO: &[u8] = b"Hello, world!";

/// A lone reserved-opcode frame.
fn lone(opcode: u8, payload: &'static [u8]) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let f = s.send(frame(opcode, payload));
        Expect::fail(1002, vec![], s.header_window(f))
    }
}

/// Text, then the reserved-opcode frame, then a ping; `chop` as the case's
/// `chopsize` (octet-wise in 4.1.5 and 4.2.5).
fn after_text(opcode: u8, payload: &'static [u8], chop: Option<usize>) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let send = |s: &mut Script, f| match chop {
            Some(c) => s.send_chopped(f, c),
            None => s.send(f),
        };
        send(s, text(HELLO));
        let f = send(s, frame(opcode, payload));
        send(s, ping(b""));
        Expect::fail(1002, vec![Reply::text(HELLO)], s.header_window(f))
    }
}

#[test]
fn case_4_1_1() {
    run_case("4.1.1", BOTH, lone(3, b""));
}

#[test]
fn case_4_1_2() {
    run_case("4.1.2", BOTH, lone(4, b"reserved opcode payload"));
}

#[test]
fn case_4_1_3() {
    run_case("4.1.3", BOTH, after_text(5, b"", None));
}

#[test]
fn case_4_1_4() {
    run_case("4.1.4", BOTH, after_text(6, HELLO, None));
}

#[test]
fn case_4_1_5() {
    run_case("4.1.5", BOTH, after_text(7, HELLO, Some(1)));
}

#[test]
fn case_4_2_1() {
    run_case("4.2.1", BOTH, lone(11, b""));
}

#[test]
fn case_4_2_2() {
    run_case("4.2.2", BOTH, lone(12, b"reserved opcode payload"));
}

#[test]
fn case_4_2_3() {
    run_case("4.2.3", BOTH, after_text(13, b"", None));
}

#[test]
fn case_4_2_4() {
    run_case("4.2.4", BOTH, after_text(14, HELLO, None));
}

#[test]
fn case_4_2_5() {
    run_case("4.2.5", BOTH, after_text(15, HELLO, Some(1)));
}
