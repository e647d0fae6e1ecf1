//! The load generator, modelled on uWebSockets' `load_test`: `CONNS`
//! connections to an echo server, each sending a masked binary message of
//! `SIZE` bytes and sending the next one when the echo is back (closed
//! loop); with `--in-flight K`, each keeps `K` messages in flight
//! (pipelined). Prints messages echoed per second and the round-trip
//! latency's p50 and p99 for each measurement window, then their medians.
//!
//! ```sh
//! load_client ADDR CONNS SIZE [--in-flight K] [--seconds S] [--rounds R]
//! ```
//!
//! It runs on one thread (a current-thread runtime) over bare sockets: the
//! frames are built once, masked with a fixed key, and written straight
//! from that buffer; replies are parsed only as far as their headers (a
//! message counts when its final frame has carried `SIZE` bytes). So the
//! generator spends far less per message than any server, and the server
//! is what is measured. The last line on stdout is for the driver script:
//! `result <msgs/s> <p50 µs> <p99 µs>`.

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, Interest};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error>;

struct Args {
    addr: String,
    conns: usize,
    size: usize,
    in_flight: usize,
    seconds: f64,
    rounds: usize,
}

fn parse_args() -> Result<Args, BoxError> {
    let usage = "usage: load_client ADDR CONNS SIZE [--in-flight K] [--seconds S] [--rounds R]";
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(conns), Some(size)) = (args.next(), args.next(), args.next()) else {
        return Err(usage.into());
    };
    let mut parsed = Args { addr, conns: conns.parse()?, size: size.parse()?, in_flight: 1, seconds: 3.0, rounds: 3 };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match flag.as_str() {
            "--in-flight" => parsed.in_flight = value.parse()?,
            "--seconds" => parsed.seconds = value.parse()?,
            "--rounds" => parsed.rounds = value.parse()?,
            _ => return Err(usage.into()),
        }
    }
    if parsed.conns == 0 || parsed.in_flight == 0 || parsed.rounds == 0 {
        return Err(usage.into());
    }
    Ok(parsed)
}

/// What the connections report to the measuring loop: echoes counted and
/// their round-trip times in nanoseconds, since the window began.
#[derive(Default)]
struct Window {
    echoes: u64,
    latencies: Vec<u64>,
}

fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let runtime = common::current_thread()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let frames = Rc::<[u8]>::from(frames(args.size, args.in_flight));
    let window = Rc::new(RefCell::new(Window::default()));
    // Connect and upgrade one at a time (a listen backlog is not what is
    // measured), then start them all.
    let mut sockets = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let mut tcp = connect(&args.addr, i == 0).await?;
        tcp.set_nodelay(true)?;
        common::client_handshake(&mut tcp, common::REQUEST).await?;
        sockets.push(tcp);
    }
    let failed = Rc::new(RefCell::new(None::<io::Error>));
    for tcp in sockets {
        let (frames, window, failed) = (frames.clone(), window.clone(), failed.clone());
        let (size, in_flight) = (args.size, args.in_flight);
        tokio::task::spawn_local(async move {
            if let Err(e) = echo_loop(tcp, &frames, size, in_flight, &window).await {
                failed.borrow_mut().get_or_insert(e);
            }
        });
    }

    let mut results = Vec::with_capacity(args.rounds);
    for _ in 0..args.rounds {
        let start = Instant::now();
        *window.borrow_mut() = Window::default();
        tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
        let taken = std::mem::take(&mut *window.borrow_mut());
        let elapsed = start.elapsed().as_secs_f64();
        if let Some(e) = failed.borrow_mut().take() {
            return Err(format!("a connection failed: {e}").into());
        }
        results.push((taken, elapsed));
    }

    let mut rates = Vec::new();
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    for (i, (mut taken, elapsed)) in results.into_iter().enumerate() {
        taken.latencies.sort_unstable();
        let rate = taken.echoes as f64 / elapsed;
        let (p50, p99) = (percentile(&taken.latencies, 0.50), percentile(&taken.latencies, 0.99));
        eprintln!("round {}: {rate:.0} msg/s, p50 {p50:.1} µs, p99 {p99:.1} µs", i + 1);
        rates.push(rate);
        p50s.push(p50);
        p99s.push(p99);
    }
    let (rate, p50, p99) = (median(&mut rates), median(&mut p50s), median(&mut p99s));
    eprintln!(
        "{} conns x {} B, {} in flight: median {rate:.0} msg/s, p50 {p50:.1} µs, p99 {p99:.1} µs",
        args.conns, args.size, args.in_flight
    );
    println!("result {rate:.0} {p50:.1} {p99:.1}");
    Ok(())
}

