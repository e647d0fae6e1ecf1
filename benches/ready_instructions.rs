//! The work of taking lent messages from a `Session` as the adapters'
//! lending receives do: each found with `Session::message_ready`, then
//! lent by `Session::poll_message_ref`. A binary of its own, so that this
//! loop does not change how `message_instructions` compiles the modes it
//! compares. `message_instructions.sh` runs it for its last column.
//!
//! ```text
//! ready_instructions KIND SIZE ROUNDS
//!   KIND: binary | text
//! ```

use wsmachine::{Config, Connection, Session};

#[path = "common/mod.rs"]
mod common;
use common::session_modes::{feed, take_ready_lent};
use common::InstructionCase;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, size, rounds] = &args[..] else {
        eprintln!("usage: ready_instructions binary|text SIZE ROUNDS");
        std::process::exit(2);
    };
    let InstructionCase { rounds, count, wire } = InstructionCase::from_args(kind, size, rounds);
    let mut session = Session::new(Connection::server(Config::default()));
    let mut messages = 0;
    for _ in 0..rounds {
        messages += feed(&mut session, &wire, take_ready_lent);
    }
    assert_eq!(messages, rounds * count, "every message, whole and right");
}
