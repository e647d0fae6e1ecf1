//! The timers in virtual time: keepalive pings, dead-peer detection and the
//! close handshake timeout, in both roles, with their interleavings. Time is
//! a number the test chooses, so every case is exact and instant.

#[path = "../../../tests/common/mod.rs"]
mod common;

use core::time::Duration;

use common::{cf, feed, parse_frames, parse_frames_masked, transmit, Ev};
use proptest::prelude::*;
use wsmachine::{
    CloseCode, Config, Connection, Event, Instant, OpCode, ProtocolError, Role, SecureRandom, SendError, State,
};

const INTERVAL: u64 = 20_000;
const TIMEOUT: u64 = 10_000;

fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

fn keepalive() -> Config {
    Config {
        ping_interval: Some(Duration::from_millis(INTERVAL)),
        ping_timeout: Some(Duration::from_millis(TIMEOUT)),
        ..Config::default().without_timers()
    }
}

fn conn(role: Role, config: Config) -> Connection {
    match role {
        Role::Server => Connection::server(config),
        Role::Client => Connection::client(config, SecureRandom::from_seed([9; 32])),
    }
}

/// A connection whose timers were started at `t = 0`.
fn started(role: Role, config: Config) -> Connection {
    let mut c = conn(role, config);
    assert_eq!(c.poll_timeout(), Some(Instant::ZERO), "the timers ask for the time first");
    assert_eq!(c.handle_timeout(ms(0)), None);
    c
}

/// A frame as the peer of `role` sends it: masked when it comes from a client.
fn from_peer(role: Role, b0: u8, payload: &[u8]) -> Vec<u8> {
    match role {
        Role::Server => cf(b0, payload),
        Role::Client => common::sf(b0, payload),
    }
}

fn ev(event: Option<Event<'_>>) -> Option<Ev> {
    event.as_ref().map(Ev::of)
}

/// What `poll_transmit` wrote, as frames.
fn sent(c: &mut Connection) -> Vec<common::Frame> {
    let bytes = transmit(c);
    parse_frames_masked(&bytes, c.role() == Role::Client)
}

const ROLES: [Role; 2] = [Role::Server, Role::Client];

#[test]
fn no_timer_configured_means_no_deadline() {
    for role in ROLES {
        let mut c = conn(role, Config::default().without_timers());
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_timeout(ms(u64::MAX)), None);
        assert!(!c.wants_write());
        assert_eq!(c.state(), State::Open);
    }
}

/// `Config::default()` has the timers on: a Ping after 20 s of silence,
/// the peer dropped 20 s after it, 10 s for a Close to be answered. They
/// act only when the caller drives time.
#[test]
fn the_default_timers_ping_drop_a_silent_peer_and_bound_the_close() {
    for role in ROLES {
        let mut c = started(role, Config::default());
        assert_eq!(c.poll_timeout(), Some(ms(20_000)));
        assert_eq!(c.handle_timeout(ms(20_000)), None);
        let frames = sent(&mut c);
        assert_eq!(frames[0].opcode(), OpCode::Ping, "{role:?}");
        assert_eq!(c.poll_timeout(), Some(ms(40_000)));
        assert_eq!(ev(c.handle_timeout(ms(40_000))), Some(Ev::close(1006, "keepalive ping timeout")), "{role:?}");

        let mut c = started(role, Config::default());
        c.send_close(CloseCode::NORMAL, "", &mut Vec::new()).expect("close");
        assert_eq!(c.handle_timeout(ms(1)), None);
        assert_eq!(c.poll_timeout(), Some(ms(10_001)), "{role:?}: the close timeout");
        assert_eq!(ev(c.handle_timeout(ms(10_001))), Some(Ev::close(1006, "close handshake timeout")), "{role:?}");
        assert!(c.should_close_transport());
    }
}

#[test]
fn keepalive_pings_after_a_quiet_interval() {
    for role in ROLES {
        let mut c = started(role, keepalive());
        assert_eq!(c.poll_timeout(), Some(ms(INTERVAL)));
        assert_eq!(c.handle_timeout(ms(INTERVAL - 1)), None);
        assert!(!c.wants_write(), "{role:?}: not a millisecond early");

        assert_eq!(c.handle_timeout(ms(INTERVAL)), None);
        assert!(c.wants_write());
        let frames = sent(&mut c);
        assert_eq!(frames.len(), 1, "{role:?}");
        assert_eq!(frames[0].opcode(), OpCode::Ping);
        assert!(frames[0].payload.is_empty());
        assert_eq!(c.poll_timeout(), Some(ms(INTERVAL + TIMEOUT)), "now the ping timeout runs");
    }
}

