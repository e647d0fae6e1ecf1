//! Fuzz bodies for the frame codec and the connection machine.

use alloc::vec::Vec;

use super::time::advance;

use wsmachine::{
    CloseCode, Config, Connection, Event, FrameHeader, HeaderStatus, MessageKind, ProtocolError, Role, SecureRandom,
    State, MAX_HEADER_LEN,
};

/// What a connection made of some input, with chunk boundaries erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseCode, Vec<u8>),
    Error(ProtocolError),
}

/// Splits `data` into a small config/split-size prefix and the rest.
fn take_byte(data: &mut &[u8]) -> u8 {
    match data.split_first() {
        Some((b, rest)) => {
            *data = rest;
            *b
        }
        None => 0,
    }
}

fn config_from(byte: u8) -> Config {
    Config {
        max_frame_payload: if byte & 1 != 0 { 300 } else { 1 << 20 },
        max_message_size: if byte & 2 != 0 { 1000 } else { 1 << 20 },
        max_fragments: if byte & 4 != 0 { 8 } else { 1 << 16 },
        auto_pong: byte & 8 != 0,
        allow_non_minimal_lengths: byte & 16 != 0,
        extension_rsv_bits: if byte & 32 != 0 { wsmachine::RsvBits::RSV1 } else { wsmachine::RsvBits::NONE },
        ..Config::default()
    }
}

fn new_conn(role: Role, config: Config) -> Connection {
    match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client(config, SecureRandom::from_seed([3; 32])),
    }
}

/// Feeds `input` to `conn` in pieces of the sizes `splits` cycles through
/// (0 means "the rest"), checking the machine's invariants as it goes.
/// Returns what it made of the input and the bytes `poll_transmit` wrote.
pub fn run_connection(conn: &mut Connection, input: &[u8], splits: &[u8]) -> (Vec<Record>, Vec<u8>) {
    run_connection_in_time(conn, input, splits, None)
}

/// As [`run_connection`], and with `now` (virtual milliseconds) each read
/// first lets time run on by its split value × 20 ms (0 to 5.1 s), acting on the timers as a
/// caller's loop does (see [`advance`]). When a timer ends the connection,
/// its 1006 Close is the last record and the rest of the input is not read.
pub(super) fn run_connection_in_time(
    conn: &mut Connection,
    input: &[u8],
    splits: &[u8],
    mut now: Option<&mut u64>,
) -> (Vec<Record>, Vec<u8>) {
    let mut records = Vec::new();
    let mut sent = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut buf = input.to_vec();
    let mut start = 0;
    let mut split = splits.iter().cycle();
    let mut out = [0u8; 512];
    while start < buf.len() {
        let split_value = split.next().copied().unwrap_or(0);
        let size = match split_value {
            0 => buf.len() - start,
            s => usize::from(s).min(buf.len() - start),
        };
        if let Some(now) = now.as_deref_mut() {
            let until = *now + 20 * u64::from(split_value);
            if let Some(frame) = advance(conn, now, until, &mut sent).ended {
                records.push(Record::Close(frame.code(), frame.reason().as_bytes().to_vec()));
                return (records, sent);
            }
        }
        let piece = &mut buf[start..start + size];
        let mut pos = 0;
        let piece_len = piece.len();
        while pos < piece_len {
            match conn.receive(&mut piece[pos..]) {
                Err(e) => {
                    assert!(matches!(conn.state(), State::Failed(f) if f == e));
                    assert_eq!(conn.receive(&mut [0u8; 4]), Err(e), "failure must be sticky");
                    let n = conn.poll_transmit(&mut out[..]).expect("a close frame fits in 512 bytes");
                    assert!(n <= 14 + 125);
                    sent.extend_from_slice(&out[..n]);
                    assert!(conn.should_close_transport());
                    records.push(Record::Error(e));
                    return (records, sent);
                }
                Ok(r) => {
                    assert!(r.consumed <= piece_len - pos);
                    assert!(r.event.is_some() || r.consumed == piece_len - pos, "no event means all consumed");
                    pos += r.consumed;
                    match r.event {
                        Some(Event::Text { data, fin, .. }) | Some(Event::Binary { data, fin, .. }) => {
                            let kind = if matches!(r.event, Some(Event::Text { .. })) {
                                MessageKind::Text
                            } else {
                                MessageKind::Binary
                            };
                            assert!(data.len() <= r.consumed);
                            current.extend_from_slice(data);
                            // A compressed message (RSV1, claimed by an extension)
                            // may carry twice the limit on the wire; the extension
                            // holds its inflated size to the limit.
                            let max = conn.config().max_message_size;
                            let max = if conn.message_rsv1() { max.saturating_mul(2) } else { max };
                            assert!(current.len() as u64 <= max);
                            if fin {
                                if kind == MessageKind::Text && !conn.message_rsv1() {
                                    assert!(core::str::from_utf8(&current).is_ok(), "text must be valid");
                                }
                                records.push(Record::Message(kind, core::mem::take(&mut current)));
                            }
                        }
                        Some(Event::Ping(p)) => records.push(Record::Ping(p.to_vec())),
                        Some(Event::Pong(p)) => records.push(Record::Pong(p.to_vec())),
                        Some(Event::Close(c)) => {
                            records.push(Record::Close(c.code(), c.reason().as_bytes().to_vec()));
                        }
                        None => {}
                    }
                    let n = conn.poll_transmit(&mut out[..]).expect("queued frames fit in 512 bytes");
                    assert!(n <= 2 * (14 + 125));
                    sent.extend_from_slice(&out[..n]);
                }
            }
        }
        start += size;
    }
    (records, sent)
}

