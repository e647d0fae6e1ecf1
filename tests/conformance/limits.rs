//! Section 9: limits and performance, SCALED DOWN BY 64 so the suite stays
//! fast in a debug build (every test name ends in `_div64`).
//!
//! Upstream sizes → sizes here:
//! - 9.1.x / 9.2.x: one text / binary message of 64 KiB, 256 KiB, 1, 4, 8
//!   and 16 MiB → 1, 4, 16, 64, 128 and 256 KiB;
//! - 9.3.x / 9.4.x: a 4 MiB text / binary message in fragments of 64 B …
//!   4 MiB (×4) → a 64 KiB message in fragments of 1 B … 64 KiB (×4): the
//!   number of frames per message is kept, so 9.3.1 / 9.4.1 still send
//!   65 537 frames (65 536 full fragments and, as Autobahn's sender does
//!   when the message is an exact multiple of the fragment size, an empty
//!   final frame). `tests/limits.rs` runs these shapes unscaled;
//! - 9.5.x / 9.6.x: a 1 MiB text / binary frame written in chops of 64 …
//!   2048 B → a 16 KiB frame in chops of 1 … 32 B;
//! - 9.7.x / 9.8.x: 1000 text / binary messages of 0, 16, 64, 256, 1024 and
//!   4096 B, each sent after the previous echo → the same sizes, 16 messages
//!   (1000 / 64, rounded up). The order of events is the same whether the
//!   fuzzer waits for each echo or not: the testee answers each message as
//!   soon as it is complete.
//!
//! Expectation (every case, from upstream's `onMessage`): each message is
//! echoed with the same kind and payload (upstream checks kind and length;
//! here the bytes too), then the fuzzer closes with 1000 and the testee
//! echoes it. The testee runs with the default `Config`, whose limits
//! (64 MiB messages, frames up to that, fragments bounded by what they
//! cost) admit the unscaled cases too.
//!
//! Run against a server only, as the Autobahn fuzzing client runs them.

use crate::harness::{binary, cont, repeat_to, run_case, text, Expect, Frame, Reply, Script, SERVER};

const SCALE: usize = 64;
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Autobahn's text pattern for 9.1, 9.5 and 9.7.
const TEXT_PATTERN: &[u8] = b"BAsd7&jh23";
/// Autobahn's binary pattern for 9.2 and 9.6.
const BINARY_PATTERN: &[u8] = b"\x00\xfe\x23\xfa\xf0";

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Binary,
}

fn data_frame(kind: Kind, first: bool, payload: &[u8]) -> Frame {
    match (kind, first) {
        (_, false) => cont(payload),
        (Kind::Text, true) => text(payload),
        (Kind::Binary, true) => binary(payload),
    }
}

fn reply(kind: Kind, payload: Vec<u8>) -> Reply {
    match kind {
        Kind::Text => Reply::Text(payload),
        Kind::Binary => Reply::Binary(payload),
    }
}

/// 9.1 / 9.2: one message of `len` (unscaled) bytes in one frame.
fn one_message(kind: Kind, len: usize) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let pattern = if let Kind::Text = kind { TEXT_PATTERN } else { BINARY_PATTERN };
        let payload = repeat_to(pattern, len / SCALE);
        s.send(data_frame(kind, true, &payload));
        Expect::echo(vec![reply(kind, payload)])
    }
}

/// 9.3 / 9.4: a 4 MiB (unscaled) message in fragments of `frag` (unscaled),
/// sent as Autobahn's sender does: full fragments, then, when the message
/// is an exact multiple of the fragment size, an empty final frame.
fn fragmented(kind: Kind, frag: usize) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let byte = if let Kind::Text = kind { b'*' } else { 0xFE };
        let payload = vec![byte; 4 * MIB / SCALE];
        let frag = frag / SCALE;
        let exact = payload.len() % frag == 0;
        let n = payload.len().div_ceil(frag);
        for (i, piece) in payload.chunks(frag).enumerate() {
            s.send(data_frame(kind, i == 0, piece).fin(!exact && i + 1 == n));
        }
        if exact {
            s.send(cont(b""));
        }
        Expect::echo(vec![reply(kind, payload)])
    }
}

/// 9.5 / 9.6: a 1 MiB (unscaled) frame written in chops of `chop` (unscaled).
fn chopped(kind: Kind, chop: usize) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let pattern = if let Kind::Text = kind { TEXT_PATTERN } else { BINARY_PATTERN };
        let payload = repeat_to(pattern, MIB / SCALE);
        s.send_chopped(data_frame(kind, true, &payload), chop / SCALE);
        Expect::echo(vec![reply(kind, payload)])
    }
}

/// 9.7 / 9.8: 1000 (unscaled) messages of `len` bytes, one at a time.
fn many(kind: Kind, len: usize) -> impl Fn(&mut Script) -> Expect {
    move |s| {
        let byte = if let Kind::Text = kind { b'*' } else { 0xFE };
        let count = 1000usize.div_ceil(SCALE);
        let mut replies = Vec::new();
        for _ in 0..count {
            s.send(data_frame(kind, true, &vec![byte; len]));
            s.wait();
            replies.push(reply(kind, vec![byte; len]));
        }
        Expect::echo(replies)
    }
}

