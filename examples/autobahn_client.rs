//! The Autobahn testsuite's client-side testee, on the blocking adapter:
//! runs every case a fuzzing server offers, echoing each message, then asks
//! it to write its reports.
//!
//! ```sh
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 wsmachine
//! ```
//!
//! The protocol: a text message from `/getCaseCount` says how many cases
//! there are; case `i` runs on `/runCase?case=i&agent=AGENT`, where the
//! testee echoes every message until the connection closes; then
//! `/updateReports?agent=AGENT` makes the server write its reports.

use wsmachine::{blocking, ConnectOptions, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = args.next().unwrap_or_else(|| "wsmachine".to_string());
    let base = base.trim_end_matches('/');

    let mut ws = blocking::connect(format!("{base}/getCaseCount"))?;
    let Some(Message::Text(count)) = ws.read()? else { return Err("no case count".into()) };
    let count: u32 = count.trim().parse()?;
    echo(ws)?; // until the server closes
    println!("{count} cases");

    // With feature `deflate`, permessage-deflate is offered with
    // `client_no_context_takeover`, which the suite's 13.2, 13.5 and 13.6
    // servers require of the offer before they accept it. Every echo is
    // compressed, however short (`threshold: 0`).
    let options = ConnectOptions {
        #[cfg(feature = "deflate")]
        deflate: Some(wsmachine::ext::deflate::DeflateConfig {
            client_no_context_takeover: true,
            threshold: 0,
            ..Default::default()
        }),
        ..ConnectOptions::default()
    };
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        // Some cases end with the server dropping the connection abruptly.
        if let Err(e) = blocking::connect_with(&url, &options).and_then(echo) {
            eprintln!("case {case}: {e}");
        }
    }
    // The server writes the reports, then drops the connection without a Close.
    match echo(blocking::connect(format!("{base}/updateReports?agent={agent}"))?) {
        Ok(()) | Err(blocking::Error::ConnectionLost) => println!("reports updated for agent {agent}"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Sends every message back until the connection closes.
fn echo(mut ws: blocking::WebSocket<blocking::MaybeTlsStream>) -> Result<(), blocking::Error> {
    while let Some(message) = ws.read()? {
        ws.send(message)?;
    }
    Ok(())
}
