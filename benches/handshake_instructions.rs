//! The `handshake` bench's server handshakes in instructions rather than
//! time, for `valgrind --tool=callgrind`, which counts them repeatably on
//! a shared machine where the floor's own timing moves by 10–15 % between
//! runs. `handshake_instructions.sh` runs every case and prints
//! instructions per handshake and the ratio to the floor.
//!
//! ```text
//! handshake_instructions CASE COUNT
//!   CASE: floor | wsmachine | head-buffer
//! ```

use std::hint::black_box;

#[path = "common/mod.rs"]
mod common;
use common::handshake_cases::{httparse_floor, wsmachine_accept, wsmachine_accept_head_buffer, ACCEPT, REQUEST};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [case, count] = &args[..] else {
        eprintln!("usage: handshake_instructions floor|wsmachine|head-buffer COUNT");
        std::process::exit(2);
    };
    let accept = match case.as_str() {
        "floor" => httparse_floor,
        "wsmachine" => wsmachine_accept,
        "head-buffer" => wsmachine_accept_head_buffer,
        other => panic!("unknown case {other}"),
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let mut out = [0u8; 512];
    for _ in 0..count {
        let n = accept(black_box(REQUEST), &mut out).expect("the request is accepted");
        black_box(&out[..n]);
    }
    let n = accept(REQUEST, &mut out).expect("the request is accepted");
    let answer = std::str::from_utf8(&out[..n]).expect("ASCII");
    assert!(answer.starts_with("HTTP/1.1 101 ") && answer.contains(ACCEPT), "{answer}");
}