macro_rules! cases {
    ($($test:ident, $name:literal, $build:expr;)*) => {
        $(
            #[test]
            fn $test() {
                run_case(concat!($name, " (scaled down by 64)"), SERVER, $build);
            }
        )*
    };
}

cases! {
    case_9_1_1_div64, "9.1.1", one_message(Kind::Text, 64 * KIB);
    case_9_1_2_div64, "9.1.2", one_message(Kind::Text, 256 * KIB);
    case_9_1_3_div64, "9.1.3", one_message(Kind::Text, MIB);
    case_9_1_4_div64, "9.1.4", one_message(Kind::Text, 4 * MIB);
    case_9_1_5_div64, "9.1.5", one_message(Kind::Text, 8 * MIB);
    case_9_1_6_div64, "9.1.6", one_message(Kind::Text, 16 * MIB);
    case_9_2_1_div64, "9.2.1", one_message(Kind::Binary, 64 * KIB);
    case_9_2_2_div64, "9.2.2", one_message(Kind::Binary, 256 * KIB);
    case_9_2_3_div64, "9.2.3", one_message(Kind::Binary, MIB);
    case_9_2_4_div64, "9.2.4", one_message(Kind::Binary, 4 * MIB);
    case_9_2_5_div64, "9.2.5", one_message(Kind::Binary, 8 * MIB);
    case_9_2_6_div64, "9.2.6", one_message(Kind::Binary, 16 * MIB);
    case_9_3_1_div64, "9.3.1", fragmented(Kind::Text, 64);
    case_9_3_2_div64, "9.3.2", fragmented(Kind::Text, 256);
    case_9_3_3_div64, "9.3.3", fragmented(Kind::Text, KIB);
    case_9_3_4_div64, "9.3.4", fragmented(Kind::Text, 4 * KIB);
    case_9_3_5_div64, "9.3.5", fragmented(Kind::Text, 16 * KIB);
    case_9_3_6_div64, "9.3.6", fragmented(Kind::Text, 64 * KIB);
    case_9_3_7_div64, "9.3.7", fragmented(Kind::Text, 256 * KIB);
    case_9_3_8_div64, "9.3.8", fragmented(Kind::Text, MIB);
    case_9_3_9_div64, "9.3.9", fragmented(Kind::Text, 4 * MIB);
    case_9_4_1_div64, "9.4.1", fragmented(Kind::Binary, 64);
    case_9_4_2_div64, "9.4.2", fragmented(Kind::Binary, 256);
    case_9_4_3_div64, "9.4.3", fragmented(Kind::Binary, KIB);
    case_9_4_4_div64, "9.4.4", fragmented(Kind::Binary, 4 * KIB);
    case_9_4_5_div64, "9.4.5", fragmented(Kind::Binary, 16 * KIB);
    case_9_4_6_div64, "9.4.6", fragmented(Kind::Binary, 64 * KIB);
    case_9_4_7_div64, "9.4.7", fragmented(Kind::Binary, 256 * KIB);
    case_9_4_8_div64, "9.4.8", fragmented(Kind::Binary, MIB);
    case_9_4_9_div64, "9.4.9", fragmented(Kind::Binary, 4 * MIB);
    case_9_5_1_div64, "9.5.1", chopped(Kind::Text, 64);
    case_9_5_2_div64, "9.5.2", chopped(Kind::Text, 128);
    case_9_5_3_div64, "9.5.3", chopped(Kind::Text, 256);
    case_9_5_4_div64, "9.5.4", chopped(Kind::Text, 512);
    case_9_5_5_div64, "9.5.5", chopped(Kind::Text, 1024);
    case_9_5_6_div64, "9.5.6", chopped(Kind::Text, 2048);
    case_9_6_1_div64, "9.6.1", chopped(Kind::Binary, 64);
    case_9_6_2_div64, "9.6.2", chopped(Kind::Binary, 128);
    case_9_6_3_div64, "9.6.3", chopped(Kind::Binary, 256);
    case_9_6_4_div64, "9.6.4", chopped(Kind::Binary, 512);
    case_9_6_5_div64, "9.6.5", chopped(Kind::Binary, 1024);
    case_9_6_6_div64, "9.6.6", chopped(Kind::Binary, 2048);
    case_9_7_1_div64, "9.7.1", many(Kind::Text, 0);
    case_9_7_2_div64, "9.7.2", many(Kind::Text, 16);
    case_9_7_3_div64, "9.7.3", many(Kind::Text, 64);
    case_9_7_4_div64, "9.7.4", many(Kind::Text, 256);
    case_9_7_5_div64, "9.7.5", many(Kind::Text, 1024);
    case_9_7_6_div64, "9.7.6", many(Kind::Text, 4096);
    case_9_8_1_div64, "9.8.1", many(Kind::Binary, 0);
    case_9_8_2_div64, "9.8.2", many(Kind::Binary, 16);
    case_9_8_3_div64, "9.8.3", many(Kind::Binary, 64);
    case_9_8_4_div64, "9.8.4", many(Kind::Binary, 256);
    case_9_8_5_div64, "9.8.5", many(Kind::Binary, 1024);
    case_9_8_6_div64, "9.8.6", many(Kind::Binary, 4096);
}
