//! Sections 12 and 13: permessage-deflate (RFC 7692), in memory.
//!
//! Upstream (`autobahntestsuite/case/case12_x_x.py`) every case sends 1000
//! messages of one size (16 B to 128 KiB) cut from a test file, compressed,
//! optionally auto-fragmented (the compressed payload cut into frames of
//! 256 B to 32 KiB), and wants each echoed back intact; 12.1–12.5 differ in
//! the data (JSON and HTML as text; an image, prose and a PDF as binary),
//! 13.1–13.7 in the permessage-deflate parameters offered and accepted (no
//! context takeover, windows of 9 and 15 bits, and several offers). Here the
//! fuzzer is a wsmachine `Deflate` on the other end, the data is generated
//! with the same character (structured text, smooth "image" bytes, prose,
//! incompressible bytes), and the message count is scaled so each case moves
//! about 16 KiB (at least 2 messages, so context takeover is exercised).
//!
//! Each case runs for both roles: the testee server answers the fuzzer
//! client's offers (`DeflateConfig::accept`), and the testee client, which
//! offers like the `autobahn_client` example, checks the fuzzer server's
//! answer (`DeflateConfig::check_response`). Both ends must agree on the
//! parameters, every message and echo must be compressed (RSV1), the echoes
//! must match, and the close handshake must complete with 1000. Input is fed
//! to the testee in pseudo-random chops (and whole, for messages up to 4 KiB).

use wsmachine::ext::deflate::{check_response_any, offer_all, Deflate, DeflateConfig, DeflateParams};
use wsmachine::handshake::Extensions;
use wsmachine::{
    CloseCode, Config, Connection, Event, FrameHeader, HeaderStatus, Message, MessageAssembler, MessageKind, OpCode,
    Role, SecureRandom, State,
};

/// (payload length, auto-fragment size), as upstream's `MSG_SIZES`.
const MSG_SIZES: [(usize, usize); 18] = [
    (16, 0),
    (64, 0),
    (256, 0),
    (1024, 0),
    (4096, 0),
    (8192, 0),
    (16384, 0),
    (32768, 0),
    (65536, 0),
    (131072, 0),
    (8192, 256),
    (16384, 256),
    (32768, 256),
    (65536, 256),
    (131072, 256),
    (131072, 1024),
    (131072, 4096),
    (131072, 32768),
];

/// Bytes one case moves (count = this / size, at least 2).
const CASE_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Json,
    Image,
    Prose,
    Html,
    Pdf,
}

impl Data {
    fn is_text(self) -> bool {
        matches!(self, Data::Json | Data::Html)
    }

    /// About 200 KiB of data of this kind (ASCII for the text kinds, so any
    /// cut is valid UTF-8).
    fn bytes(self) -> Vec<u8> {
        let mut x: u32 = 0x9E37_79B9;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut out = Vec::with_capacity(200 * 1024);
        let words = ["faust", "mephisto", "gretchen", "und", "der", "die", "nicht", "ich", "wagner", "welt"];
        while out.len() < 200 * 1024 {
            let r = next();
            match self {
                Data::Json => out.extend_from_slice(
                    format!("{{\"id\":{},\"name\":\"{}\",\"ok\":{}}},", r % 5000, words[r as usize % 10], r % 2 == 0)
                        .as_bytes(),
                ),
                Data::Html => out.extend_from_slice(
                    format!("<li class=\"w{}\"><a href=\"/{}\">{}</a></li>\n", r % 7, r % 997, words[r as usize % 10])
                        .as_bytes(),
                ),
                Data::Prose => {
                    out.extend_from_slice(words[r as usize % 10].as_bytes());
                    out.push(if r % 11 == 0 { b'\n' } else { b' ' });
                }
                Data::Image => {
                    let i = out.len();
                    out.push(((i % 512) as u8 / 2).wrapping_add((i / 512) as u8).wrapping_add((r % 4) as u8));
                }
                Data::Pdf => out.extend_from_slice(&r.to_le_bytes()),
            }
        }
        out
    }
}

/// A fuzzer-client offer: (request `server_no_context_takeover`, request
/// `server_max_window_bits`, 0 for none), as upstream's
/// `PerMessageDeflateOffer`, which always also carries
/// `client_no_context_takeover; client_max_window_bits`.
type Offer = (bool, u8);

