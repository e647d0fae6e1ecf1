//! HTTP/1.1 head tokenising shared by both sides: finding the end of the
//! head incrementally, splitting lines, header lines into the caller's array.

use super::error::HandshakeError;
use super::storage::HeadStorage;

/// One header line of a parsed head. Both parts borrow the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'b> {
    /// The name as sent (a token; compare it case-insensitively).
    pub name: &'b str,
    /// The value with surrounding spaces and tabs removed. Bytes, because
    /// HTTP allows non-ASCII (obs-text) in values; see [`Header::value_str`].
    pub value: &'b [u8],
}

impl<'b> Header<'b> {
    /// An empty header, to initialise the caller's array:
    /// `[Header::EMPTY; wsmachine::handshake::DEFAULT_MAX_HEADERS]`.
    pub const EMPTY: Header<'static> = Header { name: "", value: b"" };

    /// The value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&'b str> {
        core::str::from_utf8(self.value).ok()
    }
}

/// Collects a head that arrives in pieces into the machine's storage and
/// finds its end (`\r\n\r\n`) in linear total time.
///
/// Invariants: `storage[..stored]` holds the head's bytes received so far
/// (and, once complete, exactly the head); every `\n` in
/// `storage[..searched]` has been checked to follow a `\r`, and no head
/// terminator ends before `searched`. Once found, the head length is
/// remembered in `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadScanner {
    stored: usize,
    searched: usize,
    complete: Option<usize>,
}

/// What a call to [`HeadScanner::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fed {
    /// More bytes are needed; the whole input was taken.
    Partial,
    /// The head is `storage[..head_len]`; its last `consumed` bytes came from
    /// this call's input, whose remaining bytes were not taken.
    Complete { head_len: usize, consumed: usize },
}

impl HeadScanner {
    pub(crate) const fn new() -> Self {
        HeadScanner { stored: 0, searched: 0, complete: None }
    }

    /// How many bytes of the storage hold the head so far.
    pub(crate) const fn stored(&self) -> usize {
        self.stored
    }

    /// Appends the new bytes `input` to the head in `storage` and looks for
    /// its end. A head is at most `max_head_len` bytes and never more than
    /// `storage` holds. Every input byte is copied and searched at most once,
    /// so byte-at-a-time input costs linear time in total.
    pub(crate) fn feed<S: HeadStorage + ?Sized>(
        &mut self,
        storage: &mut S,
        input: &[u8],
        max_head_len: usize,
    ) -> Result<Fed, HandshakeError> {
        if let Some(head_len) = self.complete {
            return Ok(Fed::Complete { head_len, consumed: 0 });
        }
        let before = self.stored;
        let (region, limit) = self.store(storage, input, max_head_len);
        self.search(region, before, limit)
    }

    /// Stores `input` as the whole head, unsearched, when nothing is
    /// stored yet, it fits the limit and it ends with a blank line: a
    /// client's usual first read. Returns its length, or `None` having
    /// stored nothing (then [`feed`](Self::feed) it).
    ///
    /// The caller's parser walks every line anyway, so it checks what the
    /// search would have: it confirms the end with [`confirm`](Self::confirm)
    /// when every line ends with CRLF and the first blank line is the last;
    /// otherwise [`search_stored`](Self::search_stored) gives the answer
    /// `feed` would have given.
    pub(crate) fn take_whole<S: HeadStorage + ?Sized>(
        &mut self,
        storage: &mut S,
        input: &[u8],
        max_head_len: usize,
    ) -> Option<usize> {
        let fits = input.len() <= head_limit(storage, max_head_len);
        if self.stored != 0 || self.complete.is_some() || !fits || !input.ends_with(b"\r\n\r\n") {
            return None;
        }
        self.stored = storage.put(0, input).len();
        Some(self.stored)
    }

