//! Huffman code lengths limited to a maximum length, and the canonical
//! codes DEFLATE derives from them (RFC 1951 §3.2.2).

/// The most symbols of any DEFLATE alphabet (literal/length: 286 used, 288
/// defined).
const MAX_SYMBOLS: usize = 288;

/// Builds length-limited Huffman codes, keeping its work arrays from one
/// block to the next (about 6 KiB that would otherwise be zeroed three
/// times a block).
pub(super) struct TreeBuilder {
    /// Each used symbol packed as weight << 9 | symbol.
    leaves: [u32; MAX_SYMBOLS],
    /// Per node: leaves first, then internal nodes in the order made.
    weight: [u32; 2 * MAX_SYMBOLS],
    parent: [u16; 2 * MAX_SYMBOLS],
    depth: [u8; 2 * MAX_SYMBOLS],
}

impl TreeBuilder {
    pub(super) fn new() -> Self {
        TreeBuilder {
            leaves: [0; MAX_SYMBOLS],
            weight: [0; 2 * MAX_SYMBOLS],
            parent: [0; 2 * MAX_SYMBOLS],
            depth: [0; 2 * MAX_SYMBOLS],
        }
    }

    /// Sets `lengths[s]` to the code length of symbol `s` for a Huffman
    /// code over `freq`, no longer than `max_bits`; unused symbols get 0.
    ///
    /// At least two symbols always get a length, so the code is complete
    /// (an inflater may refuse a code of one symbol): with one used symbol
    /// a second is given length 1 too, and with none, symbols 0 and 1.
    pub(super) fn code_lengths(&mut self, freq: &[u32], max_bits: u8, lengths: &mut [u8]) {
        debug_assert!(freq.len() <= MAX_SYMBOLS && lengths.len() == freq.len() && freq.len() >= 2);
        lengths.fill(0);
        // Packed so that sorting plain integers orders by weight, then
        // symbol. Weights stay below 2^23: a block counts at most
        // `BLOCK_TOKENS` + 1 of any symbol.
        let mut n = 0;
        for (symbol, &f) in freq.iter().enumerate() {
            if f > 0 {
                self.leaves[n] = f.min(WEIGHT_MAX) << 9 | symbol as u32;
                n += 1;
            }
        }
        match n {
            0 => {
                lengths[0] = 1;
                lengths[1] = 1;
                return;
            }
            1 => {
                let used = (self.leaves[0] & 0x1ff) as usize;
                lengths[used] = 1;
                lengths[if used == 0 { 1 } else { 0 }] = 1;
                return;
            }
            _ => {}
        }
        self.leaves[..n].sort_unstable();
        // Too deep a tree: flatten the weights (halving, never to zero) and
        // build again. At worst every weight becomes 1, a balanced tree of
        // depth ⌈log2 n⌉ ≤ 9, within every limit DEFLATE sets (7 and 15).
        while self.tree_depths(n) > max_bits {
            for leaf in &mut self.leaves[..n] {
                let weight = (*leaf >> 9 >> 1).max(1);
                *leaf = weight << 9 | (*leaf & 0x1ff);
            }
            self.leaves[..n].sort_unstable();
        }
        for (&leaf, &depth) in self.leaves[..n].iter().zip(&self.depth[..n]) {
            lengths[(leaf & 0x1ff) as usize] = depth;
        }
    }

    /// Builds a Huffman tree over the first `n` leaves (sorted, at least
    /// two) with the two-queue method, sets each leaf's depth in `depth`
    /// and returns the largest.
    fn tree_depths(&mut self, n: usize) -> u8 {
        let (weight, parent, depth) = (&mut self.weight, &mut self.parent, &mut self.depth);
        for (w, &leaf) in weight.iter_mut().zip(&self.leaves[..n]) {
            *w = leaf >> 9;
        }
        // Internal nodes are made in the order of their weights, so the
        // two lightest nodes are always at the front of one of the queues.
        let (mut next_leaf, mut next_inner) = (0, n);
        for made in n..2 * n - 1 {
            let mut children = [0usize; 2];
            for child in &mut children {
                if next_leaf < n && (next_inner >= made || weight[next_leaf] <= weight[next_inner]) {
                    *child = next_leaf;
                    next_leaf += 1;
                } else {
                    *child = next_inner;
                    next_inner += 1;
                }
            }
            let [a, b] = children;
            weight[made] = weight[a].saturating_add(weight[b]);
            parent[a] = made as u16;
            parent[b] = made as u16;
        }
        // Parents are made after their children: walking down from the
        // root sets every parent's depth before its children's.
        let root = 2 * n - 2;
        depth[root] = 0;
        let mut deepest = 0;
        for node in (0..root).rev() {
            let d = depth[usize::from(parent[node])].saturating_add(1);
            depth[node] = d;
            if node < n {
                deepest = deepest.max(d);
            }
        }
        deepest
    }
}

