//! The work of taking messages from a `Session`, in instructions rather
//! than time: the `messages` bench's loops (server role, 64 KiB reads copied
//! in, replies drained after each read) over the same frames, one mode per
//! run, for `valgrind --tool=callgrind`, which counts instructions
//! repeatably on a shared machine where timings move by a third.
//! `message_instructions.sh` runs every mode and size and prints
//! instructions per message.
//!
//! ```text
//! message_instructions MODE KIND SIZE ROUNDS
//!   MODE: streaming | whole | recycled | lent
//!   KIND: binary | text
//! ```

use std::hint::black_box;

use wsmachine::{Config, Connection, Incoming, IncomingRef, Session, Streamed};

#[path = "common/mod.rs"]
mod common;
use common::{frames_for, masked_frames, payload, Kind, READ_CHUNK};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, kind, size, rounds] = &args[..] else {
        eprintln!("usage: message_instructions streaming|whole|recycled|lent binary|text SIZE ROUNDS");
        std::process::exit(2);
    };
    let kind = if kind == "text" { Kind::Text } else { Kind::Binary };
    let size: usize = size.parse().expect("SIZE is a number");
    let rounds: usize = rounds.parse().expect("ROUNDS is a number");
    let count = frames_for(size);
    let wire = masked_frames(kind, &payload(kind, size, size as u32), count);
    let mut session = Session::new(Connection::server(Config::default()));
    let mut messages = 0;
    for _ in 0..rounds {
        for read in wire.chunks(READ_CHUNK) {
            session.receive(read);
            messages += match mode.as_str() {
                "streaming" => streaming(&mut session),
                "whole" => whole(&mut session, false),
                "recycled" => whole(&mut session, true),
                "lent" => lent(&mut session),
                other => panic!("unknown mode {other}"),
            };
            let n = black_box(session.poll_output()).len();
            session.consume_output(n);
        }
    }
    assert_eq!(messages, rounds * count, "every message, whole and right");
}

fn streaming(session: &mut Session) -> usize {
    let mut messages = 0;
    while let Some(item) = session.poll_piece().expect("valid frames") {
        if let Streamed::Piece(piece) = item {
            black_box(piece.data);
            messages += usize::from(piece.fin);
        }
    }
    messages
}

fn whole(session: &mut Session, recycle: bool) -> usize {
    let mut messages = 0;
    while let Some(item) = session.poll_message().expect("valid frames") {
        if let Incoming::Message(message) = item {
            black_box(message.as_bytes());
            if recycle {
                session.recycle(message);
            }
            messages += 1;
        }
    }
    messages
}

fn lent(session: &mut Session) -> usize {
    let mut messages = 0;
    while let Some(item) = session.poll_message_ref().expect("valid frames") {
        match item {
            IncomingRef::Text(text) => black_box(text.as_bytes()),
            IncomingRef::Binary(data) => black_box(data),
            _ => continue,
        };
        messages += 1;
    }
    messages
}