    /// Marks the head stored by [`take_whole`](Self::take_whole) complete:
    /// its parser found every line ending a CRLF and its first blank line
    /// last.
    pub(crate) fn confirm(&mut self, head_len: usize) {
        self.stored = head_len;
        self.searched = head_len;
        self.complete = Some(head_len);
    }

    /// Searches the head stored by [`take_whole`](Self::take_whole) as
    /// [`feed`](Self::feed) would have, when its parser did not confirm it.
    pub(crate) fn search_stored<S: HeadStorage + ?Sized>(
        &mut self,
        storage: &S,
        max_head_len: usize,
    ) -> Result<Fed, HandshakeError> {
        self.search(storage.held(self.stored), 0, head_limit(storage, max_head_len))
    }

    /// Copies as much of `input` as the limit leaves room for after the
    /// bytes stored; returns all the bytes stored and the limit.
    fn store<'s, S: HeadStorage + ?Sized>(
        &mut self,
        storage: &'s mut S,
        input: &[u8],
        max_head_len: usize,
    ) -> (&'s [u8], usize) {
        let limit = head_limit(storage, max_head_len);
        let take = input.len().min(limit.saturating_sub(self.stored));
        let region = storage.put(self.stored, input.get(..take).unwrap_or(input));
        self.stored = region.len();
        (region, limit)
    }

    /// Looks for the head's end in `region` (the bytes stored, the last of
    /// them put there by the input of this call, which came after `before`).
    fn search(&mut self, region: &[u8], before: usize, limit: usize) -> Result<Fed, HandshakeError> {
        if let Some(i) = first_notable_lf(region, self.searched) {
            // RFC 9112 §2.2: a bare LF is a line ending some recipients accept and
            // others do not; that disagreement is a smuggling vector, so reject it.
            if i == 0 || region.get(i - 1) != Some(&b'\r') {
                return Err(HandshakeError::BareLf);
            }
            let head_len = i + 1;
            // Bytes copied past the head stay the caller's: they were not consumed.
            self.stored = head_len;
            self.searched = head_len;
            self.complete = Some(head_len);
            return Ok(Fed::Complete { head_len, consumed: head_len.saturating_sub(before) });
        }
        self.searched = self.stored;
        if self.stored >= limit {
            // RFC 6455 §10.4: bound the memory a peer can make us hold.
            return Err(HandshakeError::HeadTooLarge);
        }
        Ok(Fed::Partial)
    }
}

/// The most bytes a head may have: the configured limit, and never more
/// than `storage` holds.
fn head_limit<S: HeadStorage + ?Sized>(storage: &S, max_head_len: usize) -> usize {
    max_head_len.min(storage.max_len())
}

/// Bytes [`first_notable_lf`] checks at once without a branch per line.
const SCAN_BLOCK: usize = 64;

/// The position of the first LF at or after `from` that is not the end of
/// an ordinary CRLF line ending: one that ends the head (`\r\n\r\n`) or a
/// bare one (`from` is where the last search stopped, so LFs before it were
/// ordinary).
///
/// A head has a line ending every few dozen bytes, so a search call per
/// line costs more than the bytes: blocks of [`SCAN_BLOCK`] bytes are
/// checked branch-free (with the two bytes before them, so a line ending
/// split between blocks or between reads is seen whole), and only the
/// block that holds the LF sought, or a short tail, is searched LF by LF.
fn first_notable_lf(region: &[u8], from: usize) -> Option<usize> {
    let mut start = from;
    while start < region.len() {
        let end = start.saturating_add(SCAN_BLOCK).min(region.len());
        let window = start.checked_sub(2).and_then(|s| region.get(s..end));
        if let Some(window) = window.and_then(|w| <&[u8; SCAN_BLOCK + 2]>::try_from(w).ok()) {
            if !block_has_notable_lf(window) {
                start = end;
                continue;
            }
        }
        let mut pos = start;
        while let Some(off) = find_lf(region.get(pos..end).unwrap_or(&[])) {
            let i = pos.saturating_add(off);
            let bare = i == 0 || region.get(i - 1) != Some(&b'\r');
            if bare || (i >= 3 && region.get(i - 3..i) == Some(b"\r\n\r")) {
                return Some(i);
            }
            pos = i + 1;
        }
        start = end;
    }
    None
}

