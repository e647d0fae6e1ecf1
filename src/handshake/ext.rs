//! Iterating offered subprotocols and extensions (RFC 6455 §4.3, §9.1)
//! across every header that carries them, without allocation.

use super::head::{tchar, trim_ows, Header};

/// Where list values come from: HTTP/1.1 header lines, HTTP/2-style
/// `(name, value)` pairs, or one value.
#[derive(Debug, Clone)]
pub(crate) enum Source<'h, 'b> {
    Http1(core::slice::Iter<'h, Header<'b>>, &'static str),
    Pairs(core::slice::Iter<'h, (&'b str, &'b str)>, &'static str),
    Single(Option<&'b [u8]>),
}

impl<'b> Source<'_, 'b> {
    fn next_value(&mut self) -> Option<&'b [u8]> {
        match self {
            Source::Http1(it, name) => it.find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value),
            Source::Pairs(it, name) => it.find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_bytes()),
            Source::Single(v) => v.take(),
        }
    }
}

/// The subprotocols offered in every `Sec-WebSocket-Protocol` header, in
/// order of preference, as tokens.
#[derive(Debug, Clone)]
pub struct Protocols<'h, 'b> {
    source: Source<'h, 'b>,
    /// The unread part of the current header value.
    current: &'b [u8],
}

impl<'h, 'b> Protocols<'h, 'b> {
    pub(crate) fn new(source: Source<'h, 'b>) -> Self {
        Protocols { source, current: b"" }
    }
}

impl<'b> Iterator for Protocols<'_, 'b> {
    type Item = &'b str;

    fn next(&mut self) -> Option<&'b str> {
        loop {
            while !self.current.is_empty() {
                let (item, rest) = match memchr::memchr(b',', self.current) {
                    Some(i) => (self.current.get(..i).unwrap_or(&[]), self.current.get(i + 1..).unwrap_or(&[])),
                    None => (self.current, &[][..]),
                };
                self.current = rest;
                let item = trim_ows(item);
                if !item.is_empty() {
                    if let Ok(s) = core::str::from_utf8(item) {
                        return Some(s);
                    }
                }
            }
            self.current = self.source.next_value()?;
        }
    }
}

fn ows_end(s: &[u8], mut i: usize) -> usize {
    while matches!(s.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

fn token_end(s: &[u8], mut i: usize) -> usize {
    while s.get(i).is_some_and(|&b| tchar(b)) {
        i += 1;
    }
    i
}

fn as_str(s: &[u8]) -> &str {
    // Only called on tokens, quoted tokens and backslashes: ASCII.
    core::str::from_utf8(s).unwrap_or("")
}

/// `s[i]` is `"`: returns the index after the closing quote and whether
/// backslash escapes appeared. RFC 6455 §9.1: the unescaped value MUST be a
/// token, so only token characters (escaped or not) are allowed inside.
fn quoted_end(s: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        match *s.get(j)? {
            b'"' if j > i + 1 => return Some((j + 1, escaped)),
            b'\\' if s.get(j + 1).is_some_and(|&c| tchar(c)) => {
                escaped = true;
                j += 2;
            }
            c if tchar(c) => j += 1,
            _ => return None,
        }
    }
}

/// One `; name [= value]` extension parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionParam<'b> {
    name: &'b str,
    value: Option<&'b str>,
    escaped: bool,
}

impl<'b> ExtensionParam<'b> {
    /// The parameter name.
    pub fn name(&self) -> &'b str {
        self.name
    }

    /// The value, `None` for a bare parameter. A quoted-string value is
    /// returned without its quotes. If it contained backslash escapes
    /// ([`is_escaped`](Self::is_escaped)) they are still in the slice; use
    /// [`value_eq`](Self::value_eq) or [`unescaped`](Self::unescaped) then.
    pub fn value(&self) -> Option<&'b str> {
        self.value
    }

    /// Whether the quoted value contained backslash escapes.
    pub fn is_escaped(&self) -> bool {
        self.escaped
    }

    /// The value's bytes with escapes removed, `None` for a bare parameter.
    pub fn unescaped(&self) -> Option<impl Iterator<Item = u8> + 'b> {
        let value = self.value?;
        let mut bytes = value.bytes();
        Some(core::iter::from_fn(move || match bytes.next()? {
            b'\\' => bytes.next(),
            b => Some(b),
        }))
    }

    /// Whether the (unescaped) value equals `expected`.
    pub fn value_eq(&self, expected: &str) -> bool {
        self.unescaped().is_some_and(|v| v.eq(expected.bytes()))
    }
}

