//! Section 6: UTF-8 handling of text messages (RFC 6455 §8.1).
//!
//! Expectations, from each case's `expected` / `expectedClose`:
//! - valid text — empty, in empty fragments, split inside characters, one
//!   octet per frame, and every valid entry of the 6.5–6.23 tables
//!   (non-characters and specials included: they are valid UTF-8) — is
//!   echoed, then the fuzzer closes with 1000;
//! - invalid text fails the connection with 1007, and nothing is echoed.
//!   The testee must fail *fast*: while feeding the chunk that holds the
//!   first byte after which no continuation could make the text valid (for
//!   text that ends inside a character, the message's last byte), never
//!   later, and no data event may carry that byte or anything after it.
//!   6.4.x is Autobahn's explicit fail-fast check: the case pauses after the
//!   valid part and again after the offending byte, and the strict OK wants
//!   the failure before the second pause (before the rest is sent).
//!
//! 6.5–6.23 are Autobahn's tables from Markus Kuhn's UTF-8 decoder stress
//! test, each payload sent as one unfragmented text message. Validity is as
//! Autobahn states it (a prefix that stops inside a character is invalid as
//! a whole message); the table test also cross-checks it with
//! `core::str::from_utf8`.

use crate::harness::{cont, run_case, text, Expect, Reply, Script, BOTH};

/// Parses space-separated hex octets.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|h| u8::from_str_radix(h, 16).expect("hex octet")).collect()
}

/// Each lead byte in `range` followed by a space (6.13, "lonely start characters").
fn lonely(range: std::ops::Range<u8>) -> Vec<u8> {
    range.flat_map(|b| [b, 0x20]).collect()
}

/// 6.14's sequences with the last continuation byte missing; 6.15 is their
/// concatenation.
const LAST_BYTE_MISSING: [&str; 10] = [
    "c0",
    "e0 80",
    "f0 80 80",
    "f8 80 80 80",
    "fc 80 80 80 80",
    "df",
    "ef bf",
    "f7 bf bf",
    "fb bf bf bf",
    "fd bf bf bf bf",
];

/// "Hello-µ@ßöäüàá-UTF-8!!", split on a character boundary for 6.2.2.
const HELLO_1: &str = "Hello-µ@ßöä";
const HELLO_2: &str = "üàá-UTF-8!!";

/// "κόσμε", the valid text Autobahn builds its invalid messages around.
const KOSME: &[u8] = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";

/// A message sent as one frame per octet (Autobahn `payload_frag_size = 1`).
fn octet_frames(s: &mut Script, payload: &[u8]) {
    for (i, b) in payload.iter().enumerate() {
        let last = i + 1 == payload.len();
        let f = if i == 0 { text([*b]) } else { cont([*b]) };
        s.send(f.fin(last));
    }
}

#[test]
fn case_6_1_1() {
    run_case("6.1.1", BOTH, |s| {
        s.send(text(b""));
        Expect::echo(vec![Reply::text(b"")])
    });
}

#[test]
fn case_6_1_2() {
    run_case("6.1.2", BOTH, |s| {
        s.send(text(b"").fin(false));
        s.send(cont(b"").fin(false));
        s.send(cont(b""));
        Expect::echo(vec![Reply::text(b"")])
    });
}

#[test]
fn case_6_1_3() {
    run_case("6.1.3", BOTH, |s| {
        s.send(text(b"").fin(false));
        s.send(cont(b"middle frame payload").fin(false));
        s.send(cont(b""));
        Expect::echo(vec![Reply::text(b"middle frame payload")])
    });
}

#[test]
fn case_6_2_1() {
    run_case("6.2.1", BOTH, |s| {
        let payload = format!("{HELLO_1}{HELLO_2}");
        s.send(text(&payload));
        Expect::echo(vec![Reply::text(payload)])
    });
}

#[test]
fn case_6_2_2() {
    run_case("6.2.2", BOTH, |s| {
        s.send(text(HELLO_1).fin(false));
        s.send(cont(HELLO_2));
        Expect::echo(vec![Reply::text(format!("{HELLO_1}{HELLO_2}"))])
    });
}

#[test]
fn case_6_2_3() {
    run_case("6.2.3", BOTH, |s| {
        let payload = format!("{HELLO_1}{HELLO_2}");
        octet_frames(s, payload.as_bytes());
        Expect::echo(vec![Reply::text(payload)])
    });
}

#[test]
fn case_6_2_4() {
    run_case("6.2.4", BOTH, |s| {
        octet_frames(s, KOSME);
        Expect::echo(vec![Reply::text(KOSME)])
    });
}

