//! Section 7: the close handshake (RFC 6455 §5.5.1, §7).
//!
//! Expectations, from each case's `expected` / `expectedClose`:
//! - 7.1.x: after the peer's Close the testee answers with Close 1000 and
//!   ignores everything that follows (a second Close, a ping — no pong —, a
//!   text message, the rest of a fragmented message). 7.1.1 echoes its
//!   message first; 7.1.6 (informational upstream) sends a 256 KiB message,
//!   a small one, Close and a ping: a testee that handles input in order
//!   echoes both messages, then the Close, and no pong.
//! - 7.3.x: a Close with no payload is answered with a Close without code
//!   or with 1000; a one-byte payload or a 124-byte reason (126-byte
//!   payload) is a protocol error (1002); a code with an empty, short or
//!   123-byte reason is echoed as 1000.
//! - 7.5.1: a reason that is not UTF-8 fails the connection; Autobahn takes
//!   1002 or 1007 (wsmachine documents 1007).
//! - 7.7.x: every valid code is answered with 1000 or the same code.
//! - 7.9.x: codes that may not be sent (0, 999, 1004–1006, 1016, 1100, 2000,
//!   2999) fail the connection with 1002.
//! - 7.13.x (informational upstream): codes 5000 and 65535; Autobahn takes
//!   1000, the code itself or 1002.
//!
//! The fuzzer's Close is part of each script here (Autobahn `suppressClose`),
//! except in 7.1.1 where it follows the echo.

use crate::harness::{close, close_raw, cont, ping, repeat_to, run_case, text, Expect, Failure, Reply, BOTH};

#[test]
fn case_7_1_1() {
    run_case("7.1.1", BOTH, |s| {
        s.send(text(b"Hello World!"));
        Expect::echo(vec![Reply::text(b"Hello World!")])
    });
}

#[test]
fn case_7_1_2() {
    run_case("7.1.2", BOTH, |s| {
        s.send(close(1000, b""));
        s.send(close_raw(b""));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_1_3() {
    run_case("7.1.3", BOTH, |s| {
        s.send(close(1000, b""));
        s.send(ping(b""));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_1_4() {
    run_case("7.1.4", BOTH, |s| {
        s.send(close(1000, b""));
        s.send(text(b"Hello World!"));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_1_5() {
    run_case("7.1.5", BOTH, |s| {
        s.send(text(b"fragment1").fin(false));
        s.send(close(1000, b""));
        s.send(cont(b"fragment2"));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_1_6() {
    run_case("7.1.6", BOTH, |s| {
        let big = repeat_to(b"BAsd7&jh23", 256 * 1024);
        s.send(text(&big));
        s.send(text(b"Hello World!"));
        s.send(close(1000, b""));
        s.send(ping(b""));
        Expect::closed_by_script(vec![Reply::text(big), Reply::text(b"Hello World!")], &[1000])
    });
}

#[test]
fn case_7_3_1() {
    run_case("7.3.1", BOTH, |s| {
        s.send(close_raw(b""));
        Expect { close_without_code_ok: true, ..Expect::closed_by_script(vec![], &[1000]) }
    });
}

#[test]
fn case_7_3_2() {
    run_case("7.3.2", BOTH, |s| {
        let f = s.send(close_raw(b"a"));
        Expect::fail(1002, vec![], s.frame_window(f))
    });
}

#[test]
fn case_7_3_3() {
    run_case("7.3.3", BOTH, |s| {
        s.send(close(1000, b""));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_3_4() {
    run_case("7.3.4", BOTH, |s| {
        s.send(close(1000, b"Hello World!"));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_3_5() {
    run_case("7.3.5", BOTH, |s| {
        s.send(close(1000, [b'*'; 123]));
        Expect::closed_by_script(vec![], &[1000])
    });
}

#[test]
fn case_7_3_6() {
    run_case("7.3.6", BOTH, |s| {
        let f = s.send(close(1000, [b'*'; 124]));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

#[test]
fn case_7_5_1() {
    run_case("7.5.1", BOTH, |s| {
        let reason = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64";
        let f = s.send(close(1000, reason));
        Expect {
            failure: Failure::Required,
            close_codes: vec![1002, 1007],
            ..Expect::fail(1007, vec![], s.frame_window(f))
        }
    });
}

/// A Close with a valid code: answered with 1000 or the same code.
fn valid_code(name: &str, code: u16) {
    run_case(name, BOTH, |s| {
        s.send(close(code, b""));
        Expect::closed_by_script(vec![], &[1000, code])
    });
}

#[test]
fn case_7_7_1() {
    valid_code("7.7.1", 1000);
}

#[test]
fn case_7_7_2() {
    valid_code("7.7.2", 1001);
}

#[test]
fn case_7_7_3() {
    valid_code("7.7.3", 1002);
}

#[test]
fn case_7_7_4() {
    valid_code("7.7.4", 1003);
}

#[test]
fn case_7_7_5() {
    valid_code("7.7.5", 1007);
}

#[test]
fn case_7_7_6() {
    valid_code("7.7.6", 1008);
}

#[test]
fn case_7_7_7() {
    valid_code("7.7.7", 1009);
}

#[test]
fn case_7_7_8() {
    valid_code("7.7.8", 1010);
}

#[test]
fn case_7_7_9() {
    valid_code("7.7.9", 1011);
}

#[test]
fn case_7_7_10() {
    valid_code("7.7.10", 3000);
}

#[test]
fn case_7_7_11() {
    valid_code("7.7.11", 3999);
}

#[test]
fn case_7_7_12() {
    valid_code("7.7.12", 4000);
}

#[test]
fn case_7_7_13() {
    valid_code("7.7.13", 4999);
}

/// A Close with a code that may not be sent: a protocol error.
fn invalid_code(name: &str, code: u16) {
    run_case(name, BOTH, |s| {
        let f = s.send(close(code, b""));
        Expect::fail(1002, vec![], s.frame_window(f))
    });
}

#[test]
fn case_7_9_1() {
    invalid_code("7.9.1", 0);
}

#[test]
fn case_7_9_2() {
    invalid_code("7.9.2", 999);
}

#[test]
fn case_7_9_3() {
    invalid_code("7.9.3", 1004);
}

#[test]
fn case_7_9_4() {
    invalid_code("7.9.4", 1005);
}

#[test]
fn case_7_9_5() {
    invalid_code("7.9.5", 1006);
}

#[test]
fn case_7_9_6() {
    invalid_code("7.9.6", 1016);
}

#[test]
fn case_7_9_7() {
    invalid_code("7.9.7", 1100);
}

#[test]
fn case_7_9_8() {
    invalid_code("7.9.8", 2000);
}

#[test]
fn case_7_9_9() {
    invalid_code("7.9.9", 2999);
}

/// Out-of-range codes: the outcome is undefined by the spec (informational
/// upstream); Autobahn takes 1000, the code itself or 1002.
fn out_of_range_code(name: &str, code: u16) {
    run_case(name, BOTH, |s| {
        s.send(close(code, b""));
        Expect { failure: Failure::Any, ..Expect::closed_by_script(vec![], &[1000, code, 1002]) }
    });
}

#[test]
fn case_7_13_1() {
    out_of_range_code("7.13.1", 5000);
}

#[test]
fn case_7_13_2() {
    out_of_range_code("7.13.2", 65535);
}