/// How the fuzzer server accepts (upstream `accept1`…`accept7`): the
/// (request `client_no_context_takeover`, request `client_max_window_bits`)
/// pairs it tries in order.
type AcceptRule = &'static [(bool, u8)];

fn offer_string(offers: &[Offer]) -> String {
    let one = |&(nct, bits): &Offer| {
        let mut s = String::from("permessage-deflate; client_no_context_takeover; client_max_window_bits");
        if nct {
            s.push_str("; server_no_context_takeover");
        }
        if bits != 0 {
            s.push_str(&format!("; server_max_window_bits={bits}"));
        }
        s
    };
    offers.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// The fuzzer server's answer to the testee client's offer, as upstream's
/// accept functions build it; `None` when it declines.
fn fuzzer_answer(offer: &str, rule: AcceptRule) -> Option<String> {
    let offers: Vec<_> = Extensions::parse(offer)?.filter(|e| e.name() == "permessage-deflate").collect();
    for &(want_nct, want_bits) in rule {
        for o in &offers {
            let accepts_nct = o.param("client_no_context_takeover").is_some();
            let accepts_bits = o.param("client_max_window_bits").is_some();
            if (want_nct && !accepts_nct) || (want_bits != 0 && !accepts_bits) {
                continue;
            }
            let mut s = String::from("permessage-deflate");
            if o.param("server_no_context_takeover").is_some() {
                s.push_str("; server_no_context_takeover");
            }
            if let Some(bits) = o.param("server_max_window_bits").and_then(|p| p.value()) {
                s.push_str(&format!("; server_max_window_bits={bits}"));
            }
            if want_nct {
                s.push_str("; client_no_context_takeover");
            }
            if want_bits != 0 {
                s.push_str(&format!("; client_max_window_bits={want_bits}"));
            }
            return Some(s);
        }
    }
    None
}

/// The parameter sets of 13.1–13.7: the fuzzer client's offers and the
/// fuzzer server's acceptance rule.
const SECTION_13: [(&[Offer], AcceptRule); 7] = [
    (&[(false, 0)], &[(false, 0)]),
    (&[(true, 0)], &[(true, 0)]),
    (&[(false, 9)], &[(false, 9)]),
    (&[(false, 15)], &[(false, 15)]),
    (&[(true, 9)], &[(true, 9)]),
    (&[(true, 15)], &[(true, 15)]),
    (&[(true, 9), (true, 0), (false, 0)], &[(true, 9), (true, 0), (false, 0)]),
];

/// One end: a connection, its permessage-deflate state and an assembler.
struct End {
    conn: Connection,
    deflate: Deflate,
    assembler: MessageAssembler,
}

impl End {
    fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> End {
        let conn_config = Deflate::connection_config(Config::default());
        let conn = match role {
            Role::Server => Connection::server(conn_config),
            Role::Client => Connection::client(conn_config, SecureRandom::from_seed([0x33; 32])),
        };
        End { conn, deflate: Deflate::new(role, params, config), assembler: MessageAssembler::new(1 << 24) }
    }

    /// Feeds `wire` in chunks cut at `cuts`; returns the messages, the Close
    /// codes seen, and whether every data message arrived compressed.
    fn feed(
        &mut self,
        wire: &mut [u8],
        chunk: &mut dyn FnMut() -> usize,
    ) -> Result<(Vec<Message>, Vec<u16>, bool), String> {
        let mut messages = Vec::new();
        let mut closes = Vec::new();
        let mut all_compressed = true;
        let mut start = 0;
        while start < wire.len() {
            let end = (start + chunk()).min(wire.len());
            let mut pos = start;
            while pos < end {
                let received = self.conn.receive(&mut wire[pos..end]).map_err(|e| format!("receive: {e}"))?;
                pos += received.consumed;
                let Some(event) = received.event else { continue };
                if let Event::Close(frame) = event {
                    closes.push(frame.code().0);
                }
                let mut whole = Vec::new();
                let mut decoded = self.deflate.decode(&mut self.conn, event);
                while let Some(event) = decoded.next() {
                    let event = event.map_err(|e| format!("inflate: {e}"))?;
                    whole.extend(self.assembler.push(&event).map_err(|e| format!("assemble: {e}"))?);
                }
                // The message that just completed is the latest one, whose RSV1 the connection keeps.
                all_compressed &= whole.is_empty() || self.conn.message_rsv1();
                messages.extend(whole);
                self.conn.poll_transmit(&mut Vec::new()).map_err(|e| format!("poll_transmit: {e}"))?;
            }
            start = end;
        }
        Ok((messages, closes, all_compressed))
    }
}

/// Re-frames one compressed frame written by `End::deflate` into fragments
/// of `size` payload bytes (upstream `autoFragmentSize`): RSV1 and the
/// opcode on the first, FIN on the last, masked with a fixed key by a client.
fn autofragment(frame: &[u8], size: usize, masked: bool) -> Vec<u8> {
    let Ok(HeaderStatus::Complete { header, len }) = FrameHeader::decode(frame) else { panic!("a whole frame") };
    let mut payload = frame[len..].to_vec();
    if let Some(k) = header.mask {
        payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= k[i % 4]);
    }
    let pieces: Vec<&[u8]> =
        if size == 0 || payload.is_empty() { vec![&payload[..]] } else { payload.chunks(size).collect() };
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { header.opcode } else { OpCode::Continuation };
        let key = masked.then_some([0x37, 0xfa, 0x21, 0x3d]);
        let mut h = FrameHeader::new(i + 1 == pieces.len(), opcode, key, piece.len() as u64);
        h.rsv1 = i == 0;
        h.encode(&mut out).unwrap();
        out.extend(piece.iter().enumerate().map(|(j, b)| key.map_or(*b, |k| b ^ k[j % 4])));
    }
    out
}

