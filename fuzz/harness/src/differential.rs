//! Our frame decoder against tungstenite's, on the same bytes.
//!
//! Shared by the `differential_tungstenite` fuzz target and by
//! `tests/differential.rs` (which replays the target's corpus and shows each
//! deliberate difference); tungstenite is a dependency of this harness only,
//! never of wsmachine.
//!
//! Frames are walked from the start of the input for as long as both
//! decoders accept them. For a frame both accept, every field must agree
//! (FIN, RSV1–3, opcode, mask key, payload length, header length), the
//! payload both unmask must be the same bytes, and both encoders must
//! re-encode the header to the same bytes. Any other disagreement panics,
//! except the deliberate ones in [`Difference`].

use std::io::Cursor;

use tungstenite::error::{Error as TError, ProtocolError as TProtocolError};
use tungstenite::protocol::frame::{Frame as TFrame, FrameHeader as THeader};
use wsmachine::{apply_mask, FrameHeader, HeaderError, HeaderStatus, MAX_HEADER_LEN};

/// A decoded header, in terms both decoders share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    pub fin: bool,
    pub rsv: [bool; 3],
    /// The 4-bit opcode.
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// How many bytes the header took.
    pub header_len: usize,
}

/// What one decoder made of the bytes at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Frame(Fields),
    /// The header is not complete yet.
    Partial,
    /// The decoder refused the header, for this reason.
    Rejected(String),
}

/// The disagreements we chose, each shown with its bytes in
/// `tests/differential.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// A 64-bit length with its most significant bit set: RFC 6455 §5.2 says
    /// that bit MUST be 0. We refuse the header (`HeaderError::LengthMsbSet`,
    /// 1002); tungstenite's header parser returns the length and its codec
    /// refuses it later as over its size limit.
    LengthMsbSet,
    /// A reserved opcode (0x3–0x7, 0xB–0xF). Our decoder returns it as
    /// `OpCode::Reserved` and the connection fails with 1002 (so a caller of
    /// the codec alone can see what arrived); tungstenite's header parser
    /// refuses it itself.
    ReservedOpcode,
}

/// The outcome of comparing one frame position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreement {
    /// Both decoded the same header.
    Frame(Fields),
    /// Both need more bytes.
    Partial,
    /// Both refused the header.
    Rejected,
    /// A difference we chose.
    Deliberate(Difference),
}

/// Our decoder.
pub fn ours(buf: &[u8]) -> Verdict {
    match FrameHeader::decode(buf) {
        Ok(HeaderStatus::Complete { header, len }) => Verdict::Frame(Fields {
            fin: header.fin,
            rsv: [header.rsv1, header.rsv2, header.rsv3],
            opcode: header.opcode.bits(),
            mask: header.mask,
            payload_len: header.payload_len,
            header_len: len,
        }),
        Ok(HeaderStatus::Partial { .. }) => Verdict::Partial,
        Err(HeaderError::LengthMsbSet) => Verdict::Rejected("LengthMsbSet".into()),
        Err(other) => Verdict::Rejected(format!("{other:?}")),
    }
}

/// tungstenite's decoder: `FrameHeader::parse` over a `Cursor`.
pub fn theirs(buf: &[u8]) -> Verdict {
    let mut cursor = Cursor::new(buf);
    match THeader::parse(&mut cursor) {
        Ok(Some((header, payload_len))) => Verdict::Frame(Fields {
            fin: header.is_final,
            rsv: [header.rsv1, header.rsv2, header.rsv3],
            opcode: u8::from(header.opcode),
            mask: header.mask,
            payload_len,
            header_len: usize::try_from(cursor.position()).expect("a header is short"),
        }),
        Ok(None) => {
            assert_eq!(cursor.position(), 0, "a partial parse consumes nothing");
            Verdict::Partial
        }
        Err(TError::Protocol(TProtocolError::InvalidOpcode(op))) => Verdict::Rejected(format!("InvalidOpcode({op})")),
        Err(other) => Verdict::Rejected(format!("{other:?}")),
    }
}

