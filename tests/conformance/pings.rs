//! Section 2: pings and pongs.
//!
//! Expectations, from each case's `expected` / `expectedClose`:
//! - a ping (empty, text, binary, 125 bytes, sent whole or octet-wise) is
//!   answered by a pong with the same payload; the fuzzer then closes with
//!   1000 and the testee echoes it;
//! - a ping of 126 bytes (2.5) is a protocol error: no pong, the testee fails
//!   the connection with 1002 as soon as the header announces the length;
//! - unsolicited pongs (2.7, 2.8) get no answer; with a ping after one (2.9)
//!   only the ping is answered;
//! - ten pings in a row (2.10, and octet-wise 2.11) get ten pongs, in order:
//!   Autobahn's OK wants every payload back. The testee drains after every
//!   event, so a pong is never replaced by the next ping's.

use crate::harness::{ping, pong, run_case, Expect, Reply, BOTH};

#[test]
fn case_2_1() {
    run_case("2.1", BOTH, |s| {
        s.send(ping(b""));
        Expect::echo(vec![Reply::pong(b"")])
    });
}

#[test]
fn case_2_2() {
    run_case("2.2", BOTH, |s| {
        s.send(ping(b"Hello, world!"));
        Expect::echo(vec![Reply::pong(b"Hello, world!")])
    });
}

#[test]
fn case_2_3() {
    let payload = [0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF];
    run_case("2.3", BOTH, |s| {
        s.send(ping(payload));
        Expect::echo(vec![Reply::pong(payload)])
    });
}

#[test]
fn case_2_4() {
    run_case("2.4", BOTH, |s| {
        s.send(ping([0xFE; 125]));
        Expect::echo(vec![Reply::pong([0xFE; 125])])
    });
}

#[test]
fn case_2_5() {
    run_case("2.5", BOTH, |s| {
        let p = s.send(ping([0xFE; 126]));
        Expect::fail(1002, vec![], s.header_window(p))
    });
}

#[test]
fn case_2_6() {
    run_case("2.6", BOTH, |s| {
        s.send_chopped(ping([0xFE; 125]), 1);
        Expect::echo(vec![Reply::pong([0xFE; 125])])
    });
}

#[test]
fn case_2_7() {
    run_case("2.7", BOTH, |s| {
        s.send(pong(b""));
        Expect::echo(vec![])
    });
}

#[test]
fn case_2_8() {
    run_case("2.8", BOTH, |s| {
        s.send(pong(b"unsolicited pong payload"));
        Expect::echo(vec![])
    });
}

#[test]
fn case_2_9() {
    run_case("2.9", BOTH, |s| {
        s.send(pong(b"unsolicited pong payload"));
        s.send(ping(b"ping payload"));
        Expect::echo(vec![Reply::pong(b"ping payload")])
    });
}

fn ten_pings(chop: Option<usize>) -> impl Fn(&mut crate::harness::Script) -> Expect {
    move |s| {
        let mut replies = Vec::new();
        for i in 0..10 {
            let payload = format!("payload-{i}");
            match chop {
                Some(c) => s.send_chopped(ping(&payload), c),
                None => s.send(ping(&payload)),
            };
            replies.push(Reply::pong(payload));
        }
        Expect::echo(replies)
    }
}

#[test]
fn case_2_10() {
    run_case("2.10", BOTH, ten_pings(None));
}

#[test]
fn case_2_11() {
    run_case("2.11", BOTH, ten_pings(Some(1)));
}