/// Negotiates for `testee` in the way the case prescribes; returns the
/// testee's and the fuzzer's view of the parameters.
fn negotiate(testee: Role, offers: &[Offer], rule: AcceptRule) -> Result<(DeflateParams, DeflateParams), String> {
    match testee {
        Role::Server => {
            let offer = offer_string(offers);
            let params = DeflateConfig::default()
                .accept(Extensions::parse(&offer).unwrap())
                .ok_or_else(|| format!("the testee server declined {offer:?}"))?;
            let answer = params.answer();
            // The fuzzer client checks the answer against what it offered.
            let fuzzer_offers: Vec<DeflateConfig> = offers
                .iter()
                .map(|&(nct, bits)| DeflateConfig {
                    server_no_context_takeover: nct,
                    client_no_context_takeover: true,
                    server_max_window_bits: if bits == 0 { 15 } else { bits },
                    ..DeflateConfig::default()
                })
                .collect();
            let (_, fuzzer) = check_response_any(&fuzzer_offers, Extensions::parse(&answer).unwrap())
                .map_err(|e| format!("answer {answer:?} refused by the fuzzer: {e}"))?
                .ok_or("no permessage-deflate in the answer")?;
            Ok((params, fuzzer))
        }
        Role::Client => {
            // As the autobahn_client example offers.
            let config = DeflateConfig { client_no_context_takeover: true, ..DeflateConfig::default() };
            let offer = offer_all(&[config]);
            let answer = fuzzer_answer(&offer, rule).ok_or_else(|| format!("the fuzzer server declines {offer:?}"))?;
            let params = config
                .check_response(Extensions::parse(&answer).unwrap())
                .map_err(|e| format!("the testee client refused {answer:?}: {e}"))?
                .ok_or("declined")?;
            Ok((params, params))
        }
    }
}

