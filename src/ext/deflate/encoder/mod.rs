//! wsmachine's own DEFLATE compressor (RFC 1951), sized by the negotiated
//! window.
//!
//! Hash chains over a window buffer of twice the LZ77 window, as zlib
//! does, with zlib's effort levels (greedy matching for 1–3, lazy for 4–9;
//! 0 writes stored blocks; see [`Effort`] for where levels 1 and 2 differ). What sets it apart from a general compressor
//! is what permessage-deflate needs:
//!
//! - Every buffer is sized by the window: about 190 KiB at window 15
//!   (64 KiB window buffer, 64 KiB of chains, a 32 KiB hash table, 24 KiB
//!   of block tokens) and 43 KiB at window 11. `miniz_oxide`'s compressor
//!   holds about 310 KiB whatever the window; zlib's default holds 256 KiB
//!   plus its state.
//! - A back-reference never reaches further than 2^bits − 1 bytes, so a
//!   peer inflating with exactly the negotiated window reads every message.
//! - Each call ends with a sync flush on a byte boundary, and writes into
//!   the caller's vector: there is no output buffer to hold.

mod bits;
mod block;
mod huffman;

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use bits::BitWriter;
use block::Tokens;

/// The shortest match DEFLATE can express.
const MIN_MATCH: usize = 3;
/// The longest.
const MAX_MATCH: usize = 258;
/// A match of the shortest length this far back costs more bits than three
/// literals usually do (zlib's `TOO_FAR`).
const TOO_FAR: usize = 4096;
/// Bits of the hash table index at window 15; smaller windows use fewer.
const MAX_HASH_BITS: u32 = 14;

/// How hard one level searches: zlib's configuration table, but for
/// levels 1 and 2. Level 1 looks at one candidate and hashes no position
/// inside a match, as `miniz_oxide`'s level 1 does (so it keeps no chains);
/// level 2 follows 6 links instead of 8, for `miniz_oxide`'s speed at its
/// level 2 with output no larger.
#[derive(Debug, Clone, Copy)]
struct Effort {
    /// Chain links followed per search.
    chain: u16,
    /// A match this long ends the search.
    nice: u16,
    /// Lazy levels: a match this long is taken without looking one byte
    /// further. Greedy levels: the longest match whose bytes are all added
    /// to the hash chains.
    lazy: u16,
    /// Lazy levels: a previous match this long cuts the search to a quarter.
    good: u16,
    /// Look one byte further before taking a match (levels 4–9).
    is_lazy: bool,
}

impl Effort {
    /// `None` for level 0 (stored blocks only).
    fn of_level(level: u8) -> Option<Self> {
        let (good, lazy, nice, chain, is_lazy) = match level {
            0 => return None,
            1 => (4, 0, 8, 1, false),
            2 => (4, 5, 16, 6, false),
            3 => (4, 6, 32, 32, false),
            4 => (4, 4, 16, 16, true),
            5 => (8, 16, 32, 32, true),
            6 => (8, 16, 128, 128, true),
            7 => (8, 32, 128, 256, true),
            8 => (32, 128, 258, 1024, true),
            _ => (32, 258, 258, 4096, true),
        };
        Some(Effort { chain, nice, lazy, good, is_lazy })
    }
}

/// One direction's DEFLATE compressor with its context (the window and the
/// hash chains over it), kept from call to call.
pub(crate) struct Encoder {
    /// Recent input, twice the window (at least 1 KiB): matches are sought
    /// in the lower half while new input fills the upper one.
    window: Box<[u8]>,
    /// Per hash of three bytes, the latest position with it (0: none).
    head: Box<[u16]>,
    /// Per position modulo the window, the previous position with the same
    /// hash (the chain); empty at level 1, which follows no chain.
    prev: Box<[u16]>,
    hash_shift: u32,
    /// 2^bits − 1: the farthest back-reference.
    max_dist: usize,
    /// Bytes of `window` in use.
    fill: usize,
    /// The next byte to encode.
    pos: usize,
    /// The first byte of the block being gathered, `None` once a slide
    /// moved it out of the window (the block can then not be stored).
    block_start: Option<usize>,
    /// Lazy levels: the match (or, with length 0, the literal) found at
    /// `pos − 1` and not yet emitted.
    pending: Option<(usize, usize)>,
    effort: Option<Effort>,
    tokens: Tokens,
}

