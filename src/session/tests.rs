//! Two sessions wired together in memory, time virtual.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::handshake::{HandshakeError, ResponseError, UsageError};
use crate::options::{AcceptOptions, ConnectOptions};

/// The Close frame a server sends when it fails with `e`: the error's code
/// and its reason.
fn failure_close(e: ProtocolError) -> Vec<u8> {
    let reason = e.reason().as_bytes();
    let mut frame = vec![0x88, 2 + reason.len() as u8];
    frame.extend(e.close_code().0.to_be_bytes());
    frame.extend(reason);
    frame
}

fn seeded() -> SecureRandom {
    SecureRandom::from_seed([9; 32])
}

/// Moves everything `from` wants to write into `to`.
fn pipe<A: RandomSource, B: RandomSource>(from: &mut Session<A>, to: &mut Session<B>) -> usize {
    let bytes = from.poll_output().to_vec();
    from.consume_output(bytes.len());
    to.receive(&bytes);
    bytes.len()
}

/// A client and a server session after a handshake made by the options.
fn pair_with(client: &ConnectOptions, server: &AcceptOptions) -> (Session, Session) {
    let parts = RequestParts::new(client);
    let mut start = ClientStart::new("ws://example.com/x", &parts, seeded()).unwrap();
    let mut server_start = ServerStart::new(server);
    let mut server = server_start.receive(start.request(), |_, _| Ok(())).unwrap().unwrap();
    let answer = server.poll_output().to_vec();
    server.consume_output(answer.len());
    let client = start.receive(&answer).unwrap().unwrap();
    (client, server)
}

fn pair() -> (Session, Session) {
    let timers_off = Config::default();
    pair_with(
        &ConnectOptions { config: timers_off, ..ConnectOptions::default() },
        &AcceptOptions { config: timers_off, ..AcceptOptions::default() },
    )
}

fn messages(session: &mut Session) -> Vec<Incoming> {
    let mut items = Vec::new();
    while let Some(item) = session.poll_message().unwrap() {
        items.push(item);
    }
    items
}

#[test]
fn messages_go_both_ways() {
    let (mut client, mut server) = pair();
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    client.send(&Message::text("one")).unwrap();
    client.send_binary(&big).unwrap();
    pipe(&mut client, &mut server);
    let got = messages(&mut server);
    assert_eq!(got, [Incoming::Message(Message::text("one")), Incoming::Message(Message::Binary(big.clone()))]);
    server.send(&Message::Binary(big.clone())).unwrap();
    pipe(&mut server, &mut client);
    assert_eq!(messages(&mut client), [Incoming::Message(Message::Binary(big))]);
}

#[test]
fn bytes_after_the_heads_reach_the_sessions() {
    let options = ConnectOptions::default();
    let parts = RequestParts::new(&options);
    let mut start = ClientStart::new("ws://example.com/", &parts, seeded()).unwrap();
    // A client frame sent right behind the request, in the same read.
    let mut early = Session::new(Connection::client(Config::default(), seeded()));
    early.send_text("early").unwrap();
    let mut wire = start.request().to_vec();
    wire.extend_from_slice(early.poll_output());
    let server_options = AcceptOptions::default();
    let mut server_start = ServerStart::new(&server_options);
    // Fed in two reads: the split falls inside the head.
    assert!(server_start.receive(&wire[..20], |_, _| Ok(())).unwrap().is_none());
    let mut server = server_start.receive(&wire[20..], |_, _| Ok(())).unwrap().unwrap();
    assert_eq!(messages(&mut server), [Incoming::Message(Message::text("early"))]);
    // And a server frame right behind the 101.
    server.send_text("hello").unwrap();
    let answer = server.poll_output().to_vec();
    let mut client = start.receive(&answer).unwrap().unwrap();
    assert_eq!(messages(&mut client), [Incoming::Message(Message::text("hello"))]);
}

#[test]
fn a_large_message_streams_in_pieces() {
    let (mut client, mut server) = pair();
    let big: Vec<u8> = (0..300 * 1024).map(|i| (i % 13) as u8).collect();
    client.send_binary(&big).unwrap();
    let wire = client.poll_output().to_vec();
    let mut got = Vec::new();
    let mut pieces = 0;
    let mut fin = false;
    for chunk in wire.chunks(7 * 1024) {
        server.receive(chunk);
        while let Some(item) = server.poll_piece().unwrap() {
            let Streamed::Piece(piece) = item else { panic!("{item:?}") };
            assert!(!fin);
            assert_eq!(piece.kind, MessageKind::Binary);
            assert!(piece.data.len() <= 7 * 1024);
            got.extend_from_slice(piece.data);
            pieces += 1;
            fin = piece.fin;
        }
    }
    assert!(fin && pieces > 40);
    assert_eq!(got, big);
}

#[test]
fn whole_mode_skips_the_rest_of_a_streamed_message() {
    let (mut client, mut server) = pair();
    client.send_fragment(MessageKind::Text, b"ab", false).unwrap();
    pipe(&mut client, &mut server);
    let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() else { panic!() };
    assert_eq!((piece.data, piece.fin), (&b"ab"[..], false));
    client.send_fragment(MessageKind::Text, b"cd", true).unwrap();
    client.send_text("next").unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(messages(&mut server), [Incoming::Message(Message::text("next"))]);

    // The same when the last piece was found and not taken: it belongs to
    // the message handed out in pieces, and goes with it.
    client.send_fragment(MessageKind::Text, b"ef", false).unwrap();
    pipe(&mut client, &mut server);
    let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() else { panic!() };
    assert_eq!((piece.data, piece.fin), (&b"ef"[..], false));
    client.send_fragment(MessageKind::Text, b"gh", true).unwrap();
    client.send_text("after").unwrap();
    pipe(&mut client, &mut server);
    assert!(server.piece_ready().unwrap() && server.has_piece());
    assert_eq!(messages(&mut server), [Incoming::Message(Message::text("after"))]);

    // The same when the whole-message call comes before the rest, with the
    // read buffer used up: it finds nothing (answered before the item
    // loop), and still marks the rest to be skipped.
    client.send_fragment(MessageKind::Text, b"ij", false).unwrap();
    pipe(&mut client, &mut server);
    let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() else { panic!() };
    assert_eq!((piece.data, piece.fin), (&b"ij"[..], false));
    assert_eq!(server.poll_piece(), Ok(None));
    assert_eq!(server.poll_message(), Ok(None));
    client.send_fragment(MessageKind::Text, b"kl", true).unwrap();
    client.send_text("last").unwrap();
    pipe(&mut client, &mut server);
    let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() else { panic!() };
    assert_eq!((piece.data, piece.fin), (&b"last"[..], true));
}

/// A piece that `piece_ready` found and nobody took goes back to its
/// message when a whole-message call comes instead: the message is
/// whole (lent from the read buffer, assembled from the piece on, or
/// from what whole mode had begun), in reads of every size.
#[test]
fn pieces_found_and_not_taken_go_back_to_their_messages() {
    let (mut client, _) = pair();
    let big: Vec<u8> = (0..70 * 1024).map(|i| (i % 251) as u8).collect();
    client.send_binary(b"one").unwrap();
    client.send_fragment(MessageKind::Binary, &big[..40_000], false).unwrap();
    client.send_fragment(MessageKind::Binary, &big[40_000..], true).unwrap();
    client.send_fragment(MessageKind::Text, "κ".as_bytes()[..1].as_ref(), false).unwrap();
    client.send_ping(b"p").unwrap();
    client.send_fragment(MessageKind::Text, "κό".as_bytes()[1..].as_ref(), true).unwrap();
    // An empty first frame: nothing handed out before the data.
    client.send_fragment(MessageKind::Binary, b"", false).unwrap();
    client.send_fragment(MessageKind::Binary, b"xy", true).unwrap();
    client.send_text(&"μ".repeat(200)).unwrap();
    let wire = client.poll_output().to_vec();
    let expected = [
        Incoming::Message(Message::binary(*b"one")),
        Incoming::Message(Message::Binary(big.clone())),
        Incoming::Ping(ControlPayload::new(b"p").unwrap()),
        Incoming::Message(Message::text("κό")),
        Incoming::Message(Message::binary(*b"xy")),
        Incoming::Message(Message::text("μ".repeat(200))),
    ];
    for take in [Take::Lent, Take::Owned, Take::Ready] {
        for read_size in [1, 2, 5, 64, 1000, 10_000, wire.len()] {
            let (_, mut server) = pair();
            let got = whole_after_piece_ready(&mut server, wire.chunks(read_size), || take, |_| {});
            assert!(got == expected, "{take:?}, reads of {read_size}: {:?}", summary(&got));
        }
    }
}

/// Reads that finish one message straight into its buffer and start the
/// next in the assembly buffer, the finished one found as a piece and
/// taken whole (owned and lent in turn): the next message keeps the bytes
/// it already has, at every alignment of the reads.
#[test]
fn a_found_piece_taken_whole_leaves_the_next_message_whole() {
    let data: Vec<u8> = (0..57u8).collect();
    for prefix in 0..40usize {
        for phase in 0..6 {
            for start in 0..2 {
                let (mut client, _) = pair();
                client.send_binary(&vec![7u8; prefix]).unwrap();
                client.send_binary(&data).unwrap();
                client.send_text("next").unwrap();
                let wire = client.poll_output().to_vec();
                // A long read, then five of one byte, in turn.
                let mut at = 0;
                let reads = [37usize, 1, 1, 1, 1, 1].into_iter().cycle().skip(phase).map_while(|n| {
                    let read = wire.get(at..(at + n).min(wire.len())).filter(|read| !read.is_empty())?;
                    at += read.len();
                    Some(read)
                });
                let (_, mut server) = pair();
                let mut found = start;
                let mut take = || {
                    found += 1;
                    [Take::Owned, Take::Lent][found % 2]
                };
                let got = whole_after_piece_ready(&mut server, reads, &mut take, |_| {});
                let expected = [
                    Incoming::Message(Message::Binary(vec![7u8; prefix])),
                    Incoming::Message(Message::Binary(data.clone())),
                    Incoming::Message(Message::text("next")),
                ];
                assert!(got == expected, "prefix {prefix}, phase {phase}, start {start}: {:?}", summary(&got));
            }
        }
    }
}

/// Feeds `reads` to `server` one at a time, each item found with
/// `piece_ready` first (`found` sees the session then) and then taken by
/// the whole-message call `take` names for it (`Ready`: found again with
/// `message_ready`, then lent); returns the items.
fn whole_after_piece_ready<'a>(
    server: &mut Session,
    reads: impl IntoIterator<Item = &'a [u8]>,
    mut take: impl FnMut() -> Take,
    mut found: impl FnMut(&Session),
) -> Vec<Incoming> {
    let mut reads = reads.into_iter();
    let mut got = Vec::new();
    loop {
        let ready = server.piece_ready().unwrap();
        found(server);
        let item = match ready {
            false => None,
            true => match take() {
                Take::Lent => server.poll_message_ref().unwrap().map(|item| item.to_incoming()),
                Take::Ready => match server.message_ready().unwrap() {
                    true => Some(server.poll_message_ref().unwrap().unwrap().to_incoming()),
                    false => None,
                },
                Take::Owned | Take::Piece => server.poll_message().unwrap(),
            },
        };
        match item {
            Some(item) => got.push(item),
            None => match reads.next() {
                Some(read) => server.receive(read),
                None => return got,
            },
        }
    }
}

/// Items with each message's kind and length only: big messages print
/// short.
fn summary(items: &[Incoming]) -> Vec<(Option<MessageKind>, usize)> {
    items
        .iter()
        .map(|item| match item {
            Incoming::Message(m) => (Some(m.kind()), m.as_bytes().len()),
            _ => (None, 0),
        })
        .collect()
}

#[test]
fn pieces_continue_a_message_begun_whole() {
    let (mut client, mut server) = pair();
    client.send_fragment(MessageKind::Binary, b"ab", false).unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(server.poll_message().unwrap(), None);
    client.send_fragment(MessageKind::Binary, b"cd", true).unwrap();
    pipe(&mut client, &mut server);
    let mut got = Vec::new();
    while server.piece_ready().unwrap() {
        let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() else { panic!() };
        got.push((piece.data.to_vec(), piece.fin));
    }
    assert_eq!(got, [(b"ab".to_vec(), false), (b"cd".to_vec(), true)]);
}

#[test]
fn pings_are_answered_and_reported() {
    let (mut client, mut server) = pair();
    client.send_ping(b"hi").unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(messages(&mut server), [Incoming::Ping(ControlPayload::new(b"hi").unwrap())]);
    pipe(&mut server, &mut client);
    assert_eq!(messages(&mut client), [Incoming::Pong(ControlPayload::new(b"hi").unwrap())]);
}