#[test]
fn activity_postpones_the_keepalive() {
    for role in ROLES {
        let mut c = started(role, keepalive());
        let mut text = from_peer(role, 0x81, b"hi");
        feed(&mut c, &mut text);
        // Checked lazily: the stale deadline stands until a handle_timeout
        // sees the activity, which then counts from that instant.
        assert_eq!(c.poll_timeout(), Some(ms(INTERVAL)));
        assert_eq!(c.handle_timeout(ms(INTERVAL)), None);
        assert!(!c.wants_write(), "{role:?}: no ping on a live connection");
        assert_eq!(c.poll_timeout(), Some(ms(2 * INTERVAL)));
    }
}

#[test]
fn activity_is_seen_when_the_next_deadline_falls_due() {
    let config = Config { idle_timeout: Some(Duration::from_secs(60)), ..Config::default().without_timers() };
    let mut c = started(Role::Server, config);
    let mut text = cf(0x81, b"hi");
    feed(&mut c, &mut text);
    // Nothing is due at 5 s, so nothing changes: the stamp waits.
    assert_eq!(c.handle_timeout(ms(5_000)), None);
    assert_eq!(c.poll_timeout(), Some(ms(60_000)));
    assert_eq!(c.handle_timeout(ms(60_000)), None, "the activity is seen here");
    assert_eq!(c.poll_timeout(), Some(ms(120_000)));
}

#[test]
fn a_silent_peer_fails_the_ping_timeout() {
    for role in ROLES {
        let mut c = started(role, keepalive());
        c.handle_timeout(ms(INTERVAL));
        transmit(&mut c);
        let deadline = c.poll_timeout().expect("ping timeout");
        assert_eq!(deadline, ms(INTERVAL + TIMEOUT));
        assert_eq!(c.handle_timeout(ms(INTERVAL + TIMEOUT - 1)), None);
        assert_eq!(c.state(), State::Open);

        let event = ev(c.handle_timeout(deadline));
        assert_eq!(event, Some(Ev::close(1006, "keepalive ping timeout")), "{role:?}");
        assert_eq!(c.state(), State::Failed(ProtocolError::PingTimeout));
        assert_eq!(ProtocolError::PingTimeout.close_code(), CloseCode::INTERNAL_ERROR);
        let frames = sent(&mut c);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].close_code(), 1011);
        assert_eq!(&frames[0].payload[2..], b"keepalive ping timeout");
        assert!(c.should_close_transport());
        assert_eq!(c.poll_timeout(), None, "no timer after the end");
        let mut more = from_peer(role, 0x81, b"late");
        assert_eq!(c.receive(&mut more).err(), Some(ProtocolError::PingTimeout));
    }
}

#[test]
fn a_silent_peer_fails_the_idle_timeout() {
    let config = Config { idle_timeout: Some(Duration::from_secs(30)), ..Config::default().without_timers() };
    for role in ROLES {
        let mut c = started(role, config);
        assert_eq!(c.poll_timeout(), Some(ms(30_000)));
        let event = ev(c.handle_timeout(ms(30_000)));
        assert_eq!(event, Some(Ev::close(1006, "idle timeout")));
        assert_eq!(c.state(), State::Failed(ProtocolError::IdleTimeout));
        let frames = sent(&mut c);
        assert_eq!(frames[0].close_code(), 1011);
        assert_eq!(&frames[0].payload[2..], b"idle timeout");
        assert!(c.should_close_transport());
    }
}

#[test]
fn idle_timeout_without_keepalive_sends_no_ping() {
    let config = Config { idle_timeout: Some(Duration::from_secs(30)), ..Config::default().without_timers() };
    let mut c = started(Role::Server, config);
    for t in [10_000, 29_999] {
        assert_eq!(c.handle_timeout(ms(t)), None);
        assert!(!c.wants_write());
    }
}

