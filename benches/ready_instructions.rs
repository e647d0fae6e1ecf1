//! The work of taking items from a `Session` as the adapters do when
//! their read loop cannot hold a borrow: lent messages as the lending
//! receives take them (each found with `Session::message_ready`, then lent
//! by `Session::poll_message_ref`), or, with `pieces`, pieces as the
//! blocking adapter's `read_piece` takes them (found with
//! `Session::piece_ready`, then taken by `Session::poll_piece`). A binary
//! of its own, so that these loops do not change how
//! `message_instructions` compiles the modes it compares.
//! `message_instructions.sh` runs it for two of its columns.
//!
//! ```text
//! ready_instructions KIND SIZE ROUNDS [pieces]
//!   KIND: binary | text
//! ```

use wsmachine::{Config, Connection, Session};

#[path = "common/mod.rs"]
mod common;
use common::session_modes::{feed, take_ready_lent, take_ready_pieces};
use common::InstructionCase;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, size, rounds, take): (_, _, _, fn(&mut Session) -> usize) = match &args[..] {
        [kind, size, rounds] => (kind, size, rounds, take_ready_lent),
        [kind, size, rounds, pieces] if pieces == "pieces" => (kind, size, rounds, take_ready_pieces),
        _ => {
            eprintln!("usage: ready_instructions binary|text SIZE ROUNDS [pieces]");
            std::process::exit(2);
        }
    };
    let InstructionCase { rounds, count, wire } = InstructionCase::from_args(kind, size, rounds);
    let mut session = Session::new(Connection::server(Config::default()));
    let mut messages = 0;
    for _ in 0..rounds {
        messages += feed(&mut session, &wire, take);
    }
    assert_eq!(messages, rounds * count, "every message, whole and right");
}