/// Control frames in one read, between messages, each reported with its
/// own payload in every mode (their payloads pass through one slot,
/// rewritten for each), and the slot freed once the session idles.
#[test]
fn control_frames_keep_their_payloads_in_every_mode() {
    let (mut client, _) = pair();
    client.send_ping(b"one").unwrap();
    client.send_text("between").unwrap();
    client.send_ping(b"two").unwrap();
    client.send_pong(b"three").unwrap();
    client.send_close(CloseCode::NORMAL, "four").unwrap();
    let wire = client.poll_output().to_vec();
    let ping = |p: &[u8]| ControlPayload::new(p).unwrap();

    let (_, mut server) = pair();
    server.receive(&wire);
    assert_eq!(
        messages(&mut server),
        [
            Incoming::Ping(ping(b"one")),
            Incoming::Message(Message::text("between")),
            Incoming::Ping(ping(b"two")),
            Incoming::Pong(ping(b"three")),
            Incoming::Close(CloseFrame::new(CloseCode::NORMAL, "four")),
        ]
    );

    let (_, mut server) = pair();
    server.receive(&wire);
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Ping(ping(b"one"))));
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Text("between")));
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Ping(ping(b"two"))));
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Pong(ping(b"three"))));
    assert_eq!(
        server.poll_message_ref().unwrap(),
        Some(IncomingRef::Close(CloseFrame::new(CloseCode::NORMAL, "four")))
    );

    let (_, mut server) = pair();
    server.receive(&wire);
    assert!(matches!(server.poll_piece().unwrap(), Some(Streamed::Ping(p)) if p == ping(b"one")));
    assert!(matches!(server.poll_piece().unwrap(), Some(Streamed::Piece(_))));
    assert!(server.piece_ready().unwrap());
    assert!(matches!(server.poll_piece().unwrap(), Some(Streamed::Ping(p)) if p == ping(b"two")));
    assert!(matches!(server.poll_piece().unwrap(), Some(Streamed::Pong(p)) if p == ping(b"three")));
    assert!(matches!(server.poll_piece().unwrap(), Some(Streamed::Close(c)) if c.reason() == "four"));

    let (mut client, mut server) = pair();
    client.send_ping(b"keepalive").unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(messages(&mut server), [Incoming::Ping(ping(b"keepalive"))]);
    assert!(server.control.is_some(), "kept while the connection is busy");
    server.shrink_buffers();
    assert!(server.control.is_none(), "freed when it idles");
}

#[test]
fn a_clean_close_started_by_the_client() {
    let (mut client, mut server) = pair();
    client.send_close(CloseCode::NORMAL, "bye").unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(client.poll_transport(), Transport::Open);
    let got = messages(&mut server);
    assert!(matches!(&got[..], [Incoming::Close(c)] if c.code() == CloseCode::NORMAL && c.reason() == "bye"));
    // The server echoes, then shuts down its write side first (§7.1.1).
    assert_eq!(server.poll_transport(), Transport::Open);
    pipe(&mut server, &mut client);
    assert_eq!(server.poll_transport(), Transport::ShutdownWrite);
    assert_eq!(server.poll_transport(), Transport::Open); // draining
    assert!(matches!(&messages(&mut client)[..], [Incoming::Close(c)] if c.code() == CloseCode::NORMAL));
    // The client waits for the server's end of the transport.
    assert_eq!(client.poll_transport(), Transport::Open);
    client.receive_eof();
    assert_eq!(messages(&mut client), []);
    assert_eq!(client.poll_transport(), Transport::Close);
    server.receive_eof();
    assert_eq!(messages(&mut server), []);
    assert_eq!(server.poll_transport(), Transport::Close);
}

#[test]
fn a_server_shuts_down_its_write_side_after_its_close() {
    let (mut client, mut server) = pair();
    server.send_close(CloseCode::GOING_AWAY, "").unwrap();
    assert_eq!(server.poll_transport(), Transport::Open); // the Close is not written yet
    pipe(&mut server, &mut client);
    assert_eq!(server.poll_transport(), Transport::ShutdownWrite);
    client.receive_eof(); // the server's FIN follows its Close
    assert!(matches!(&messages(&mut client)[..], [Incoming::Close(c)] if c.code() == CloseCode::GOING_AWAY));
    pipe(&mut client, &mut server);
    assert_eq!(client.poll_transport(), Transport::Close);
    assert!(matches!(&messages(&mut server)[..], [Incoming::Close(c)] if c.code() == CloseCode::GOING_AWAY));
}

/// Runs `handle_timeout` at each deadline until `until`; returns the
/// virtual time reached.
fn run_timers(session: &mut Session, mut now: Instant, until: Instant) -> Instant {
    while let Some(at) = session.poll_timeout() {
        if at > until {
            break;
        }
        now = now.max(at);
        session.handle_timeout(now);
    }
    now
}

fn timers(close: u64, ping: Option<u64>) -> Config {
    Config {
        close_timeout: Some(Duration::from_secs(close)),
        ping_interval: ping.map(Duration::from_secs),
        ping_timeout: ping.map(Duration::from_secs),
        ..Config::default()
    }
}

#[test]
fn a_close_never_answered_ends_after_the_close_timeout() {
    let (mut client, _server) =
        pair_with(&ConnectOptions { config: timers(5, None), ..ConnectOptions::default() }, &AcceptOptions::default());
    let t0 = Instant::from_millis(1_000);
    client.handle_timeout(t0);
    client.send_close(CloseCode::NORMAL, "").unwrap();
    let n = client.poll_output().len();
    client.consume_output(n);
    let now = run_timers(&mut client, t0, Instant::from_millis(5_999));
    assert_eq!(client.poll_transport(), Transport::Open);
    assert_eq!(messages(&mut client), []);
    run_timers(&mut client, now, Instant::from_millis(6_000));
    let got = messages(&mut client);
    assert!(matches!(&got[..], [Incoming::Close(c)] if c.code() == CloseCode::ABNORMAL), "{got:?}");
    assert_eq!(client.poll_transport(), Transport::Close);
}

#[test]
fn a_client_gives_up_waiting_for_the_servers_tcp_close() {
    let (mut client, mut server) =
        pair_with(&ConnectOptions { config: timers(5, None), ..ConnectOptions::default() }, &AcceptOptions::default());
    client.handle_timeout(Instant::ZERO);
    server.send_close(CloseCode::NORMAL, "").unwrap();
    pipe(&mut server, &mut client);
    assert_eq!(messages(&mut client).len(), 1);
    pipe(&mut client, &mut server);
    assert_eq!(client.poll_transport(), Transport::Open);
    run_timers(&mut client, Instant::ZERO, Instant::from_millis(10_000));
    assert_eq!(client.poll_transport(), Transport::Close);
}

#[test]
fn a_silent_peer_is_dropped() {
    let (mut client, _server) = pair_with(
        &ConnectOptions { config: timers(5, Some(20)), ..ConnectOptions::default() },
        &AcceptOptions::default(),
    );
    let mut now = Instant::ZERO;
    client.handle_timeout(now);
    // The keepalive Ping goes out after 20 s; nothing ever comes back.
    now = run_timers(&mut client, now, Instant::from_millis(20_000));
    let ping = client.poll_output().to_vec();
    assert_eq!(&ping[..2], [0x89, 0x80]);
    client.consume_output(ping.len());
    run_timers(&mut client, now, Instant::from_millis(40_000));
    assert_eq!(client.poll_message(), Err(ProtocolError::PingTimeout));
    // Close 1011 goes out, then the transport is closed at once: a peer
    // found dead is not waited for during the close timeout.
    assert_eq!(client.poll_transport(), Transport::Open);
    let close = client.poll_output().to_vec();
    assert_eq!(close[0], 0x88);
    client.consume_output(close.len());
    assert_eq!(client.poll_transport(), Transport::Close);
    assert_eq!(client.poll_timeout(), None, "nothing left to wait for");
}

/// A peer that stops reading: what we send piles up unwritten, the
/// keepalive finds the peer dead, and its Close waits behind the rest.
/// The close timeout bounds that wait too: the output is dropped and the
/// transport closed, instead of kept open for as long as the peer likes.
#[test]
fn a_peer_that_stops_reading_is_dropped_after_the_close_timeout() {
    let (_client, mut server) = pair_with(
        &ConnectOptions::default(),
        &AcceptOptions { config: timers(5, Some(20)), ..AcceptOptions::default() },
    );
    let mut now = Instant::ZERO;
    server.handle_timeout(now);
    server.send_binary(&vec![7; 1 << 20]).unwrap(); // never written: the peer reads nothing
    now = run_timers(&mut server, now, Instant::from_millis(40_000));
    assert_eq!(server.poll_message(), Err(ProtocolError::PingTimeout));
    assert!(server.buffered_output() > 1 << 20, "the Close waits behind the message");
    assert_eq!(server.poll_transport(), Transport::Open);
    assert!(!server.output_abandoned());
    now = run_timers(&mut server, now, Instant::from_millis(44_999));
    assert_eq!(server.poll_transport(), Transport::Open, "the peer gets the whole close timeout");
    run_timers(&mut server, now, Instant::from_millis(45_000));
    assert!(server.output_abandoned());
    assert_eq!(server.buffered_output(), 0);
    assert!(!server.wants_write());
    assert_eq!(server.poll_transport(), Transport::Close);
    assert_eq!(server.poll_timeout(), None, "nothing left to wait for");
}

/// The same bound when our own Close waits behind output the peer does
/// not take: the close handshake gives up after the close timeout, and
/// the output after another.
#[test]
fn a_close_stuck_behind_unread_output_ends_within_two_close_timeouts() {
    let (_client, mut server) =
        pair_with(&ConnectOptions::default(), &AcceptOptions { config: timers(5, None), ..AcceptOptions::default() });
    let mut now = Instant::ZERO;
    server.handle_timeout(now);
    server.send_binary(&vec![7; 1 << 20]).unwrap();
    server.send_close(CloseCode::GOING_AWAY, "").unwrap();
    now = run_timers(&mut server, now, Instant::from_millis(9_999));
    assert_eq!(server.poll_transport(), Transport::Open);
    run_timers(&mut server, now, Instant::from_millis(10_000));
    assert!(server.output_abandoned());
    assert_eq!(server.poll_transport(), Transport::Close);
}

/// Without a close timeout nothing is bounded, as `without_timers` says.
#[test]
fn without_a_close_timeout_unread_output_is_kept() {
    let config = Config { close_timeout: None, ..timers(5, Some(20)) };
    let (_client, mut server) =
        pair_with(&ConnectOptions::default(), &AcceptOptions { config, ..AcceptOptions::default() });
    server.handle_timeout(Instant::ZERO);
    server.send_binary(&[7; 100]).unwrap();
    run_timers(&mut server, Instant::ZERO, Instant::from_millis(1_000_000));
    assert_eq!(server.poll_message(), Err(ProtocolError::PingTimeout));
    assert!(!server.output_abandoned());
    assert_eq!(server.poll_transport(), Transport::Open);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_failure_queues_its_close_then_shuts_down_and_drains() {
    let (_client, mut server) =
        pair_with(&ConnectOptions::default(), &AcceptOptions { config: timers(5, None), ..AcceptOptions::default() });
    // An unmasked frame from a client: 1002.
    server.receive(&[0x81, 0x02, b'h', b'i', 0x81, 0x02]);
    assert_eq!(server.poll_message(), Err(ProtocolError::UnmaskedFrame));
    assert_eq!(server.error(), Some(ProtocolError::UnmaskedFrame));
    assert_eq!(server.poll_message(), Ok(None));
    assert_eq!(server.poll_transport(), Transport::Open);
    let close = failure_close(ProtocolError::UnmaskedFrame);
    assert_eq!(server.poll_output(), close);
    server.consume_output(close.len());
    assert_eq!(server.poll_transport(), Transport::ShutdownWrite);
    // More bytes from the peer are read and dropped while draining.
    server.receive(b"more");
    assert_eq!(server.poll_message(), Ok(None));
    assert_eq!(server.poll_timeout(), Some(Instant::ZERO));
    server.handle_timeout(Instant::from_millis(100));
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(5_100)));
    server.receive_eof();
    assert_eq!(server.poll_message(), Ok(None));
    assert_eq!(server.poll_transport(), Transport::Close);
}

/// A client's URL that is not a WebSocket URL fails before anything is
/// sent: no status, where a server's usage error is the 500 it answered.
#[test]
fn a_bad_url_has_no_status() {
    let options = ConnectOptions::default();
    let parts = RequestParts::new(&options);
    for url in ["127.0.0.1:9001", "http://example.com/", "ws://"] {
        let e = ClientStart::new(url, &parts, seeded()).expect_err(url);
        assert!(matches!(e, UpgradeError::Usage(UsageError::InvalidUrl(_))), "{url}: {e:?}");
        assert_eq!(e.status(), None, "{url}");
    }
}

