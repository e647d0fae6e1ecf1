//! The Autobahn testsuite, in memory.
//!
//! Every case of the Autobahn testsuite's sections 1–7, 9 and 10
//! (crossbario/autobahn-testsuite, `autobahntestsuite/case/case*.py`) as a
//! deterministic exchange of bytes between a fuzzer written here and a
//! wsmachine `Connection` acting as an echo server — and, for the framing
//! rules of sections 1–7, as an echo client too, with the fuzzer playing the
//! server. Each test is named after its Autobahn case (`case_6_4_1` is 6.4.1)
//! and asserts what the case's strict "OK" verdict requires: the echoed
//! messages and pongs in order, the Close the testee sends and its code, and
//! whether the transport is to be closed. See `harness.rs` for the extra
//! invariants every run checks and for how the input is chopped.
//!
//! Sections 12 and 13 (permessage-deflate, feature `deflate`) are in
//! `compression.rs`, with a fuzzer of their own; section 11 does not exist
//! upstream. Section 9 is scaled down (see `limits.rs`).

mod harness;

mod autofrag;
mod closing;
#[cfg(feature = "deflate")]
mod compression;
mod fragmentation;
mod framing;
mod limits;
mod opcodes;
mod pings;
mod reserved;
mod utf8;
