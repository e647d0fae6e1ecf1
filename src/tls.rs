//! The TLS client settings `wss://` connections use by default (feature
//! `rustls`), shared by the blocking adapter and wsmachine-tokio.

use std::io;
use std::sync::{Arc, OnceLock};
use std::vec;

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};

/// The TLS settings [`blocking::connect`](crate::blocking::connect) (and
/// wsmachine-tokio's `connect`) use for `wss://`: the webpki roots
/// (Mozilla's list), TLS 1.2 and 1.3 with the application's process-wide
/// rustls provider if it installed one, else rustls's `ring` provider,
/// ALPN `http/1.1`. Made once, the first time it is asked for.
///
/// Clone it to change a setting and pass yours to
/// [`blocking::connect_with_tls`](crate::blocking::connect_with_tls):
///
/// ```
/// # fn run() -> std::io::Result<()> {
/// let mut tls = (*wsmachine::default_tls_config()?).clone();
/// tls.enable_sni = false;
/// let tls = std::sync::Arc::new(tls);
/// # drop(tls); Ok(()) }
/// # run().unwrap();
/// ```
///
/// # Errors
///
/// When the installed provider supports neither TLS 1.2 nor 1.3.
pub fn default_tls_config() -> io::Result<Arc<ClientConfig>> {
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
#[allow(deprecated)] // `allow`, not `expect`: rustls before 0.23.48 does not deprecate it.
fn ring_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}
