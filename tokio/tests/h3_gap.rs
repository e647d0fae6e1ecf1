//! Why WebSockets over HTTP/3 (RFC 9220) are not offered: the `h3` crate
//! cannot carry the `:protocol` value `websocket`. Its `Protocol` is a
//! closed set (`webtransport`, `connect-udp`) with no constructor for
//! another value, and its header decoding parses `:protocol` into that
//! type, so a request naming `websocket` is malformed to it. When this
//! test fails, `h3` has learnt the value and RFC 9220 can be built as the
//! `h2` module is.

#[test]
fn h3_cannot_name_the_websocket_protocol() {
    assert!("websocket".parse::<h3::ext::Protocol>().is_err());
    assert!("webtransport".parse::<h3::ext::Protocol>().is_ok());
}
