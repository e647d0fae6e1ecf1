//! The permessage-deflate backends compared by the `deflate` bench and
//! counted by the `deflate_instructions` example, driven as
//! permessage-deflate drives them (raw DEFLATE, a sync flush after every
//! message, context takeover), and the JSON-like text they compress.

use super::XorShift;

/// The four bytes a sync flush ends with, which permessage-deflate strips
/// from each message and the inflater gets back (RFC 7692 §7.2.2).
pub const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// JSON-like text of exactly `len` bytes: records with varying ids, names,
/// numbers and words, as API or chat traffic (compresses to about a fifth
/// to a quarter with zlib's default level).
pub fn json_text(len: usize, seed: u32) -> Vec<u8> {
    const NAMES: [&str; 12] =
        ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"];
    const WORDS: [&str; 16] = [
        "hello", "world", "status", "update", "order", "shipped", "pending", "price", "total", "item", "quantity",
        "message", "channel", "online", "away", "typing",
    ];
    // 2·seed + 1: odd (xorshift needs a nonzero state) and distinct per
    // seed. `seed | 1` gave seeds 2k and 2k + 1 the same text, so every
    // other message repeated the one before, well within the window.
    let mut rng = XorShift(seed.wrapping_mul(2) | 1);
    let mut out = String::with_capacity(len + 256);
    out.push('[');
    while out.len() < len {
        let r = rng.next_u32();
        let text: Vec<&str> = (0..3 + r % 6).map(|i| WORDS[(rng.next_u32().wrapping_add(i) % 16) as usize]).collect();
        out.push_str(&format!(
            r#"{{"id":{},"user":"{}","ts":{},"score":{}.{:02},"online":{},"text":"{}"}},"#,
            r % 1_000_000,
            NAMES[(r >> 8) as usize % NAMES.len()],
            1_714_000_000 + (rng.next_u32() % 100_000),
            rng.next_u32() % 1000,
            rng.next_u32() % 100,
            r & 1 == 0,
            text.join(" "),
        ));
    }
    out.truncate(len);
    out.into_bytes()
}

/// One backend's compressor and inflater, as permessage-deflate drives them.
pub trait Backend {
    /// Compresses one message into `out` (cleared first), sync-flushed,
    /// without the `00 00 ff ff` tail.
    fn compress(&mut self, msg: &[u8], out: &mut Vec<u8>);
    /// Inflates one message (tail appended) into `out` (cleared first).
    fn inflate(&mut self, comp: &[u8], out: &mut Vec<u8>);
}

pub mod miniz {
    use miniz_oxide::deflate::core::{
        compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
    };
    use miniz_oxide::inflate::stream::{inflate, InflateState};
    use miniz_oxide::{DataFormat, MZFlush};

    pub struct Miniz {
        /// `None` for an inflater alone.
        c: Option<Box<CompressorOxide>>,
        d: Box<InflateState>,
    }

    impl Miniz {
        pub fn new(level: u8) -> Self {
            let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
            Miniz { c: Some(Box::new(CompressorOxide::new(flags))), d: InflateState::new_boxed(DataFormat::Raw) }
        }

        pub fn inflater() -> Self {
            Miniz { c: None, d: InflateState::new_boxed(DataFormat::Raw) }
        }
    }

    impl super::Backend for Miniz {
        fn compress(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            out.clear();
            let c = self.c.as_mut().expect("a compressor");
            for (data, flush) in [(msg, TDEFLFlush::None), (&[][..], TDEFLFlush::Sync)] {
                let mut rest = data;
                loop {
                    let (_, used) = compress_to_output(c, rest, flush, |b| {
                        out.extend_from_slice(b);
                        true
                    });
                    rest = &rest[used..];
                    if rest.is_empty() {
                        break;
                    }
                }
            }
            out.truncate(out.len() - 4);
        }

