//! An echo server on the bare `Session` under a mio event loop, for code
//! that builds its own runtime: many connections on one thread, each a
//! `ServerStart` until its handshake is done, then a `Session`, with every
//! timer driven by the loop (the handshake deadline, keepalive pings, the
//! close timeout, a peer that stops reading).
//!
//! ```sh
//! cargo run --example session_mio -- 127.0.0.1:9003
//! ```
//!
//! The loop sleeps in `poll` until a socket is ready or the earliest
//! deadline of any connection passes. Each connection keeps at most one
//! entry in the deadline heap that is still to come: a deadline that moved
//! later leaves an early entry, which wakes the connection for nothing
//! (`handle_timeout` before its time does nothing) and then schedules the
//! real one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use wsmachine::{AcceptOptions, Incoming, Instant, ServerStart, Session, Transport};

const LISTENER: Token = Token(usize::MAX);
/// Output held for a peer before reading from it stops (backpressure).
const MAX_OUTPUT: usize = 1 << 20;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9003".into());
    let listener = TcpListener::bind(addr.parse().map_err(io::Error::other)?)?;
    println!("session_mio echo on ws://{}/", listener.local_addr()?);
    serve(listener, &AcceptOptions::default())
}

/// A connection: its handshake, then its session.
enum Phase<'o> {
    Handshake {
        start: ServerStart<'o>,
        deadline: Option<Instant>,
    },
    /// Boxed: a `Session` is about 600 bytes, a handshake about 150.
    Open(Box<Session>),
}

struct Conn<'o> {
    stream: TcpStream,
    phase: Phase<'o>,
    /// The deadline this connection has in the heap, if any.
    scheduled: Option<Instant>,
}

/// Serves WebSocket echo on `listener` with `options` (limits, timers,
/// compression), for ever. The options outlive every connection, so each
/// `ServerStart` borrows them.
pub fn serve(mut listener: TcpListener, options: &AcceptOptions) -> io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let epoch = std::time::Instant::now();
    let now = || Instant::from_duration(epoch.elapsed());
    let mut conns: HashMap<Token, Conn<'_>> = HashMap::new();
    let mut deadlines: BinaryHeap<Reverse<(Instant, Token)>> = BinaryHeap::new();
    let mut events = Events::with_capacity(1024);
    let mut next_token = 0;
    loop {
        let wait = deadlines.peek().map(|Reverse((at, _))| at.saturating_duration_since(now()));
        poll.poll(&mut events, wait)?;
        let mut due = Vec::new();
        for event in &events {
            if event.token() != LISTENER {
                due.push(event.token());
                continue;
            }
            loop {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                };
                // Each small message out at once, not after the last one's ACK.
                stream.set_nodelay(true)?;
                let token = Token(next_token);
                next_token += 1;
                poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
                // The handshake deadline is the loop's: `ServerStart` has no clock.
                let deadline = options.handshake_timeout.map(|timeout| now() + timeout);
                let phase = Phase::Handshake { start: ServerStart::new(options), deadline };
                conns.insert(token, Conn { stream, phase, scheduled: None });
                due.push(token);
            }
        }
        let t = now();
        while let Some(&Reverse((at, token))) = deadlines.peek() {
            if at > t {
                break;
            }
            deadlines.pop();
            if let Some(conn) = conns.get_mut(&token) {
                conn.scheduled = conn.scheduled.filter(|&scheduled| scheduled != at);
                due.push(token);
            }
        }
        for token in due {
            let Some(conn) = conns.get_mut(&token) else { continue };
            if conn.drive(now()) {
                // Ask after every call: the next deadline may have moved.
                if let Some(at) = conn.deadline() {
                    if conn.scheduled.map_or(true, |scheduled| at < scheduled) {
                        deadlines.push(Reverse((at, token)));
                        conn.scheduled = Some(at);
                    }
                }
            } else if let Some(mut conn) = conns.remove(&token) {
                let _ = poll.registry().deregister(&mut conn.stream);
            }
        }
    }
}

impl Conn<'_> {
    /// Does what can be done now: the handshake, timers, messages, writes,
    /// reads until the socket has nothing more. Returns `false` once the
    /// connection is done with (the caller drops it, closing the socket).
    fn drive(&mut self, now: Instant) -> bool {
        if let Phase::Handshake { start, deadline } = &mut self.phase {
            if deadline.is_some_and(|at| at <= now) {
                start.timeout(); // 408
                let _ = self.stream.write(start.response());
                return false;
            }
            let mut buf = [0u8; 4096];
            let session = loop {
                let n = match self.stream.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    Err(_) => return false,
                };
                match start.receive(&buf[..n], |_, _| Ok(())) {
                    Ok(None) => continue,               // the head is not complete yet
                    Ok(Some(session)) => break session, // its first output is the 101
                    Err(_) => {
                        // 400, 426…: a short answer, written as the socket takes it.
                        let _ = self.stream.write(start.response());
                        return false;
                    }
                }
            };
            self.phase = Phase::Open(Box::new(session));
        }
        let Phase::Open(session) = &mut self.phase else { return false };
        session.handle_timeout(now);
        loop {
            // Every message that arrived, echoed; pings are answered and
            // the peer's Close is answered by the session itself.
            loop {
                match session.poll_message() {
                    Ok(Some(Incoming::Message(message))) => {
                        let _ = session.send_owned(message);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    // Its Close is queued: keep going, so that it is written.
                    Err(e) => eprintln!("connection failed: {e}"),
                }
            }
            let mut blocked = false;
            while session.wants_write() {
                match self.stream.write(session.poll_output()) {
                    Ok(n) => session.consume_output(n),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        blocked = true; // mio says when it is writable again
                        break;
                    }
                    Err(_) => return false,
                }
            }
            match session.poll_transport() {
                // Also when the peer took none of our last output in time
                // (`output_abandoned`): dropping the socket is all there is.
                Transport::Close => return false,
                // Our last bytes are written: FIN, then read until the peer's end.
                Transport::ShutdownWrite => {
                    let _ = self.stream.shutdown(Shutdown::Write);
                }
                Transport::Open => {}
            }
            if blocked && session.buffered_output() > MAX_OUTPUT {
                return true; // read again once the peer takes some of it
            }
            match self.stream.read(session.read_buf()) {
                Ok(0) => session.receive_eof(),
                Ok(n) => session.filled(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    /// When this connection next needs `drive` without any I/O.
    fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Handshake { deadline, .. } => *deadline,
            Phase::Open(session) => session.poll_timeout(),
        }
    }
}
