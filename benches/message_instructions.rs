//! The work of taking messages from a `Session`, in instructions rather
//! than time: the `messages` bench's loops (server role, 64 KiB reads copied
//! in, replies drained after each read) over the same frames, one mode per
//! run, for `valgrind --tool=callgrind`, which counts instructions
//! repeatably on a shared machine where timings move by a third.
//! `message_instructions.sh` runs every mode and size and prints
//! instructions per message.
//!
//! ```text
//! message_instructions MODE KIND SIZE ROUNDS [one-per-read]
//!   MODE: streaming | whole | recycled | lent
//!   KIND: binary | text
//! ```
//!
//! With `one-per-read`, each read holds one frame, as in a
//! request-and-reply exchange, instead of 64 KiB.

use wsmachine::{Config, Connection, Session};

#[path = "common/mod.rs"]
mod common;
use common::session_modes::{drain, take_lent, take_messages, take_pieces};
use common::{masked_frame_len, InstructionCase, READ_CHUNK};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, kind, size, rounds, read_len) = match &args[..] {
        [mode, kind, size, rounds] => (mode, kind, size, rounds, READ_CHUNK),
        [mode, kind, size, rounds, one] if one == "one-per-read" => {
            (mode, kind, size, rounds, masked_frame_len(size.parse().expect("SIZE is a number")))
        }
        _ => {
            eprintln!(
                "usage: message_instructions streaming|whole|recycled|lent binary|text SIZE ROUNDS [one-per-read]"
            );
            std::process::exit(2);
        }
    };
    let InstructionCase { rounds, count, wire } = InstructionCase::from_args(kind, size, rounds);
    let mut session = Session::new(Connection::server(Config::default()));
    let mut messages = 0;
    for _ in 0..rounds {
        for read in wire.chunks(read_len) {
            session.receive(read);
            messages += match mode.as_str() {
                "streaming" => take_pieces(&mut session),
                "whole" => take_messages(&mut session, false),
                "recycled" => take_messages(&mut session, true),
                "lent" => take_lent(&mut session),
                other => panic!("unknown mode {other}"),
            };
            drain(&mut session);
        }
    }
    assert_eq!(messages, rounds * count, "every message, whole and right");
}
