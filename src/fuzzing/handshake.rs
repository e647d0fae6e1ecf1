/// Fuzz body for the server-side request parser.
pub fn handshake_request(_data: &[u8]) {}
/// Fuzz body for the client-side response parser.
pub fn handshake_response(_data: &[u8]) {}