/// Whether one of the last [`SCAN_BLOCK`] bytes of `window` is an LF that
/// [`first_notable_lf`] looks for, judged with the two bytes before it.
///
/// It may say yes for a block without one, never no for a block with
/// one: an LF after CR after LF is taken as a possible end of the head
/// without looking at the byte before that LF. That byte is a CR unless
/// the LF is bare, and a bare LF is itself notable: it was found by an
/// earlier block, or is found in this one. Two bytes of context instead
/// of three take a load and two operations off every vector of bytes.
#[inline]
fn block_has_notable_lf(window: &[u8; SCAN_BLOCK + 2]) -> bool {
    let mut flags = 0u8;
    for i in 0..SCAN_BLOCK {
        let (b, c, d) = (window[i], window[i + 1], window[i + 2]);
        // An LF after anything but CR is bare; after CR, it may end the
        // head when an LF comes before that CR.
        let notable = u8::from(c != b'\r') | u8::from(b == b'\n');
        flags |= u8::from(d == b'\n') & notable;
    }
    flags != 0
}

/// RFC 9110 §5.6.2 `tchar`.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `is_tchar` as a table: one load per byte instead of a chain of ranges.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_tchar(b as u8);
        b += 1;
    }
    table
};

/// `is_tchar` by table lookup, for loops over bytes.
#[inline]
pub(crate) fn tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// A non-empty RFC 9110 token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    // No early exit, so the loop has no branch per byte.
    !s.is_empty() && s.iter().fold(1u8, |ok, &b| ok & u8::from(TCHAR[usize::from(b)])) == 1
}

/// Bytes a header value may hold: VCHAR, obs-text, SP, HTAB.
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    !has_control(s)
}

/// Whether `s` holds a control byte other than HTAB; branch-free per byte
/// so the compiler can vectorise it.
pub(crate) fn has_control(s: &[u8]) -> bool {
    let flags = s.iter().fold(0u8, |bad, &b| bad | (u8::from(b < 0x20) & u8::from(b != b'\t')) | u8::from(b == 0x7f));
    flags != 0
}

/// Checks a whole head (as found by [`HeadScanner`], so every LF follows a
/// CR: the check relies on it) for control bytes: HTAB is allowed and CR
/// only as part of a CRLF line ending (RFC 9110 §5.5, RFC 9112 §2.2). One pass over the head in
/// fixed-size blocks the compiler vectorises costs less than a short scan
/// per header value.
pub(crate) fn check_head_bytes(head: &[u8]) -> Result<(), HandshakeError> {
    /// In a block of at most 255 bytes: how many bytes are below 0x20 but
    /// not HTAB (CR and LF among them) or are DEL, and how many are LFs.
    /// Two counters, each one compare or two and a subtraction per vector
    /// of bytes, summed across the vector once per block.
    #[inline(always)]
    fn block(bytes: &[u8]) -> (u8, u8) {
        bytes.iter().fold((0u8, 0u8), |(control, lf), &b| {
            let counted = (u8::from(b < 0x20) & u8::from(b != b'\t')) | u8::from(b == 0x7f);
            (control + counted, lf + u8::from(b == b'\n'))
        })
    }
    let (mut control, mut lfs) = (0usize, 0usize);
    let mut blocks = head.chunks_exact(240);
    for chunk in &mut blocks {
        let (c, lf) = block(chunk);
        control += usize::from(c);
        lfs += usize::from(lf);
    }
    let (c, lf) = block(blocks.remainder());
    control += usize::from(c);
    lfs += usize::from(lf);
    // Every LF follows its own CR, so there are at least as many CRs as
    // LFs, and `control` counts CRs, LFs and the bytes refused. It is
    // twice the LFs only when every CR is an LF's and nothing is refused.
    if control != 2 * lfs {
        return Err(HandshakeError::ControlByte);
    }
    Ok(())
}