fn run(
    case: &str,
    testee_role: Role,
    data: Data,
    offers: &[Offer],
    rule: AcceptRule,
    size: usize,
    frag: usize,
) -> Result<(), String> {
    let (testee_params, fuzzer_params) = negotiate(testee_role, offers, rule)?;
    if testee_params != fuzzer_params {
        return Err(format!("the two ends disagree: {testee_params:?} vs {fuzzer_params:?}"));
    }
    let fuzzer_role = if testee_role == Role::Server { Role::Client } else { Role::Server };
    // Every message compressed, however short, as the Autobahn fuzzer and
    // the testee examples do.
    let config = DeflateConfig { threshold: 0, ..DeflateConfig::default() };
    let mut fuzzer = End::new(fuzzer_role, fuzzer_params, &config);
    let mut testee = End::new(testee_role, testee_params, &config);
    let source = data.bytes();
    let count = (CASE_BYTES / size).max(2);
    let mut ptr = 0;
    let mut sent = Vec::new();
    let mut wire = Vec::new();
    for _ in 0..count {
        let msg: Vec<u8> = source.iter().cycle().skip(ptr).take(size).copied().collect();
        ptr = (ptr + size) % source.len();
        let mut frame = Vec::new();
        if data.is_text() {
            let text = String::from_utf8(msg.clone()).unwrap();
            fuzzer.deflate.send_text(&mut fuzzer.conn, &text, &mut frame).unwrap();
            sent.push(Message::Text(text));
        } else {
            fuzzer.deflate.send_binary(&mut fuzzer.conn, &msg, &mut frame).unwrap();
            sent.push(Message::Binary(msg));
        }
        wire.extend(autofragment(&frame, frag, fuzzer_role == Role::Client));
    }
    fuzzer.conn.send_close(CloseCode(1000), "", &mut wire).unwrap();

    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ (size as u64) << 7 ^ frag as u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        1 + (seed % 3000) as usize
    };
    // Whole for the small cases, pseudo-random chops for every case (the
    // large ones take long enough in debug builds to be run once).
    let mut whole = || usize::MAX;
    let chops: Vec<&mut dyn FnMut() -> usize> =
        if size <= 4096 { vec![&mut whole, &mut random] } else { vec![&mut random] };
    let mut baseline: Option<Vec<u8>> = None;
    for chop in chops {
        let mut t = End::new(testee_role, testee_params, &config);
        let mut input = wire.clone();
        // The testee echoes each message, compressed, as soon as it is whole.
        let mut out = Vec::new();
        let (messages, closes, compressed) = {
            let mut all = (Vec::new(), Vec::new(), true);
            let mut pos = 0;
            while pos < input.len() {
                let end = (pos + chop()).min(input.len());
                let (m, c, z) = t.feed_echo(&mut input[pos..end], &mut out)?;
                all.0.extend(m);
                all.1.extend(c);
                all.2 &= z;
                pos = end;
            }
            all
        };
        if messages != sent {
            return Err(format!(
                "{case}: the testee received {} messages, not the {} sent (or other bytes)",
                messages.len(),
                sent.len()
            ));
        }
        if !compressed {
            return Err(format!("{case}: a message reached the testee uncompressed"));
        }
        if closes != [1000] || t.conn.state() != State::Closed {
            return Err(format!("{case}: closes {closes:?}, state {:?}", t.conn.state()));
        }
        match &baseline {
            None => baseline = Some(out.clone()),
            Some(b) if *b != out => {
                return Err(format!("{case}: the testee's output depends on how its input was chopped"))
            }
            Some(_) => {}
        }
        // The fuzzer reads the echoes (all compressed) and the Close.
        let (echoes, closes, compressed) = fuzzer.feed(&mut out, &mut || 4096)?;
        if echoes != sent || !compressed || closes != [1000] {
            return Err(format!(
                "{case}: the fuzzer got {} echoes (match: {}, compressed: {compressed}), closes {closes:?}",
                echoes.len(),
                echoes == sent
            ));
        }
        fuzzer = End::new(fuzzer_role, fuzzer_params, &config);
    }
    let _ = &mut testee;
    Ok(())
}

