//! Section 5: fragmentation (RFC 6455 §5.4).
//!
//! Expectations, from each case's `expected` / `expectedClose`:
//! - a fragmented ping or pong (5.1, 5.2) fails with 1002 at the first
//!   frame's header (control frames MUST NOT be fragmented);
//! - a text message in two fragments (5.3–5.5), with a ping in between
//!   (5.6–5.8), or in five fragments with two pings (5.19, 5.20) is echoed
//!   whole after the pongs; each pong is written as soon as its ping is in,
//!   before the message ends (5.19 waits between the two halves and wants
//!   the first pong during the wait);
//! - a continuation with nothing to continue (5.9–5.17) or a second text
//!   frame inside a message (5.18) fails with 1002 at that frame's header;
//!   5.15 first completes a valid two-fragment message, whose echo is part
//!   of the strict OK.
//!
//! Each shape is sent in one chop, frame-wise (`sync`) and octet-wise, as
//! the cases do.

use crate::harness::{cont, ping, pong, run_case, text, Expect, Frame, Reply, Script, BOTH};

/// How a case writes its frames.
#[derive(Clone, Copy)]
enum Send {
    OneChop,
    FrameWise,
    OctetWise,
}

fn put(s: &mut Script, how: Send, f: Frame) -> usize {
    match how {
        Send::OneChop => s.send(f),
        Send::FrameWise => s.send_sync(f),
        Send::OctetWise => s.send_chopped(f, 1),
    }
}

#[test]
fn case_5_1() {
    run_case("5.1", BOTH, |s| {
        let f = s.send(ping(b"fragment1").fin(false));
        s.send(cont(b"fragment2"));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

#[test]
fn case_5_2() {
    run_case("5.2", BOTH, |s| {
        let f = s.send(pong(b"fragment1").fin(false));
        s.send(cont(b"fragment2"));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

fn two_fragments(how: Send) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        put(s, how, text(b"fragment1").fin(false));
        put(s, how, cont(b"fragment2"));
        Expect::echo(vec![Reply::text(b"fragment1fragment2")])
    }
}

#[test]
fn case_5_3() {
    run_case("5.3", BOTH, two_fragments(Send::OneChop));
}

#[test]
fn case_5_4() {
    run_case("5.4", BOTH, two_fragments(Send::FrameWise));
}

#[test]
fn case_5_5() {
    run_case("5.5", BOTH, two_fragments(Send::OctetWise));
}

fn ping_between(how: Send) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        put(s, how, text(b"fragment1").fin(false));
        put(s, how, ping(b"ping payload"));
        put(s, how, cont(b"fragment2"));
        Expect::echo(vec![Reply::pong(b"ping payload"), Reply::text(b"fragment1fragment2")])
    }
}

#[test]
fn case_5_6() {
    run_case("5.6", BOTH, ping_between(Send::OneChop));
}

#[test]
fn case_5_7() {
    run_case("5.7", BOTH, ping_between(Send::FrameWise));
}

#[test]
fn case_5_8() {
    run_case("5.8", BOTH, ping_between(Send::OctetWise));
}

/// A continuation (with `fin`) where there is nothing to continue, then a
/// whole text message.
fn nothing_to_continue(fin: bool, how: Send) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let f = put(s, how, cont(b"non-continuation payload").fin(fin));
        put(s, how, text(b"Hello, world!"));
        Expect::fail(1002, vec![], s.header_window(f))
    }
}

#[test]
fn case_5_9() {
    run_case("5.9", BOTH, nothing_to_continue(true, Send::OneChop));
}

#[test]
fn case_5_10() {
    run_case("5.10", BOTH, nothing_to_continue(true, Send::FrameWise));
}

#[test]
fn case_5_11() {
    run_case("5.11", BOTH, nothing_to_continue(true, Send::OctetWise));
}

#[test]
fn case_5_12() {
    run_case("5.12", BOTH, nothing_to_continue(false, Send::OneChop));
}

#[test]
fn case_5_13() {
    run_case("5.13", BOTH, nothing_to_continue(false, Send::FrameWise));
}

#[test]
fn case_5_14() {
    run_case("5.14", BOTH, nothing_to_continue(false, Send::OctetWise));
}

#[test]
fn case_5_15() {
    run_case("5.15", BOTH, |s| {
        s.send(text(b"fragment1").fin(false));
        s.send(cont(b"fragment2"));
        let f = s.send(cont(b"fragment3").fin(false));
        s.send(text(b"fragment4"));
        Expect::fail(1002, vec![Reply::text(b"fragment1fragment2")], s.header_window(f))
    });
}

/// Twice: a continuation (with `fin`) with nothing to continue, then a text
/// message in two fragments. The very first frame is the error.
fn repeated(fin: bool) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let mut first = None;
        for _ in 0..2 {
            let f = s.send(cont(b"fragment1").fin(fin));
            first.get_or_insert(f);
            s.send(text(b"fragment2").fin(false));
            s.send(cont(b"fragment3"));
        }
        Expect::fail(1002, vec![], s.header_window(first.expect("sent")))
    }
}

#[test]
fn case_5_16() {
    run_case("5.16", BOTH, repeated(false));
}

#[test]
fn case_5_17() {
    run_case("5.17", BOTH, repeated(true));
}

#[test]
fn case_5_18() {
    run_case("5.18", BOTH, |s| {
        s.send(text(b"fragment1").fin(false));
        let f = s.send(text(b"fragment2"));
        Expect::fail(1002, vec![], s.header_window(f))
    });
}

/// Five fragments and two pings, with a wait after the first ping.
fn five_fragments(sync: bool) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let how = if sync { Send::FrameWise } else { Send::OneChop };
        put(s, how, text(b"fragment1").fin(false));
        put(s, how, cont(b"fragment2").fin(false));
        put(s, how, ping(b"pongme 1!"));
        s.wait();
        put(s, how, cont(b"fragment3").fin(false));
        put(s, how, cont(b"fragment4").fin(false));
        put(s, how, ping(b"pongme 2!"));
        put(s, how, cont(b"fragment5"));
        Expect::echo(vec![
            Reply::pong(b"pongme 1!"),
            Reply::pong(b"pongme 2!"),
            Reply::text(b"fragment1fragment2fragment3fragment4fragment5"),
        ])
    }
}

#[test]
fn case_5_19() {
    run_case("5.19", BOTH, five_fragments(false));
}

#[test]
fn case_5_20() {
    run_case("5.20", BOTH, five_fragments(true));
}
