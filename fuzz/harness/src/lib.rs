//! The bodies of wsmachine's fuzz targets, as plain functions over the
//! crate's public API. The cargo-fuzz crate (`fuzz/`) calls them from its
//! targets, and this crate's tests replay the committed corpora and
//! regressions through them on the stable compiler (`tests/fuzz_corpus.rs`,
//! `tests/differential.rs`), so a user's build of wsmachine never compiles
//! them. Not published.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

extern crate alloc;

mod client_start;
mod conn;
mod deflate;
pub mod differential;
mod handshake;
mod pair;
mod session;
mod structured;
mod time;

pub use conn::{conn_client, conn_server, frame_header, roundtrip, run_connection, Record};
pub use deflate::{deflate_compress, deflate_extension_header, deflate_inflate};
pub use handshake::{handshake_request, handshake_response};
pub use pair::pair;
pub use session::session;
pub use structured::{
    run_script, structured, valid_close_code, Between, Content, Ending, LengthForm, MessageOp, Op, Script, BOUNDARIES,
    VALID_CLOSE_CODES,
};
pub use time::{advance, with_timers, Timed};