/// κόσμε, a surrogate (ED A0 80: invalid at A0, its 13th byte), "edited".
fn invalid_surrogate_message() -> Vec<u8> {
    [KOSME, b"\xed\xa0\x80", b"edited"].concat()
}

#[test]
fn case_6_3_1() {
    run_case("6.3.1", BOTH, |s| {
        s.send(text(invalid_surrogate_message()));
        let w = s.utf8_window();
        assert_eq!(w.0, s.frame_info(0).payload_start + 12, "the offending byte is A0");
        Expect::fail(1007, vec![], w)
    });
}

#[test]
fn case_6_3_2() {
    run_case("6.3.2", BOTH, |s| {
        octet_frames(s, &invalid_surrogate_message());
        Expect::fail(1007, vec![], s.utf8_window())
    });
}

/// 6.4.x: κόσμε, F4 90 80 80 (beyond U+10FFFF: invalid at 90, its 13th
/// byte), "edited".
const PART1: &[u8] = KOSME;
const PART2: &[u8] = b"\xf4\x90\x80\x80";
const PART3: &[u8] = b"edited";

fn fail_fast_message() -> Vec<u8> {
    [PART1, PART2, PART3].concat()
}

/// Checks the fail window is the 0x90 byte, then expects 1007 there.
fn fail_at_0x90(s: &Script) -> Expect {
    let w = s.utf8_window();
    assert_eq!(w, (w.0, w.0));
    Expect::fail(1007, vec![], w)
}

#[test]
fn case_6_4_1() {
    run_case("6.4.1", BOTH, |s| {
        s.send(text(PART1).fin(false));
        s.wait();
        s.send(cont(PART2).fin(false));
        s.wait();
        s.send(cont(PART3));
        fail_at_0x90(s)
    });
}

#[test]
fn case_6_4_2() {
    run_case("6.4.2", BOTH, |s| {
        let m = fail_fast_message();
        s.send(text(&m[..12]).fin(false));
        s.wait();
        s.send(cont(&m[12..13]).fin(false));
        s.wait();
        s.send(cont(&m[13..]));
        fail_at_0x90(s)
    });
}

#[test]
fn case_6_4_3() {
    run_case("6.4.3", BOTH, |s| {
        s.send_in_pieces(text(fail_fast_message()), &[PART1.len(), PART1.len() + PART2.len()]);
        fail_at_0x90(s)
    });
}

#[test]
fn case_6_4_4() {
    run_case("6.4.4", BOTH, |s| {
        s.send_in_pieces(text(fail_fast_message()), &[12, 13]);
        fail_at_0x90(s)
    });
}

/// One entry of the 6.5–6.23 tables: `payload` as one text frame.
fn table_case(name: &str, valid: bool, payload: Vec<u8>) {
    assert_eq!(
        valid,
        std::str::from_utf8(&payload).is_ok(),
        "table entry {name}: Autobahn's validity disagrees with core::str::from_utf8"
    );
    run_case(name, BOTH, |s| {
        s.send(text(&payload));
        if valid {
            Expect::echo(vec![Reply::text(&payload)])
        } else {
            Expect::fail(1007, vec![], s.utf8_window())
        }
    });
}

macro_rules! table {
    ($($test:ident, $name:literal, $valid:literal, $payload:expr;)*) => {
        $(
            #[test]
            fn $test() {
                table_case($name, $valid, $payload);
            }
        )*
    };
}

