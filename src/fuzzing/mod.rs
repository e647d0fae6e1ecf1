//! Fuzz target bodies, kept in the crate so that `cargo test` can replay the
//! committed corpora on the stable compiler (see `tests/fuzz_corpus.rs`).
//! Not a stable API: hidden from the docs and exempt from semver.
#![allow(missing_docs)]

mod conn;
#[cfg(feature = "deflate")]
mod deflate;
mod handshake;
mod pair;
mod structured;
mod time;

pub use conn::{conn_client, conn_server, frame_header, roundtrip, run_connection, Record};
#[cfg(feature = "deflate")]
pub use deflate::{deflate_extension_header, deflate_inflate};
pub use handshake::{handshake_request, handshake_response};
pub use pair::pair;
pub use structured::{
    run_script, structured, valid_close_code, Between, Content, Ending, LengthForm, MessageOp, Op, Script, BOUNDARIES,
    VALID_CLOSE_CODES,
};
pub use time::{advance, with_timers, Timed};