#[test]
fn the_server_picks_a_protocol_and_the_application_may_refuse() {
    let client_options = ConnectOptions { protocols: vec!["b".into(), "a".into()], ..ConnectOptions::default() };
    let server_options = AcceptOptions { protocols: vec!["a".into(), "b".into()], ..AcceptOptions::default() };
    let (client, server) = pair_with(&client_options, &server_options);
    assert_eq!((client.protocol(), server.protocol()), (Some("a"), Some("a")));

    let parts = RequestParts::new(&client_options);
    let start = ClientStart::new("ws://example.com/private", &parts, seeded()).unwrap();
    let mut server_start = ServerStart::new(&server_options);
    let refused = server_start.receive(start.request(), |request, _| {
        assert_eq!(request.path(), "/private");
        Err(Rejection::new(401).header("WWW-Authenticate", "Basic").body("who?"))
    });
    assert_eq!(refused.unwrap_err(), UpgradeError::Rejected(401));
    let answer = core::str::from_utf8(server_start.response()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nwho?"));

    // Picking a protocol the client did not offer is the server's bug: 500.
    let mut server_start = ServerStart::new(&server_options);
    let wrong = server_start.receive(start.request(), |_, answer| {
        answer.protocol = Some("c".into());
        Ok(())
    });
    assert_eq!(wrong.unwrap_err().status(), Some(500));
    assert!(server_start.response().starts_with(b"HTTP/1.1 500 "));
}

#[test]
fn handshake_errors_carry_their_answer() {
    let options = AcceptOptions::default();
    let mut start = ServerStart::new(&options);
    let e = start.receive(b"POST / HTTP/1.1\r\n\r\n", |_, _| Ok(())).unwrap_err();
    assert_eq!(e.status(), Some(405));
    assert!(start.response().starts_with(b"HTTP/1.1 405 "));
    let mut start = ServerStart::new(&options);
    assert!(start.receive(b"GET / HTTP/1.1\r\n", |_, _| Ok(())).unwrap().is_none());
    assert_eq!(start.timeout(), UpgradeError::Request(HandshakeError::Timeout));
    assert!(start.response().starts_with(b"HTTP/1.1 408 "));
    assert_eq!(start.receive(b"\r\n", |_, _| Ok(())).unwrap_err(), UpgradeError::Done);

    let client_options = ConnectOptions::default();
    let parts = RequestParts::new(&client_options);
    let mut client = ClientStart::new("ws://example.com/", &parts, seeded()).unwrap();
    let e = client.receive(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(matches!(e, UpgradeError::Response(ResponseError::UnexpectedStatus { status: 403, .. })));
}

/// A client's start fed `answer` in the given pieces, with a head limit of
/// `max_head_len`: what each piece returned, as `None` (read more) or the
/// status reported.
fn refused_in_pieces(max_head_len: usize, pieces: &[&[u8]]) -> (ClientStart<'static>, Vec<Option<u16>>) {
    let options = Box::leak(Box::new(ConnectOptions {
        handshake: crate::handshake::HandshakeConfig { max_head_len },
        ..ConnectOptions::default()
    }));
    let parts = Box::leak(Box::new(RequestParts::new(options)));
    let mut client = ClientStart::new("ws://example.com/", parts, seeded()).unwrap();
    let returned = pieces
        .iter()
        .map(|piece| match client.receive(piece) {
            Ok(None) => None,
            Err(e) => Some(e.status().unwrap()),
            Ok(Some(_)) => panic!("a refusal was accepted"),
        })
        .collect();
    (client, returned)
}

#[test]
fn a_refusal_is_reported_with_its_headers_once_its_body_arrived() {
    let head = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 11\r\n\r\nhello";
    let (mut client, returned) = refused_in_pieces(8192, &[head, b" wor", b"ld and more"]);
    assert_eq!(returned, [None, None, Some(401)]);
    let refusal = client.take_refusal().expect("the refusal");
    assert_eq!(refusal.status, 401);
    assert_eq!(refusal.header("www-authenticate"), Some("Bearer"));
    assert_eq!(refusal.headers.len(), 2);
    assert_eq!(refusal.body, b"hello world");
    assert_eq!(client.take_refusal(), None);
    assert_eq!(client.receive(b"x").unwrap_err().status(), Some(401));
}

#[test]
fn a_refusal_without_a_length_is_read_to_the_end_of_the_transport() {
    let head: &[u8] = b"HTTP/1.1 503 Busy\r\nRetry-After: 5\r\n\r\ntry ";
    let (mut client, returned) = refused_in_pieces(8192, &[head, b"later"]);
    assert_eq!(returned, [None, None]);
    assert_eq!(client.ended().status(), Some(503));
    let refusal = client.take_refusal().expect("the refusal");
    assert_eq!((refusal.header("Retry-After"), &refusal.body[..]), (Some("5"), &b"try later"[..]));
    // Up to the head's limit, then reported without waiting for the end.
    let (mut client, returned) = refused_in_pieces(100, &[head, &[b'a'; 90], &[b'b'; 10]]);
    assert_eq!(returned, [None, None, Some(503)]);
    assert_eq!(client.take_refusal().unwrap().body.len(), 100);
}

#[test]
fn a_refusal_without_a_body_or_in_chunks_is_reported_with_its_head() {
    // 204 and 304 have no body, whatever follows.
    let (mut client, returned) = refused_in_pieces(8192, &[b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n"]);
    assert_eq!(returned, [Some(204)]);
    assert_eq!(client.take_refusal().unwrap().body, b"");
    // A chunked body is not decoded: what came with the head, as sent.
    let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nno";
    let (mut client, returned) = refused_in_pieces(8192, &[chunked]);
    assert_eq!(returned, [Some(404)]);
    assert_eq!(client.take_refusal().unwrap().body, b"2\r\nno");
}

#[test]
fn a_refusal_keeps_at_most_the_head_limit_of_its_body() {
    let head = b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 100000\r\n\r\n";
    let (mut client, returned) = refused_in_pieces(100, &[head, &[b'a'; 60], &[b'b'; 60]]);
    assert_eq!(returned, [None, None, Some(302)]);
    let refusal = client.take_refusal().unwrap();
    assert_eq!(refusal.header("location"), Some("/elsewhere"));
    assert_eq!(refusal.body.len(), 100);
    assert_eq!(&refusal.body[58..62], b"aabb");
}

#[test]
fn a_refusal_cut_short_is_reported_with_what_arrived() {
    let head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nno";
    let (mut client, returned) = refused_in_pieces(8192, &[head]);
    assert_eq!(returned, [None]);
    assert_eq!(client.take_refusal(), None, "not before its body is whole or cut short");
    assert_eq!(client.ended().status(), Some(403));
    assert_eq!(client.take_refusal().unwrap().body, b"no");

    let (mut client, _) = refused_in_pieces(8192, &[head]);
    assert_eq!(client.timeout().status(), Some(403));
    assert_eq!(client.take_refusal().unwrap().body, b"no");

    // Without a refusal, the end and the timeout are what they were.
    let (mut client, _) = refused_in_pieces(8192, &[b"HTTP/1.1 101"]);
    assert_eq!(client.ended(), UpgradeError::Incomplete);
    let (mut client, _) = refused_in_pieces(8192, &[b"HTTP/1.1 101"]);
    assert_eq!(client.timeout(), UpgradeError::Response(ResponseError::Head(HandshakeError::Timeout)));
    assert_eq!(client.take_refusal(), None);
    // Nothing was refused or malformed: no answer came.
    assert_eq!(alloc::format!("{}", client.timeout()), "no answer from the server within the handshake timeout");
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use crate::ext::deflate::DeflateConfig;

    fn compressed_pair() -> (Session, Session) {
        pair_with(
            &ConnectOptions { deflate: Some(DeflateConfig::default()), ..ConnectOptions::default() },
            &AcceptOptions { deflate: Some(DeflateConfig::default()), ..AcceptOptions::default() },
        )
    }

    #[test]
    fn compression_is_negotiated_and_transparent() {
        let (mut client, mut server) = compressed_pair();
        assert!(client.is_compressed() && server.is_compressed());
        let text = "Hello, Hello, Hello, Hello ".repeat(1000);
        client.send_text(&text).unwrap();
        let wire = client.poll_output().to_vec();
        assert_eq!(wire[0], 0xC1); // FIN, RSV1, text
        assert!(wire.len() < text.len() / 10);
        server.receive(&wire);
        assert_eq!(messages(&mut server), [Incoming::Message(Message::Text(text.clone()))]);
        server.send_text(&text).unwrap();
        pipe(&mut server, &mut client);
        assert_eq!(messages(&mut client), [Incoming::Message(Message::Text(text))]);
    }

    /// A session given a connection built with the plain configuration
    /// (as a server upgraded elsewhere easily does) still lets the
    /// compressed messages in; they failed with 1002 before.
    #[test]
    fn with_deflate_lets_rsv1_through_on_a_plain_connection() {
        use crate::ext::deflate::{Deflate, DeflateParams};

        let (mut client, _) = compressed_pair();
        let config = DeflateConfig::default();
        let deflate = Deflate::new(Role::Server, DeflateParams::default(), &config);
        let mut server = Session::with_deflate(Connection::server(Config::default()), deflate);
        let text = "compressible ".repeat(1000);
        client.send_text(&text).unwrap();
        pipe(&mut client, &mut server);
        assert_eq!(messages(&mut server), [Incoming::Message(Message::Text(text))]);
    }

    #[test]
    fn compressed_messages_stream_in_bounded_pieces() {
        let (mut client, mut server) = compressed_pair();
        let data = vec![7u8; 4 << 20];
        client.send_binary(&data).unwrap();
        pipe(&mut client, &mut server);
        let mut total = 0;
        let mut largest = 0;
        while let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() {
            assert!(piece.data.iter().all(|&b| b == 7));
            total += piece.data.len();
            largest = largest.max(piece.data.len());
            if piece.fin {
                break;
            }
        }
        assert_eq!(total, data.len());
        assert!(largest <= 264 * 1024, "largest piece {largest}");
    }

    /// Inflated pieces found by `piece_ready` and taken whole: a message
    /// inflated in one piece, and one whose first piece is handed back to
    /// the assembly buffer, which inflates the rest.
    #[test]
    fn found_inflated_pieces_go_back_to_their_messages() {
        let deflate = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
        let options = (
            ConnectOptions { deflate: Some(deflate), ..ConnectOptions::default() },
            AcceptOptions { deflate: Some(deflate), ..AcceptOptions::default() },
        );
        let (mut client, _) = pair_with(&options.0, &options.1);
        let big: Vec<u8> = (0..600 * 1024u64).map(|i| (i * i % 251) as u8).collect();
        let text = "κόσμε 🦀 ".repeat(30_000);
        client.send_text("short").unwrap();
        client.send_binary(&big).unwrap();
        client.send_text(&text).unwrap();
        client.send_binary(b"last").unwrap();
        let wire = client.poll_output().to_vec();
        let expected = [
            Incoming::Message(Message::text("short")),
            Incoming::Message(Message::Binary(big)),
            Incoming::Message(Message::Text(text)),
            Incoming::Message(Message::binary(*b"last")),
        ];
        for take in [Take::Owned, Take::Lent] {
            for read_size in [7, 1000, wire.len()] {
                let (_, mut server) = pair_with(&options.0, &options.1);
                // Found inflated pieces that do not end their message.
                let mut first_pieces = 0;
                let got = whole_after_piece_ready(
                    &mut server,
                    wire.chunks(read_size),
                    || take,
                    |server| {
                        first_pieces += usize::from(matches!(server.ready, Some(Found::BufPiece { fin: false, .. })))
                    },
                );
                assert!(got == expected, "{take:?}, reads of {read_size}: {:?}", summary(&got));
                assert!(first_pieces >= 2, "{take:?}, reads of {read_size}: {first_pieces}");
            }
        }
    }

    #[test]
    fn a_declined_offer_leaves_compression_off() {
        let (client, server) = pair_with(
            &ConnectOptions { deflate: Some(DeflateConfig::default()), ..ConnectOptions::default() },
            &AcceptOptions::default(),
        );
        assert!(!client.is_compressed() && !server.is_compressed());
    }
}

#[test]
fn an_idle_session_holds_no_buffer() {
    let (mut client, mut server) = pair();
    client.send(&Message::Binary(vec![7; 100_000])).unwrap();
    pipe(&mut client, &mut server);
    // Only what arrived is held, not a whole read chunk more.
    assert!(server.rx.capacity() < 100_000 + READ_CHUNK);
    assert!(server.buffer_capacity() >= server.rx.capacity());
    assert_eq!(messages(&mut server), [Incoming::Message(Message::Binary(vec![7; 100_000]))]);
    server.send(&Message::text("back")).unwrap();
    server.shrink_buffers();
    // The answer is not written yet: the output stays.
    assert!(server.buffered_output() > 0);
    pipe(&mut server, &mut client);
    server.shrink_buffers();
    assert_eq!(
        (server.rx.capacity(), server.out.capacity(), server.whole.binary.capacity() + server.whole.text.capacity()),
        (0, 0, 0)
    );
    assert_eq!(server.buffer_capacity(), 0);
    // Half a frame stays through a shrink and completes later.
    client.send(&Message::text("later")).unwrap();
    let wire = client.poll_output().to_vec();
    client.consume_output(wire.len());
    server.receive(&wire[..3]);
    assert_eq!(messages(&mut server), []);
    server.shrink_buffers();
    server.receive(&wire[3..]);
    assert_eq!(messages(&mut server), [Incoming::Message(Message::text("later"))]);
}

/// A client frame as a peer could write it, invalid payload or not: FIN
/// and opcode in `b0`, masked with the all-zero key.
fn raw_client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    masked_client_frame(b0, payload, [0; 4])
}

/// A client frame masked with `key`, length up to 64 KiB.
fn masked_client_frame(b0: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut frame = vec![b0];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// How a test takes what the server received.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Whole,
    /// Whole, lent by `poll_message_ref`.
    Lent,
    /// Whole, found by `message_ready`, then lent.
    ReadyLent,
    /// Whole, found by `message_ready`, then taken owned.
    ReadyOwned,
    Pieces,
    /// The first piece streamed, the rest skipped by `poll_message`.
    Skipped,
}

/// Feeds `frames` to a fresh server one read at a time, taking items in
/// `mode`; the bytes of the text it got, or the error.
fn take_text(server: &mut Session, frames: &[Vec<u8>], mode: Mode) -> Result<Vec<u8>, ProtocolError> {
    let mut got = Vec::new();
    let mut streamed_one = false;
    for frame in frames {
        server.receive(frame);
        loop {
            if let Mode::ReadyLent | Mode::ReadyOwned = mode {
                if !server.message_ready()? {
                    break;
                }
                assert!(server.has_message());
            }
            if let Mode::Lent | Mode::ReadyLent = mode {
                let item = server.poll_message_ref();
                if let Mode::ReadyLent = mode {
                    // `message_ready` validated the text: lending it cannot fail.
                    assert!(item.is_ok(), "{item:?}");
                }
                match item? {
                    Some(IncomingRef::Text(text)) => got.extend_from_slice(text.as_bytes()),
                    Some(other) => panic!("{other:?}"),
                    None => break,
                }
                continue;
            }
            let pieces = match mode {
                Mode::Whole | Mode::Lent | Mode::ReadyLent | Mode::ReadyOwned => false,
                Mode::Pieces => true,
                Mode::Skipped => !streamed_one,
            };
            if pieces {
                match server.poll_piece()? {
                    Some(Streamed::Piece(piece)) => {
                        got.extend_from_slice(piece.data);
                        streamed_one = true;
                    }
                    Some(other) => panic!("{other:?}"),
                    None => break,
                }
            } else {
                match server.poll_message()? {
                    Some(Incoming::Message(Message::Text(text))) => got.extend_from_slice(text.as_bytes()),
                    Some(other) => panic!("{other:?}"),
                    None => break,
                }
            }
        }
    }
    Ok(got)
}

/// Invalid UTF-8 is refused with 1007 in every mode, wherever the frame
/// and read boundaries fall, and valid text split inside a character is
/// whole again in every mode: the connection leaves text to the session,
/// which validates each byte once.
#[test]
fn text_is_validated_in_every_mode() {
    let valid = "aκό🦀σμε".as_bytes();
    let invalid: &[&[u8]] = &[b"ab\xFFcd", b"\xCE", b"a\xED\xA0\x80", b"\xF0\x9F\x98 ", b"abc\xC0\xAF"];
    for mode in [Mode::Whole, Mode::Lent, Mode::ReadyLent, Mode::ReadyOwned, Mode::Pieces, Mode::Skipped] {
        for (bytes, ok) in [(valid, true)].into_iter().chain(invalid.iter().map(|b| (*b, false))) {
            for cut in 1..bytes.len() {
                // Two frames, each its own read.
                let frames = [raw_client_frame(0x01, &bytes[..cut]), raw_client_frame(0x80, &bytes[cut..])];
                let (_, mut server) = pair();
                let result = take_text(&mut server, &frames, mode);
                if ok {
                    let expected = if let Mode::Skipped = mode { &bytes[..cut] } else { bytes };
                    assert_eq!(result.as_deref(), Ok(expected), "{mode:?} cut {cut}");
                } else {
                    assert_eq!(result, Err(ProtocolError::InvalidUtf8), "{mode:?} {bytes:x?} cut {cut}");
                    // The Close with 1007 is queued.
                    let out = server.poll_output();
                    assert!(out.starts_with(&failure_close(ProtocolError::InvalidUtf8)), "{mode:?}");
                    assert_eq!(server.poll_message(), Ok(None));
                }
            }
            // One frame, whole in one read (the connection's fast path).
            let (_, mut server) = pair();
            let result = take_text(&mut server, &[raw_client_frame(0x81, bytes)], mode);
            assert_eq!(result.is_ok(), ok, "{mode:?} {bytes:x?}");
        }
    }
}

#[test]
fn a_text_message_begun_whole_continues_in_pieces_with_a_split_character() {
    let (_, mut server) = pair();
    let bytes = "xκy".as_bytes(); // κ is CE BA
    server.receive(&raw_client_frame(0x01, &bytes[..2]));
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&raw_client_frame(0x80, &bytes[2..]));
    let mut got = Vec::new();
    while let Some(Streamed::Piece(piece)) = server.poll_piece().unwrap() {
        got.extend_from_slice(piece.data);
    }
    assert_eq!(got, bytes);
}

#[test]
fn a_whole_message_is_sized_from_its_headers() {
    let (mut client, mut server) = pair();
    let big = "0123456789".repeat(30_000);
    client.send_text(&big).unwrap();
    let wire = client.poll_output().to_vec();
    client.consume_output(wire.len());
    let mut got = None;
    for chunk in wire.chunks(READ_CHUNK) {
        server.receive(chunk);
        if let Some(Incoming::Message(Message::Text(text))) = server.poll_message().unwrap() {
            got = Some(text);
        }
    }
    let text = got.expect("the message");
    assert_eq!(text, big);
    // One allocation of the announced size, not grown by doubling.
    assert_eq!(text.capacity(), big.len());
}

#[cfg(feature = "deflate")]
#[test]
fn inflated_text_is_validated_in_every_mode() {
    use crate::ext::deflate::DeflateConfig;
    // Every message compressed, the short ones too.
    let deflate = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
    let options = (
        ConnectOptions { deflate: Some(deflate), ..ConnectOptions::default() },
        AcceptOptions { deflate: Some(deflate), ..AcceptOptions::default() },
    );
    let long_valid = "κόσμε 🦀 ".repeat(2000);
    let mut long_invalid = long_valid.clone().into_bytes();
    long_invalid[9000] = 0xFF;
    let cases: [(&[u8], bool); 4] =
        [(long_valid.as_bytes(), true), (b"ab\xFFcd", false), (b"ok\xCE", false), (&long_invalid, false)];
    for mode in [Mode::Whole, Mode::Lent, Mode::Pieces] {
        for (bytes, ok) in cases {
            let (mut client, mut server) = pair_with(&options.0, &options.1);
            // A compressed binary message made text: the client refuses to
            // send invalid text itself.
            client.send_binary(bytes).unwrap();
            let mut wire = client.poll_output().to_vec();
            assert_eq!(wire[0], 0xC2);
            wire[0] = 0xC1;
            let frames: Vec<Vec<u8>> = wire.chunks(1000).map(<[u8]>::to_vec).collect();
            let result = take_text(&mut server, &frames, mode);
            if ok {
                assert_eq!(result.as_deref(), Ok(long_valid.as_bytes()), "{mode:?}");
            } else {
                assert_eq!(result, Err(ProtocolError::InvalidUtf8), "{mode:?} {}", bytes.len());
                assert!(server.poll_output().starts_with(&failure_close(ProtocolError::InvalidUtf8)), "{mode:?}");
            }
        }
    }
}

/// How `messages_found_by_message_ready_are_taken_in_every_mode` takes the
/// item `message_ready` found.
#[derive(Debug, Clone, Copy)]
enum Take {
    Lent,
    Owned,
    Piece,
    /// Found again with `message_ready`, then lent.
    Ready,
}

/// The item `message_ready` found, taken as `take` says.
fn take_ready(server: &mut Session, take: Take) -> Incoming {
    match take {
        Take::Lent => server.poll_message_ref().unwrap().unwrap().to_incoming(),
        Take::Owned | Take::Ready => server.poll_message().unwrap().unwrap(),
        Take::Piece => match server.poll_piece().unwrap().unwrap() {
            Streamed::Piece(piece) => {
                assert!(piece.fin, "a whole message is one piece");
                Incoming::Message(match piece.kind {
                    MessageKind::Binary => Message::Binary(piece.data.to_vec()),
                    MessageKind::Text => Message::Text(String::from_utf8(piece.data.to_vec()).unwrap()),
                })
            }
            Streamed::Ping(p) => Incoming::Ping(p),
            Streamed::Pong(p) => Incoming::Pong(p),
            Streamed::Close(c) => Incoming::Close(c),
        },
    }
}

/// The reads [`take_each_found`] feeds: `wire` in pieces of `size`
/// bytes; with `early`, the next read arrives while a found item waits.
struct Reads<'a> {
    wire: &'a [u8],
    size: usize,
    early: bool,
}

/// Feeds `reads` to `server`, calling `take` for each item `find`
/// (`message_ready` or `piece_ready`) reports found.
fn take_each_found(
    server: &mut Session,
    reads: Reads<'_>,
    find: fn(&mut Session) -> Result<bool, ProtocolError>,
    mut take: impl FnMut(&mut Session),
) {
    let mut chunks = reads.wire.chunks(reads.size);
    loop {
        if !find(server).unwrap() {
            match chunks.next() {
                Some(read) => server.receive(read),
                None => return,
            }
            continue;
        }
        if reads.early {
            // The next read arrives while the item waits.
            if let Some(read) = chunks.next() {
                server.receive(read);
            }
        }
        take(server);
    }
}

/// What `message_ready` found is the next item whichever call takes it,
/// also when more bytes arrive before it is taken (the read buffer is
/// compacted under a message it holds), in reads of every size.
#[test]
fn messages_found_by_message_ready_are_taken_in_every_mode() {
    let (mut client, _) = pair();
    let big: Vec<u8> = (0..70 * 1024).map(|i| (i % 251) as u8).collect();
    client.send(&Message::text("one")).unwrap();
    // Whole in the first read (of 64 bytes or more), more reads after it.
    client.send_binary(b"early").unwrap();
    client.send_binary(&big).unwrap();
    client.send_binary(&big[..300]).unwrap();
    client.send_text("").unwrap();
    client.send_fragment(MessageKind::Text, "κ".as_bytes(), false).unwrap();
    client.send_ping(b"p").unwrap();
    client.send_fragment(MessageKind::Text, "ό".as_bytes(), true).unwrap();
    client.send_text(&"μ".repeat(200)).unwrap();
    client.send_binary(b"last").unwrap();
    let wire = client.poll_output().to_vec();
    let expected = [
        Incoming::Message(Message::text("one")),
        Incoming::Message(Message::binary(*b"early")),
        Incoming::Message(Message::Binary(big.clone())),
        Incoming::Message(Message::Binary(big[..300].to_vec())),
        Incoming::Message(Message::text("")),
        Incoming::Ping(ControlPayload::new(b"p").unwrap()),
        Incoming::Message(Message::text("κό")),
        Incoming::Message(Message::text("μ".repeat(200))),
        Incoming::Message(Message::binary(*b"last")),
    ];
    for take in [Take::Lent, Take::Owned, Take::Piece] {
        for read_size in [1, 5, 64, 1000, 10_000, wire.len()] {
            for read_early in [false, true] {
                let (_, mut server) = pair();
                let mut got = Vec::new();
                let reads = Reads { wire: &wire, size: read_size, early: read_early };
                take_each_found(&mut server, reads, Session::message_ready, |server| {
                    got.push(take_ready(server, take));
                });
                assert_eq!(got, expected, "{take:?}, reads of {read_size}, early {read_early}");
            }
        }
    }
}

/// A piece that `piece_ready` found in the read buffer is the piece
/// `poll_piece` then hands out, also when the next read arrives between
/// the two calls and the buffer is compacted under it, in reads of every
/// size: pieces of fragmented and unfragmented messages, binary and text,
/// with a ping between fragments.
#[test]
fn pieces_found_by_piece_ready_survive_the_next_read() {
    let (mut client, _) = pair();
    let long: Vec<u8> = (0..3000).map(|i| (i % 251) as u8).collect();
    client.send_binary(b"first").unwrap();
    client.send_fragment(MessageKind::Text, "κό".as_bytes(), false).unwrap();
    client.send_ping(b"p").unwrap();
    client.send_fragment(MessageKind::Text, "σμε".as_bytes(), true).unwrap();
    client.send_binary(&long).unwrap();
    client.send_text("last").unwrap();
    let wire = client.poll_output().to_vec();
    // Each message's bytes, put together from its pieces; pings by name.
    let collect = |read_size: usize, read_early: bool| {
        let (_, mut server) = pair();
        let mut items: Vec<(Option<MessageKind>, Vec<u8>)> = Vec::new();
        let mut open = false;
        let reads = Reads { wire: &wire, size: read_size, early: read_early };
        take_each_found(&mut server, reads, Session::piece_ready, |server| match server.poll_piece().unwrap() {
            Some(Streamed::Piece(piece)) => {
                if !open {
                    items.push((Some(piece.kind), Vec::new()));
                }
                items.last_mut().unwrap().1.extend_from_slice(piece.data);
                open = !piece.fin;
            }
            Some(Streamed::Ping(p)) => items.insert(items.len() - usize::from(open), (None, p.to_vec())),
            other => panic!("unexpected {other:?}"),
        });
        items
    };
    let expected = vec![
        (Some(MessageKind::Binary), b"first".to_vec()),
        (None, b"p".to_vec()),
        (Some(MessageKind::Text), "κόσμε".as_bytes().to_vec()),
        (Some(MessageKind::Binary), long.clone()),
        (Some(MessageKind::Text), b"last".to_vec()),
    ];
    for read_size in [1, 2, 7, 64, 1000, wire.len()] {
        for read_early in [false, true] {
            assert_eq!(collect(read_size, read_early), expected, "reads of {read_size}, early {read_early}");
        }
    }
}

/// A ping that `piece_ready` found inside a message streamed in pieces,
/// then lent by `poll_message_ref`, is the ping; the lending calls after
/// it skip the rest of the streamed message and lend the next one, as
/// they do when no piece call found the ping first. Found between
/// messages, it is lent and the next message after it.
#[test]
fn a_ping_found_by_piece_ready_is_lent_and_the_streamed_message_skipped() {
    for found_by_piece_ready in [false, true] {
        let (mut client, mut server) = pair();
        client.send_fragment(MessageKind::Text, b"ab", false).unwrap();
        client.send_ping(b"p").unwrap();
        client.send_fragment(MessageKind::Text, b"cd", true).unwrap();
        client.send_binary(b"next").unwrap();
        server.receive(client.poll_output());
        match server.poll_piece().unwrap() {
            Some(Streamed::Piece(piece)) => assert_eq!((piece.data, piece.fin), (&b"ab"[..], false)),
            other => panic!("expected the first piece, got {other:?}"),
        }
        if found_by_piece_ready {
            assert_eq!(server.piece_ready(), Ok(true));
        }
        let ping = ControlPayload::new(b"p").unwrap();
        assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Ping(ping))), "{found_by_piece_ready}");
        assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Binary(b"next"))), "{found_by_piece_ready}");
        assert_eq!(server.poll_message_ref(), Ok(None));
    }
    // Found by `piece_ready` between messages: the lending call takes it.
    let (mut client, mut server) = pair();
    client.send_ping(b"p").unwrap();
    client.send_text("next").unwrap();
    server.receive(client.poll_output());
    assert_eq!(server.piece_ready(), Ok(true));
    assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Ping(ControlPayload::new(b"p").unwrap()))));
    assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Text("next"))));
    assert_eq!(server.poll_message_ref(), Ok(None));
}