/// Compares the two decoders on the frame at the start of `buf`; panics on
/// a disagreement that is not a chosen [`Difference`].
pub fn compare_one(buf: &[u8]) -> Agreement {
    let (a, b) = (ours(buf), theirs(buf));
    match (&a, &b) {
        (Verdict::Frame(x), Verdict::Frame(y)) => {
            assert_eq!(x, y, "the decoders disagree on {:02x?}", &buf[..buf.len().min(MAX_HEADER_LEN)]);
            check_encoders(x);
            Agreement::Frame(*x)
        }
        (Verdict::Partial, Verdict::Partial) => Agreement::Partial,
        (Verdict::Rejected(_), Verdict::Rejected(_)) => Agreement::Rejected,
        (Verdict::Rejected(why), Verdict::Frame(y)) if why == "LengthMsbSet" && y.payload_len >> 63 != 0 => {
            Agreement::Deliberate(Difference::LengthMsbSet)
        }
        (Verdict::Frame(x), Verdict::Rejected(why))
            if matches!(x.opcode, 0x3..=0x7 | 0xB..=0xF) && *why == format!("InvalidOpcode({})", x.opcode) =>
        {
            Agreement::Deliberate(Difference::ReservedOpcode)
        }
        _ => panic!("ours {a:?}, tungstenite {b:?} on {:02x?}", &buf[..buf.len().min(MAX_HEADER_LEN)]),
    }
}

/// Both encoders write the header in its shortest form: the same bytes.
fn check_encoders(f: &Fields) {
    let opcode = wsmachine::OpCode::from_bits(f.opcode);
    let header = FrameHeader {
        fin: f.fin,
        rsv1: f.rsv[0],
        rsv2: f.rsv[1],
        rsv3: f.rsv[2],
        opcode,
        mask: f.mask,
        payload_len: f.payload_len,
    };
    let mut ours = Vec::new();
    header.encode(&mut ours).expect("a decoded header re-encodes");
    let theirs_header = THeader {
        is_final: f.fin,
        rsv1: f.rsv[0],
        rsv2: f.rsv[1],
        rsv3: f.rsv[2],
        opcode: tungstenite::protocol::frame::coding::OpCode::from(f.opcode),
        mask: f.mask,
    };
    let mut theirs = Vec::new();
    theirs_header.format(f.payload_len, &mut theirs).expect("a Vec grows");
    assert_eq!(ours, theirs, "the encoders disagree on {f:?}");
    assert_eq!(theirs_header.len(f.payload_len), header.encoded_len());
}

/// Both unmask the payload to the same bytes. tungstenite's parser leaves
/// the payload masked and `Frame::format` applies the header's key while
/// writing, which for a received frame is unmasking.
fn check_payload(f: &Fields, header_and_payload: &[u8]) {
    let payload = &header_and_payload[f.header_len..];
    let mut ours = payload.to_vec();
    if let Some(key) = f.mask {
        apply_mask(&mut ours, key, 0);
    }
    let mut cursor = Cursor::new(header_and_payload);
    let (header, _) = THeader::parse(&mut cursor).expect("parsed before").expect("complete");
    let frame = TFrame::from_payload(header, payload.to_vec().into());
    assert_eq!(frame.payload(), payload);
    let mut written = Vec::new();
    frame.format(&mut written).expect("a Vec grows");
    let start = written.len() - payload.len();
    assert_eq!(&written[start..], &ours[..], "the unmasked payloads differ");
}

/// Walks the frames of `data` while both decoders accept them and their
/// payloads are complete; returns what each position gave. The last entry
/// is where the walk stopped (a partial header or payload, a refusal, a
/// deliberate difference), unless the input ended exactly after a frame.
pub fn compare(data: &[u8]) -> Vec<Agreement> {
    let mut at = 0;
    let mut seen = Vec::new();
    while at < data.len() {
        let agreement = compare_one(&data[at..]);
        seen.push(agreement.clone());
        let Agreement::Frame(f) = agreement else { break };
        let end = (at + f.header_len) as u64 + f.payload_len;
        if end > data.len() as u64 {
            break;
        }
        let end = end as usize;
        check_payload(&f, &data[at..end]);
        at = end;
    }
    seen
}
