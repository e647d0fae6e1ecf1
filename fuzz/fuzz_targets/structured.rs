//! Valid-but-unusual frame sequences, structure-aware: `arbitrary` builds a
//! script (empty frames, length-form boundaries, non-minimal lengths, a
//! control frame between every two fragments, exactly `max_fragments`
//! fragments, text cut inside characters, any valid close code), which is
//! turned into the harness's compact form and run by
//! `wsmachine_fuzzing::structured` against both roles.
//!
//! To keep a crash as a regression: `cargo fuzz fmt structured <crash>`
//! prints the script and its compact form as hex; save those bytes
//! (`xxd -r -p`) under `fuzz/regressions/structured/`, which `cargo test`
//! replays.
#![no_main]
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use wsmachine_fuzzing as f;

#[derive(Debug, Arbitrary)]
enum LengthForm {
    Minimal,
    Ext16,
    Ext64,
}

#[derive(Debug, Arbitrary)]
enum Content {
    Bytes(Vec<u8>),
    Text(String),
    Fill { boundary: u8, byte: u8 },
}

#[derive(Debug, Arbitrary)]
enum Between {
    Nothing,
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct MessageOp {
    text: bool,
    content: Content,
    cuts: Vec<u16>,
    pad_to_max: bool,
    between: Between,
    form: LengthForm,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Message(MessageOp),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Ending {
    Close { code: u16, reason: String },
    EmptyClose,
    Eof,
    OneFragmentTooMany,
}

#[derive(Debug, Arbitrary)]
struct Script {
    allow_non_minimal: bool,
    max_fragments: u8,
    mask_seed: u8,
    splits: Vec<u8>,
    ops: Vec<Op>,
    ending: Ending,
}

fn control(mut p: Vec<u8>) -> Vec<u8> {
    p.truncate(125);
    p
}

impl From<Script> for f::Script {
    fn from(s: Script) -> Self {
        let ops = s
            .ops
            .into_iter()
            .map(|op| match op {
                Op::Message(m) => f::Op::Message(f::MessageOp {
                    text: m.text,
                    content: match m.content {
                        Content::Bytes(b) => f::Content::Bytes(b),
                        Content::Text(t) => f::Content::Text(t),
                        Content::Fill { boundary, byte } => f::Content::Fill { boundary, byte },
                    },
                    cuts: m.cuts,
                    pad_to_max: m.pad_to_max,
                    between: match m.between {
                        Between::Nothing => f::Between::Nothing,
                        Between::Ping(p) => f::Between::Ping(control(p)),
                        Between::Pong(p) => f::Between::Pong(control(p)),
                    },
                    form: match m.form {
                        LengthForm::Minimal => f::LengthForm::Minimal,
                        LengthForm::Ext16 => f::LengthForm::Ext16,
                        LengthForm::Ext64 => f::LengthForm::Ext64,
                    },
                }),
                Op::Ping(p) => f::Op::Ping(control(p)),
                Op::Pong(p) => f::Op::Pong(control(p)),
            })
            .collect();
        let ending = match s.ending {
            Ending::Close { code, reason } => f::Ending::Close { code, reason },
            Ending::EmptyClose => f::Ending::EmptyClose,
            Ending::Eof => f::Ending::Eof,
            Ending::OneFragmentTooMany => f::Ending::OneFragmentTooMany,
        };
        f::Script {
            allow_non_minimal: s.allow_non_minimal,
            max_fragments: s.max_fragments,
            mask_seed: s.mask_seed,
            splits: s.splits,
            ops,
            ending,
        }
    }
}

/// The fuzzer's input: a script, shown by `cargo fuzz fmt` with its compact
/// form (the bytes a regression file holds).
struct Input(Vec<u8>);

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let script: f::Script = Script::arbitrary(u)?.into();
        Ok(Input(script.encode()))
    }
}

impl std::fmt::Debug for Input {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(out, "{:#?}", f::Script::decode(&self.0))?;
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        write!(out, "compact form (hex): {hex}")
    }
}

fuzz_target!(|input: Input| wsmachine_fuzzing::structured(&input.0));