/// Connects, retrying for a few seconds on the first connection while the
/// server starts.
async fn connect(addr: &str, first: bool) -> io::Result<TcpStream> {
    let mut tries = if first { 100 } else { 1 };
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused && tries > 1 => {
                tries -= 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// `count` copies of one masked binary frame carrying `size` bytes.
fn frames(size: usize, count: usize) -> Vec<u8> {
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x82];
    match size {
        0..=125 => frame.push(0x80 | size as u8),
        126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(size as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(size as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&KEY);
    frame.extend((0..size).map(|i| (b'a' + (i % 26) as u8) ^ KEY[i % 4]));
    frame.repeat(count)
}

/// One connection: `in_flight` messages out, and one more for each echo.
/// Reads and writes are interleaved on readiness, so a large pipelined
/// send never waits on a server that waits for us to read.
async fn echo_loop(
    mut tcp: TcpStream,
    frames: &[u8],
    size: usize,
    in_flight: usize,
    window: &RefCell<Window>,
) -> io::Result<()> {
    let frame_len = frames.len() / in_flight;
    let mut sent_at = VecDeque::with_capacity(in_flight);
    let mut reply = ReplyParser::default();
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes owed to the server, written from `frames[pos..]`; `frames` is a
    // whole number of frames, so the position wraps at its end.
    let mut owed = frames.len();
    let mut pos = 0;
    let now = Instant::now();
    sent_at.extend(std::iter::repeat(now).take(in_flight));
    loop {
        while owed > 0 {
            let end = frames.len().min(pos + owed);
            match tcp.try_write(&frames[pos..end]) {
                Ok(n) => {
                    owed -= n;
                    pos = (pos + n) % frames.len();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let n = if owed == 0 {
            // `read` (not `try_read`): after a short read tokio forgets the
            // socket's readiness, so the next read waits in epoll instead
            // of costing a system call that finds nothing.
            tcp.read(&mut buf).await?
        } else {
            let ready = tcp.ready(Interest::READABLE | Interest::WRITABLE).await?;
            if !ready.is_readable() {
                continue;
            }
            match tcp.try_read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let echoes = reply.feed(&buf[..n], size)?;
        if echoes > 0 {
            let now = Instant::now();
            let mut window = window.borrow_mut();
            window.echoes += echoes as u64;
            for _ in 0..echoes {
                let at = sent_at.pop_front().ok_or_else(|| invalid("more echoes than messages sent"))?;
                window.latencies.push(now.duration_since(at).as_nanos() as u64);
            }
            sent_at.extend(std::iter::repeat(now).take(echoes));
            owed += echoes * frame_len;
        }
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, what.to_string())
}

/// Follows the server's frames through their headers, skipping payloads.
#[derive(Default)]
struct ReplyParser {
    /// A header split across reads (at most 10 bytes: servers do not mask).
    header: Vec<u8>,
    /// Payload bytes of the current frame still to skip.
    payload_left: u64,
    /// The current frame is a data frame with FIN set.
    final_data: bool,
    /// The current frame is a data frame (its bytes count).
    data: bool,
    /// Payload bytes of the current message so far.
    message_len: u64,
}

impl ReplyParser {
    /// Consumes `input`, returning how many whole messages of `size` bytes
    /// it completed.
    fn feed(&mut self, mut input: &[u8], size: usize) -> io::Result<usize> {
        let mut messages = 0;
        loop {
            if self.payload_left > 0 {
                let take = (input.len() as u64).min(self.payload_left);
                self.payload_left -= take;
                if self.data {
                    self.message_len += take;
                }
                input = &input[take as usize..];
                if self.payload_left > 0 {
                    return Ok(messages);
                }
                messages += self.frame_done(size)?;
            }
            if input.is_empty() {
                return Ok(messages);
            }
            // A header: gather its 2 bytes, then its extended length.
            let need = |h: &[u8]| match h.get(1).map(|b| b & 0x7f) {
                None => 2,
                Some(126) => 4,
                Some(127) => 10,
                Some(_) => 2,
            };
            while self.header.len() < need(&self.header) && !input.is_empty() {
                self.header.push(input[0]);
                input = &input[1..];
            }
            if self.header.len() < need(&self.header) {
                return Ok(messages);
            }
            let h = &self.header;
            if h[1] & 0x80 != 0 {
                return Err(invalid("a masked frame from the server"));
            }
            let opcode = h[0] & 0x0f;
            self.data = opcode <= 2;
            self.final_data = self.data && h[0] & 0x80 != 0;
            self.payload_left = match h[1] & 0x7f {
                126 => u16::from_be_bytes([h[2], h[3]]) as u64,
                127 => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
                n => n as u64,
            };
            self.header.clear();
            if self.payload_left == 0 {
                messages += self.frame_done(size)?;
            }
        }
    }

    /// The current frame ended: a message ends with it if it was final.
    fn frame_done(&mut self, size: usize) -> io::Result<usize> {
        if !self.final_data {
            return Ok(0);
        }
        let len = std::mem::take(&mut self.message_len);
        if len != size as u64 {
            return Err(invalid("an echo of another size"));
        }
        Ok(1)
    }
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at] as f64 / 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
