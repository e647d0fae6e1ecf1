//! A WebSocket client on the blocking adapter: sends each line of standard
//! input as a text message and prints every message it receives.
//!
//! ```sh
//! cargo run --release --example client -- ws://127.0.0.1:9001/
//! ```
//!
//! End the input (Ctrl-D) to close the connection with code 1000. The
//! client then waits up to 10 s for the server's answer and for the server
//! to close the connection first (RFC 6455 §7.1.1); a server quiet for 20 s
//! gets a Ping, and one that stays quiet 20 s more is given up on.

use std::io::{self, BufRead, Write};
use std::sync::mpsc::{self, TryRecvError};
use std::thread;
use std::time::Duration;

use wsmachine::{blocking, CloseCode, ConnectOptions, Message};

fn main() -> std::process::ExitCode {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001/".to_string());
    match run(&url, &ConnectOptions::default(), io::BufReader::new(io::stdin()), io::stdout()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(blocking::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            eprintln!("client: nothing is listening at {url} (is the server running?)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("client: {url}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Connects to `url`, sends each line of `input` as a text message, writes
/// each message received to `output` (text as a line, binary as a
/// summary), and closes with 1000 when `input` ends. Returns when the
/// connection is over, even if `input` has not ended.
pub fn run(
    url: &str,
    options: &ConnectOptions,
    input: impl BufRead + Send + 'static,
    mut output: impl Write,
) -> Result<(), blocking::Error> {
    let mut ws = blocking::connect_with(url, options)?;
    // A thread reads the lines, so waiting for input never stops the reading.
    let (send_line, lines) = mpsc::channel();
    thread::spawn(move || input.lines().map_while(Result::ok).try_for_each(|line| send_line.send(line)));
    // Look for new lines between reads.
    ws.set_read_timeout(Some(Duration::from_millis(50)));
    let mut closing = false;
    loop {
        loop {
            match lines.try_recv() {
                // A send fails once the server closed: the read says why.
                Ok(line) => match ws.send(line) {
                    Err(blocking::Error::Closed) => {}
                    sent => sent?,
                },
                Err(TryRecvError::Disconnected) if !closing => {
                    ws.send_close(CloseCode::NORMAL, "")?; // then read until the server closes
                    closing = true;
                }
                Err(_) => break,
            }
        }
        match ws.read() {
            Ok(Some(Message::Text(text))) => writeln!(output, "{text}")?,
            Ok(Some(Message::Binary(data))) => writeln!(output, "[binary, {} bytes]", data.len())?,
            Ok(None) => break,
            Err(blocking::Error::ReadTimeout) => {}
            Err(e) => return Err(e),
        }
    }
    match ws.close_frame() {
        Some(close) if close.code() == CloseCode::ABNORMAL => writeln!(output, "[gave up: {}]", close.reason())?,
        Some(close) => writeln!(output, "[closed: {} {}]", close.code(), close.reason())?,
        None => {}
    }
    Ok(output.flush()?)
}
