//! The work of compressing a message, in instructions rather than time:
//! the `deflate` bench's compress loop (one connection keeping its
//! context, a rotating set of distinct JSON-like messages, more than a
//! 32 KiB window's worth) for one backend, level and size per run, for
//! `valgrind --tool=callgrind`, which counts instructions repeatably on a
//! shared machine where timings move by a third. `deflate_instructions.sh`
//! runs every case and prints instructions per KiB of input.
//!
//! ```text
//! deflate_instructions BACKEND LEVEL SIZE ROUNDS
//!   BACKEND: wsmachine | miniz_oxide | zlib-rs
//! ```
//!
//! Each round compresses every message of the set once; the set is
//! generated before the first round, so the difference between two runs
//! with different ROUNDS is the compression alone.

#[path = "common/mod.rs"]
mod common;
use common::deflate_backends::{json_text, miniz, own, zlib, Backend};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, level, size, rounds] = &args[..] else {
        eprintln!("usage: deflate_instructions wsmachine|miniz_oxide|zlib-rs LEVEL SIZE ROUNDS");
        std::process::exit(2);
    };
    let level: u8 = level.parse().expect("LEVEL is a number");
    let size: usize = size.parse().expect("SIZE is a number");
    let rounds: usize = rounds.parse().expect("ROUNDS is a number");
    let mut backend: Box<dyn Backend> = match backend.as_str() {
        "wsmachine" => Box::new(own::Own::new(level, 15)),
        "miniz_oxide" => Box::new(miniz::Miniz::new(level)),
        "zlib-rs" => Box::new(zlib::Zlib::new(level, 15, 8)),
        other => {
            eprintln!("unknown backend {other}");
            std::process::exit(2);
        }
    };
    // As the `deflate` bench: distinct messages, more than a window's
    // worth, so none is found whole in the window.
    let count = (96 * 1024 / size).max(8);
    let messages: Vec<Vec<u8>> = (0..count).map(|i| json_text(size, 17 + i as u32)).collect();
    let mut out = Vec::new();
    let mut compressed = 0;
    for _ in 0..rounds {
        for message in &messages {
            backend.compress(std::hint::black_box(message), &mut out);
            compressed += out.len();
        }
    }
    println!("{} bytes in, {compressed} bytes out", rounds * count * size);
}
