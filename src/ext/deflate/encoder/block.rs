//! DEFLATE blocks (RFC 1951 §3.2.3–§3.2.7): the tokens of one block and how
//! they are written, as stored, fixed-Huffman or dynamic-Huffman data,
//! whichever is shortest.

use alloc::vec::Vec;

use super::bits::BitWriter;
use super::huffman::{canonical_codes, TreeBuilder};

/// Symbols of the literal/length alphabet in use (0–285).
const LITLEN_SYMBOLS: usize = 286;
/// Symbols of the distance alphabet in use (0–29).
const DIST_SYMBOLS: usize = 30;
/// The end-of-block symbol.
const END_OF_BLOCK: usize = 256;
/// Blocks standing for fewer input bytes always take the fixed code (or
/// are stored), as `miniz` does below the same size.
const SMALL_BLOCK: usize = 48;
/// Tokens in one block at most: 24 KiB of token storage, and a new code
/// for every 8 K tokens, which keeps the codes fitted to the data.
pub(super) const BLOCK_TOKENS: usize = 8 * 1024;

/// Base length of each length symbol (257 + index).
const LENGTH_BASE: [u16; 29] =
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
/// Extra bits of each length symbol.
const LENGTH_EXTRA: [u8; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
/// Base distance of each distance symbol.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
    8193, 12289, 16385, 24577,
];
/// Extra bits of each distance symbol.
const DIST_EXTRA: [u8; 30] =
    [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/// The order code-length code lengths are sent in (RFC 1951 §3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// The length symbol's index (symbol − 257) for a match of `len` (3–258).
#[inline]
fn length_index(len: usize) -> usize {
    usize::from(LENGTH_INDEX[len - 3])
}

/// The distance symbol for a distance of `dist` (1–32768).
#[inline]
fn dist_index(dist: usize) -> usize {
    let d = dist - 1;
    // Distances from 257 on share a symbol in runs of 128 (symbols 16 and
    // up have at least 7 extra bits), so 512 entries cover them all, as in
    // zlib's `_dist_code`.
    usize::from(if d < 256 { DIST_INDEX[d] } else { DIST_INDEX[256 + (d >> 7)] })
}

/// [`length_index`] by table: one load per match instead of a bit scan,
/// twice per match (counted, then written).
const LENGTH_INDEX: [u8; 256] = {
    let mut table = [0; 256];
    let mut l = 0;
    while l < 256 {
        table[l] = if l < 8 {
            l as u8
        } else if l == 255 {
            28
        } else {
            // Four symbols per power of two from 8 on, told apart by the
            // two bits below the highest.
            let high = (usize::BITS - 1 - l.leading_zeros()) as usize;
            (4 * (high - 1) + ((l >> (high - 2)) & 3)) as u8
        };
        l += 1;
    }
    table
};

/// [`dist_index`] by table: entries 0–255 for distances 1–256, entries
/// 256–511 for distance − 1 shifted right by 7.
const DIST_INDEX: [u8; 512] = {
    // Two symbols per power of two from 4 on.
    const fn symbol(d: usize) -> u8 {
        if d < 4 {
            d as u8
        } else {
            let high = (usize::BITS - 1 - d.leading_zeros()) as usize;
            (2 * high + ((d >> (high - 1)) & 1)) as u8
        }
    }
    let mut table = [0; 512];
    let mut i = 0;
    while i < 256 {
        table[i] = symbol(i);
        table[256 + i] = symbol(i << 7);
        i += 1;
    }
    table
};

/// The tokens of the block being gathered: literals and matches, with the
/// symbol counts the block's code is built from.
pub(super) struct Tokens {
    /// The literal byte, or the match length − 3.
    litlen: Vec<u8>,
    /// 0 for a literal, else the match distance.
    dist: Vec<u16>,
    litlen_freq: [u32; LITLEN_SYMBOLS],
    dist_freq: [u32; DIST_SYMBOLS],
    /// Input bytes the tokens stand for.
    pub(super) bytes: usize,
    trees: TreeBuilder,
}

impl Tokens {
    pub(super) fn new() -> Self {
        Tokens {
            // One over: lazy matching may add a token after the last check.
            litlen: Vec::with_capacity(BLOCK_TOKENS + 1),
            dist: Vec::with_capacity(BLOCK_TOKENS + 1),
            litlen_freq: [0; LITLEN_SYMBOLS],
            dist_freq: [0; DIST_SYMBOLS],
            bytes: 0,
            trees: TreeBuilder::new(),
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.litlen.len() >= BLOCK_TOKENS
    }

    pub(super) fn is_empty(&self) -> bool {
        self.litlen.is_empty()
    }

    #[inline(always)]
    pub(super) fn literal(&mut self, byte: u8) {
        self.litlen.push(byte);
        self.dist.push(0);
        self.litlen_freq[usize::from(byte)] += 1;
        self.bytes += 1;
    }

    /// A match of `len` (3–258) bytes, `dist` (1–32768) back.
    #[inline(always)]
    pub(super) fn matched(&mut self, len: usize, dist: usize) {
        debug_assert!((3..=258).contains(&len) && (1..=32768).contains(&dist));
        self.litlen.push((len - 3) as u8);
        self.dist.push(dist as u16);
        self.litlen_freq[257 + length_index(len)] += 1;
        self.dist_freq[dist_index(dist)] += 1;
        self.bytes += len;
    }

    fn clear(&mut self) {
        self.litlen.clear();
        self.dist.clear();
        self.litlen_freq = [0; LITLEN_SYMBOLS];
        self.dist_freq = [0; DIST_SYMBOLS];
        self.bytes = 0;
    }

    /// Writes the gathered tokens as one non-final block and clears them.
    /// `raw` is the input they stand for, if still at hand, written as
    /// stored blocks when that is shorter.
    pub(super) fn write_block(&mut self, w: &mut BitWriter<'_>, raw: Option<&[u8]>) {
        debug_assert!(raw.map_or(true, |raw| raw.len() == self.bytes));
        if self.is_empty() {
            return;
        }
        self.litlen_freq[END_OF_BLOCK] = 1;
        let stored_bits = raw.map_or(u64::MAX, |raw| stored_bits(raw.len()));
        // Counts stay far from overflowing u32: at most `BLOCK_TOKENS` + 1
        // symbols of at most 15 + 13 bits each.
        let extra_bits = self.extra_bits();
        let fixed_bits = 3 + self.code_bits(&FIXED) + extra_bits;
        // A fitted code's header alone outweighs what it saves on a few
        // dozen bytes: such blocks skip building one.
        let fitted = (self.bytes >= SMALL_BLOCK).then(|| {
            let code = Code::fitted(&self.litlen_freq, &self.dist_freq, &mut self.trees);
            let header = DynamicHeader::new(&code, &mut self.trees);
            let bits = 3 + header.bits + self.code_bits(&code) + extra_bits;
            (code, header, bits)
        });
        let dynamic_bits = fitted.as_ref().map_or(u64::MAX, |(_, _, bits)| *bits);
        if let Some(raw) = raw.filter(|_| stored_bits <= fixed_bits.min(dynamic_bits)) {
            write_stored(w, raw);
        } else if let Some((code, header, _)) = fitted.filter(|_| dynamic_bits < fixed_bits) {
            w.put(0b100, 3);
            header.write(w);
            self.write_data(w, &code);
        } else {
            w.put(0b010, 3);
            self.write_data(w, &FIXED);
        }
        self.clear();
    }

    /// Bits of the tokens and the end of block under `code`, the extra
    /// bits of lengths and distances aside (they are the same under every
    /// code). Plain products summed, which vectorise.
    fn code_bits(&self, code: &Code) -> u64 {
        let litlen: u32 = self.litlen_freq.iter().zip(&code.litlen_len).map(|(&f, &l)| f * u32::from(l)).sum();
        let dist: u32 = self.dist_freq.iter().zip(&code.dist_len).map(|(&f, &l)| f * u32::from(l)).sum();
        u64::from(litlen) + u64::from(dist)
    }

    /// The extra bits of the block's lengths and distances.
    fn extra_bits(&self) -> u64 {
        let lengths: u32 = self.litlen_freq[257..].iter().zip(&LENGTH_EXTRA).map(|(&f, &e)| f * u32::from(e)).sum();
        let dists: u32 = self.dist_freq.iter().zip(&DIST_EXTRA).map(|(&f, &e)| f * u32::from(e)).sum();
        u64::from(lengths) + u64::from(dists)
    }

    fn write_data(&self, w: &mut BitWriter<'_>, code: &Code) {
        for (&litlen, &dist) in self.litlen.iter().zip(&self.dist) {
            if dist == 0 {
                let s = usize::from(litlen);
                w.put(u32::from(code.litlen_code[s]), u32::from(code.litlen_len[s]));
            } else {
                // A code and its extra bits go out in one step: at most
                // 15 + 5 bits for the length, 15 + 13 for the distance.
                let len = usize::from(litlen) + 3;
                let i = length_index(len);
                let s = 257 + i;
                let code_len = u32::from(code.litlen_len[s]);
                let extra = (len - usize::from(LENGTH_BASE[i])) as u32;
                w.put(u32::from(code.litlen_code[s]) | extra << code_len, code_len + u32::from(LENGTH_EXTRA[i]));
                let dist = usize::from(dist);
                let d = dist_index(dist);
                let code_len = u32::from(code.dist_len[d]);
                let extra = (dist - usize::from(DIST_BASE[d])) as u32;
                w.put(u32::from(code.dist_code[d]) | extra << code_len, code_len + u32::from(DIST_EXTRA[d]));
            }
        }
        w.put(u32::from(code.litlen_code[END_OF_BLOCK]), u32::from(code.litlen_len[END_OF_BLOCK]));
    }
}

/// Bits to send `len` bytes as stored blocks (each at most 65 535 bytes,
/// with a 3-bit header, padding to a byte, LEN and NLEN).
fn stored_bits(len: usize) -> u64 {
    let blocks = len.div_ceil(usize::from(u16::MAX)).max(1) as u64;
    blocks * (3 + 7 + 32) + 8 * len as u64
}

/// Writes `raw` as stored blocks (none if it is empty).
pub(super) fn write_stored(w: &mut BitWriter<'_>, raw: &[u8]) {
    for piece in raw.chunks(usize::from(u16::MAX)) {
        w.put(0b000, 3);
        w.align();
        let len = piece.len() as u16;
        w.put_bytes(&len.to_le_bytes());
        w.put_bytes(&(!len).to_le_bytes());
        w.put_bytes(piece);
    }
}

/// The fixed code of RFC 1951 §3.2.6, computed at compile time. Its codes
/// are assigned over all 288 symbols (286 and 287 are never sent but hold
/// two 8-bit codes, which moves every 9-bit code), then cut to the symbols
/// in use; the 30 distance codes are the first 30 of 32 five-bit codes.
const FIXED: Code = {
    let mut lengths = [8u8; 288];
    let mut i = 144;
    while i < 288 {
        lengths[i] = match i {
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
        i += 1;
    }
    let codes = canonical_codes(&lengths);
    let mut code = Code {
        litlen_len: [0; LITLEN_SYMBOLS],
        litlen_code: [0; LITLEN_SYMBOLS],
        dist_len: [5; DIST_SYMBOLS],
        dist_code: [0; DIST_SYMBOLS],
    };
    let mut s = 0;
    while s < LITLEN_SYMBOLS {
        code.litlen_len[s] = lengths[s];
        code.litlen_code[s] = codes[s];
        s += 1;
    }
    code.dist_code = canonical_codes(&[5; DIST_SYMBOLS]);
    code
};

/// A literal/length code and a distance code: lengths and bit-reversed
/// codes per symbol.
struct Code {
    litlen_len: [u8; LITLEN_SYMBOLS],
    litlen_code: [u16; LITLEN_SYMBOLS],
    dist_len: [u8; DIST_SYMBOLS],
    dist_code: [u16; DIST_SYMBOLS],
}

impl Code {
    fn from_lengths(litlen_len: [u8; LITLEN_SYMBOLS], dist_len: [u8; DIST_SYMBOLS]) -> Self {
        Code { litlen_code: canonical_codes(&litlen_len), dist_code: canonical_codes(&dist_len), litlen_len, dist_len }
    }

    /// A code fitted to the counts, lengths limited to 15 bits.
    fn fitted(litlen_freq: &[u32; LITLEN_SYMBOLS], dist_freq: &[u32; DIST_SYMBOLS], trees: &mut TreeBuilder) -> Self {
        let mut litlen = [0u8; LITLEN_SYMBOLS];
        let mut dist = [0u8; DIST_SYMBOLS];
        trees.code_lengths(litlen_freq, 15, &mut litlen);
        trees.code_lengths(dist_freq, 15, &mut dist);
        Code::from_lengths(litlen, dist)
    }
}

/// Extra bits after a code-length symbol: 16 repeats the previous length
/// 3–6 times, 17 and 18 give 3–10 and 11–138 zeros.
fn run_extra_bits(symbol: u8) -> u32 {
    match symbol {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// The header of a dynamic block: the code lengths of both codes,
/// run-length encoded (RFC 1951 §3.2.7) and sent with a code of their own.
struct DynamicHeader {
    hlit: usize,
    hdist: usize,
    hclen: usize,
    /// Run-length symbols (0–18) with their extra-bit values.
    runs: [(u8, u8); LITLEN_SYMBOLS + DIST_SYMBOLS],
    run_count: usize,
    cl_len: [u8; 19],
    cl_code: [u16; 19],
    /// Bits of the header after the 3-bit block header.
    bits: u64,
}

impl DynamicHeader {
    fn new(code: &Code, trees: &mut TreeBuilder) -> Self {
        let hlit = 257.max(LITLEN_SYMBOLS - code.litlen_len.iter().rev().take_while(|&&l| l == 0).count());
        let hdist = 1.max(DIST_SYMBOLS - code.dist_len.iter().rev().take_while(|&&l| l == 0).count());
        let mut all = [0u8; LITLEN_SYMBOLS + DIST_SYMBOLS];
        all[..hlit].copy_from_slice(&code.litlen_len[..hlit]);
        all[hlit..hlit + hdist].copy_from_slice(&code.dist_len[..hdist]);
        let lengths = &all[..hlit + hdist];

        let mut runs = [(0u8, 0u8); LITLEN_SYMBOLS + DIST_SYMBOLS];
        let mut run_count = 0;
        let mut push = |symbol: u8, extra: u8| {
            runs[run_count] = (symbol, extra);
            run_count += 1;
        };
        let mut i = 0;
        while i < lengths.len() {
            let len = lengths[i];
            let mut run = lengths[i..].iter().take_while(|&&l| l == len).count();
            i += run;
            if len == 0 {
                while run >= 11 {
                    let n = run.min(138);
                    push(18, (n - 11) as u8);
                    run -= n;
                }
                if run >= 3 {
                    push(17, (run - 3) as u8);
                    run = 0;
                }
            } else {
                push(len, 0);
                run -= 1;
                while run >= 3 {
                    let n = run.min(6);
                    push(16, (n - 3) as u8);
                    run -= n;
                }
            }
            for _ in 0..run {
                push(len, 0);
            }
        }

        let mut cl_freq = [0u32; 19];
        for &(symbol, _) in &runs[..run_count] {
            cl_freq[usize::from(symbol)] += 1;
        }
        let mut cl_len = [0u8; 19];
        trees.code_lengths(&cl_freq, 7, &mut cl_len);
        let cl_code = canonical_codes(&cl_len);
        let hclen = 4.max(19 - CODE_LENGTH_ORDER.iter().rev().take_while(|&&s| cl_len[s] == 0).count());

        let mut bits = 5 + 5 + 4 + 3 * hclen as u64;
        for (symbol, &f) in cl_freq.iter().enumerate() {
            bits += u64::from(f) * u64::from(u32::from(cl_len[symbol]) + run_extra_bits(symbol as u8));
        }
        DynamicHeader { hlit, hdist, hclen, runs, run_count, cl_len, cl_code, bits }
    }

    fn write(&self, w: &mut BitWriter<'_>) {
        w.put((self.hlit - 257) as u32, 5);
        w.put((self.hdist - 1) as u32, 5);
        w.put((self.hclen - 4) as u32, 4);
        for &symbol in &CODE_LENGTH_ORDER[..self.hclen] {
            w.put(u32::from(self.cl_len[symbol]), 3);
        }
        for &(symbol, extra) in &self.runs[..self.run_count] {
            let s = usize::from(symbol);
            w.put(u32::from(self.cl_code[s]), u32::from(self.cl_len[s]));
            w.put(u32::from(extra), run_extra_bits(symbol));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_distance_symbols_follow_rfc_1951_tables() {
        for len in 3..=258 {
            let i = length_index(len);
            let base = usize::from(LENGTH_BASE[i]);
            assert!(len >= base && len - base < 1 << LENGTH_EXTRA[i], "length {len}: symbol {}", 257 + i);
            if i < 28 && len != 258 {
                assert!(len < usize::from(LENGTH_BASE[i + 1]), "length {len}");
            }
        }
        for dist in 1..=32768 {
            let d = dist_index(dist);
            let base = usize::from(DIST_BASE[d]);
            assert!(dist >= base && dist - base < 1 << DIST_EXTRA[d], "distance {dist}: symbol {d}");
        }
    }
}
