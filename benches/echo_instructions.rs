//! The sans-IO work of an echo server, in instructions: the frames of
//! `message_instructions` (server role, 64 KiB reads copied in), each
//! message taken owned (`poll_message`) and sent back (`send_owned`), the
//! output drained in vectored pieces after each read, as a server on
//! `wsmachine-tokio` echoes over TCP. For `valgrind --tool=callgrind`;
//! `message_instructions.sh` prints its instructions per message in the
//! echo column. A program of its own, so that its loop does not change
//! how the other modes' loops are compiled.
//!
//! ```text
//! echo_instructions KIND SIZE ROUNDS
//!   KIND: binary | text
//! ```

use std::hint::black_box;

use wsmachine::{Config, Connection, Incoming, Session};

#[path = "common/mod.rs"]
mod common;
use common::{InstructionCase, READ_CHUNK};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, size, rounds] = &args[..] else {
        eprintln!("usage: echo_instructions binary|text SIZE ROUNDS");
        std::process::exit(2);
    };
    let InstructionCase { rounds, count, wire } = InstructionCase::from_args(kind, size, rounds);
    let mut session = Session::new(Connection::server(Config::default()));
    let (mut messages, mut written) = (0, 0);
    for _ in 0..rounds {
        for read in wire.chunks(READ_CHUNK) {
            session.receive(read);
            while let Some(item) = session.poll_message().expect("valid frames") {
                if let Incoming::Message(message) = item {
                    session.send_owned(message).expect("the connection is open");
                    messages += 1;
                }
            }
            written += drain_vectored(&mut session);
        }
    }
    assert_eq!(messages, rounds * count, "every message echoed");
    // An unmasked frame is the masked one without its 4-byte key.
    assert_eq!(written, rounds * (wire.len() - 4 * count), "every byte written");
}

/// Drains the output in vectored pieces, as the tokio adapter writes to a
/// stream that takes vectored writes; returns the bytes.
fn drain_vectored(session: &mut Session) -> usize {
    let mut total = 0;
    loop {
        let mut slices = [&[][..]; 32];
        let n = session.poll_output_vectored(&mut slices);
        if n == 0 {
            return total;
        }
        let written = slices[..n].iter().map(|slice| black_box(slice).len()).sum();
        session.consume_output(written);
        total += written;
    }
}