/// The largest weight a leaf is given (larger counts are capped; blocks
/// never count that many).
const WEIGHT_MAX: u32 = (1 << 23) - 1;

/// Each byte with its bits in reverse order: two lookups reverse a code,
/// where `u16::reverse_bits` takes a dozen instructions on x86-64.
const REVERSED_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).reverse_bits();
        i += 1;
    }
    table
};

/// The canonical code of each symbol from its length (RFC 1951 §3.2.2),
/// bit-reversed, since DEFLATE sends Huffman codes most significant bit
/// first into its least-significant-first bit stream. A `const fn`, so the
/// fixed code is computed at compile time; it returns the codes rather
/// than filling a `&mut` slice, which a `const fn` may take only from
/// Rust 1.83 on (the crate builds with 1.81).
pub(super) const fn canonical_codes<const N: usize>(lengths: &[u8; N]) -> [u16; N] {
    let mut codes = [0u16; N];
    let mut count = [0u16; 16];
    let mut i = 0;
    while i < lengths.len() {
        count[lengths[i] as usize] += 1;
        i += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    let mut bits = 1;
    while bits < 16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
        bits += 1;
    }
    let mut symbol = 0;
    while symbol < lengths.len() {
        let len = lengths[symbol] as usize;
        if len > 0 {
            let code = next[len];
            let reversed =
                (REVERSED_BYTE[(code & 0xff) as usize] as u16) << 8 | REVERSED_BYTE[(code >> 8) as usize] as u16;
            codes[symbol] = reversed >> (16 - len);
            next[len] += 1;
        }
        symbol += 1;
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Kraft sum of the lengths, in units of 2^-max: a complete code
    /// sums to exactly 2^max.
    fn kraft(lengths: &[u8], max: u8) -> u64 {
        lengths.iter().filter(|&&l| l > 0).map(|&l| 1u64 << (max - l)).sum()
    }

    #[test]
    fn lengths_form_a_complete_code_within_the_limit() {
        // Fibonacci weights make the deepest possible tree: without the
        // limit 30 symbols would need 29 bits.
        let mut fib = [0u32; 30];
        fib[0] = 1;
        fib[1] = 1;
        for i in 2..30 {
            fib[i] = fib[i - 1] + fib[i - 2];
        }
        for max in [7u8, 15] {
            let mut lengths = [0u8; 30];
            TreeBuilder::new().code_lengths(&fib, max, &mut lengths);
            assert!(lengths.iter().all(|&l| (1..=max).contains(&l)), "{lengths:?}");
            assert_eq!(kraft(&lengths, max), 1 << max);
        }
    }

    #[test]
    fn frequent_symbols_get_short_codes() {
        let freq = [100, 1, 1, 50, 0, 25];
        let mut lengths = [0u8; 6];
        TreeBuilder::new().code_lengths(&freq, 15, &mut lengths);
        assert_eq!(lengths, [1, 4, 4, 2, 0, 3]);
    }

    #[test]
    fn one_or_no_used_symbol_still_makes_two_codes() {
        let mut lengths = [0u8; 4];
        let mut trees = TreeBuilder::new();
        trees.code_lengths(&[0, 0, 7, 0], 15, &mut lengths);
        assert_eq!(lengths, [1, 0, 1, 0]);
        trees.code_lengths(&[0, 0, 0, 0], 15, &mut lengths);
        assert_eq!(lengths, [1, 1, 0, 0]);
        trees.code_lengths(&[3, 0, 0, 0], 15, &mut lengths);
        assert_eq!(lengths, [1, 1, 0, 0]);
    }

    #[test]
    fn canonical_codes_match_rfc_1951_example() {
        // RFC 1951 §3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) give codes
        // 010, 011, 100, 101, 110, 00, 1110, 1111.
        let lengths = [3, 3, 3, 3, 3, 2, 4, 4];
        let codes = canonical_codes(&lengths);
        let expected = [0b010u16, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        for (i, (&code, &want)) in codes.iter().zip(&expected).enumerate() {
            let len = u32::from(lengths[i]);
            assert_eq!(code, want.reverse_bits() >> (16 - len), "symbol {i}");
        }
    }
}