#[test]
fn without_ping_timeout_keepalive_pings_every_interval() {
    let config = Config { ping_interval: Some(Duration::from_millis(INTERVAL)), ..Config::default().without_timers() };
    let mut c = started(Role::Server, config);
    for k in 1..=3 {
        assert_eq!(c.poll_timeout(), Some(ms(k * INTERVAL)));
        assert_eq!(c.handle_timeout(ms(k * INTERVAL)), None);
        assert_eq!(sent(&mut c)[0].opcode(), OpCode::Ping);
    }
    assert_eq!(c.state(), State::Open, "no answer is needed without a ping timeout");
}

#[test]
fn a_pong_arriving_exactly_at_the_deadline() {
    for role in ROLES {
        // Fed before the timer fires at the same instant: alive.
        let mut c = started(role, keepalive());
        c.handle_timeout(ms(INTERVAL));
        transmit(&mut c);
        let deadline = c.poll_timeout().expect("ping timeout");
        let mut pong = from_peer(role, 0x8A, b"");
        feed(&mut c, &mut pong);
        assert_eq!(c.handle_timeout(deadline), None, "{role:?}");
        assert_eq!(c.state(), State::Open);
        assert_eq!(c.poll_timeout(), Some(deadline + Duration::from_millis(INTERVAL)));

        // The timer handled first at that instant: the peer was too late.
        let mut c = started(role, keepalive());
        c.handle_timeout(ms(INTERVAL));
        transmit(&mut c);
        let deadline = c.poll_timeout().expect("ping timeout");
        assert!(c.handle_timeout(deadline).is_some());
        let mut pong = from_peer(role, 0x8A, b"");
        assert_eq!(c.receive(&mut pong).err(), Some(ProtocolError::PingTimeout));
    }
}

#[test]
fn a_peer_trickling_one_byte_per_interval_counts_as_alive() {
    // Any byte is a sign of life: a large frame on a slow link arrives this
    // way too. The message limits bound what such a peer can make us hold.
    for role in ROLES {
        let mut c = started(role, keepalive());
        let message = from_peer(role, 0x82, &[7; 100]);
        let mut t = 0;
        for byte in &message {
            let mut piece = [*byte];
            let (_, err) = feed(&mut c, &mut piece);
            assert_eq!(err, None);
            t += INTERVAL;
            assert_eq!(c.handle_timeout(ms(t)), None);
            assert!(!c.wants_write(), "{role:?}: no ping while bytes arrive");
            assert_eq!(c.state(), State::Open);
        }
        assert!(t >= 100 * INTERVAL);
    }
}

#[test]
fn close_timeout_gives_up_on_a_close_never_answered() {
    let config = Config { close_timeout: Some(Duration::from_secs(5)), ..Config::default().without_timers() };
    for role in ROLES {
        let mut c = started(role, config);
        assert_eq!(c.poll_timeout(), None, "{role:?}: nothing to time while open");
        let mut out = Vec::new();
        c.send_close(CloseCode::NORMAL, "bye", &mut out).expect("close");
        assert_eq!(c.poll_timeout(), Some(Instant::ZERO), "the close timer asks for the time");
        assert_eq!(c.handle_timeout(ms(1_000)), None);
        assert_eq!(c.poll_timeout(), Some(ms(6_000)));
        assert_eq!(c.handle_timeout(ms(5_999)), None);
        assert!(!c.should_close_transport());

        let event = ev(c.handle_timeout(ms(6_000)));
        assert_eq!(event, Some(Ev::close(1006, "close handshake timeout")), "{role:?}");
        assert!(c.should_close_transport());
        assert!(c.is_closed());
        assert_eq!(c.state(), State::Closed);
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.receive_eof(), None, "the end was already reported");
    }
}