#[test]
fn lent_messages_match_owned_ones() {
    let (mut client, mut server) = pair();
    let big: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    client.send(&Message::text("one")).unwrap();
    client.send_binary(&big).unwrap();
    client.send_text("").unwrap();
    client.send_fragment(MessageKind::Text, "κ".as_bytes(), false).unwrap();
    client.send_ping(b"p").unwrap();
    client.send_fragment(MessageKind::Text, "ό".as_bytes(), true).unwrap();
    client.send_binary(b"last").unwrap();
    let wire = client.poll_output().to_vec();
    let mut got = Vec::new();
    for read in wire.chunks(10_000) {
        server.receive(read);
        while let Some(item) = server.poll_message_ref().unwrap() {
            got.push(item.to_incoming());
        }
    }
    let expected = [
        Incoming::Message(Message::text("one")),
        Incoming::Message(Message::Binary(big)),
        Incoming::Message(Message::text("")),
        Incoming::Ping(ControlPayload::new(b"p").unwrap()),
        Incoming::Message(Message::text("κό")),
        Incoming::Message(Message::binary(*b"last")),
    ];
    assert_eq!(got, expected);
}

/// Lent single-frame messages skip the connection's general path: short
/// masked text is unmasked into the text buffer kept from the message lent
/// before and validated there, binary and longer text are unmasked where
/// they lie. With a real key, at every length around the turns (the copy's
/// limit, a 16-bit length), in one read and one frame per read, lent
/// directly or after `message_ready`, mixed with owned messages (which
/// then find the text buffer allocated), each message comes out as sent;
/// invalid short text fails with 1007.
#[test]
fn single_frame_messages_lent_off_the_general_path() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frames = Vec::new();
    let mut expected = Vec::new();
    for (i, len) in [0, 1, 5, 15, 16, 17, 31, 32, 63, 64, 65, 100, 125, 126, 300, 5_000].into_iter().enumerate() {
        // `len` bytes, two-byte characters but for the last byte.
        let text = "κ".repeat(len / 2) + if len % 2 == 1 { "a" } else { "" };
        let binary: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
        frames.push(masked_client_frame(0x81, text.as_bytes(), key));
        expected.push(Incoming::Message(Message::Text(text)));
        frames.push(masked_client_frame(0x82, &binary, key));
        expected.push(Incoming::Message(Message::Binary(binary)));
    }
    let wire: Vec<u8> = frames.concat();
    for ready in [false, true] {
        for owned_every in [0, 3] {
            for one_per_read in [false, true] {
                let (_, mut server) = pair();
                let mut got = Vec::new();
                let reads: Vec<&[u8]> =
                    if one_per_read { frames.iter().map(|f| &f[..]).collect() } else { vec![&wire] };
                for read in reads {
                    server.receive(read);
                    loop {
                        let owned = owned_every != 0 && got.len() % owned_every == owned_every - 1;
                        if ready && !server.message_ready().unwrap() {
                            break;
                        }
                        let item = if owned {
                            server.poll_message().unwrap()
                        } else {
                            server.poll_message_ref().unwrap().map(|item| item.to_incoming())
                        };
                        match item {
                            Some(item) => got.push(item),
                            None => break,
                        }
                    }
                }
                assert_eq!(got, expected, "ready {ready}, owned every {owned_every}, one per read {one_per_read}");
            }
        }
    }
    // A client's messages come unmasked: those of a 16-bit length take
    // the same path, with nothing to unmask.
    let (mut client, mut server) = pair();
    let text = "κ".repeat(150);
    server.send_text(&text).unwrap();
    server.send_binary(&[9; 300]).unwrap();
    server.send_text("short").unwrap();
    pipe(&mut server, &mut client);
    assert_eq!(client.poll_message_ref(), Ok(Some(IncomingRef::Text(&text))));
    assert_eq!(client.poll_message_ref(), Ok(Some(IncomingRef::Binary(&[9; 300]))));
    assert_eq!(client.poll_message_ref(), Ok(Some(IncomingRef::Text("short"))));
    assert_eq!(client.poll_message_ref(), Ok(None));
    for ready in [false, true] {
        let (_, mut server) = pair();
        server.receive(&masked_client_frame(0x81, b"fine", key));
        server.receive(&masked_client_frame(0x81, b"bad \xFF byte", key));
        assert_eq!(
            server.poll_message_ref().unwrap().map(|item| item.to_incoming()),
            Some(Incoming::Message(Message::text("fine")))
        );
        let result = if ready { server.message_ready().map(drop) } else { server.poll_message_ref().map(drop) };
        assert_eq!(result, Err(ProtocolError::InvalidUtf8), "ready {ready}");
        assert!(server.poll_output().starts_with(&failure_close(ProtocolError::InvalidUtf8)));
        assert_eq!(server.poll_message_ref(), Ok(None));
    }
}