table! {
    case_6_5_1, "6.5.1", true, hex("68 65 6c 6c 6f 24 77 6f 72 6c 64");
    case_6_5_2, "6.5.2", true, hex("68 65 6c 6c 6f c2 a2 77 6f 72 6c 64");
    case_6_5_3, "6.5.3", true, hex("68 65 6c 6c 6f e2 82 ac 77 6f 72 6c 64");
    case_6_5_4, "6.5.4", true, hex("68 65 6c 6c 6f f0 a4 ad a2 77 6f 72 6c 64");
    case_6_5_5, "6.5.5", true, hex("ce ba e1 bd b9 cf 83 ce bc ce b5");
    case_6_6_1, "6.6.1", false, hex("ce");
    case_6_6_2, "6.6.2", true, hex("ce ba");
    case_6_6_3, "6.6.3", false, hex("ce ba e1");
    case_6_6_4, "6.6.4", false, hex("ce ba e1 bd");
    case_6_6_5, "6.6.5", true, hex("ce ba e1 bd b9");
    case_6_6_6, "6.6.6", false, hex("ce ba e1 bd b9 cf");
    case_6_6_7, "6.6.7", true, hex("ce ba e1 bd b9 cf 83");
    case_6_6_8, "6.6.8", false, hex("ce ba e1 bd b9 cf 83 ce");
    case_6_6_9, "6.6.9", true, hex("ce ba e1 bd b9 cf 83 ce bc");
    case_6_6_10, "6.6.10", false, hex("ce ba e1 bd b9 cf 83 ce bc ce");
    case_6_6_11, "6.6.11", true, hex("ce ba e1 bd b9 cf 83 ce bc ce b5");
    case_6_7_1, "6.7.1", true, hex("00");
    case_6_7_2, "6.7.2", true, hex("c2 80");
    case_6_7_3, "6.7.3", true, hex("e0 a0 80");
    case_6_7_4, "6.7.4", true, hex("f0 90 80 80");
    case_6_8_1, "6.8.1", false, hex("f8 88 80 80 80");
    case_6_8_2, "6.8.2", false, hex("fc 84 80 80 80 80");
    case_6_9_1, "6.9.1", true, hex("7f");
    case_6_9_2, "6.9.2", true, hex("df bf");
    case_6_9_3, "6.9.3", true, hex("ef bf bf");
    case_6_9_4, "6.9.4", true, hex("f4 8f bf bf");
    case_6_10_1, "6.10.1", false, hex("f7 bf bf bf");
    case_6_10_2, "6.10.2", false, hex("fb bf bf bf bf");
    case_6_10_3, "6.10.3", false, hex("fd bf bf bf bf bf");
    case_6_11_1, "6.11.1", true, hex("ed 9f bf");
    case_6_11_2, "6.11.2", true, hex("ee 80 80");
    case_6_11_3, "6.11.3", true, hex("ef bf bd");
    case_6_11_4, "6.11.4", true, hex("f4 8f bf bf");
    case_6_11_5, "6.11.5", false, hex("f4 90 80 80");
    case_6_12_1, "6.12.1", false, hex("80");
    case_6_12_2, "6.12.2", false, hex("bf");
    case_6_12_3, "6.12.3", false, hex("80 bf");
    case_6_12_4, "6.12.4", false, hex("80 bf 80");
    case_6_12_5, "6.12.5", false, hex("80 bf 80 bf");
    case_6_12_6, "6.12.6", false, hex("80 bf 80 bf 80");
    case_6_12_7, "6.12.7", false, hex("80 bf 80 bf 80 bf");
    case_6_12_8, "6.12.8", false, (0x80..0xBF).collect();
    case_6_13_1, "6.13.1", false, lonely(0xC0..0xDF);
    case_6_13_2, "6.13.2", false, lonely(0xE0..0xEF);
    case_6_13_3, "6.13.3", false, lonely(0xF0..0xF7);
    case_6_13_4, "6.13.4", false, lonely(0xF8..0xFB);
    case_6_13_5, "6.13.5", false, lonely(0xFC..0xFD);
    case_6_14_1, "6.14.1", false, hex("c0");
    case_6_14_2, "6.14.2", false, hex("e0 80");
    case_6_14_3, "6.14.3", false, hex("f0 80 80");
    case_6_14_4, "6.14.4", false, hex("f8 80 80 80");
    case_6_14_5, "6.14.5", false, hex("fc 80 80 80 80");
    case_6_14_6, "6.14.6", false, hex("df");
    case_6_14_7, "6.14.7", false, hex("ef bf");
    case_6_14_8, "6.14.8", false, hex("f7 bf bf");
    case_6_14_9, "6.14.9", false, hex("fb bf bf bf");
    case_6_14_10, "6.14.10", false, hex("fd bf bf bf bf");
    case_6_15_1, "6.15.1", false, LAST_BYTE_MISSING.iter().flat_map(|h| hex(h)).collect();
    case_6_16_1, "6.16.1", false, hex("fe");
    case_6_16_2, "6.16.2", false, hex("ff");
    case_6_16_3, "6.16.3", false, hex("fe fe ff ff");
    case_6_17_1, "6.17.1", false, hex("c0 af");
    case_6_17_2, "6.17.2", false, hex("e0 80 af");
    case_6_17_3, "6.17.3", false, hex("f0 80 80 af");
    case_6_17_4, "6.17.4", false, hex("f8 80 80 80 af");
    case_6_17_5, "6.17.5", false, hex("fc 80 80 80 80 af");
    case_6_18_1, "6.18.1", false, hex("c1 bf");
    case_6_18_2, "6.18.2", false, hex("e0 9f bf");
    case_6_18_3, "6.18.3", false, hex("f0 8f bf bf");
    case_6_18_4, "6.18.4", false, hex("f8 87 bf bf bf");
    case_6_18_5, "6.18.5", false, hex("fc 83 bf bf bf bf");
    case_6_19_1, "6.19.1", false, hex("c0 80");
    case_6_19_2, "6.19.2", false, hex("e0 80 80");
    case_6_19_3, "6.19.3", false, hex("f0 80 80 80");
    case_6_19_4, "6.19.4", false, hex("f8 80 80 80 80");
    case_6_19_5, "6.19.5", false, hex("fc 80 80 80 80 80");
    case_6_20_1, "6.20.1", false, hex("ed a0 80");
    case_6_20_2, "6.20.2", false, hex("ed ad bf");
    case_6_20_3, "6.20.3", false, hex("ed ae 80");
    case_6_20_4, "6.20.4", false, hex("ed af bf");
    case_6_20_5, "6.20.5", false, hex("ed b0 80");
    case_6_20_6, "6.20.6", false, hex("ed be 80");
    case_6_20_7, "6.20.7", false, hex("ed bf bf");
    case_6_21_1, "6.21.1", false, hex("ed a0 80 ed b0 80");
    case_6_21_2, "6.21.2", false, hex("ed a0 80 ed bf bf");
    case_6_21_3, "6.21.3", false, hex("ed ad bf ed b0 80");
    case_6_21_4, "6.21.4", false, hex("ed ad bf ed bf bf");
    case_6_21_5, "6.21.5", false, hex("ed ae 80 ed b0 80");
    case_6_21_6, "6.21.6", false, hex("ed ae 80 ed bf bf");
    case_6_21_7, "6.21.7", false, hex("ed af bf ed b0 80");
    case_6_21_8, "6.21.8", false, hex("ed af bf ed bf bf");
    case_6_22_1, "6.22.1", true, hex("ef bf be");
    case_6_22_2, "6.22.2", true, hex("ef bf bf");
    case_6_22_3, "6.22.3", true, hex("f0 9f bf be");
    case_6_22_4, "6.22.4", true, hex("f0 9f bf bf");
    case_6_22_5, "6.22.5", true, hex("f0 af bf be");
    case_6_22_6, "6.22.6", true, hex("f0 af bf bf");
    case_6_22_7, "6.22.7", true, hex("f0 bf bf be");
    case_6_22_8, "6.22.8", true, hex("f0 bf bf bf");
    case_6_22_9, "6.22.9", true, hex("f1 8f bf be");
    case_6_22_10, "6.22.10", true, hex("f1 8f bf bf");
    case_6_22_11, "6.22.11", true, hex("f1 9f bf be");
    case_6_22_12, "6.22.12", true, hex("f1 9f bf bf");
    case_6_22_13, "6.22.13", true, hex("f1 af bf be");
    case_6_22_14, "6.22.14", true, hex("f1 af bf bf");
    case_6_22_15, "6.22.15", true, hex("f1 bf bf be");
    case_6_22_16, "6.22.16", true, hex("f1 bf bf bf");
    case_6_22_17, "6.22.17", true, hex("f2 8f bf be");
    case_6_22_18, "6.22.18", true, hex("f2 8f bf bf");
    case_6_22_19, "6.22.19", true, hex("f2 9f bf be");
    case_6_22_20, "6.22.20", true, hex("f2 9f bf bf");
    case_6_22_21, "6.22.21", true, hex("f2 af bf be");
    case_6_22_22, "6.22.22", true, hex("f2 af bf bf");
    case_6_22_23, "6.22.23", true, hex("f2 bf bf be");
    case_6_22_24, "6.22.24", true, hex("f2 bf bf bf");
    case_6_22_25, "6.22.25", true, hex("f3 8f bf be");
    case_6_22_26, "6.22.26", true, hex("f3 8f bf bf");
    case_6_22_27, "6.22.27", true, hex("f3 9f bf be");
    case_6_22_28, "6.22.28", true, hex("f3 9f bf bf");
    case_6_22_29, "6.22.29", true, hex("f3 af bf be");
    case_6_22_30, "6.22.30", true, hex("f3 af bf bf");
    case_6_22_31, "6.22.31", true, hex("f3 bf bf be");
    case_6_22_32, "6.22.32", true, hex("f3 bf bf bf");
    case_6_22_33, "6.22.33", true, hex("f4 8f bf be");
    case_6_22_34, "6.22.34", true, hex("f4 8f bf bf");
    case_6_23_1, "6.23.1", true, hex("ef bf b9");
    case_6_23_2, "6.23.2", true, hex("ef bf ba");
    case_6_23_3, "6.23.3", true, hex("ef bf bb");
    case_6_23_4, "6.23.4", true, hex("ef bf bc");
    case_6_23_5, "6.23.5", true, hex("ef bf bd");
    case_6_23_6, "6.23.6", true, hex("ef bf be");
    case_6_23_7, "6.23.7", true, hex("ef bf bf");
}
