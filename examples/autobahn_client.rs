//! The Autobahn testsuite's client-side testee: runs every case a fuzzing
//! server offers, echoing each message, then asks it to write its reports.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 wsmachine
//! ```
//!
//! The protocol: a text message from `/getCaseCount` says how many cases
//! there are; case `i` runs on `/runCase?case=i&agent=AGENT`, where the
//! testee echoes every message until the connection closes; then
//! `/updateReports?agent=AGENT` makes the server write its reports.

use std::io;

use wsmachine::{Message, MessageAssembler};

mod support;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = args.next().unwrap_or_else(|| "wsmachine".to_string());
    let base = base.trim_end_matches('/');

    let count = case_count(base)?;
    println!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        // Offers permessage-deflate (feature `deflate`) for sections 12 and
        // 13, with `client_no_context_takeover`, which the suite's 13.2, 13.5
        // and 13.6 servers require of the offer before they accept it.
        let offer = support::DeflateOffer::NoContextTakeover;
        let (stream, conn, leftover, deflate) = support::client_handshake_with(&url, &[], offer)?;
        if let Err(e) = support::echo_with(stream, conn, deflate, leftover) {
            // Some cases end with the server dropping the connection abruptly.
            eprintln!("case {case}: {e}");
        }
    }
    let (stream, conn, leftover) = support::client_handshake(&format!("{base}/updateReports?agent={agent}"), &[])?;
    support::echo(stream, conn, leftover)?;
    println!("reports updated for agent {agent}");
    Ok(())
}

/// Reads the case count: the text of the first message on `/getCaseCount`.
fn case_count(base: &str) -> io::Result<u32> {
    let (mut stream, mut conn, mut leftover) = support::client_handshake(&format!("{base}/getCaseCount"), &[])?;
    let mut assembler = MessageAssembler::new(1024);
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    let mut count = None;
    let mut input: &mut [u8] = &mut leftover;
    loop {
        support::feed(&mut conn, &mut assembler, input, &mut out, |_, incoming, _| {
            if let support::Incoming::Message(Message::Text(text)) = incoming {
                count = text.trim().parse().ok();
            }
        });
        io::Write::write_all(&mut stream, &out)?;
        out.clear();
        if let Some(count) = count {
            return Ok(count);
        }
        let n = io::Read::read(&mut stream, &mut buf)?;
        if n == 0 {
            return Err(support::io_error("no case count before the connection closed"));
        }
        input = &mut buf[..n];
    }
}