/// A parameter as found in the list, before its parts are taken as text
/// (validation needs only the bytes).
struct RawParam<'b> {
    name: &'b [u8],
    value: Option<&'b [u8]>,
    escaped: bool,
}

impl<'b> RawParam<'b> {
    fn text(&self) -> ExtensionParam<'b> {
        ExtensionParam { name: as_str(self.name), value: self.value.map(as_str), escaped: self.escaped }
    }
}

/// Parses the parameter at `s[i] == ';'`, returning it and the index after it.
fn parse_param(s: &[u8], i: usize) -> Option<(RawParam<'_>, usize)> {
    let start = ows_end(s, i + 1);
    let end = token_end(s, start);
    if end == start {
        return None;
    }
    let name = s.get(start..end)?;
    let eq = ows_end(s, end);
    if s.get(eq) != Some(&b'=') {
        return Some((RawParam { name, value: None, escaped: false }, end));
    }
    let v = ows_end(s, eq + 1);
    if s.get(v) == Some(&b'"') {
        let (after, escaped) = quoted_end(s, v)?;
        Some((RawParam { name, value: Some(s.get(v + 1..after - 1)?), escaped }, after))
    } else {
        let ve = token_end(s, v);
        if ve == v {
            return None;
        }
        Some((RawParam { name, value: Some(s.get(v..ve)?), escaped: false }, ve))
    }
}

/// The parameters of one extension, in order.
#[derive(Debug, Clone)]
pub struct ExtensionParams<'b> {
    /// `;`-separated parameters, validated when the extension was parsed.
    rest: &'b [u8],
}

impl<'b> Iterator for ExtensionParams<'b> {
    type Item = ExtensionParam<'b>;

    fn next(&mut self) -> Option<ExtensionParam<'b>> {
        let i = ows_end(self.rest, 0);
        if self.rest.get(i) != Some(&b';') {
            self.rest = b"";
            return None;
        }
        let (param, next) = parse_param(self.rest, i)?;
        self.rest = self.rest.get(next..).unwrap_or(&[]);
        Some(param.text())
    }
}

/// One offered or accepted extension: a name and its parameters
/// (e.g. `permessage-deflate; client_max_window_bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'b> {
    name: &'b str,
    params: &'b [u8],
}

impl<'b> Extension<'b> {
    /// The extension name.
    pub fn name(&self) -> &'b str {
        self.name
    }

    /// The parameters, in order.
    pub fn params(&self) -> ExtensionParams<'b> {
        ExtensionParams { rest: self.params }
    }

    /// The first parameter named `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<ExtensionParam<'b>> {
        self.params().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// One extension as found in the list: its name and its parameters' bytes.
struct RawExtension<'b> {
    name: &'b [u8],
    params: &'b [u8],
}

/// Parses the next extension of a list at or after `pos`: `None` at the end
/// of the list, `Some(Err(()))` when malformed.
fn parse_extension(s: &[u8], pos: usize) -> Option<Result<(RawExtension<'_>, usize), ()>> {
    let mut i = pos;
    loop {
        i = ows_end(s, i);
        if s.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }
    if i >= s.len() {
        return None;
    }
    let end = token_end(s, i);
    if end == i {
        return Some(Err(()));
    }
    let mut j = end;
    loop {
        j = ows_end(s, j);
        match s.get(j) {
            None | Some(b',') => break,
            Some(b';') => match parse_param(s, j) {
                Some((_, next)) => j = next,
                None => return Some(Err(())),
            },
            Some(_) => return Some(Err(())),
        }
    }
    Some(Ok((RawExtension { name: s.get(i..end).unwrap_or(&[]), params: s.get(end..j).unwrap_or(&[]) }, j)))
}

