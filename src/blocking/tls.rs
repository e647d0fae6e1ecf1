//! The stream [`connect`](super::connect) opens: plain TCP for `ws://`,
//! TLS for `wss://` (feature `rustls`).

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Stream;
#[cfg(feature = "rustls")]
use std::boxed::Box;

/// A TCP stream, or (feature `rustls`) a TLS stream over one: the stream
/// under a connection made by [`connect`](super::connect).
///
/// ```no_run
/// # fn run() -> Result<(), wsmachine::blocking::Error> {
/// let ws = wsmachine::blocking::connect("ws://127.0.0.1:9002/")?;
/// println!("connected from {}", ws.get_ref().tcp().local_addr()?);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`: plain TCP.
    Plain(TcpStream),
    /// `wss://`: TLS over TCP, with rustls.
    #[cfg(feature = "rustls")]
    Rustls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => &tls.sock,
        }
    }
}

impl Read for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.read(buf),
        }
    }
}

/// Over TLS, a write hands the bytes to rustls once what it already holds
/// is on the socket, and a flush puts them there: only socket writes,
/// which the write timeout bounds. (rustls's own `Stream` may read while it
/// writes, and wait for input that a peer which stopped reading never
/// sends.)
impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => {
                write_held(tls)?;
                tls.conn.writer().write(buf)
            }
        }
    }

    /// Several slices in one call: `writev` over TCP; over TLS rustls
    /// packs them into its records.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => {
                write_held(tls)?;
                tls.conn.writer().write_vectored(bufs)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => {
                tls.conn.writer().flush()?;
                write_held(tls)
            }
        }
    }
}

/// Writes the TLS records rustls holds to the socket.
#[cfg(feature = "rustls")]
fn write_held(tls: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> io::Result<()> {
    while tls.conn.wants_write() {
        if tls.conn.write_tls(&mut tls.sock)? == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

impl Stream for MaybeTlsStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }

    /// Over TLS, sends close_notify first, then shuts down the socket's
    /// write side.
    fn shutdown_write(&mut self) -> io::Result<()> {
        #[cfg(feature = "rustls")]
        if let MaybeTlsStream::Rustls(tls) = self {
            tls.conn.send_close_notify();
            tls.flush()?;
        }
        self.tcp().shutdown(std::net::Shutdown::Write)
    }

    fn vectored_writes(&self) -> bool {
        true
    }

    fn set_blocking(&mut self) -> io::Result<()> {
        self.tcp().set_nonblocking(false)
    }

    fn set_nodelay(&mut self) -> io::Result<()> {
        self.tcp().set_nodelay(true)
    }

    /// Reads in non-blocking mode, set on the socket for this one read;
    /// over TLS, what rustls already decrypted comes first.
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp().set_nonblocking(true)?;
        let read = self.read(buf);
        self.tcp().set_nonblocking(false)?;
        read
    }
}

/// TLS over `tcp` to `host` with `config`, its handshake done within
/// `timeout` (the socket's read and write timeouts meanwhile).
#[cfg(feature = "rustls")]
pub(super) fn tls_connect(
    mut tcp: TcpStream,
    host: &str,
    config: std::sync::Arc<rustls::ClientConfig>,
    timeout: Option<Duration>,
) -> io::Result<MaybeTlsStream> {
    use rustls::pki_types::ServerName;
    use std::string::ToString;

    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, std::format!("not a TLS server name: {host}: {e}")))?;
    let mut conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
    let deadline = timeout.and_then(|timeout| std::time::Instant::now().checked_add(timeout));
    while conn.is_handshaking() {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out"));
            }
            tcp.set_read_timeout(Some(left))?;
            tcp.set_write_timeout(Some(left))?;
        }
        match conn.complete_io(&mut tcp) {
            Ok(_) => {}
            Err(e) if super::is_retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    tcp.set_write_timeout(None)?;
    Ok(MaybeTlsStream::Rustls(Box::new(rustls::StreamOwned::new(conn, tcp))))
}
