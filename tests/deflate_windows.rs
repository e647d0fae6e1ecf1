//! Every window size from 8 to 15 that the compressor claims to keep,
//! checked against an independent inflater limited to that window: Python's
//! `zlib.decompressobj(wbits=-bits)`, which rejects any back-reference that
//! reaches further back than 2^bits bytes ("invalid distance too far back").
//!
//! Needs `python3`; without it the test prints why and passes, unless
//! `WSMACHINE_REQUIRE_PYTHON=1` (set by `.ci/run`) makes it fail.
#![cfg(feature = "deflate")]

use std::io::Write;
use std::process::{Command, Stdio};

use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
use wsmachine::{Config, Connection, FrameHeader, HeaderStatus, Role};

/// Reads every message of `<count> (<bits> <takeover> <n> (<compressed> <plain>)*)*`
/// (lengths as decimal lines, payloads as hex lines) and inflates each case
/// with one decompressobj per connection (context takeover) or per message.
const ORACLE: &str = r#"
import sys, zlib
lines = iter(sys.stdin.read().split())
cases = int(next(lines))
bad = 0
for _ in range(cases):
    bits, takeover, n = int(next(lines)), next(lines) == "1", int(next(lines))
    d = zlib.decompressobj(wbits=-bits)
    for i in range(n):
        comp, plain = bytes.fromhex(next(lines)[1:]), bytes.fromhex(next(lines)[1:])
        if not takeover:
            d = zlib.decompressobj(wbits=-bits)
        try:
            out = d.decompress(comp + b"\x00\x00\xff\xff")
        except zlib.error as e:
            print(f"window {bits} takeover {takeover}: message {i}: {e}")
            bad += 1
            break
        if out != plain:
            print(f"window {bits} takeover {takeover}: message {i} inflates to other bytes")
            bad += 1
            break
print(f"{cases - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
"#;

/// Text with repeats at every distance up to 32 KiB, so a compressor that
/// ignores its window finds far matches.
fn corpus(seed: u32, len: usize) -> Vec<u8> {
    let words: Vec<String> = (0..600).map(|i| format!("w{}x{} ", i * 7919 % 1000, i % 13)).collect();
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if x % 5 == 0 && out.len() > 64 {
            // Copy an earlier stretch from a random distance.
            let dist = 1 + (x as usize >> 3) % out.len().min(32 * 1024);
            let start = out.len() - dist;
            let take = (8 + (x as usize >> 20) % 60).min(dist);
            let stretch: Vec<u8> = out[start..start + take].to_vec();
            out.extend_from_slice(&stretch);
        } else {
            out.extend_from_slice(words[(x as usize >> 7) % words.len()].as_bytes());
        }
    }
    out.truncate(len);
    out
}

/// Compresses `messages` as a server with `bits` and returns each frame's payload.
fn compress(bits: u8, takeover: bool, messages: &[Vec<u8>], level: u8, free_idle_state: bool) -> Vec<Vec<u8>> {
    let params = DeflateParams {
        server_max_window_bits: Some(bits),
        server_no_context_takeover: !takeover,
        ..DeflateParams::default()
    };
    let mut conn = Connection::server(Deflate::connection_config(Config::default()));
    let mut deflate = Deflate::new(
        Role::Server,
        params,
        &DeflateConfig { level, threshold: 0, free_idle_state, ..DeflateConfig::default() },
    );
    messages
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            deflate.send_binary(&mut conn, m, &mut out).unwrap();
            let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(&out) else { panic!("a frame") };
            assert!(header.rsv1 && header.fin);
            out[len..].to_vec()
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One oracle case: window bits, context takeover, the compressed payloads
/// and the messages they must inflate to.
type Case = (u8, bool, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Runs the oracle on the cases. `None` when python3 is missing.
fn oracle(cases: &[Case]) -> Option<(bool, String)> {
    let mut input = format!("{}\n", cases.len());
    for (bits, takeover, comp, plain) in cases {
        input.push_str(&format!("{bits} {} {}\n", u8::from(*takeover), comp.len()));
        for (c, p) in comp.iter().zip(plain) {
            // An `x` before each so that an empty payload is still a token.
            input.push_str(&format!("x{} x{}\n", hex(c), hex(p)));
        }
    }
    let child = Command::new("python3")
        .args(["-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let required = std::env::var("WSMACHINE_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
            assert!(!required, "python3 is required (WSMACHINE_REQUIRE_PYTHON=1) but cannot run: {e}");
            println!("skipped: python3 is not available ({e})");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

#[test]
fn every_window_8_to_15_passes_a_window_limited_inflater() {
    let mut cases = Vec::new();
    for bits in 8..=15u8 {
        for takeover in [true, false] {
            for level in [1, 2, 6, 9] {
                // Sizes around and across the window, several messages so
                // the context carries over.
                let sizes = [1usize, 100, 255, 256, 257, 511, 1 << bits, (1 << bits) + 1, 3 << bits, 40_000, 0, 5000];
                let plain: Vec<Vec<u8>> =
                    sizes.iter().enumerate().map(|(i, &n)| corpus(u32::from(bits) * 97 + i as u32, n)).collect();
                let comp = compress(bits, takeover, &plain, level, false);
                cases.push((bits, takeover, comp, plain.clone()));
                if !takeover {
                    // The memory-lean setting: a compressor re-created for
                    // every message instead of reset.
                    let comp = compress(bits, takeover, &plain, level, true);
                    cases.push((bits, takeover, comp, plain));
                }
            }
        }
    }
    let Some((ok, report)) = oracle(&cases) else { return };
    assert!(ok, "zlib rejected what the compressor wrote:\n{report}");
    println!("{report}");
}

/// The oracle is strict: data compressed with a 32 KiB window is refused by
/// a 512-byte-window inflater. (Without this, the test above proves little.)
#[test]
fn the_oracle_rejects_a_window_it_was_not_given() {
    let plain = vec![corpus(7, 40_000)];
    let comp = compress(15, true, &plain, 6, false);
    let Some((ok, report)) = oracle(&[(9, true, comp, plain)]) else { return };
    assert!(!ok, "python accepted far back-references with wbits=-9:\n{report}");
    assert!(report.contains("too far back"), "{report}");
}