#[test]
fn a_client_stops_waiting_for_the_server_to_close_the_transport() {
    let config = Config { close_timeout: Some(Duration::from_secs(5)), ..Config::default().without_timers() };
    let mut c = started(Role::Client, config);
    let mut out = Vec::new();
    c.send_close(CloseCode::NORMAL, "", &mut out).expect("close");
    c.handle_timeout(ms(100));
    let mut answer = common::sf(0x88, &[0x03, 0xE8]);
    let (events, _) = feed(&mut c, &mut answer);
    assert_eq!(events, [Ev::close(1000, "")]);
    assert_eq!(c.state(), State::Closed);
    assert!(!c.should_close_transport(), "a client waits for the server to close first");
    assert_eq!(c.poll_timeout(), Some(ms(5_100)));
    assert_eq!(c.handle_timeout(ms(5_100)), None, "the Close was already reported");
    assert!(c.should_close_transport());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn a_server_has_no_timer_once_the_close_handshake_is_done() {
    let config = Config { close_timeout: Some(Duration::from_secs(5)), ..keepalive() };
    let mut c = started(Role::Server, config);
    let mut out = Vec::new();
    c.send_close(CloseCode::NORMAL, "", &mut out).expect("close");
    let mut answer = cf(0x88, &[0x03, 0xE8]);
    feed(&mut c, &mut answer);
    assert!(c.should_close_transport());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn a_close_crossing_a_keepalive_ping() {
    // The server's keepalive Ping and the client's Close are on the wire at
    // the same time; both ends still finish a clean close handshake.
    let mut server = started(Role::Server, keepalive());
    let mut client = started(Role::Client, keepalive());
    server.handle_timeout(ms(INTERVAL));
    let mut to_client = transmit(&mut server);
    let mut to_server = Vec::new();
    client.send_close(CloseCode::NORMAL, "done", &mut to_server).expect("close");

    let (events, err) = feed(&mut client, &mut to_client);
    assert_eq!((events, err), (vec![Ev::Ping(vec![])], None));
    assert!(transmit(&mut client).is_empty(), "no pong after our Close (§5.5.1)");

    let (events, err) = feed(&mut server, &mut to_server);
    assert_eq!((events, err), (vec![Ev::close(1000, "done")], None));
    assert_eq!(server.handle_timeout(ms(INTERVAL + TIMEOUT)), None, "no ping timeout while closing");
    let mut answer = transmit(&mut server);
    let frames = parse_frames(&answer);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].close_code(), 1000);
    assert!(server.should_close_transport());

    let (events, _) = feed(&mut client, &mut answer);
    assert_eq!(events, [Ev::close(1000, "done")], "the echo carries the reason");
    assert_eq!(client.state(), State::Closed);
    assert_eq!(client.poll_timeout(), None, "no close timeout configured: wait for the server");
}

#[test]
fn a_keepalive_ping_still_queued_is_dropped_by_our_close() {
    let mut c = started(Role::Server, keepalive());
    c.handle_timeout(ms(INTERVAL));
    let mut out = Vec::new();
    c.send_close(CloseCode::GOING_AWAY, "", &mut out).expect("close");
    assert!(!c.wants_write());
    assert!(transmit(&mut c).is_empty());
}

#[test]
fn no_timers_after_a_protocol_failure() {
    let config = Config {
        close_timeout: Some(Duration::from_secs(5)),
        idle_timeout: Some(Duration::from_secs(9)),
        ..keepalive()
    };
    for role in ROLES {
        let mut c = started(role, config);
        let mut bad = from_peer(role, 0x83, b""); // reserved opcode
        let (_, err) = feed(&mut c, &mut bad);
        assert_eq!(err, Some(ProtocolError::ReservedOpcode(3)));
        assert_eq!(c.poll_timeout(), None, "{role:?}: failing closes the transport, no timer needed");
        assert_eq!(c.handle_timeout(ms(u64::MAX)), None);
        let frames = sent(&mut c);
        assert_eq!(frames.len(), 1, "only the failure's Close, no keepalive: {frames:?}");
        assert_eq!(frames[0].close_code(), 1002);
    }
}

#[test]
fn no_timers_after_the_transport_ended() {
    let config = Config {
        close_timeout: Some(Duration::from_secs(5)),
        idle_timeout: Some(Duration::from_secs(60)),
        ..keepalive()
    };
    for role in ROLES {
        let mut c = started(role, config);
        c.handle_timeout(ms(INTERVAL));
        assert!(c.wants_write());
        assert_eq!(ev(c.receive_eof()), Some(Ev::close(1006, "")));
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.handle_timeout(ms(u64::MAX)), None);
        assert!(!c.wants_write(), "the queued ping went with the transport");
    }
}