impl End {
    /// Feeds one chunk as an echoing testee: every whole message is sent
    /// back compressed, automatic replies are drained.
    fn feed_echo(&mut self, chunk: &mut [u8], out: &mut Vec<u8>) -> Result<(Vec<Message>, Vec<u16>, bool), String> {
        let mut messages = Vec::new();
        let mut closes = Vec::new();
        let mut compressed = true;
        let mut pos = 0;
        while pos < chunk.len() {
            let received = self.conn.receive(&mut chunk[pos..]).map_err(|e| format!("testee receive: {e}"))?;
            pos += received.consumed;
            let Some(event) = received.event else { continue };
            if let Event::Close(frame) = event {
                closes.push(frame.code().0);
            }
            let mut whole = Vec::new();
            let mut decoded = self.deflate.decode(&mut self.conn, event);
            while let Some(event) = decoded.next() {
                let event = event.map_err(|e| format!("testee inflate: {e}"))?;
                whole.extend(self.assembler.push(&event).map_err(|e| format!("testee assemble: {e}"))?);
            }
            for m in whole {
                compressed &= self.conn.message_rsv1();
                match &m {
                    Message::Text(t) => self.deflate.send_text(&mut self.conn, t, out),
                    Message::Binary(b) => self.deflate.send_binary(&mut self.conn, b, out),
                }
                .map_err(|e| format!("testee echo: {e}"))?;
                messages.push(m);
            }
            self.conn.poll_transmit(out).map_err(|e| format!("testee poll_transmit: {e}"))?;
        }
        Ok((messages, closes, compressed))
    }
}

fn run_subsection(section: u8, sub: usize, data: Data, offers: &[Offer], rule: AcceptRule) {
    let mut failures = Vec::new();
    for (i, &(size, frag)) in MSG_SIZES.iter().enumerate() {
        let case = format!("{section}.{sub}.{}", i + 1);
        for role in [Role::Server, Role::Client] {
            if let Err(e) = run(&case, role, data, offers, rule, size, frag) {
                failures.push(format!("[{role:?} testee] {case} ({size} B, fragments of {frag}): {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} failure(s):\n{}", failures.len(), failures.join("\n"));
}

const DEFAULT_OFFER: &[Offer] = &[(false, 0)];
const ACCEPT_ANY: AcceptRule = &[(false, 0)];

#[test]
fn section_12_1_json_text() {
    run_subsection(12, 1, Data::Json, DEFAULT_OFFER, ACCEPT_ANY);
}

#[test]
fn section_12_2_image_binary() {
    run_subsection(12, 2, Data::Image, DEFAULT_OFFER, ACCEPT_ANY);
}

#[test]
fn section_12_3_prose_binary() {
    run_subsection(12, 3, Data::Prose, DEFAULT_OFFER, ACCEPT_ANY);
}

#[test]
fn section_12_4_html_text() {
    run_subsection(12, 4, Data::Html, DEFAULT_OFFER, ACCEPT_ANY);
}

#[test]
fn section_12_5_incompressible_binary() {
    run_subsection(12, 5, Data::Pdf, DEFAULT_OFFER, ACCEPT_ANY);
}

#[test]
fn section_13_1_default_offer_and_accept() {
    run_subsection(13, 1, Data::Json, SECTION_13[0].0, SECTION_13[0].1);
}

#[test]
fn section_13_2_no_context_takeover() {
    run_subsection(13, 2, Data::Json, SECTION_13[1].0, SECTION_13[1].1);
}

#[test]
fn section_13_3_window_9() {
    run_subsection(13, 3, Data::Json, SECTION_13[2].0, SECTION_13[2].1);
}

#[test]
fn section_13_4_window_15() {
    run_subsection(13, 4, Data::Json, SECTION_13[3].0, SECTION_13[3].1);
}

#[test]
fn section_13_5_no_context_takeover_window_9() {
    run_subsection(13, 5, Data::Json, SECTION_13[4].0, SECTION_13[4].1);
}

#[test]
fn section_13_6_no_context_takeover_window_15() {
    run_subsection(13, 6, Data::Json, SECTION_13[5].0, SECTION_13[5].1);
}

#[test]
fn section_13_7_several_offers() {
    run_subsection(13, 7, Data::Json, SECTION_13[6].0, SECTION_13[6].1);
}

/// The answers the fuzzer server gives, as upstream's accept functions do.
#[test]
fn fuzzer_server_answers_like_upstream() {
    let ours = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
    let expected = [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; client_max_window_bits=9",
        "permessage-deflate; client_max_window_bits=15",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=15",
        "permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
    ];
    for ((_, rule), want) in SECTION_13.iter().zip(expected) {
        assert_eq!(fuzzer_answer(ours, rule).as_deref(), Some(want));
    }
    // An offer without client_no_context_takeover is declined by 13.2's rule.
    assert_eq!(fuzzer_answer("permessage-deflate; client_max_window_bits", SECTION_13[1].1), None);
    let _ = MessageKind::Text;
}
