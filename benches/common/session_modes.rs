//! The ways of taking items from a `Session` after a read, one function per
//! mode, shared by the `messages` bench (timings) and the
//! `message_instructions` and `ready_instructions` examples (instruction
//! counts), so that they measure the same code.

use std::hint::black_box;

use wsmachine::{Incoming, IncomingRef, Session, Streamed};

/// Takes every piece the session has (`poll_piece`); returns how many
/// messages they finished.
pub fn take_pieces(session: &mut Session) -> usize {
    let mut messages = 0;
    while let Some(item) = session.poll_piece().expect("valid frames") {
        if let Streamed::Piece(piece) = item {
            black_box(piece.data);
            messages += usize::from(piece.fin);
        }
    }
    messages
}

/// Takes every whole message (`poll_message`), dropped once used or, with
/// `recycle`, given back with `Session::recycle` so that a later one is
/// received into its buffer; returns how many.
pub fn take_messages(session: &mut Session, recycle: bool) -> usize {
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

/// Takes every whole message lent (`poll_message_ref`); returns how many.
pub fn take_lent(session: &mut Session) -> usize {
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

/// As [`take_lent`], each message found first with
/// `Session::message_ready`, as the adapters' lending receives take them.
pub fn take_ready_lent(session: &mut Session) -> usize {
    let mut messages = 0;
    while session.message_ready().expect("valid frames") {
        match session.poll_message_ref().expect("found") {
            Some(IncomingRef::Text(text)) => black_box(text.as_bytes()),
            Some(IncomingRef::Binary(data)) => black_box(data),
            _ => continue,
        };
        messages += 1;
    }
    messages
}

/// As [`take_pieces`], each item found first with `Session::piece_ready`,
/// as the blocking adapter's `read_piece` takes them.
pub fn take_ready_pieces(session: &mut Session) -> usize {
    let mut messages = 0;
    while session.piece_ready().expect("valid frames") {
        if let Some(Streamed::Piece(piece)) = session.poll_piece().expect("found") {
            black_box(piece.data);
            messages += usize::from(piece.fin);
        }
    }
    messages
}

/// Feeds `wire` a read at a time, taking each read's items with `take` and
/// draining the output after them; returns the messages taken.
pub fn feed(session: &mut Session, wire: &[u8], take: impl FnMut(&mut Session) -> usize) -> usize {
    feed_reads(session, wire, super::READ_CHUNK, take)
}

/// As [`feed`], in reads of `read_len` bytes: the length of one frame
/// makes each read hold one message, as in a request-and-reply exchange,
/// where every read's items end with the call that finds none left.
pub fn feed_reads(
    session: &mut Session,
    wire: &[u8],
    read_len: usize,
    mut take: impl FnMut(&mut Session) -> usize,
) -> usize {
    let mut messages = 0;
    for read in wire.chunks(read_len) {
        session.receive(read);
        messages += take(session);
        drain(session);
    }
    messages
}

/// Drains what the session wants to write, as the adapters' loop does
/// after each read's items.
pub fn drain(session: &mut Session) {
    let n = black_box(session.poll_output()).len();
    session.consume_output(n);
}