impl core::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encoder")
            .field("window", &self.window.len())
            .field("max_dist", &self.max_dist)
            .field("effort", &self.effort)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// A compressor at `level` (0–9) whose back-references stay within a
    /// window of 2^`window_bits` bytes (8–15).
    pub(crate) fn new(level: u8, window_bits: u8) -> Self {
        let bits = u32::from(window_bits.clamp(8, 15));
        let window = 1usize << bits;
        let effort = Effort::of_level(level);
        // Level 0 never searches: no window or chains to hold. Level 1
        // looks at one candidate only, the latest with the same hash: no
        // chains either.
        let (buffer, chains, hash_bits) = match effort {
            Some(e) => (2 * window.max(512), if e.chain > 1 { window } else { 0 }, bits.min(MAX_HASH_BITS)),
            None => (0, 0, 0),
        };
        Encoder {
            window: vec![0; buffer].into_boxed_slice(),
            head: vec![0; if effort.is_some() { 1 << hash_bits } else { 0 }].into_boxed_slice(),
            prev: vec![0; chains].into_boxed_slice(),
            hash_shift: 32 - hash_bits,
            max_dist: window - 1,
            fill: 0,
            pos: 0,
            block_start: Some(0),
            pending: None,
            effort,
            tokens: Tokens::new(),
        }
    }

    /// Compresses `input` and appends it to `out` as DEFLATE blocks, none
    /// final, ending with a sync flush (an empty stored block, `00 00 ff ff`
    /// last). Later calls may refer back into this input until
    /// [`reset`](Self::reset).
    pub(crate) fn encode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        let mut w = BitWriter::new(out);
        // Every call ends with `pos` at `fill`: the last two positions of
        // the previous call were not hashed, their three bytes not all there.
        let mut unhashed = Some(self.pos.min(2));
        match self.effort {
            None => block::write_stored(&mut w, input),
            Some(effort) => loop {
                if self.fill == self.window.len() {
                    self.slide();
                }
                let n = input.len().min(self.window.len() - self.fill);
                crate::copy::copy(&mut self.window[self.fill..self.fill + n], &input[..n]);
                self.fill += n;
                input = &input[n..];
                if let Some(tail) = unhashed.take() {
                    self.insert_range((self.pos - tail).max(1), self.pos);
                }
                // While more input is to come, leave the longest match's
                // worth unread, so no match is cut short by the buffer.
                let end = if input.is_empty() { self.fill } else { self.fill - MAX_MATCH };
                if effort.is_lazy {
                    self.scan_lazy(end, effort, &mut w);
                } else if self.prev.is_empty() {
                    // No chains kept (level 1): the latest candidate only.
                    self.scan_latest(end, &mut w);
                } else {
                    self.scan_greedy(end, effort, &mut w);
                }
                if input.is_empty() {
                    self.finish_lazy();
                    self.flush_block(&mut w);
                    break;
                }
            },
        }
        w.put(0b000, 3);
        w.align();
        w.put_bytes(&[0, 0, 0xff, 0xff]);
    }

    /// Forgets the context: later input refers to nothing before it.
    pub(crate) fn reset(&mut self) {
        self.head.fill(0);
        self.fill = 0;
        self.pos = 0;
        self.block_start = Some(0);
        self.pending = None;
    }

    /// Adds position `pos` (with three bytes available) to its hash chain
    /// and returns the previous head of that chain.
    #[inline]
    fn insert(&mut self, pos: usize) -> usize {
        let bytes = &self.window[pos..pos + MIN_MATCH];
        let key = u32::from(bytes[0]) | u32::from(bytes[1]) << 8 | u32::from(bytes[2]) << 16;
        let h = (key.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize;
        let candidate = self.head[h];
        if let Some(link) = self.prev.get_mut(pos & self.max_dist) {
            *link = candidate;
        }
        self.head[h] = pos as u16;
        usize::from(candidate)
    }

    /// Hashes the positions from `from` to before `to` (inside a match, or
    /// the previous call's last two) that have their three bytes.
    #[inline]
    fn insert_range(&mut self, from: usize, to: usize) {
        for p in from..to.min((self.fill + 1).saturating_sub(MIN_MATCH)) {
            self.insert(p);
        }
    }

    /// The longest match for `pos` longer than `better_than`, up to
    /// `max_len`, following the chain from `candidate`: `(length, distance)`,
    /// or `(0, 0)` if there is none.
    #[inline(always)]
    fn longest_match(
        &self,
        pos: usize,
        mut candidate: usize,
        max_len: usize,
        better_than: usize,
        mut chain: u16,
        nice: usize,
    ) -> (usize, usize) {
        let mut best = better_than;
        let mut best_dist = 0;
        if best >= max_len {
            return (0, 0);
        }
        let lowest = pos.saturating_sub(self.max_dist).max(1);
        let window = &self.window[..self.fill];
        while candidate >= lowest && chain > 0 {
            chain -= 1;
            // The byte that would make this match longer than the best, and
            // the first two, are compared before the whole match is.
            if window[candidate + best] == window[pos + best]
                && window[candidate] == window[pos]
                && window[candidate + 1] == window[pos + 1]
            {
                let len = match_length(window, candidate, pos, max_len);
                if len > best {
                    best = len;
                    best_dist = pos - candidate;
                    if len >= nice || len == max_len {
                        break;
                    }
                }
            }
            // The chain runs to older positions; a link that does not is
            // stale (its slot was reused) and ends it. Without chains
            // (level 1) the head was the only candidate.
            let Some(&next) = self.prev.get(candidate & self.max_dist) else { break };
            let next = usize::from(next);
            if next >= candidate {
                break;
            }
            candidate = next;
        }
        if best_dist == 0 || (best == MIN_MATCH && best_dist > TOO_FAR) {
            return (0, 0);
        }
        (best, best_dist)
    }

    /// Greedy matching (levels 1–3) of the positions before `end`.
    #[inline(never)]
    fn scan_greedy(&mut self, end: usize, effort: Effort, w: &mut BitWriter<'_>) {
        while self.pos < end {
            if self.tokens.is_full() {
                self.flush_block(w);
            }
            let pos = self.pos;
            let avail = self.fill - pos;
            let (len, dist) = if avail >= MIN_MATCH {
                let candidate = self.insert(pos);
                self.longest_match(
                    pos,
                    candidate,
                    avail.min(MAX_MATCH),
                    MIN_MATCH - 1,
                    effort.chain,
                    usize::from(effort.nice),
                )
            } else {
                (0, 0)
            };
            if len >= MIN_MATCH {
                debug_assert!(dist <= self.max_dist);
                self.tokens.matched(len, dist);
                // Long matches are skipped over unhashed, as zlib's fast
                // levels do: hashing them costs more than it finds.
                if len <= usize::from(effort.lazy) {
                    self.insert_range(pos + 1, pos + len);
                }
                self.pos = pos + len;
            } else {
                self.tokens.literal(self.window[pos]);
                self.pos = pos + 1;
            }
        }
    }

    /// Greedy matching against the latest candidate only (level 1, which
    /// keeps no chains), giving what [`scan_greedy`](Self::scan_greedy)
    /// gives with one chain link and nothing hashed inside a match: without
    /// a chain to follow, the candidate is compared at once, eight bytes at
    /// a time, instead of by its first three bytes one by one: a quarter
    /// fewer instructions per byte compressed at level 1 (16 KiB messages
    /// and longer; a sixth at 1 KiB).
    #[inline(never)]
    fn scan_latest(&mut self, end: usize, w: &mut BitWriter<'_>) {
        while self.pos < end {
            if self.tokens.is_full() {
                self.flush_block(w);
            }
            let pos = self.pos;
            let avail = self.fill - pos;
            if avail >= MIN_MATCH {
                let candidate = self.insert(pos);
                if candidate >= pos.saturating_sub(self.max_dist).max(1) {
                    let len = match_length(&self.window[..self.fill], candidate, pos, avail.min(MAX_MATCH));
                    let dist = pos - candidate;
                    if len > MIN_MATCH || (len == MIN_MATCH && dist <= TOO_FAR) {
                        self.tokens.matched(len, dist);
                        self.pos = pos + len;
                        continue;
                    }
                }
            }
            self.tokens.literal(self.window[pos]);
            self.pos = pos + 1;
        }
    }

    /// Lazy matching (levels 4–9) of the positions before `end`: a match is
    /// taken only if the next position does not start a longer one.
    fn scan_lazy(&mut self, end: usize, effort: Effort, w: &mut BitWriter<'_>) {
        while self.pos < end {
            if self.tokens.is_full() {
                self.flush_block(w);
            }
            let pos = self.pos;
            let avail = self.fill - pos;
            let prev_len = self.pending.map_or(0, |(len, _)| len);
            let (mut len, mut dist) = (0, 0);
            if avail >= MIN_MATCH {
                let candidate = self.insert(pos);
                if prev_len < usize::from(effort.lazy) {
                    let chain = if prev_len >= usize::from(effort.good) { effort.chain / 4 } else { effort.chain };
                    (len, dist) = self.longest_match(
                        pos,
                        candidate,
                        avail.min(MAX_MATCH),
                        prev_len.max(MIN_MATCH - 1),
                        chain.max(1),
                        usize::from(effort.nice),
                    );
                }
            }
            if let Some((prev_len, prev_dist)) = self.pending {
                if prev_len >= MIN_MATCH && len <= prev_len {
                    // The match at pos − 1 is at least as long: take it.
                    debug_assert!(prev_dist <= self.max_dist);
                    self.tokens.matched(prev_len, prev_dist);
                    let stop = pos - 1 + prev_len;
                    self.insert_range(pos + 1, stop);
                    self.pending = None;
                    self.pos = stop;
                    continue;
                }
                self.tokens.literal(self.window[pos - 1]);
            }
            self.pending = Some((len, dist));
            self.pos = pos + 1;
        }
    }

    /// Emits what lazy matching held back at the end of the input: only a
    /// literal, since a match found one byte from the end is at most one
    /// byte long.
    fn finish_lazy(&mut self) {
        if let Some((len, _)) = self.pending.take() {
            debug_assert!(len < MIN_MATCH);
            self.tokens.literal(self.window[self.pos - 1]);
        }
    }

    /// Writes the gathered tokens as a block. The next block starts where
    /// the tokens end: at `pos`, or at `pos − 1` while a lazy literal is held.
    fn flush_block(&mut self, w: &mut BitWriter<'_>) {
        let bytes = self.tokens.bytes;
        let raw = self.block_start.map(|start| &self.window[start..start + bytes]);
        self.tokens.write_block(w, raw);
        self.block_start = Some(self.pos - usize::from(self.pending.is_some()));
    }

    /// Moves the upper half of the window buffer down, making room for new
    /// input, and the positions in the chains with it; positions that fall
    /// out become 0 (none). Matches still reach a full window back: the
    /// next byte to encode is at least `MAX_MATCH` short of the top.
    fn slide(&mut self) {
        let half = self.window.len() / 2;
        self.window.copy_within(half.., 0);
        let shift = half as u16;
        // One plain loop per table: each vectorises, a chained iterator
        // did not (it was a quarter of the time at level 1).
        for link in self.head.iter_mut() {
            *link = link.saturating_sub(shift);
        }
        for link in self.prev.iter_mut() {
            *link = link.saturating_sub(shift);
        }
        self.fill -= half;
        self.pos -= half;
        // A block is not cut at a slide (a block header costs more than
        // storing is ever likely to save); one that began in the lower half
        // loses only the choice of being stored.
        self.block_start = self.block_start.and_then(|start| start.checked_sub(half));
    }
}

/// How many bytes from `a` and `b` (`a` < `b`) agree, up to `max_len`
/// (`b + max_len` within `window`), compared eight at a time.
#[inline]
fn match_length(window: &[u8], a: usize, b: usize, max_len: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max_len {
        let x = load_u64(&window[a + n..a + n + 8]);
        let y = load_u64(&window[b + n..b + n + 8]);
        let diff = x ^ y;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max_len && window[a + n] == window[b + n] {
        n += 1;
    }
    n
}

#[inline]
fn load_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests;
