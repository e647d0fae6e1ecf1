//! Section 1: framing. Text (1.1.x) and binary (1.2.x) messages of
//! 0, 125, 126, 127, 128, 65535 and 65536 bytes — the edges of the 7-bit,
//! 16-bit and 64-bit length forms — and 65536 bytes written in chops of 997.
//!
//! Expectation (every case): the message is echoed with the same kind and
//! payload, then the fuzzer closes with 1000 and the testee echoes 1000.

use wsmachine::Role;

use crate::harness::{binary, run_case, text, Expect, Reply, Script, BOTH};

/// Autobahn's text payload: `*` repeated.
fn star(len: usize) -> Vec<u8> {
    vec![b'*'; len]
}

/// Autobahn's binary payload: `0xfe` repeated.
fn fe(len: usize) -> Vec<u8> {
    vec![0xFE; len]
}

fn text_echo(s: &mut Script, len: usize, chop: Option<usize>) -> Expect {
    let payload = star(len);
    match chop {
        Some(c) => s.send_chopped(text(&payload), c),
        None => s.send(text(&payload)),
    };
    Expect::echo(vec![Reply::text(payload)])
}

fn binary_echo(s: &mut Script, len: usize, chop: Option<usize>) -> Expect {
    let payload = fe(len);
    match chop {
        Some(c) => s.send_chopped(binary(&payload), c),
        None => s.send(binary(&payload)),
    };
    Expect::echo(vec![Reply::binary(payload)])
}

#[test]
fn case_1_1_1() {
    run_case("1.1.1", BOTH, |s| text_echo(s, 0, None));
}

#[test]
fn case_1_1_2() {
    run_case("1.1.2", BOTH, |s| text_echo(s, 125, None));
}

#[test]
fn case_1_1_3() {
    run_case("1.1.3", BOTH, |s| text_echo(s, 126, None));
}

#[test]
fn case_1_1_4() {
    run_case("1.1.4", BOTH, |s| text_echo(s, 127, None));
}

#[test]
fn case_1_1_5() {
    run_case("1.1.5", BOTH, |s| text_echo(s, 128, None));
}

#[test]
fn case_1_1_6() {
    run_case("1.1.6", BOTH, |s| text_echo(s, 65535, None));
}

#[test]
fn case_1_1_7() {
    run_case("1.1.7", BOTH, |s| text_echo(s, 65536, None));
}

#[test]
fn case_1_1_8() {
    run_case("1.1.8", BOTH, |s| text_echo(s, 65536, Some(997)));
}

#[test]
fn case_1_2_1() {
    run_case("1.2.1", BOTH, |s| binary_echo(s, 0, None));
}

#[test]
fn case_1_2_2() {
    run_case("1.2.2", BOTH, |s| binary_echo(s, 125, None));
}

#[test]
fn case_1_2_3() {
    run_case("1.2.3", BOTH, |s| binary_echo(s, 126, None));
}

#[test]
fn case_1_2_4() {
    run_case("1.2.4", BOTH, |s| binary_echo(s, 127, None));
}

#[test]
fn case_1_2_5() {
    run_case("1.2.5", BOTH, |s| binary_echo(s, 128, None));
}

#[test]
fn case_1_2_6() {
    run_case("1.2.6", BOTH, |s| binary_echo(s, 65535, None));
}

#[test]
fn case_1_2_7() {
    run_case("1.2.7", BOTH, |s| binary_echo(s, 65536, None));
}

#[test]
fn case_1_2_8() {
    run_case("1.2.8", BOTH, |s| binary_echo(s, 65536, Some(997)));
}

// Not Autobahn cases (its fuzzer always follows the masking rule): the
// masking rule of RFC 6455 §5.1 itself, which decides the role switch above.
// A server fails on an unmasked frame and a client on a masked one, with
// 1002, from the header.

#[test]
fn masking_rule_server_fails_on_unmasked_frame() {
    run_case("masking rule (server)", &[Role::Server], |s| {
        s.set_masking(false);
        let f = s.send(text(b"Hello"));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

#[test]
fn masking_rule_client_fails_on_masked_frame() {
    run_case("masking rule (client)", &[Role::Client], |s| {
        s.set_masking(true);
        let f = s.send(text(b"Hello"));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}
