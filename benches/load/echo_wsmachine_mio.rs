//! Echo server on the sans-IO [`Session`] with no runtime at all: one
//! thread, one mio event loop (epoll), for the load test:
//! `echo_wsmachine_mio [ADDR]`.
//!
//! What the author of a runtime writes around the machine: read into
//! [`Session::read_buf`], report it with [`Session::filled`], take the
//! messages and queue the echoes, then write what
//! [`Session::poll_output_vectored`] holds and act on
//! [`Session::poll_transport`]. It shows what the engine costs under a
//! loop that adds no scheduler, task or waker of its own, where
//! `echo_wsmachine_tokio` measures the same engine under tokio.
//!
//! The sockets are registered edge-triggered for reads and writes. A read
//! that fills less than the buffer left the socket empty, so the loop
//! waits for the next event instead of reading again to see `WouldBlock`
//! (the kernel raises a new edge for any byte that arrives after it), as
//! tokio's own `TcpStream` does. The timers are off
//! (`Config::default().without_timers()`), so the loop has no deadline to
//! wait for.

#[allow(dead_code)]
#[path = "common.rs"]
mod common;

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use wsmachine::{AcceptOptions, Config, Incoming, ServerStart, Session, Transport};

/// The listener's token; connections take their slot's index.
const LISTENER: Token = Token(usize::MAX);

/// The most output pieces written in one `writev`: the output is one piece
/// unless a payload was queued without a copy (a header and a payload are
/// two), and more are taken by the next write.
const PIECES: usize = 4;

/// A connection: its socket and where the handshake is.
struct Client {
    tcp: TcpStream,
    phase: Phase,
}

// Most connections spend their life open: the session is kept inline, not
// behind a pointer that every event would follow.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// Waiting for the whole request head.
    Handshake(ServerStart<'static>),
    /// Upgraded: the session's output starts with the 101 answer.
    Open(Session),
    /// Refused: the answer to write before closing.
    Refused(Vec<u8>),
}

fn main() -> io::Result<()> {
    let addr = common::address().parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut listener = TcpListener::bind(addr)?;
    common::listening(listener.local_addr()?);
    // The handshake's options live as long as the server.
    let options: &'static AcceptOptions =
        Box::leak(Box::new(AcceptOptions { config: Config::default().without_timers(), ..AcceptOptions::default() }));
    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut clients: Vec<Option<Client>> = Vec::new();
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(&listener, &poll, options, &mut clients)?;
                continue;
            }
            let slot = event.token().0;
            let Some(client) = clients.get_mut(slot).and_then(Option::as_mut) else { continue };
            // Any failure of the socket ends the connection (dropping the
            // socket deregisters it).
            // The end of the stream and a socket error are found by a read.
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            if !client.drive(readable).unwrap_or(false) {
                clients[slot] = None;
            }
        }
    }
}

/// Takes every connection waiting on the listener, each in a free slot.
fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    options: &'static AcceptOptions,
    clients: &mut Vec<Option<Client>>,
) -> io::Result<()> {
    loop {
        let (mut tcp, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        tcp.set_nodelay(true)?;
        let slot = clients.iter().position(Option::is_none).unwrap_or_else(|| {
            clients.push(None);
            clients.len() - 1
        });
        poll.registry().register(&mut tcp, Token(slot), Interest::READABLE | Interest::WRITABLE)?;
        clients[slot] = Some(Client { tcp, phase: Phase::Handshake(ServerStart::new(options)) });
    }
}

impl Client {
    /// Reads what arrived (when `readable`), echoes every message, writes
    /// what the socket takes. Returns whether to keep the connection.
    fn drive(&mut self, readable: bool) -> io::Result<bool> {
        if readable {
            self.read()?;
        }
        self.write()
    }

    /// Reads until the socket is empty, handing each read to the phase.
    fn read(&mut self) -> io::Result<()> {
        loop {
            match &mut self.phase {
                Phase::Handshake(start) => {
                    let mut head = [0u8; 1024];
                    let n = match read_some(&mut self.tcp, &mut head)? {
                        Some(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Some(n) => n,
                        None => return Ok(()),
                    };
                    self.phase = match start.receive(&head[..n], |_, _| Ok(())) {
                        Ok(None) => continue,
                        // The bytes after the head are in the session.
                        Ok(Some(mut session)) => {
                            echo(&mut session);
                            Phase::Open(session)
                        }
                        Err(_) => Phase::Refused(start.response().to_vec()),
                    };
                }
                Phase::Open(session) => {
                    let buf = session.read_buf();
                    let room = buf.len();
                    let n = match read_some(&mut self.tcp, buf)? {
                        Some(0) => {
                            session.receive_eof();
                            echo(session);
                            return Ok(());
                        }
                        Some(n) => n,
                        None => return Ok(()),
                    };
                    session.filled(n);
                    echo(session);
                    // A read short of the room emptied the socket.
                    if n < room {
                        return Ok(());
                    }
                }
                Phase::Refused(_) => return Ok(()),
            }
        }
    }

    /// Writes the output the socket takes, then follows the session's
    /// word on the transport. Returns whether to keep the connection.
    fn write(&mut self) -> io::Result<bool> {
        let session = match &mut self.phase {
            Phase::Handshake(_) => return Ok(true),
            Phase::Refused(answer) => {
                while !answer.is_empty() {
                    match self.tcp.write(answer) {
                        Ok(n) => drop(answer.drain(..n)),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                // As `ServerStart::receive` says: the answer, then the end
                // of the write side, then the close.
                self.tcp.shutdown(Shutdown::Write)?;
                return Ok(false);
            }
            Phase::Open(session) => session,
        };
        while session.wants_write() {
            let mut pieces = [&[][..]; PIECES];
            let written = match session.poll_output_vectored(&mut pieces) {
                0 => break,
                1 => self.tcp.write(pieces[0]),
                n => {
                    let slices = pieces.map(IoSlice::new);
                    self.tcp.write_vectored(&slices[..n])
                }
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => session.consume_output(written),
                // The writable edge brings the loop back.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(match session.poll_transport() {
            Transport::Open => true,
            Transport::ShutdownWrite => {
                self.tcp.shutdown(Shutdown::Write)?;
                true
            }
            Transport::Close => false,
        })
    }
}

/// Takes every message the session holds and queues its echo. A peer that
/// broke the protocol gets its Close queued by the session, which then
/// leads the transport to its end.
fn echo(session: &mut Session) {
    while let Ok(Some(item)) = session.poll_message() {
        if let Incoming::Message(message) = item {
            // Refused only once the session is closing: nothing to echo.
            let _ = session.send_owned(message);
        }
    }
}

/// One read: `Some(n)` (0 at the end of the stream), `None` when the
/// socket has nothing.
fn read_some(tcp: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        match tcp.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