/// Strips leading and trailing spaces and tabs (OWS).
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Splits off the first line of `bytes` (part of a complete head, in which
/// every `\n` follows a `\r`): the line without its CRLF, and the bytes
/// after it.
pub(crate) fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest, _) = split_crlf_line(bytes);
    (line, rest)
}

/// As [`split_line`], for bytes not yet known to be a head: also whether
/// the line ended with CRLF (`false` for a bare LF, or no LF at all).
pub(crate) fn split_crlf_line(bytes: &[u8]) -> (&[u8], &[u8], bool) {
    match find_lf(bytes) {
        Some(i) => {
            let line = bytes.get(..i).unwrap_or(&[]);
            let rest = bytes.get(i + 1..).unwrap_or(&[]);
            match line.strip_suffix(b"\r") {
                Some(line) => (line, rest, true),
                None => (line, rest, false),
            }
        }
        None => (bytes, &[], false),
    }
}

/// The first LF in `bytes`. Head lines are short (40 bytes is usual), and
/// for so few bytes `memchr::memchr`'s run-time dispatch (a call through a
/// function pointer, then a choice by length) is most of its cost, about
/// 20 instructions a line; on x86-64 SSE2 is always there, so its searcher
/// is called directly (safe code: `One::new` checks, at compile time here).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn find_lf(bytes: &[u8]) -> Option<usize> {
    match memchr::arch::x86_64::sse2::memchr::One::new(b'\n') {
        Some(searcher) => searcher.find(bytes),
        None => memchr::memchr(b'\n', bytes),
    }
}

/// The first LF in `bytes`.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(crate) fn find_lf(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// Parses `HTTP/d.d`, returning (major, minor).
pub(crate) fn parse_version(v: &[u8]) -> Option<(u8, u8)> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => {
            Some((major - b'0', minor - b'0'))
        }
        _ => None,
    }
}

/// HTTP/1.1 or a later 1.x: the versions RFC 6455 builds on. HTTP/2 and
/// HTTP/3 never use this text syntax (see `extended_connect`).
pub(crate) fn is_supported_version((major, minor): (u8, u8)) -> bool {
    major == 1 && minor >= 1
}

/// What [`parse_headers`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderLines {
    /// How many header lines were stored.
    pub(crate) count: usize,
    /// Every line ended with CRLF and the blank line was the last of the
    /// bytes given: they were exactly the rest of one head. Always so for a
    /// head found by [`HeadScanner::feed`]; checked for one taken whole.
    pub(crate) exact: bool,
}

/// Parses the header lines after the start line (`rest`, through the blank
/// line that ends the head) into `headers`.
/// The head MUST have passed [`check_head_bytes`].
/// `head_text` is the whole head as text when it is valid UTF-8 (the usual
/// all-ASCII head), so names are sliced from it instead of each being
/// validated again.
///
/// The usual line, a token, `:` and a value, is checked with one pass over
/// its name; only a line that fails is looked at again, to say what is
/// wrong with it.
pub(crate) fn parse_headers<'b>(
    head_text: Option<&'b str>,
    mut rest: &'b [u8],
    headers: &mut [Header<'b>],
) -> Result<HeaderLines, HandshakeError> {
    let mut count = 0usize;
    let mut crlf = true;
    loop {
        let (line, next, ended) = split_crlf_line(rest);
        rest = next;
        crlf &= ended;
        if line.is_empty() {
            // The blank line ending the head.
            return Ok(HeaderLines { count, exact: crlf && rest.is_empty() });
        }
        // The name runs to the first byte that is not a token character,
        // which must be the colon: one pass finds and checks it (names
        // are short; a search call per line would cost more).
        let colon = line.iter().position(|&b| !tchar(b)).unwrap_or(line.len());
        if colon == 0 || line.get(colon) != Some(&b':') {
            return Err(header_line_error(line));
        }
        let name = line.get(..colon).unwrap_or(&[]);
        let value = line.get(colon + 1..).unwrap_or(&[]);
        let name = sub_str(head_text, name).ok_or(HandshakeError::InvalidHeaderName)?;
        let slot = headers.get_mut(count).ok_or(HandshakeError::TooManyHeaders)?;
        *slot = Header { name, value: trim_ows(value) };
        count += 1;
        if rest.is_empty() {
            // Only reached for input without the blank line (unit tests).
            return Ok(HeaderLines { count, exact: false });
        }
    }
}