/// Binary messages read whole go straight from `receive` into the assembly
/// buffer while a frame's payload lasts: whatever the read sizes, frames,
/// interleaved pings and changes of mode, every mode sees the same bytes.
#[test]
fn binary_payload_received_into_the_message_matches_every_mode() {
    let (mut client, _) = pair();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
    let other: Vec<u8> = (0..70_000u32).map(|i| (i / 3) as u8).collect();
    client.send_fragment(MessageKind::Binary, &big[..40_000], false).unwrap();
    client.send_ping(b"in between").unwrap();
    client.send_fragment(MessageKind::Binary, &big[40_000..90_000], false).unwrap();
    client.send_fragment(MessageKind::Binary, &big[90_000..], true).unwrap();
    client.send_text("small").unwrap();
    client.send_binary(&other).unwrap();
    let wire = client.poll_output().to_vec();
    let expected = [
        Incoming::Ping(ControlPayload::new(b"in between").unwrap()),
        Incoming::Message(Message::Binary(big.clone())),
        Incoming::Message(Message::text("small")),
        Incoming::Message(Message::Binary(other.clone())),
    ];
    for read in [1, 7, 1000, 4096, 65_536, 100_000, wire.len()] {
        // 0: whole, 1: lent, 2: whole then pieces from the third read on.
        for mode in 0..3 {
            let (_, mut server) = pair();
            let mut got = Vec::new();
            let mut pieces: Vec<u8> = Vec::new();
            for (i, chunk) in wire.chunks(read).enumerate() {
                server.receive(chunk);
                if mode == 2 && i >= 2 {
                    while let Some(item) = server.poll_piece().unwrap() {
                        match item {
                            Streamed::Piece(piece) => {
                                pieces.extend_from_slice(piece.data);
                                if piece.fin {
                                    let bytes = core::mem::take(&mut pieces);
                                    got.push(Incoming::Message(match piece.kind {
                                        MessageKind::Binary => Message::Binary(bytes),
                                        MessageKind::Text => Message::Text(String::from_utf8(bytes).unwrap()),
                                    }));
                                }
                            }
                            Streamed::Ping(p) => got.push(Incoming::Ping(p)),
                            other => panic!("{other:?}"),
                        }
                    }
                } else if mode == 1 {
                    while let Some(item) = server.poll_message_ref().unwrap() {
                        got.push(item.to_incoming());
                    }
                } else {
                    while let Some(item) = server.poll_message().unwrap() {
                        got.push(item);
                    }
                }
            }
            assert_eq!(got, expected, "reads of {read}, mode {mode}");
            assert_eq!(server.poll_output()[..2], [0x8A, 10], "the pong, reads of {read}");
            // unmasked pong
        }
    }
}

#[test]
fn the_rest_of_a_large_binary_frame_bypasses_the_read_buffer_in_whole_mode() {
    let (mut client, mut server) = pair();
    let big = vec![5u8; 200_000];
    client.send_binary(&big).unwrap();
    let wire = client.poll_output().to_vec();
    server.receive(&wire[..50_000]);
    assert_eq!(server.poll_message(), Ok(None)); // whole mode: the first piece is assembled
                                                 // Not appended to the read buffer: straight into the message.
    server.receive(&wire[50_000..120_000]);
    assert_eq!((server.rx_start, server.rx_end, server.whole.binary.len()), (50_000, 50_000, 120_000 - 14));
    server.receive(&wire[120_000..]);
    assert_eq!(server.rx_end, 50_000);
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::Binary(big)))));
}

/// In whole mode, a binary frame whose header starts a read and whose
/// payload goes on past it is not copied through the read buffer: the
/// header goes to the connection and the payload into the message, for
/// the first frame and for a continuation alike.
#[test]
fn a_binary_frame_starting_a_read_goes_straight_into_the_message() {
    let (mut client, mut server) = pair();
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    client.send_fragment(MessageKind::Binary, &data[..30_000], false).unwrap();
    client.send_fragment(MessageKind::Binary, &data[30_000..], true).unwrap();
    let wire = client.poll_output().to_vec();
    let second = 8 + 30_000; // a 16-bit length and a mask key: 8-byte headers
    assert_eq!(server.poll_message(), Ok(None)); // whole mode, as an adapter's recv asks
    server.receive(&wire[..1_000]);
    assert_eq!((server.rx_end, server.whole.binary.len()), (0, 992));
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire[1_000..second]);
    server.receive(&wire[second..second + 500]);
    assert_eq!((server.rx_end, server.whole.binary.len()), (0, 30_492));
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire[second + 500..]);
    assert_eq!(server.rx_end, 0);
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::Binary(data)))));
    assert_eq!(server.poll_message(), Ok(None));
}

