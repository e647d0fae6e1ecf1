//! The `handshake` bench's server handshakes in instructions rather than
//! time, for `valgrind --tool=callgrind`, which counts them repeatably on
//! a shared machine where the floor's own timing moves by 10–15 % between
//! runs. `handshake_instructions.sh` runs every case and prints
//! instructions per handshake and the ratio to the floor.
//!
//! With `--time` it also prints nanoseconds per handshake (the mean over
//! the run), for `handshake_times.sh`, which runs the cases in turn so
//! that each is timed under the same load.
//!
//! ```text
//! handshake_instructions CASE COUNT [--time]
//!   CASE: floor | wsmachine | head-buffer
//! ```

use std::hint::black_box;
use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::handshake_cases::{httparse_floor, wsmachine_accept, wsmachine_accept_head_buffer, ACCEPT, REQUEST};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (case, count, time) = match &args[..] {
        [case, count] => (case, count, false),
        [case, count, flag] if flag == "--time" => (case, count, true),
        _ => {
            eprintln!("usage: handshake_instructions floor|wsmachine|head-buffer COUNT [--time]");
            std::process::exit(2);
        }
    };
    let accept = match case.as_str() {
        "floor" => httparse_floor,
        "wsmachine" => wsmachine_accept,
        "head-buffer" => wsmachine_accept_head_buffer,
        other => panic!("unknown case {other}"),
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let mut out = [0u8; 512];
    let start = Instant::now();
    for _ in 0..count {
        let n = accept(black_box(REQUEST), &mut out).expect("the request is accepted");
        black_box(&out[..n]);
    }
    if time {
        println!("{:.1}", start.elapsed().as_nanos() as f64 / count.max(1) as f64);
    }
    let n = accept(REQUEST, &mut out).expect("the request is accepted");
    let answer = std::str::from_utf8(&out[..n]).expect("ASCII");
    assert!(answer.starts_with("HTTP/1.1 101 ") && answer.contains(ACCEPT), "{answer}");
}
