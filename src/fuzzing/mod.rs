//! Fuzz target bodies, kept in the crate so that `cargo test` can replay the
//! committed corpora on the stable compiler (see `tests/fuzz_corpus.rs`).
//! Not a stable API.
#![allow(missing_docs)]

mod handshake;

pub use handshake::{handshake_request, handshake_response};