/// What is wrong with a header line that is not `token ":" value`.
fn header_line_error(line: &[u8]) -> HandshakeError {
    if has_control(line) {
        return HandshakeError::ControlByte;
    }
    // RFC 9112 §5.2: obs-fold is rejected (a server MAY reject it with 400).
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return HandshakeError::ObsFold;
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        return HandshakeError::MalformedHeaderLine;
    };
    // RFC 9112 §5.1: no whitespace is allowed between the field name and
    // colon; a server MUST reject such a request with 400.
    if matches!(line.get(..colon).and_then(<[u8]>::last), Some(b' ' | b'\t')) {
        return HandshakeError::WhitespaceBeforeColon;
    }
    HandshakeError::InvalidHeaderName
}

/// `part` as text: sliced from `whole` when `part` lies inside it, else
/// validated on its own.
pub(crate) fn sub_str<'b>(whole: Option<&'b str>, part: &'b [u8]) -> Option<&'b str> {
    if let Some(text) = whole {
        let start = (part.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        if let Some(s) = text.get(start..start.wrapping_add(part.len())) {
            if s.as_ptr() == part.as_ptr() {
                return Some(s);
            }
        }
    }
    core::str::from_utf8(part).ok()
}

/// All values of headers named `name` (ASCII case-insensitive).
pub(crate) fn values<'h, 'b>(headers: &'h [Header<'b>], name: &'h str) -> impl Iterator<Item = &'b [u8]> + 'h {
    headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
}

/// The value of a header that must appear at most once.
pub(crate) fn single<'b>(headers: &[Header<'b>], name: &'static str) -> Result<Option<&'b [u8]>, &'static str> {
    let mut it = values(headers, name);
    let first = it.next();
    if it.next().is_some() {
        return Err(name);
    }
    Ok(first)
}

/// The non-empty elements of a comma-separated list (RFC 9110 §5.6.1),
/// trimmed of OWS.
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|s| !s.is_empty())
}

/// ASCII case-insensitive equality. The spelling browsers and most
/// clients send is the one expected, so an exact compare (one `memcmp`)
/// comes first; `eq_ignore_ascii_case` folds every byte's case in turn.
#[inline]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

/// Whether the comma-separated `value` lists `token` (ASCII case-insensitive).
pub(crate) fn lists_token(value: &[u8], token: &str) -> bool {
    // The usual value is the token alone (`Upgrade: websocket`): one compare.
    eq_ignore_case(value, token.as_bytes()) || list_items(value).any(|item| eq_ignore_case(item, token.as_bytes()))
}