        fn inflate(&mut self, comp: &[u8], out: &mut Vec<u8>) {
            out.clear();
            let mut buf = [0u8; 16 * 1024];
            for data in [comp, &super::TAIL[..]] {
                let mut rest = data;
                loop {
                    let r = inflate(&mut self.d, rest, &mut buf, MZFlush::None);
                    out.extend_from_slice(&buf[..r.bytes_written]);
                    rest = &rest[r.bytes_consumed..];
                    if rest.is_empty() && r.bytes_written < buf.len() {
                        break;
                    }
                }
            }
        }
    }
}

pub mod zlib {
    use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush};

    pub struct Zlib {
        c: Deflate,
        d: Inflate,
    }

    impl Zlib {
        pub fn new(level: u8, window_bits: u8, mem_level: u8) -> Self {
            let config = DeflateConfig {
                level: i32::from(level),
                window_bits: -i32::from(window_bits),
                mem_level: i32::from(mem_level),
                ..DeflateConfig::default()
            };
            Zlib { c: Deflate::new_with_config(config), d: Inflate::new(false, window_bits) }
        }
    }

    impl super::Backend for Zlib {
        fn compress(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            out.clear();
            let mut buf = [0u8; 16 * 1024];
            let start = self.c.total_in();
            loop {
                let used = (self.c.total_in() - start) as usize;
                let before = self.c.total_out();
                self.c.compress(&msg[used..], &mut buf, DeflateFlush::SyncFlush).unwrap();
                let n = (self.c.total_out() - before) as usize;
                out.extend_from_slice(&buf[..n]);
                if (self.c.total_in() - start) as usize == msg.len() && n < buf.len() {
                    break;
                }
            }
            out.truncate(out.len() - 4);
        }

        fn inflate(&mut self, comp: &[u8], out: &mut Vec<u8>) {
            out.clear();
            let mut buf = [0u8; 16 * 1024];
            for data in [comp, &super::TAIL[..]] {
                let mut rest = data;
                loop {
                    let (in0, out0) = (self.d.total_in(), self.d.total_out());
                    self.d.decompress(rest, &mut buf, InflateFlush::NoFlush).unwrap();
                    let written = (self.d.total_out() - out0) as usize;
                    out.extend_from_slice(&buf[..written]);
                    rest = &rest[(self.d.total_in() - in0) as usize..];
                    if rest.is_empty() && written < buf.len() {
                        break;
                    }
                }
            }
        }
    }
}

/// wsmachine's own compressor, driven through `Deflate::send_binary` on a
/// server connection (the frame header is cut off again; framing costs
/// well under 0.1 µs a message), with `miniz_oxide`'s inflater, which is
/// the one wsmachine inflates with.
pub mod own {
    use wsmachine::ext::deflate::{Deflate, DeflateConfig, DeflateParams};
    use wsmachine::{Config, Connection, FrameHeader, HeaderStatus, Role};

    pub struct Own {
        conn: Connection,
        deflate: Deflate,
        frame: Vec<u8>,
        inflater: super::miniz::Miniz,
    }

    impl Own {
        pub fn new(level: u8, window_bits: u8) -> Self {
            let config = DeflateConfig { level, threshold: 0, ..DeflateConfig::default() };
            let params = DeflateParams { server_max_window_bits: Some(window_bits), ..DeflateParams::default() };
            Own {
                conn: Connection::server(Deflate::connection_config(Config::default())),
                deflate: Deflate::new(Role::Server, params, &config),
                frame: Vec::new(),
                inflater: super::miniz::Miniz::inflater(),
            }
        }
    }

    impl super::Backend for Own {
        fn compress(&mut self, msg: &[u8], out: &mut Vec<u8>) {
            self.frame.clear();
            self.deflate.send_binary(&mut self.conn, msg, &mut self.frame).unwrap();
            let Ok(HeaderStatus::Complete { len, .. }) = FrameHeader::decode(&self.frame) else { panic!("a frame") };
            out.clear();
            out.extend_from_slice(&self.frame[len..]);
        }

        fn inflate(&mut self, comp: &[u8], out: &mut Vec<u8>) {
            self.inflater.inflate(comp, out);
        }
    }
}
