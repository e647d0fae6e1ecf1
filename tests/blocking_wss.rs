//! `wss://` on the blocking adapter (feature `rustls`): `connect` and
//! `connect_with_tls` against a rustls server over loopback, with a
//! self-signed certificate for 127.0.0.1 made once for these tests:
//!
//! ```sh
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
//!     -keyout key.pem -out cert.pem -days 36500 -subj /CN=127.0.0.1 \
//!     -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE
//! openssl x509 -in cert.pem -outform der -out tests/tls/cert.der
//! openssl pkcs8 -topk8 -nocrypt -in key.pem -outform der -out tests/tls/key.der
//! ```

#![cfg(feature = "rustls")]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wsmachine::blocking::{self, Error, MaybeTlsStream};
use wsmachine::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wsmachine::rustls::{ClientConfig, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use wsmachine::{CloseCode, ConnectOptions, Incoming, Message};

const CERT: &[u8] = include_bytes!("tls/cert.der");
const KEY: &[u8] = include_bytes!("tls/key.der");

/// rustls's `ring` provider, as `connect` falls back to.
#[allow(deprecated)] // rustls 0.23.48 deprecates `ring::default_provider`; earlier versions do not.
fn ring() -> Arc<wsmachine::rustls::crypto::CryptoProvider> {
    Arc::new(wsmachine::rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts the test certificate.
fn trusting() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(CERT)).unwrap();
    let config = ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The server's side of a TLS connection, as a `blocking::Stream`.
struct Tls(StreamOwned<ServerConnection, TcpStream>);

impl Read for Tls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Tls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl blocking::Stream for Tls {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.sock.set_read_timeout(timeout)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.conn.send_close_notify();
        self.0.flush()?;
        self.0.sock.shutdown(std::net::Shutdown::Write)
    }
}

/// A TLS server on a free port running `serve` on its one connection
/// (`None` if the upgrade over TLS failed); its `wss://` URL.
fn tls_server<T: Send + 'static>(
    serve: impl FnOnce(blocking::WebSocket<Tls>) -> T + Send + 'static,
) -> (String, thread::JoinHandle<Option<T>>) {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec()));
    let config = ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(CERT.to_vec())], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("wss://127.0.0.1:{}/feed", listener.local_addr().unwrap().port());
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = ServerConnection::new(config).unwrap();
        blocking::accept(Tls(StreamOwned::new(conn, tcp))).ok().map(serve)
    });
    (url, server)
}

#[test]
fn messages_go_both_ways_over_tls() {
    let (url, server) = tls_server(|mut ws| {
        while let Some(message) = ws.read()? {
            ws.send(message)?;
        }
        Ok::<_, Error>(ws.close_frame().map(|f| f.code()))
    });
    let mut ws = blocking::connect_with_tls(&url, &ConnectOptions::default(), trusting()).unwrap();
    assert!(matches!(ws.get_ref(), MaybeTlsStream::Rustls(_)));
    ws.send("hello").unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::text("hello")));
    // Large enough to leave as a header and a payload in one vectored
    // write, which rustls packs into its records.
    let large: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    ws.send(large.clone()).unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::Binary(large)));
    ws.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(server.join().unwrap().unwrap().unwrap(), Some(CloseCode::NORMAL));
}

#[test]
fn connect_verifies_the_certificate_against_the_webpki_roots() {
    let (url, server) = tls_server(|_| ());
    match blocking::connect(&url) {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
            assert!(e.to_string().contains("UnknownIssuer"), "{e}");
        }
        other => panic!("a self-signed certificate must be refused: {other:?}"),
    }
    // The server's TLS handshake fails with it.
    assert!(server.join().unwrap().is_none());
}

#[test]
fn a_tls_handshake_that_never_completes_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("wss://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    // Accepts the connection, then never answers the hello, until the
    // client is done (or a bound for the test passed).
    let (done, client_done) = std::sync::mpsc::channel::<()>();
    let silent = thread::spawn(move || {
        let accepted = listener.accept();
        let _ = client_done.recv_timeout(Duration::from_secs(20));
        accepted.map(drop)
    });
    let options = ConnectOptions { handshake_timeout: Some(Duration::from_millis(300)), ..ConnectOptions::default() };
    match blocking::connect_with_tls(&url, &options, trusting()) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}"),
        other => panic!("{other:?}"),
    }
    done.send(()).unwrap();
    silent.join().unwrap().unwrap();
}

/// A client that only sends, over TLS: its sends read what arrived
/// through rustls (`MaybeTlsStream::try_read`), so the server's ping is
/// answered during the feed and its Close ends it.
#[test]
fn a_client_that_only_sends_answers_pings_over_tls() {
    let (url, server) = tls_server(|mut ws| {
        ws.set_read_timeout(Some(Duration::from_secs(10)));
        assert_eq!(ws.read().unwrap(), Some(Message::text("tick")));
        ws.ping(b"still there?").unwrap();
        let mut ticks = 1;
        loop {
            match ws.read_incoming().expect("the pong comes during the feed") {
                Some(Incoming::Pong(payload)) => {
                    assert_eq!(payload.as_bytes(), b"still there?");
                    break;
                }
                Some(Incoming::Message(_)) => ticks += 1,
                other => panic!("{other:?}"),
            }
        }
        ws.close(CloseCode::NORMAL, "enough").unwrap();
        ticks
    });
    let mut ws = blocking::connect_with_tls(&url, &ConnectOptions::default(), trusting()).unwrap();
    // Bounded: 20 s of sends, far beyond what the server needs.
    let mut ended = Ok(());
    for _ in 0..2_000 {
        ended = ws.send("tick");
        if ended.is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    assert!(matches!(ended, Err(Error::Closed)), "{ended:?}");
    assert_eq!(ws.read().unwrap(), None);
    let ticks = server.join().unwrap().unwrap();
    assert!(ticks < 1_000, "the pong came after {ticks} ticks");
}

/// A server that stops reading, over TLS: rustls takes each frame into its
/// own buffer and writes it out when flushed, so the socket's write
/// timeout shows in the flush. The timers run there as after a write that
/// timed out: the keepalive finds the server dead, and the send fails with
/// the reason within the timers.
#[test]
fn a_send_to_a_server_that_stops_reading_over_tls_fails_within_the_timers() {
    let (url, server) = tls_server(|ws| {
        // Holds the connection and reads nothing, until the client is done.
        thread::sleep(Duration::from_secs(30));
        drop(ws);
    });
    let short = wsmachine::Config {
        ping_interval: Some(Duration::from_millis(100)),
        ping_timeout: Some(Duration::from_millis(100)),
        close_timeout: Some(Duration::from_millis(200)),
        ..wsmachine::Config::default()
    };
    let options = ConnectOptions { config: short, ..ConnectOptions::default() };
    let mut ws = blocking::connect_with_tls(&url, &options, trusting()).unwrap();
    let (done, result) = std::sync::mpsc::channel();
    thread::spawn(move || {
        // Bounded: at most 4 GiB, far more than any socket buffer holds.
        for _ in 0..16_384 {
            if let Err(e) = ws.send(vec![7u8; 256 * 1024]) {
                return done.send(Some(e));
            }
        }
        done.send(None)
    });
    // A bound for the test, not a measured threshold.
    let e = result.recv_timeout(Duration::from_secs(20)).expect("the send ends").expect("a send fails");
    assert!(matches!(e, Error::Protocol(wsmachine::ProtocolError::PingTimeout)), "{e:?}");
    drop(server);
}