/// Whether any header named `name` lists `token` (ASCII case-insensitive).
pub(crate) fn has_token(headers: &[Header<'_>], name: &str, token: &str) -> bool {
    values(headers, name).any(|v| lists_token(v, token))
}

/// Whether the value is a list of one or more tokens.
pub(crate) fn is_token_list(value: &[u8]) -> bool {
    list_items(value).next().is_some() && list_items(value).all(is_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Head length once complete, `None` while partial.
    fn fed(r: Result<Fed, HandshakeError>) -> Result<Option<usize>, HandshakeError> {
        r.map(|f| match f {
            Fed::Partial => None,
            Fed::Complete { head_len, .. } => Some(head_len),
        })
    }

    fn feed_bytewise(data: &[u8], max: usize) -> Result<Option<usize>, HandshakeError> {
        let mut s = HeadScanner::new();
        let mut storage = [0u8; 8192];
        let mut last = Ok(None);
        for byte in data.chunks(1) {
            last = fed(s.feed(&mut storage, byte, max));
            if !matches!(last, Ok(None)) {
                return last;
            }
        }
        last
    }

    #[test]
    fn scanner_finds_head_end() {
        let data = b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest";
        let mut s = HeadScanner::new();
        let mut storage = [0u8; 64];
        assert_eq!(s.feed(&mut storage, data, 8192), Ok(Fed::Complete { head_len: 24, consumed: 24 }));
        assert_eq!(&storage[..24], &data[..24]);
        assert_eq!(feed_bytewise(data, 8192), Ok(Some(24)));
        // Remembered: a second call consumes nothing and looks at nothing.
        assert_eq!(s.feed(&mut storage, b"\n", 8192), Ok(Fed::Complete { head_len: 24, consumed: 0 }));
    }

    #[test]
    fn scanner_takes_whole_only_a_first_input_ending_with_a_blank_line() {
        let data = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        let mut storage = [0u8; 64];
        let mut s = HeadScanner::new();
        assert_eq!(s.take_whole(&mut storage, data, 8192), Some(24));
        assert_eq!(&storage[..24], &data[..]);
        s.confirm(24);
        assert_eq!(s.feed(&mut storage, b"x", 8192), Ok(Fed::Complete { head_len: 24, consumed: 0 }));
        // Not the blank line at the end, over the limit, or not the first
        // input: nothing is stored, and `feed` takes it.
        let mut s = HeadScanner::new();
        assert_eq!(s.take_whole(&mut storage, &data[..22], 8192), None);
        assert_eq!(s.take_whole(&mut storage, data, 23), None);
        assert_eq!(s.stored(), 0);
        assert_eq!(s.feed(&mut storage, &data[..1], 8192), Ok(Fed::Partial));
        assert_eq!(s.take_whole(&mut storage, &data[1..], 8192), None);
        assert_eq!(s.stored(), 1);
        // Two heads in one input: the search finds the first one's end.
        let two = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let mut s = HeadScanner::new();
        assert_eq!(s.take_whole(&mut storage, two, 8192), Some(36));
        assert_eq!(s.search_stored(&storage, 8192), Ok(Fed::Complete { head_len: 18, consumed: 18 }));
        assert_eq!(s.stored(), 18);
        // A bare LF: the error `feed` gives.
        let mut s = HeadScanner::new();
        assert_eq!(s.take_whole(&mut storage, b"GET / HTTP/1.1\nA: b\r\n\r\n", 8192), Some(23));
        assert_eq!(s.search_stored(&storage, 8192), Err(HandshakeError::BareLf));
    }

    #[test]
    fn scanner_consumes_only_the_head() {
        let data = b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest";
        // Split inside the terminator: the second piece's first 2 bytes end the head.
        let mut s = HeadScanner::new();
        let mut storage = [0u8; 64];
        assert_eq!(s.feed(&mut storage, &data[..22], 8192), Ok(Fed::Partial));
        assert_eq!(s.feed(&mut storage, &data[22..], 8192), Ok(Fed::Complete { head_len: 24, consumed: 2 }));
        assert_eq!(&storage[..24], &data[..24]);
    }

    #[test]
    fn scanner_searches_each_byte_once() {
        // The linear-time probe: after each call, a byte the scanner has
        // searched is turned into a bare LF, which is 400 wherever a search
        // finds it. The search resumes where it stopped, so no call ever
        // sees one: every byte is searched once, and total work is linear.
        let mut data = b"GET / HTTP/1.1\r\nX-Slow: ".to_vec();
        data.resize(4000, b'a');
        let mut s = HeadScanner::new();
        let mut storage = [0u8; 4096];
        for (n, byte) in data.chunks(1).enumerate() {
            assert_eq!(s.feed(&mut storage, byte, 8192), Ok(Fed::Partial), "at {n}");
            if n >= 24 {
                storage[n - 2] = b'\n';
            }
        }
    }

    /// The first bare LF or head end by looking at every LF in turn, as
    /// the scanner did before it checked blocks: what the block search
    /// must agree with.
    fn naive_notable_lf(bytes: &[u8]) -> Option<(usize, bool)> {
        bytes.iter().enumerate().filter(|&(_, &b)| b == b'\n').find_map(|(i, _)| {
            let bare = i == 0 || bytes[i - 1] != b'\r';
            (bare || (i >= 3 && &bytes[i - 3..i] == b"\r\n\r")).then_some((i, bare))
        })
    }

    #[test]
    fn scanner_blocks_agree_with_looking_at_every_lf() {
        // Lines of 1 to 9 bytes, so line endings fall at every offset of the
        // 64-byte blocks; then a bare LF or the head's end put at each
        // position, fed whole and in two pieces split around it.
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for n in 0..40 {
            head.extend_from_slice(b"X-A: ");
            head.extend(core::iter::repeat_n(b'v', n % 9));
            head.extend_from_slice(b"\r\n");
        }
        let mut storage = [0u8; 1024];
        for at in 16..head.len() {
            for (insert, name) in [
                (&b"\n"[..], "bare LF"),
                (b"\n\r\n", "bare LF before a CRLF"),
                (b"\r\n\r\n", "head end"),
                (b"\r\n", "CRLF"),
            ] {
                let mut bytes = head.clone();
                bytes.splice(at..at, insert.iter().copied());
                bytes.extend_from_slice(b"\r\n\r\nframes");
                let expected = match naive_notable_lf(&bytes) {
                    Some((_, true)) => Err(HandshakeError::BareLf),
                    Some((i, false)) => Ok(Some(i + 1)),
                    None => Ok(None),
                };
                for split in [at.saturating_sub(3), at, at + 1, at + 2, bytes.len()] {
                    let mut s = HeadScanner::new();
                    let first = fed(s.feed(&mut storage, &bytes[..split], 8192));
                    let got = match first {
                        Ok(None) => fed(s.feed(&mut storage, &bytes[split..], 8192)),
                        other => other,
                    };
                    assert_eq!(got, expected, "{name} at {at}, split at {split}");
                }
            }
        }
    }

    #[test]
    fn scanner_rejects_bare_lf_early() {
        assert_eq!(feed_bytewise(b"GET / HTTP/1.1\nA", 8192), Err(HandshakeError::BareLf));
        assert_eq!(feed_bytewise(b"\n", 8192), Err(HandshakeError::BareLf));
    }

    #[test]
    fn scanner_limit_is_inclusive() {
        let data = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(feed_bytewise(data, data.len()), Ok(Some(data.len())));
        assert_eq!(feed_bytewise(data, data.len() - 1), Err(HandshakeError::HeadTooLarge));
        // Exceeded as soon as the head reaches the limit without a terminator.
        let mut s = HeadScanner::new();
        let mut storage = [0u8; 64];
        assert_eq!(s.feed(&mut storage, b"GET / HTT", 10), Ok(Fed::Partial));
        assert_eq!(s.feed(&mut storage, b"P/1.1", 10), Err(HandshakeError::HeadTooLarge));
        // The storage is a limit too.
        let mut s = HeadScanner::new();
        let mut small = [0u8; 10];
        assert_eq!(s.feed(&mut small, data, 8192), Err(HandshakeError::HeadTooLarge));
    }

    #[test]
    fn control_bytes_in_a_head() {
        let ok = b"GET / HTTP/1.1\r\nA: 1\t2\r\nB: \x80\xff\r\n\r\n";
        assert_eq!(check_head_bytes(ok), Ok(()));
        // Every control byte but HTAB and LF, at offsets in the 240-byte
        // blocks and in the remainder; a CR away from its LF is one of them.
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        head.extend_from_slice(&[b'x'; 500]);
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(check_head_bytes(&head), Ok(()));
        for bad in (0u8..0x20).chain([0x7f]).filter(|&b| b != b'\t' && b != b'\n') {
            for at in [16, 17, 63, 64, 239, 240, 241, 479, 480, 481, 515] {
                let mut h = head.clone();
                h[at] = bad;
                assert_eq!(check_head_bytes(&h), Err(HandshakeError::ControlByte), "{bad:#x} at {at}");
            }
        }
        // A block of nothing but counted bytes does not overflow its counters.
        let mut h = head.clone();
        h[16..16 + 240].fill(0x01);
        assert_eq!(check_head_bytes(&h), Err(HandshakeError::ControlByte));
        let crlfs = b"\r\n".repeat(240);
        assert_eq!(check_head_bytes(&crlfs), Ok(()));
    }

    #[test]
    fn trims_and_lists() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        let items: [&[u8]; 2] = [b"keep-alive", b"Upgrade"];
        assert!(list_items(b" , keep-alive ,,Upgrade, ").eq(items));
        assert!(is_token_list(b"chat, superchat"));
        assert!(!is_token_list(b"chat, super chat"));
        assert!(!is_token_list(b" , "));
    }

    #[test]
    fn header_lines() {
        use HandshakeError as E;
        let mut headers = [Header::EMPTY; 2];
        assert_eq!(parse_headers(None, b"Host:  example.com \t\r\nX:\r\n\r\n", &mut headers).map(|l| l.count), Ok(2));
        assert_eq!(headers[0].value, b"example.com");
        assert_eq!(headers[1].value, b"");
        assert_eq!(parse_headers(None, b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", &mut headers), Err(E::TooManyHeaders));
        assert_eq!(parse_headers(None, b"A: 1\t2\r\n\r\n", &mut headers).map(|l| l.count), Ok(1));
        assert_eq!(headers[0].value, b"1\t2");
        // Exactly one head's lines: CRLF endings, the blank line last.
        let exact = |input: &[u8]| parse_headers(None, input, &mut [Header::EMPTY; 2]).map(|l| l.exact);
        assert_eq!(exact(b"A: 1\r\n\r\n"), Ok(true));
        assert_eq!(exact(b"A: 1\n\r\n"), Ok(false));
        assert_eq!(exact(b"A: 1\r\n\n"), Ok(false));
        assert_eq!(exact(b"A: 1\r\n\r\nB: 2\r\n\r\n"), Ok(false));
        assert_eq!(exact(b"A: 1\r\n"), Ok(false));
        // Each kind of bad line, with the error the slow path names. (Control
        // bytes in values are `check_head_bytes`'s to find.)
        let bad: [(&[u8], HandshakeError); 7] = [
            (b"A : 1", E::WhitespaceBeforeColon),
            (b"A\t: 1", E::WhitespaceBeforeColon),
            (b"A\x00: 1", E::ControlByte),
            (b" A: 1", E::ObsFold),
            (b"A 1", E::MalformedHeaderLine),
            (b": 1", E::InvalidHeaderName),
            (b"A(: 1", E::InvalidHeaderName),
        ];
        for (line, error) in bad {
            let mut input = line.to_vec();
            input.extend_from_slice(b"\r\n\r\n");
            let mut slots = [Header::EMPTY; 2];
            assert_eq!(parse_headers(None, &input, &mut slots), Err(error), "{:?}", core::str::from_utf8(line));
        }
    }
}