#[test]
fn sends_after_a_dead_peer_are_refused() {
    let mut c = started(Role::Client, keepalive());
    c.handle_timeout(ms(INTERVAL));
    c.handle_timeout(ms(INTERVAL + TIMEOUT));
    let mut out = Vec::new();
    assert_eq!(c.send_text("x", &mut out), Err(SendError::Failed(ProtocolError::PingTimeout)));
}

#[test]
fn zero_durations_still_move_time_on() {
    let zero = Some(Duration::ZERO);
    let config = Config { ping_interval: zero, ping_timeout: zero, ..Config::default().without_timers() };
    let mut c = started(Role::Server, config);
    assert_eq!(c.poll_timeout(), Some(ms(1)), "a zero duration counts as 1 ms");
    c.handle_timeout(ms(1));
    assert_eq!(c.poll_timeout(), Some(ms(2)));
    assert!(c.handle_timeout(ms(2)).is_some());
}

/// One step of the property test below.
#[derive(Debug, Clone)]
enum Step {
    /// Let this many milliseconds pass, then call `handle_timeout` if due.
    Wait(u64),
    /// Call `handle_timeout` at the current instant, due or not.
    Poke,
    /// The peer sends a frame.
    Receive(u8),
    Drain,
    CloseOurs,
    Eof,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u64..30_000).prop_map(Step::Wait),
        2 => Just(Step::Poke),
        3 => (0u8..4).prop_map(Step::Receive),
        2 => Just(Step::Drain),
        1 => Just(Step::CloseOurs),
        1 => Just(Step::Eof),
    ]
}

fn optional_duration() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![Just(None), (0u64..20_000).prop_map(|m| Some(Duration::from_millis(m)))]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// `poll_timeout` and `handle_timeout` agree exactly: before the deadline
    /// nothing changes; at it, something always does and the next deadline
    /// is later. Deadlines never go backwards in time without a reason.
    #[test]
    fn poll_and_handle_agree(
        client in any::<bool>(),
        ping_interval in optional_duration(),
        ping_timeout in optional_duration(),
        idle_timeout in optional_duration(),
        close_timeout in optional_duration(),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        let config = Config { ping_interval, ping_timeout, idle_timeout, close_timeout, ..Config::default().without_timers() };
        let mut c = conn(role, config);
        let mut now = 0u64;
        for step in steps {
            match step {
                Step::Wait(d) => {
                    let target = now + d;
                    // Walk through every deadline on the way, as a caller's
                    // sleep loop would; each must make progress.
                    let mut guard = 0;
                    while let Some(due) = c.poll_timeout() {
                        if due.as_millis() > target {
                            break;
                        }
                        now = now.max(due.as_millis());
                        let before = format!("{c:?}");
                        c.handle_timeout(ms(now));
                        prop_assert_ne!(before, format!("{c:?}"), "no progress at the deadline");
                        if let Some(next) = c.poll_timeout() {
                            prop_assert!(next.as_millis() > now, "next deadline {next:?} not after {now}");
                        }
                        guard += 1;
                        // Each deadline is at least 1 ms after the last.
                        prop_assert!(guard <= d + 2, "deadlines must not repeat");
                    }
                    now = target;
                }
                Step::Poke => {
                    let before = format!("{c:?}");
                    let due = c.poll_timeout().is_some_and(|d| d.as_millis() <= now);
                    c.handle_timeout(ms(now));
                    if !due {
                        prop_assert_eq!(before, format!("{c:?}"), "nothing due, so nothing may change");
                    }
                }
                Step::Receive(kind) => {
                    let mut frame = match kind {
                        0 => from_peer(role, 0x81, b"data"),
                        1 => from_peer(role, 0x89, b"ping"),
                        2 => from_peer(role, 0x8A, b""),
                        _ => from_peer(role, 0x88, &[0x03, 0xE8]),
                    };
                    let _ = feed(&mut c, &mut frame);
                }
                Step::Drain => {
                    transmit(&mut c);
                }
                Step::CloseOurs => {
                    let _ = c.send_close(CloseCode::NORMAL, "", &mut Vec::new());
                }
                Step::Eof => {
                    c.receive_eof();
                }
            }
        }
    }
}
