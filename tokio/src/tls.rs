//! The stream [`connect`](crate::connect) opens: plain TCP for `ws://`,
//! TLS for `wss://` (feature `rustls`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream, or (feature `rustls`) a TLS stream over one: the stream
/// under a connection made by [`connect`](crate::connect).
///
/// ```no_run
/// # async fn run() -> Result<(), wsmachine_tokio::Error> {
/// let ws = wsmachine_tokio::connect("ws://127.0.0.1:9002/").await?;
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
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.get_ref().0,
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    /// Whether the stream underneath takes vectored writes (TCP does, and
    /// `tokio-rustls` does, packing the slices into its records).
    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    /// Shuts down the write side (after TLS close_notify, for TLS).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The default TLS settings of `connect`: the webpki roots (Mozilla's
/// list), TLS 1.2 and 1.3 with the application's process-wide rustls
/// provider if it installed one, else rustls's `ring` provider, ALPN
/// `http/1.1`. Made once, the first time `connect` needs them.
#[cfg(feature = "rustls")]
pub(crate) fn default_tls_config() -> io::Result<std::sync::Arc<tokio_rustls::rustls::ClientConfig>> {
    use std::sync::{Arc, OnceLock};
    use tokio_rustls::rustls::crypto::CryptoProvider;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(ring_provider()));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// rustls's `ring` provider, for an application that installed none.
/// rustls deprecated it in 0.23.48 because `ring` has no post-quantum key
/// exchange; it is kept as the fallback because it builds with nothing but
/// a C compiler, where `aws-lc-rs` also needs CMake. An application that
/// wants the post-quantum exchange installs `aws-lc-rs`'s provider with
/// `CryptoProvider::install_default`, and `connect` uses that.
#[cfg(feature = "rustls")]
#[allow(deprecated)] // `allow`, not `expect`: rustls before 0.23.48 does not deprecate it.
fn ring_provider() -> tokio_rustls::rustls::crypto::CryptoProvider {
    tokio_rustls::rustls::crypto::ring::default_provider()
}

/// TLS over `tcp` to `host`, with `config`.
#[cfg(feature = "rustls")]
pub(crate) async fn tls_connect(
    tcp: TcpStream,
    host: &str,
    config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
) -> io::Result<MaybeTlsStream> {
    use tokio_rustls::rustls::pki_types::ServerName;

    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("not a TLS server name: {host}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    Ok(MaybeTlsStream::Rustls(Box::new(tls)))
}
