//! Our frame decoder against tungstenite's on the same bytes: every field
//! of a frame both accept agrees, and so do the unmasked payload and the
//! re-encoded header. The comparison is `wsmachine_fuzzing::differential`,
//! which the harness's `tests/differential.rs` uses too (it replays this
//! target's corpus).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wsmachine_fuzzing::differential::compare(data);
});
