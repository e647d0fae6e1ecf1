//! A WebSocket client on blocking `std::net`: sends each line of standard
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

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use wsmachine::{CloseCode, Config, Connection, Event, Instant, Message, MessageAssembler};

mod support;
use support::Incoming;

fn main() -> std::process::ExitCode {
    let url = std::env::args().nth(1).unwrap_or_else(|| "ws://127.0.0.1:9001/".to_string());
    match run(&url, io::BufReader::new(io::stdin()), io::stdout()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {}", describe(&url, &e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as a sentence for the person at the terminal.
fn describe(url: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("nothing is listening at {url} (is the server running?)"),
        io::ErrorKind::UnexpectedEof => format!("{url} closed the connection during the handshake"),
        io::ErrorKind::InvalidData => format!("{url} did not complete a WebSocket handshake: {e}"),
        io::ErrorKind::InvalidInput => e.to_string(),
        _ => format!("{url}: {e}"),
    }
}

/// The connection and the stream's write half, locked together so frames
/// leave in the order the machine produced them, and the clock both threads
/// read for the connection's timers.
struct Shared {
    conn: Connection,
    writer: TcpStream,
    epoch: std::time::Instant,
}

impl Shared {
    fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    /// Sets the stream's read timeout to the connection's next deadline, so
    /// a blocked read wakes up for it; and to a second at most, since a
    /// read already blocked does not see a new timeout, and the sending
    /// thread may start a timer (by sending our Close) meanwhile.
    fn wake_for_deadline(&self) -> io::Result<()> {
        let wait = match self.conn.poll_timeout() {
            Some(at) => {
                at.saturating_duration_since(self.now()).clamp(Duration::from_millis(1), Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        self.writer.set_read_timeout(Some(wait))
    }
}

/// The client's limits and timers: the defaults, keepalive, and 10 s to
/// finish the close handshake.
pub fn config() -> Config {
    Config {
        ping_interval: Some(Duration::from_secs(20)),
        ping_timeout: Some(Duration::from_secs(20)),
        close_timeout: Some(Duration::from_secs(10)),
        ..Config::default()
    }
}

/// Connects to `url`, sends each line of `input` as a text message, writes
/// each message received to `output` (text as a line, binary as a
/// summary), and closes with 1000 when `input` ends. Returns when the
/// connection is over, even if `input` has not ended.
pub fn run(url: &str, input: impl BufRead + Send + 'static, output: impl Write) -> io::Result<()> {
    run_with(url, config(), input, output)
}

/// [`run`] with the given limits and timers.
pub fn run_with(
    url: &str,
    config: Config,
    input: impl BufRead + Send + 'static,
    mut output: impl Write,
) -> io::Result<()> {
    let (stream, conn, mut leftover) = support::client_handshake_config(url, &[], config)?;
    let mut reader = stream.try_clone()?;
    let shared = Arc::new(Mutex::new(Shared { conn, writer: stream, epoch: std::time::Instant::now() }));

    let sender_shared = Arc::clone(&shared);
    thread::spawn(move || send_lines(input, &sender_shared));

    let mut assembler = MessageAssembler::new(64 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    let mut input: &mut [u8] = &mut leftover;
    loop {
        let mut guard = shared.lock().map_err(support::io_error)?;
        let now = guard.now();
        let Shared { conn, writer, .. } = &mut *guard;
        support::feed(conn, &mut assembler, input, &mut out, |_, incoming, _| {
            let _ = match incoming {
                Incoming::Message(Message::Text(text)) => writeln!(output, "{text}"),
                Incoming::Message(Message::Binary(data)) => writeln!(output, "[binary, {} bytes]", data.len()),
                Incoming::Closed { code, reason } => writeln!(output, "[closed: {code} {reason}]"),
                Incoming::Failed(e) => writeln!(output, "[failed: {e}]"),
            };
        });
        // Keepalive, a silent server, a Close never answered; after a clean
        // close the client waits for the server to close the transport first
        // (RFC 6455 §7.1.1), until the close timeout.
        if let Some(Event::Close(frame)) = conn.handle_timeout(now) {
            writeln!(output, "[gave up: {}]", frame.reason())?;
        }
        conn.poll_transmit(&mut out).map_err(support::io_error)?;
        writer.write_all(&out)?;
        out.clear();
        if conn.should_close_transport() {
            return output.flush();
        }
        guard.wake_for_deadline()?;
        drop(guard);
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                input = &mut [];
                continue;
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            let mut guard = shared.lock().map_err(support::io_error)?;
            if let Some(wsmachine::Event::Close(frame)) = guard.conn.receive_eof() {
                writeln!(output, "[connection lost: {}]", frame.code())?;
            }
            return output.flush();
        }
        input = &mut buf[..n];
    }
}

/// Sends each line as a text message, then a Close with 1000.
fn send_lines(input: impl BufRead, shared: &Mutex<Shared>) -> io::Result<()> {
    let mut out = Vec::new();
    for line in input.lines() {
        let line = line?;
        let mut guard = shared.lock().map_err(support::io_error)?;
        let Shared { conn, writer, .. } = &mut *guard;
        if conn.send_text(&line, &mut out).is_err() {
            return Ok(()); // closing or failed: the reader reports why
        }
        writer.write_all(&out)?;
        out.clear();
    }
    let mut guard = shared.lock().map_err(support::io_error)?;
    let now = guard.now();
    let Shared { conn, writer, .. } = &mut *guard;
    if conn.send_close(CloseCode::NORMAL, "", &mut out).is_ok() {
        writer.write_all(&out)?;
        // Start the close timeout now, and wake the reader for it.
        conn.handle_timeout(now);
        guard.wake_for_deadline()?;
    }
    Ok(())
}