/// Whether `value` is a valid, non-empty RFC 6455 §9.1 `extension-list`.
pub(crate) fn is_extension_list(value: &[u8]) -> bool {
    let mut pos = 0;
    let mut any = false;
    loop {
        match parse_extension(value, pos) {
            None => return any,
            Some(Err(())) => return false,
            Some(Ok((_, next))) => {
                any = true;
                pos = next;
            }
        }
    }
}

/// The extensions in every `Sec-WebSocket-Extensions` header, in order.
///
/// The lists were validated when the head was parsed, so iteration yields
/// every element. (For a list given to [`Extensions::parse`], likewise.)
#[derive(Debug, Clone)]
pub struct Extensions<'h, 'b> {
    source: Source<'h, 'b>,
    current: &'b [u8],
    pos: usize,
}

impl<'h, 'b> Extensions<'h, 'b> {
    pub(crate) fn new(source: Source<'h, 'b>) -> Self {
        Extensions { source, current: b"", pos: 0 }
    }

    /// Iterates one `Sec-WebSocket-Extensions` value, or `None` if it is not
    /// a valid non-empty extension list.
    ///
    /// ```
    /// use wsmachine::handshake::Extensions;
    /// let mut exts = Extensions::parse("permessage-deflate; client_max_window_bits=\"10\", x-foo").unwrap();
    /// let pmd = exts.next().unwrap();
    /// assert_eq!(pmd.name(), "permessage-deflate");
    /// assert_eq!(pmd.param("client_max_window_bits").and_then(|p| p.value()), Some("10"));
    /// assert_eq!(exts.next().map(|e| e.name()), Some("x-foo"));
    /// assert!(exts.next().is_none());
    /// ```
    pub fn parse(value: &'b str) -> Option<Self> {
        if !is_extension_list(value.as_bytes()) {
            return None;
        }
        Some(Extensions::new(Source::Single(Some(value.as_bytes()))))
    }
}

impl<'b> Iterator for Extensions<'_, 'b> {
    type Item = Extension<'b>;

    fn next(&mut self) -> Option<Extension<'b>> {
        loop {
            match parse_extension(self.current, self.pos) {
                Some(Ok((ext, next))) => {
                    self.pos = next;
                    return Some(Extension { name: as_str(ext.name), params: ext.params });
                }
                Some(Err(())) | None => {
                    self.current = self.source.next_value()?;
                    self.pos = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_lists() {
        assert!(is_extension_list(b"permessage-deflate"));
        assert!(is_extension_list(b"a; b; c=1 , d;e=\"x\", ,"));
        assert!(is_extension_list(b"a ; b = 1"));
        assert!(is_extension_list(b"a; b=\"\\1\\0\""));
        assert!(!is_extension_list(b""));
        assert!(!is_extension_list(b" , "));
        assert!(!is_extension_list(b"a;"));
        assert!(!is_extension_list(b"a; b="));
        assert!(!is_extension_list(b"a; b=\"\""));
        assert!(!is_extension_list(b"a; b=\"x y\""));
        assert!(!is_extension_list(b"a; b=\"x"));
        assert!(!is_extension_list(b"a b"));
        assert!(!is_extension_list(b"=a"));
    }

    #[test]
    fn params_unquoted_and_unescaped() {
        let mut it = Extensions::parse("pmd; a; b=1; c=\"2\"; d=\"1\\5\"").unwrap();
        let ext = it.next().unwrap();
        let params: [(&str, Option<&str>, bool); 4] =
            [("a", None, false), ("b", Some("1"), false), ("c", Some("2"), false), ("d", Some("1\\5"), true)];
        assert!(ext.params().map(|p| (p.name(), p.value(), p.is_escaped())).eq(params));
        assert!(ext.param("D").unwrap().value_eq("15"));
        assert!(!ext.param("d").unwrap().value_eq("1\\5"));
        assert!(it.next().is_none());
    }

    #[test]
    fn protocols_across_headers() {
        let headers = [
            Header { name: "Sec-WebSocket-Protocol", value: b"chat, superchat" },
            Header { name: "Other", value: b"x" },
            Header { name: "sec-websocket-protocol", value: b" ,v2 ," },
        ];
        let protocols = Protocols::new(Source::Http1(headers.iter(), "Sec-WebSocket-Protocol"));
        assert!(protocols.eq(["chat", "superchat", "v2"]));
    }
}