/// A whole message in one short masked frame (binary under 128 bytes,
/// text under `TEXT_COPY_FIRST`), taken owned, is unmasked as it is copied
/// out of the read buffer, which keeps the frame as it arrived; longer
/// short text is unmasked where it lies. Every length, owned or received
/// into a recycled buffer, comes out whole, and invalid short text is
/// refused with 1007.
#[test]
fn short_masked_frames_are_unmasked_as_they_are_copied_out() {
    let key = [0x37, 0xFA, 0x21, 0x3D];
    let copied_out = |b0: u8, len: usize| b0 == 0x82 || len < crate::message::TEXT_COPY_FIRST;
    for recycle in [false, true] {
        let (_, mut server) = pair();
        for len in 0..126 {
            for b0 in [0x81, 0x82] {
                let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                let frame = masked_client_frame(b0, &payload, key);
                server.receive(&frame);
                let Ok(Some(Incoming::Message(message))) = server.poll_message() else { panic!("{b0:x} {len}") };
                assert_eq!(message.as_bytes(), payload, "{b0:x} {len}");
                assert_eq!(message.kind(), if b0 == 0x81 { MessageKind::Text } else { MessageKind::Binary });
                let in_buffer = &server.rx[6..6 + len];
                let expected = if copied_out(b0, len) { &frame[6..] } else { &payload[..] };
                assert_eq!(in_buffer, expected, "{b0:x} {len}: the read buffer");
                if recycle {
                    server.recycle(message);
                }
                assert_eq!(server.poll_message(), Ok(None));
            }
        }
    }
    for len in [1, 7, 8, 16, 40, crate::message::TEXT_COPY_FIRST - 1] {
        let mut payload = vec![b'x'; len];
        payload[len - 1] = 0xFF;
        let (_, mut server) = pair();
        server.receive(&masked_client_frame(0x81, &payload, key));
        assert_eq!(server.poll_message(), Err(ProtocolError::InvalidUtf8), "{len}");
        assert!(server.poll_output().starts_with(&failure_close(ProtocolError::InvalidUtf8)));
    }
}

/// A frame that ends in the read it starts stays in the read buffer (a
/// lent message is then not copied at all), and so does everything in
/// streaming mode.
#[test]
fn frames_ending_in_their_read_and_streamed_frames_use_the_read_buffer() {
    let (mut client, mut server) = pair();
    client.send_binary(&[3; 1_000]).unwrap();
    let wire = client.poll_output().to_vec();
    assert_eq!(server.poll_message_ref().unwrap(), None);
    server.receive(&wire);
    assert_eq!(server.rx_end, wire.len());
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Binary(&[3; 1_000])));

    let (mut client, mut server) = pair();
    client.send_binary(&[4; 5_000]).unwrap();
    let wire = client.poll_output().to_vec();
    assert!(server.poll_piece().unwrap().is_none());
    server.receive(&wire[..100]);
    assert_eq!((server.rx_end, server.whole.binary.len()), (100, 0));
}

/// A header refused at the start of a read in whole mode (here over the
/// size limit) fails the session at the next poll, with its Close queued,
/// and nothing of the read is kept.
#[test]
fn a_refused_header_at_the_start_of_a_read_fails_at_the_next_poll() {
    let config = Config { max_message_size: 1_000, ..Config::default() };
    let (mut client, mut server) = pair_with(
        &ConnectOptions { config: Config::default(), ..ConnectOptions::default() },
        &AcceptOptions { config, ..AcceptOptions::default() },
    );
    client.send_binary(&[1; 5_000]).unwrap();
    let wire = client.poll_output().to_vec();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire[..2_000]);
    assert_eq!(server.rx_end, 0);
    assert_eq!(server.poll_message(), Err(ProtocolError::MessageTooLarge));
    assert!(server.poll_output().starts_with(&failure_close(ProtocolError::MessageTooLarge))); // Close 1009
    server.receive(&wire[2_000..]);
    assert_eq!(server.poll_message(), Ok(None));
}

/// A read that finishes one large binary message and starts the next: the
/// finished one waits aside while the next one's payload goes into the
/// assembly buffer, in every mode, and messages keep their order even when
/// reads come faster than the items are taken.
#[test]
fn a_read_finishing_one_message_and_starting_the_next_copies_neither_twice() {
    let (mut client, _) = pair();
    let one: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
    let two: Vec<u8> = (0..90_000u32).map(|i| (i % 241) as u8).collect();
    client.send_binary(&one).unwrap();
    client.send_binary(&two).unwrap();
    client.send_binary(&one).unwrap();
    let wire = client.poll_output().to_vec();
    let (a, b) = (14 + 70_000, 14 + 70_000 + 14 + 90_000);
    let expected = [one.clone(), two.clone(), one.clone()];
    for mode in [Mode::Whole, Mode::Lent, Mode::Pieces] {
        let (_, mut server) = pair();
        let mut got: Vec<Vec<u8>> = Vec::new();
        let take = |server: &mut Session, got: &mut Vec<Vec<u8>>| match mode {
            Mode::Lent => {
                while let Some(item) = server.poll_message_ref().unwrap() {
                    match item {
                        IncomingRef::Binary(data) => got.push(data.to_vec()),
                        other => panic!("{other:?}"),
                    }
                }
            }
            _ => {
                while let Some(item) = server.poll_message().unwrap() {
                    match item {
                        Incoming::Message(Message::Binary(data)) => got.push(data),
                        other => panic!("{other:?}"),
                    }
                }
            }
        };
        if matches!(mode, Mode::Pieces) {
            // Streaming uses the read buffer throughout; only the order and
            // bytes matter here.
            let mut joined = Vec::new();
            for read in wire.chunks(50_000) {
                server.receive(read);
                while let Some(item) = server.poll_piece().unwrap() {
                    if let Streamed::Piece(piece) = item {
                        joined.extend_from_slice(piece.data);
                    }
                }
            }
            assert_eq!(joined, [one.clone(), two.clone(), one.clone()].concat());
            continue;
        }
        take(&mut server, &mut got);
        server.receive(&wire[..60_000]);
        take(&mut server, &mut got);
        // The end of the first message and the start of the second.
        server.receive(&wire[60_000..a + 1_000]);
        assert_eq!(server.rx_end, 0, "{mode:?}: nothing through the read buffer");
        // Read again before taking the first: the second's end waits in the
        // read buffer, behind the first.
        server.receive(&wire[a + 1_000..b + 100]);
        take(&mut server, &mut got);
        server.receive(&wire[b + 100..]);
        take(&mut server, &mut got);
        assert_eq!(got, expected, "{mode:?}");
    }
}

/// Owned whole messages: a large frame that arrives whole in one read is
/// copied once, from the read into its message; a lent one stays in the
/// read buffer; a second one in the same read, while the first waits,
/// goes straight into its own message too. Every mode sees the same
/// messages.
#[test]
fn a_large_frame_ending_in_its_read_goes_into_its_owned_message() {
    let (mut client, _) = pair();
    let a: Vec<u8> = (0..16_384u32).map(|i| (i % 249) as u8).collect();
    let b: Vec<u8> = (0..20_000u32).map(|i| (i % 239) as u8).collect();
    client.send_binary(&a).unwrap();
    client.send_binary(&b).unwrap();
    client.send_binary(b"small").unwrap();
    let wire = client.poll_output().to_vec();
    let first = 8 + a.len();

    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire[..first]);
    assert_eq!(server.rx_end, 0, "straight into the message");
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::Binary(a.clone())))));
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire[first..]);
    assert_eq!(server.rx_end, wire.len() - first - (8 + b.len()), "b direct, the small one buffered");
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::Binary(b.clone())))));
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::binary(*b"small")))));

    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire);
    assert_eq!(server.rx_end, 2 + 4 + 5, "both large ones direct, the small one buffered behind them");
    assert_eq!(messages(&mut server).len(), 3);

    let (_, mut server) = pair();
    assert_eq!(server.poll_message_ref().unwrap(), None);
    server.receive(&wire);
    assert_eq!(server.rx_end, wire.len(), "lent from the read buffer");
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Binary(&a)));
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Binary(&b)));
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Binary(b"small")));
}

/// Reads made into the session's own buffer (`read_buf`, `filled`) take
/// the same direct path as bytes handed to `receive`: a large frame is
/// unmasked on its way into its message, and whatever follows it stays
/// buffered; lent messages stay where they were read.
#[test]
fn a_large_frame_read_into_the_read_buffer_goes_into_its_owned_message() {
    fn read(server: &mut Session, bytes: &[u8]) {
        server.read_buf()[..bytes.len()].copy_from_slice(bytes);
        server.filled(bytes.len());
    }
    let (mut client, _) = pair();
    let a: Vec<u8> = (0..16_384u32).map(|i| (i % 249) as u8).collect();
    let b: Vec<u8> = (0..20_000u32).map(|i| (i % 239) as u8).collect();
    client.send_binary(&a).unwrap();
    client.send_text(core::str::from_utf8(&[b'x'; 5_000]).unwrap()).unwrap();
    client.send_binary(&b).unwrap();
    client.send_binary(b"small").unwrap();
    let wire = client.poll_output().to_vec();
    let first = 8 + a.len();
    let second = first + 8 + 5_000;

    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    read(&mut server, &wire[..first]);
    assert_eq!(server.rx_start, server.rx_end, "straight into the message");
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::Binary(a.clone())))));
    assert_eq!(server.poll_message(), Ok(None));
    read(&mut server, &wire[first..second + 100]);
    assert_eq!(server.rx_start, server.rx_end, "the text direct, then b's start");
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::text("x".repeat(5_000))))));
    assert_eq!(server.poll_message(), Ok(None));
    read(&mut server, &wire[second + 100..]);
    assert_eq!(server.rx_end - server.rx_start, 2 + 4 + 5, "the rest of b direct, the small one buffered");
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::Binary(b.clone())))));
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::binary(*b"small")))));
    assert_eq!(server.poll_message(), Ok(None));

    let (_, mut server) = pair();
    assert_eq!(server.poll_message_ref().unwrap(), None);
    read(&mut server, &wire[..first]);
    assert_eq!(server.rx_end - server.rx_start, first, "lent from the read buffer");
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Binary(&a)));
}

/// Large messages of `len` bytes each, `count` of them, alternating binary
/// and text, each with its own content; and the client's frames for them.
fn large_messages(count: usize, len: usize) -> (Vec<Message>, Vec<u8>) {
    let (mut client, _) = pair();
    let messages: Vec<Message> = (0..count)
        .map(|i| {
            if i % 2 == 0 {
                Message::Binary((0..len).map(|j| (j * 7 + i) as u8).collect())
            } else {
                Message::Text((0..len).map(|j| char::from(b'a' + ((j + i) % 26) as u8)).collect())
            }
        })
        .collect();
    for message in &messages {
        client.send(message).unwrap();
    }
    (messages, client.poll_output().to_vec())
}

/// Several large messages in one read each go straight into their own
/// buffer, not only the first: they wait in order behind it, and come out
/// in order, before what the read buffer holds, whichever way they are
/// taken (owned, lent, or in pieces once the first was taken whole).
#[test]
fn every_large_message_of_a_read_goes_into_its_own_buffer() {
    let (expected, wire) = large_messages(6, 5_000);
    let (mut client, _) = pair();
    client.send_ping(b"between").unwrap();
    client.send_text("after").unwrap();
    let wire = [wire, client.poll_output().to_vec()].concat();

    // Owned: all six direct; the ping stops the direct path, and what
    // follows it waits in the read buffer behind them.
    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire);
    assert_eq!(server.rx_end, (2 + 4 + 7) + (2 + 4 + 5), "six messages direct, the ping and the rest buffered");
    let mut got = messages(&mut server);
    assert_eq!(got.pop(), Some(Incoming::Message(Message::text("after"))));
    assert!(matches!(got.pop(), Some(Incoming::Ping(p)) if p.as_bytes() == b"between"));
    let owned: Vec<Message> =
        got.into_iter().map(|item| if let Incoming::Message(m) = item { m } else { panic!("{item:?}") }).collect();
    assert_eq!(owned, expected);

    // Lent: the same messages, in the same order.
    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire);
    for message in &expected {
        match (server.poll_message_ref().unwrap(), message) {
            (Some(IncomingRef::Binary(data)), Message::Binary(want)) => assert_eq!(data, &want[..]),
            (Some(IncomingRef::Text(text)), Message::Text(want)) => assert_eq!(text, want),
            (other, _) => panic!("{other:?}"),
        }
    }
    assert!(matches!(server.poll_message_ref().unwrap(), Some(IncomingRef::Ping(_))));
    assert_eq!(server.poll_message_ref().unwrap(), Some(IncomingRef::Text("after")));

    // The first taken whole, the rest in pieces: each queued message is one
    // last piece, in order.
    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire);
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(expected[0].clone()))));
    for message in &expected[1..] {
        match server.poll_piece().unwrap() {
            Some(Streamed::Piece(piece)) => {
                assert!(piece.fin);
                assert_eq!(piece.data, message.as_bytes());
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(server.poll_piece().unwrap(), Some(Streamed::Ping(_))));

    // Reads into the session's own buffer (`read_buf`, `filled`): the
    // same, the read buffer keeping only the ping and what follows it.
    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    let n = wire.len();
    assert!(n <= READ_CHUNK);
    server.read_buf()[..n].copy_from_slice(&wire);
    server.filled(n);
    assert_eq!(server.rx_end - server.rx_start, (2 + 4 + 7) + (2 + 4 + 5));
    let got = messages(&mut server);
    assert_eq!(got.len(), expected.len() + 2);
    for (item, message) in got.iter().zip(&expected) {
        assert_eq!(item, &Incoming::Message(message.clone()));
    }

    // A read that comes after one message of the queue was taken, while
    // the others wait: its messages go direct too, behind them.
    let frame = 4 + 4 + 5_000;
    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&wire[..3 * frame]);
    assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(expected[0].clone()))));
    server.receive(&wire[3 * frame..]);
    assert_eq!(server.rx_end, (2 + 4 + 7) + (2 + 4 + 5));
    let got = messages(&mut server);
    assert_eq!(got.len(), 7);
    for (item, message) in got.iter().zip(&expected[1..]) {
        assert_eq!(item, &Incoming::Message(message.clone()));
    }
}

