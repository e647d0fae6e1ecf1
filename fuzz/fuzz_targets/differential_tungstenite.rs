//! Our frame decoder against tungstenite's on the same bytes: every field
//! of a frame both accept agrees, and so do the unmasked payload and the
//! re-encoded header. The comparison is in `fuzz/differential.rs`, which
//! `tests/differential.rs` includes too (it replays this target's corpus).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../differential.rs"]
#[allow(dead_code)]
mod differential;

fuzz_target!(|data: &[u8]| {
    differential::compare(data);
});