/// Arbitrary bytes into one role, fed whole and in pieces: no panic, the
/// invariants of `run_connection`, and the same records either way.
fn conn_role(role: Role, mut data: &[u8]) {
    let config = config_from(take_byte(&mut data));
    let split_count = usize::from(take_byte(&mut data) % 8);
    let (splits, input) = data.split_at(split_count.min(data.len()));
    let (whole, _) = run_connection(&mut new_conn(role, config), input, &[]);
    let (pieces, _) = run_connection(&mut new_conn(role, config), input, splits);
    assert_eq!(whole, pieces, "splits {splits:?} changed the outcome");
}

/// Fuzz body: the connection in server role.
pub fn conn_server(data: &[u8]) {
    conn_role(Role::Server, data);
}

/// Fuzz body: the connection in client role.
pub fn conn_client(data: &[u8]) {
    conn_role(Role::Client, data);
}

/// Fuzz body: the header decoder, checked against the encoder.
pub fn frame_header(data: &[u8]) {
    match FrameHeader::decode(data) {
        Err(_) => assert!(data.len() >= 10 && data[1] & 0x7F == 127 && data[2] & 0x80 != 0),
        Ok(HeaderStatus::Partial { needed }) => {
            assert!(needed > 0 && data.len() + needed <= MAX_HEADER_LEN);
        }
        Ok(HeaderStatus::Complete { header, len }) => {
            assert!(len <= data.len() && len <= MAX_HEADER_LEN);
            let mut buf = [0u8; MAX_HEADER_LEN];
            let n = header.encode(&mut buf[..]).expect("a decoded header re-encodes");
            assert_eq!(FrameHeader::decode(&buf[..n]), Ok(HeaderStatus::Complete { header, len: n }));
            if header.is_minimal_length(len) {
                assert_eq!(&buf[..n], &data[..len], "minimal headers re-encode byte for byte");
            }
            for short in 0..len {
                assert!(matches!(FrameHeader::decode(&data[..short]), Ok(HeaderStatus::Partial { .. })));
            }
        }
    }
}

/// Fuzz body: messages sent by one role arrive identical at the other,
/// whatever the split points, and the close handshake completes.
pub fn roundtrip(mut data: &[u8]) {
    let client_sends = take_byte(&mut data) & 1 == 0;
    let split_count = usize::from(take_byte(&mut data) % 8);
    let (splits, mut script) = data.split_at(split_count.min(data.len()));
    let config = Config { max_message_size: 1 << 20, ..Config::default() };
    let mut client = Connection::client(config, SecureRandom::from_seed([9; 32]));
    let mut server = Connection::server(config);
    let (sender, receiver) = if client_sends { (&mut client, &mut server) } else { (&mut server, &mut client) };

    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut fragment_kind: Option<(MessageKind, Vec<u8>)> = None;
    while let Some((&op, rest)) = script.split_first() {
        let len = usize::from(take_byte(&mut &rest[..]));
        let body = rest.get(1..1 + len).unwrap_or(rest.get(1..).unwrap_or(&[]));
        script = rest.get(1 + body.len()..).unwrap_or(&[]);
        match op % 5 {
            0 => {
                let text = alloc::string::String::from_utf8_lossy(body);
                if fragment_kind.is_none() {
                    sender.send_text(&text, &mut wire).expect("open connection sends");
                    expected.push(Record::Message(MessageKind::Text, text.as_bytes().to_vec()));
                }
            }
            1 => {
                if fragment_kind.is_none() {
                    sender.send_binary(body, &mut wire).expect("open connection sends");
                    expected.push(Record::Message(MessageKind::Binary, body.to_vec()));
                }
            }
            2 | 3 => {
                let fin = op % 5 == 3;
                let (kind, mut acc) = fragment_kind.take().unwrap_or((MessageKind::Binary, Vec::new()));
                sender.send_fragment(kind, body, fin, &mut wire).expect("binary fragments always valid");
                acc.extend_from_slice(body);
                if fin {
                    expected.push(Record::Message(kind, acc));
                } else {
                    fragment_kind = Some((kind, acc));
                }
            }
            _ => {
                let ping = &body[..body.len().min(125)];
                sender.send_ping(ping, &mut wire).expect("short ping");
                expected.push(Record::Ping(ping.to_vec()));
            }
        }
    }
    if let Some((kind, acc)) = fragment_kind.take() {
        sender.send_fragment(kind, &[], true, &mut wire).expect("finishing a message");
        expected.push(Record::Message(kind, acc));
    }
    sender.send_close(CloseCode::NORMAL, "done", &mut wire).expect("close once");
    expected.push(Record::Close(CloseCode::NORMAL, b"done".to_vec()));

    let (got, replies) = run_connection(receiver, &wire, splits);
    assert_eq!(got, expected);
    assert_eq!(receiver.state(), State::Closed);
    let (back, _) = run_connection(sender, &replies, &[]);
    let pongs = back.iter().filter(|r| matches!(r, Record::Pong(_))).count();
    assert!(pongs <= expected.iter().filter(|r| matches!(r, Record::Ping(_))).count());
    assert_eq!(back.last(), Some(&Record::Close(CloseCode::NORMAL, b"done".to_vec())), "the echo carries the reason");
    assert_eq!(sender.state(), State::Closed);
}