/// Messages finished while others wait are bounded by `QUEUED_MAX`: the
/// rest of the read goes through the read buffer, and a read made before
/// the queue is empty adds behind it. Nothing is lost or reordered, and
/// the queued buffers are counted in `buffer_capacity`.
#[test]
fn the_queue_of_finished_messages_is_bounded_and_keeps_the_order() {
    let count = QUEUED_MAX + 5;
    let len = DIRECT_MIN as usize + 100;
    let (expected, wire) = large_messages(count + 4, len);
    let frame = 4 + 4 + len; // 16-bit length, masked
    let (first, second) = wire.split_at(count * frame);

    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(first);
    assert_eq!(server.queued.len(), QUEUED_MAX, "one in `done`, the queue full");
    assert_eq!(server.rx_end, (count - QUEUED_MAX - 1) * frame, "the rest through the read buffer");
    assert!(server.buffer_capacity() >= (QUEUED_MAX + 1) * len);
    let mut got = Vec::new();
    for _ in 0..3 {
        match server.poll_message() {
            Ok(Some(Incoming::Message(m))) => got.push(m),
            other => panic!("{other:?}"),
        }
    }
    // Read again before the queue is empty: the new bytes wait behind.
    server.receive(second);
    while let Some(item) = server.poll_message().unwrap() {
        match item {
            Incoming::Message(m) => got.push(m),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, expected);
    assert!(server.queued.is_empty());
    server.shrink_buffers();
    assert_eq!(server.buffer_capacity(), 0, "the queue is freed with the other buffers");
}

/// Feeds `wire` to a fresh server in reads of `read` bytes, polling whole
/// messages (owned, or lent) after each; the text messages' bytes, or the
/// error.
fn take_text_reads(wire: &[u8], read: usize, lent: bool) -> Result<Vec<u8>, ProtocolError> {
    let (_, mut server) = pair();
    let mut got = Vec::new();
    let mut take = |server: &mut Session| -> Result<(), ProtocolError> {
        if lent {
            while let Some(item) = server.poll_message_ref()? {
                match item {
                    IncomingRef::Text(text) => got.extend_from_slice(text.as_bytes()),
                    other => panic!("{other:?}"),
                }
            }
        } else {
            while let Some(item) = server.poll_message()? {
                match item {
                    Incoming::Message(Message::Text(text)) => got.extend_from_slice(text.as_bytes()),
                    other => panic!("{other:?}"),
                }
            }
        }
        Ok(())
    };
    let result = (|| {
        take(&mut server)?;
        for chunk in wire.chunks(read) {
            server.receive(chunk);
            take(&mut server)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(got),
        Err(e) => {
            // The Close with 1007 is queued and nothing follows.
            assert!(server.poll_output().starts_with(&failure_close(ProtocolError::InvalidUtf8)));
            assert_eq!(server.poll_message(), Ok(None));
            Err(e)
        }
    }
}

/// Text received straight into its message (large frames, whole mode) is
/// unmasked a block at a time and validated into the `String`: masked
/// bytes cut anywhere, and characters split across reads, blocks and
/// frames, come out whole, and an invalid byte anywhere fails with 1007
/// at the next poll. Unmasked text, as a client receives it, takes the
/// same path without a key.
#[test]
fn text_received_straight_into_the_message_is_validated_across_reads_and_blocks() {
    let text = "aκό🦀σμε€".repeat(700); // 18 bytes a round: 12 600 bytes
    let bytes = text.as_bytes();
    // One frame; then the same text in two frames cut inside a character
    // (byte 5 006 is the second of a κ), and a second message.
    // Masked, so that a block or read cut at any byte must pick up the
    // key at its phase.
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let one = masked_client_frame(0x81, bytes, key);
    let mut two = masked_client_frame(0x01, &bytes[..5_006], key);
    two.extend(masked_client_frame(0x80, &bytes[5_006..], key));
    two.extend(masked_client_frame(0x81, bytes, key));
    for lent in [false, true] {
        for read in [1, 3, 1_000, 4_095, 4_097, 5_000, 9_000, 20_000, 40_000] {
            assert_eq!(take_text_reads(&one, read, lent).as_deref(), Ok(bytes), "one frame, reads of {read}");
            let both = [bytes, bytes].concat();
            assert_eq!(take_text_reads(&two, read, lent), Ok(both), "fragmented, reads of {read}");
        }
    }
    // Not through the read buffer: straight into the message's `String`,
    // an unfinished character held back.
    let (_, mut server) = pair();
    assert_eq!(server.poll_message(), Ok(None));
    server.receive(&one[..8 + 5_006]);
    assert_eq!((server.rx_end, server.whole.text.len()), (0, 5_005));
    // Unmasked, as a client receives it: the same path without a key.
    let unmasked_pair = || {
        let (mut client, mut server) = pair();
        assert_eq!(client.poll_message(), Ok(None));
        server.send_text(&text).unwrap();
        (client, server.poll_output().to_vec())
    };
    for read in [1_000, 4_097, 9_000] {
        let (mut client, wire) = unmasked_pair();
        let mut got = String::new();
        for chunk in wire.chunks(read) {
            client.receive(chunk);
            for item in messages(&mut client) {
                match item {
                    Incoming::Message(Message::Text(t)) => got.push_str(&t),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(got, text, "unmasked, reads of {read}");
    }
    let (mut client, wire) = unmasked_pair();
    client.receive(&wire[..5_010]);
    assert_eq!((client.rx_end, client.whole.text.len()), (0, 5_005), "straight into the message");
    for at in [0, 1, 4_095, 4_096, 4_097, 8_200, 12_599] {
        let mut bad = bytes.to_vec();
        bad[at] = 0xFF;
        let wire = masked_client_frame(0x81, &bad, key);
        for read in [1_000, 4_096, 5_003, 20_000] {
            for lent in [false, true] {
                assert_eq!(
                    take_text_reads(&wire, read, lent),
                    Err(ProtocolError::InvalidUtf8),
                    "0xFF at {at}, reads of {read}"
                );
            }
        }
    }
}

/// A small deterministic generator for the property test below.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// Random traffic (text and binary messages from empty to 300 KiB, some
/// in fragments, pings between fragments) cut into random reads, taken in
/// random modes switched between reads: owned and lent whole messages see
/// exactly the messages sent, and pieces their bytes, whichever way the
/// payload travelled (read buffer, straight into the message, waiting
/// aside in `done`).
#[test]
fn random_traffic_and_reads_give_the_same_messages_in_every_mode() {
    let mut rng = Lcg(0x5eed);
    for round in 0..40 {
        let (mut client, _) = pair();
        let mut sent: Vec<Incoming> = Vec::new();
        for _ in 0..12 {
            let len = match rng.below(4) {
                0 => rng.below(130),
                1 => rng.below(5_000),
                2 => 4_000 + rng.below(70_000),
                _ => 200_000 + rng.below(120_000),
            };
            let text = rng.below(2) == 0;
            // Text of 1- to 4-byte characters, so cuts fall inside them.
            let data: Vec<u8> = if text {
                let chars = ['a', 'κ', '€', '🦀'];
                let mut t = String::new();
                let mut k = rng.below(4);
                while t.len() + 4 <= len {
                    t.push(chars[k % 4]);
                    k += 1;
                }
                t.into_bytes()
            } else {
                (0..len).map(|i| (i as u64 * 131 + round) as u8).collect()
            };
            let kind = if text { MessageKind::Text } else { MessageKind::Binary };
            let pieces = 1 + rng.below(3);
            let mut start = 0;
            for i in 0..pieces {
                let end = if i + 1 == pieces { data.len() } else { start + rng.below((data.len() - start) as u64 + 1) };
                client.send_fragment(kind, &data[start..end], i + 1 == pieces).unwrap();
                if i + 1 < pieces && rng.below(2) == 0 {
                    client.send_ping(b"between").unwrap();
                    sent.push(Incoming::Ping(ControlPayload::new(b"between").unwrap()));
                }
                start = end;
            }
            sent.push(Incoming::Message(match kind {
                MessageKind::Text => Message::Text(String::from_utf8(data).unwrap()),
                MessageKind::Binary => Message::Binary(data),
            }));
        }
        let wire = client.poll_output().to_vec();
        let (_, mut server) = pair();
        let mut got: Vec<Incoming> = Vec::new();
        let mut streamed: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut last_round = false;
        while pos < wire.len() || !last_round {
            if pos == wire.len() {
                last_round = true; // take what the last reads left
            }
            let read = match rng.below(4) {
                0 => 1 + rng.below(20),
                1 => 1 + rng.below(5_000),
                2 => 60_000 + rng.below(10_000),
                _ => 1 + rng.below(400_000),
            };
            let end = (pos + read).min(wire.len());
            server.receive(&wire[pos..end]);
            pos = end;
            // Sometimes read again before taking anything.
            if !last_round && rng.below(4) == 0 {
                continue;
            }
            // Whole messages may continue in pieces, but not the other way
            // round (whole mode skips the rest of a streamed message).
            let mode = if server.streaming { 2 } else { rng.below(3) };
            loop {
                match mode {
                    0 => match server.poll_message().unwrap() {
                        Some(item) => got.push(item),
                        None => break,
                    },
                    1 => match server.poll_message_ref().unwrap() {
                        Some(item) => got.push(item.to_incoming()),
                        None => break,
                    },
                    _ => match server.poll_piece().unwrap() {
                        Some(Streamed::Piece(piece)) => {
                            streamed.extend_from_slice(piece.data);
                            if piece.fin {
                                let bytes = core::mem::take(&mut streamed);
                                got.push(Incoming::Message(match piece.kind {
                                    MessageKind::Binary => Message::Binary(bytes),
                                    MessageKind::Text => Message::Text(String::from_utf8(bytes).unwrap()),
                                }));
                            }
                        }
                        Some(Streamed::Ping(p)) => got.push(Incoming::Ping(p)),
                        Some(other) => panic!("{other:?}"),
                        None => break,
                    },
                }
            }
        }
        assert_eq!(got.len(), sent.len(), "round {round}");
        for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
            assert!(g == s, "round {round}, item {i}");
        }
    }
}

/// The direct path's shortcut for small frames agrees with the full
/// header decode: it claims a frame is small and whole only when it is,
/// at every length form, masked or not, however much of it was read.
#[test]
fn the_small_frame_shortcut_agrees_with_the_header() {
    let mut checked = 0;
    for payload_len in [0u64, 1, 125, 126, 127, 1_000, DIRECT_MIN - 1, DIRECT_MIN, 65_535, 65_536, 1 << 20] {
        for mask in [None, Some([1, 2, 3, 4])] {
            let header = FrameHeader {
                fin: true,
                rsv1: false,
                rsv2: false,
                rsv3: false,
                opcode: OpCode::Binary,
                mask,
                payload_len,
            };
            let mut wire = Vec::new();
            let head = header.encode(&mut wire).unwrap();
            let whole = head + payload_len as usize;
            wire.resize(whole + 3, 0x55);
            for read in [0, 1, 2, 3, 4, head - 1, head, whole - 1, whole, whole + 3] {
                let bytes = &wire[..read.min(wire.len())];
                let truth = matches!(FrameHeader::decode(bytes), Ok(HeaderStatus::Complete { header, len })
                    if header.payload_len < DIRECT_MIN && len as u64 + header.payload_len <= bytes.len() as u64);
                assert_eq!(is_small_and_whole(bytes), truth, "{payload_len} bytes, {mask:?}, {read} read");
                checked += usize::from(truth);
            }
        }
    }
    assert!(checked > 20, "the shortcut must apply to small whole frames ({checked})");
}

/// Each message received into a buffer given back holds its own bytes
/// and no more, whether the buffer's last message was longer, shorter or
/// as long, binary or text; invalid text received into a kept buffer
/// still fails with 1007.
#[test]
fn a_recycled_buffer_holds_exactly_the_next_message() {
    let (_, mut server) = pair();
    let lens = [40usize, 16, 3, 0, 5, 64, 31, 33, 120, 7, 127, 17, 16, 16, 100, 1, 8, 9, 4];
    let mut read = Vec::new();
    let mut expected = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        let message = if i % 3 == 2 {
            let text: String = "aé€🦀"
                .chars()
                .cycle()
                .scan(0, |n, c| {
                    *n += c.len_utf8();
                    (*n <= len).then_some(c)
                })
                .collect();
            read.extend(masked_client_frame(0x81, text.as_bytes(), [i as u8, 7, 0xA0, 3]));
            Message::Text(text)
        } else {
            let data: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            read.extend(masked_client_frame(0x82, &data, [i as u8, 7, 0xA0, 3]));
            Message::Binary(data)
        };
        expected.push(message);
    }
    server.receive(&read);
    for (i, message) in expected.iter().enumerate() {
        match server.poll_message().unwrap() {
            Some(Incoming::Message(got)) => {
                assert!(got == *message, "message {i}: {got:?} != {message:?}");
                server.recycle(got);
            }
            other => panic!("message {i}: {other:?}"),
        }
    }
    // A long message's buffer kept, then invalid text over it.
    server.receive(&masked_client_frame(0x82, &[b'x'; 60], [1, 2, 3, 4]));
    let Some(Incoming::Message(long)) = server.poll_message().unwrap() else { panic!("the binary message") };
    server.recycle(long);
    server.receive(&masked_client_frame(0x81, b"ok\xFFno", [1, 2, 3, 4]));
    let e = server.poll_message().unwrap_err();
    assert_eq!(e, ProtocolError::InvalidUtf8);
    assert_eq!(e.close_code(), CloseCode::INVALID_PAYLOAD);
}

/// A message of one frame with a 16-bit length, whole in the read buffer
/// behind other frames, is unmasked on its way into its owned message:
/// every length form's edge and a multibyte text, each key phase, owned
/// and recycled, the same bytes as lent; invalid text still fails with
/// 1007, a message over the limit with 1009.
#[test]
fn a_masked_frame_in_the_read_buffer_is_unmasked_into_its_owned_message() {
    let text = "κό🦀€a".repeat(1_000);
    for len in [126, 127, 1_000, 4_095, 4_096, 65_535] {
        for kind in [MessageKind::Binary, MessageKind::Text] {
            let (b0, data): (u8, Vec<u8>) = match kind {
                MessageKind::Binary => (0x82, (0..len).map(|i| (i * 7 + len) as u8).collect()),
                // Whole characters, as close to `len` as they come.
                MessageKind::Text => {
                    let end = (0..=len.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap();
                    (0x81, text.as_bytes()[..end].to_vec())
                }
            };
            let message = match kind {
                MessageKind::Binary => Message::Binary(data.clone()),
                MessageKind::Text => Message::Text(String::from_utf8(data.clone()).unwrap()),
            };
            // A small frame first, so that the read goes to the read
            // buffer; the frame under test with four keys, a ping between.
            let mut read = raw_client_frame(0x82, b"first");
            for (i, key) in [[0u8; 4], [1, 2, 3, 4], [0xFF, 0x80, 0x7F, 0x01], [9, 0, 0, 9]].into_iter().enumerate() {
                read.extend(masked_client_frame(b0, &data, key));
                if i == 1 {
                    read.extend(raw_client_frame(0x89, b"between"));
                }
            }
            for recycle in [false, true] {
                let (_, mut server) = pair();
                server.receive(&read);
                let mut got = Vec::new();
                while let Some(item) = server.poll_message().unwrap() {
                    match item {
                        Incoming::Message(m) if recycle => {
                            got.push(Incoming::Message(m.clone()));
                            server.recycle(m);
                        }
                        other => got.push(other),
                    }
                }
                assert_eq!(got.len(), 6, "{len} {kind:?}");
                assert_eq!(got[0], Incoming::Message(Message::Binary(b"first".to_vec())));
                assert!(matches!(got[3], Incoming::Ping(_)), "{len} {kind:?}");
                for i in [1, 2, 4, 5] {
                    assert!(got[i] == Incoming::Message(message.clone()), "{len} {kind:?} {recycle} item {i}");
                }
            }
            let (_, mut server) = pair();
            server.receive(&read);
            let mut lent = 0;
            while let Some(item) = server.poll_message_ref().unwrap() {
                let bytes = match item {
                    IncomingRef::Binary(bytes) => bytes,
                    IncomingRef::Text(text) => text.as_bytes(),
                    _ => continue,
                };
                lent += usize::from(bytes == data);
            }
            assert_eq!(lent, 4, "{len} {kind:?}");
        }
    }

    // Invalid text of a 16-bit length: 1007, the Close queued.
    let mut bad = vec![b'a'; 300];
    bad[200] = 0xFF;
    let (_, mut server) = pair();
    let mut read = raw_client_frame(0x82, b"first");
    read.extend(masked_client_frame(0x81, &bad, [5, 6, 7, 8]));
    server.receive(&read);
    assert!(matches!(server.poll_message(), Ok(Some(Incoming::Message(_)))));
    assert_eq!(server.poll_message(), Err(ProtocolError::InvalidUtf8));
    assert!(server.poll_output().starts_with(&failure_close(ProtocolError::InvalidUtf8)));

    // Over the message limit: refused from the header with 1009.
    let config = Config { max_message_size: 1_000, ..Config::default() };
    let (_, mut server) = pair_with(
        &ConnectOptions { config: Config::default(), ..ConnectOptions::default() },
        &AcceptOptions { config, ..AcceptOptions::default() },
    );
    let mut read = raw_client_frame(0x82, b"first");
    read.extend(masked_client_frame(0x82, &[1u8; 1_001], [5, 6, 7, 8]));
    server.receive(&read);
    assert!(matches!(server.poll_message(), Ok(Some(Incoming::Message(_)))));
    assert_eq!(server.poll_message(), Err(ProtocolError::MessageTooLarge));
    assert!(server.poll_output().starts_with(&failure_close(ProtocolError::MessageTooLarge)));
}

/// Frames with a 16-bit length from the server reach the client (whose
/// frames are not masked) whole and owned.
#[test]
fn unmasked_frames_in_the_read_buffer_reach_a_client_whole() {
    let (mut client, mut server) = pair();
    let data: Vec<u8> = (0..3_000u32).map(|i| (i * 13) as u8).collect();
    let text = "€".repeat(400);
    server.send_binary(b"x").unwrap();
    server.send_binary(&data).unwrap();
    server.send_text(&text).unwrap();
    pipe(&mut server, &mut client);
    assert_eq!(
        messages(&mut client),
        [
            Incoming::Message(Message::Binary(b"x".to_vec())),
            Incoming::Message(Message::Binary(data)),
            Incoming::Message(Message::Text(text)),
        ]
    );
}

/// The calls that find a read's items all taken answer without the item
/// loop (`finds_nothing`), but settle what the loop settles first. The
/// end of input after the last message: a Close with 1006, whichever
/// whole-message call comes next.
#[test]
fn the_end_of_input_after_the_last_message_taken_is_reported() {
    for call in 0..3 {
        let (mut client, mut server) = pair();
        client.send_text("hi").unwrap();
        pipe(&mut client, &mut server);
        assert_eq!(server.poll_message(), Ok(Some(Incoming::Message(Message::text("hi")))));
        assert_eq!(server.poll_message(), Ok(None));
        server.receive_eof();
        let abnormal = |c: &CloseFrame| c.code() == CloseCode::ABNORMAL;
        match call {
            0 => assert!(matches!(server.poll_message(), Ok(Some(Incoming::Close(c))) if abnormal(&c))),
            1 => assert!(matches!(server.poll_message_ref(), Ok(Some(IncomingRef::Close(c))) if abnormal(&c))),
            _ => {
                assert_eq!(server.message_ready(), Ok(true));
                assert!(!server.has_message());
                assert!(matches!(server.poll_message(), Ok(Some(Incoming::Close(c))) if abnormal(&c)));
            }
        }
        assert_eq!(server.poll_message(), Ok(None));
    }
}

/// A message lent from a buffer the session keeps is released by the
/// next call, also when that call finds nothing: the buffer is empty
/// again, and the next message's frames can go straight into it.
#[test]
fn a_lent_message_is_released_by_a_call_that_finds_nothing() {
    // Assembled from two frames: lent from the assembly buffer.
    let (mut client, mut server) = pair();
    client.send_fragment(MessageKind::Binary, b"two ", false).unwrap();
    client.send_fragment(MessageKind::Binary, b"frames", true).unwrap();
    pipe(&mut client, &mut server);
    assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Binary(b"two frames"))));
    assert_eq!(server.poll_message_ref(), Ok(None));
    assert!(server.whole.binary.is_empty() && !server.lent);

    // Finished by `receive` on the direct path: lent from where it waits.
    let (mut client, mut server) = pair();
    let data = vec![5u8; 3_000];
    client.send_binary(&data).unwrap();
    let wire = client.poll_output().to_vec();
    assert_eq!(server.poll_message_ref(), Ok(None)); // lending whole messages
    server.receive(&wire[..100]);
    server.receive(&wire[100..]);
    assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Binary(&data[..]))));
    assert!(server.lent_done || server.lent);
    assert_eq!(server.poll_message_ref(), Ok(None));
    assert!(server.done.is_empty() && server.whole.binary.is_empty() && !server.lent_done && !server.lent);

    // Short text, lent from the text buffer it was copied into, released
    // by either lending call; the next message then goes straight into
    // its own buffer as it arrives.
    for ready in [false, true] {
        let (mut client, mut server) = pair();
        client.send_text("short").unwrap();
        pipe(&mut client, &mut server);
        assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Text("short"))));
        assert!(server.lent && !server.has_unread_input());
        if ready {
            assert_eq!(server.message_ready(), Ok(false));
        } else {
            assert_eq!(server.poll_message_ref(), Ok(None));
        }
        assert!(server.whole.text.is_empty() && !server.lent, "released ({ready})");
        client.send_binary(&data).unwrap();
        let wire = client.poll_output().to_vec();
        server.receive(&wire[..100]);
        server.receive(&wire[100..]);
        assert!(server.rx_start == server.rx_end, "taken as it arrived ({ready})");
        assert_eq!(server.poll_message_ref(), Ok(Some(IncomingRef::Binary(&data[..]))));
    }
}

/// `has_unread_input` is `false` only when a poll finds nothing: checked
/// before every call in each mode, with messages that stay in the read
/// buffer, go straight into their own buffer or wait queued behind one,
/// a ping and the Close, in reads of every size; and an end of input to
/// report counts as unread.
#[test]
fn nothing_unread_means_a_poll_finds_nothing() {
    let (mut client, _) = pair();
    let big: Vec<u8> = (0..70 * 1024).map(|i| (i % 251) as u8).collect();
    client.send(&Message::text("one")).unwrap();
    client.send_binary(&big).unwrap();
    client.send_binary(&big[..3_000]).unwrap();
    client.send_ping(b"p").unwrap();
    client.send_fragment(MessageKind::Text, b"two ", false).unwrap();
    client.send_fragment(MessageKind::Text, b"frames", true).unwrap();
    client.send_close(CloseCode::NORMAL, "bye").unwrap();
    let wire = client.poll_output().to_vec();
    // Where each item's last frame ends (a data frame with FIN, or a
    // control frame), read from the frame headers.
    let mut ends = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(&wire[at..]) else {
            panic!("a whole header at {at}");
        };
        at += len + header.payload_len as usize;
        if header.fin {
            ends.push(at);
        }
    }
    assert_eq!(ends.len(), 6);

    for take in [Take::Owned, Take::Lent, Take::Piece] {
        for read in [1, 7, 100, 4_096, 65_536, wire.len()] {
            let (_, mut server) = pair();
            assert!(!server.has_unread_input());
            // Payload bytes of the data messages, and the ping and the Close.
            let (mut data, mut controls, mut items, mut received) = (0, 0, 0, 0);
            for chunk in wire.chunks(read) {
                server.receive(chunk);
                received += chunk.len();
                loop {
                    let unread = server.has_unread_input();
                    let item = match take {
                        Take::Lent => server.poll_message_ref().unwrap().map(|item| match item {
                            IncomingRef::Text(text) => Some(text.len()),
                            IncomingRef::Binary(bytes) => Some(bytes.len()),
                            _ => None,
                        }),
                        Take::Piece => server.poll_piece().unwrap().map(|item| match item {
                            Streamed::Piece(piece) => Some(piece.data.len()),
                            _ => None,
                        }),
                        Take::Owned | Take::Ready => server.poll_message().unwrap().map(|item| match item {
                            Incoming::Message(message) => Some(message.len()),
                            _ => None,
                        }),
                    };
                    assert!(unread || item.is_none(), "{take:?}, reads of {read}: an item with nothing unread");
                    match item {
                        None => break,
                        Some(Some(len)) => data += len,
                        Some(None) => controls += 1,
                    }
                    items += 1;
                }
                if !matches!(take, Take::Piece) {
                    // Nothing that arrived whole is held back for a later read.
                    let arrived = ends.iter().filter(|&&end| end <= received).count();
                    assert_eq!(items, arrived, "{take:?}, reads of {read}, {received} bytes in");
                }
            }
            assert!(!server.has_unread_input(), "{take:?}, reads of {read}");
            assert_eq!((data, controls), (3 + big.len() + 3_000 + 10, 2), "{take:?}, reads of {read}");
            server.receive_eof();
            assert!(server.has_unread_input(), "the end of input is reported by the next poll");
            while server.poll_message().unwrap().is_some() {}
            assert!(server.has_unread_input(), "and stays unread input, as documented");
        }
    }
}
