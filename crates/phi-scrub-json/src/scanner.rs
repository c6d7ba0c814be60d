//! The validating, borrowing scanner: one pass over one document, offsets out, no DOM.
//!
//! The caller drives it member by member (`begin_object`, `next_key`, then either descends into
//! the value or calls `skip_value`), so a rewriter can copy untouched spans as raw bytes and look
//! closely only at what its policy names. Every byte passed over is validated, including the
//! spans that are merely skipped, and keys are checked for duplicates after unescaping: `"a"` and
//! `"\u0061"` are the same key.

use std::collections::HashSet;

use super::error::{JsonError, JsonErrorKind};
use super::span::StrSpan;
use super::strings::{decode_string_into, scan_string_body, special_bytes};

/// Objects larger than this switch duplicate detection from a linear scan to a hash set, so a
/// hostile object with thousands of keys costs linear, not quadratic, time.
const LINEAR_KEY_CHECK_LIMIT: usize = 32;

/// The kind of the value that starts at the scanner's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// Where a key is in the document. Its decoded bytes come from [`Scanner::key_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Offset of the opening quote.
    pub quote_start: usize,
    /// Offset just after the closing quote.
    pub quote_end: usize,
    /// Whether the key contains escapes (its decoded form differs from its raw bytes).
    pub escaped: bool,
    /// [`fingerprint`] of the decoded key: lets callers match keys without comparing bytes.
    pub fingerprint: u64,
}

/// Structural size of a value, for checks such as Mixpanel's per-event limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Deepest nesting of objects (a scalar is 0, `{}` is 1, `{"a":{}}` is 2).
    pub object_depth: u32,
    /// Most keys in any one object.
    pub max_keys: u32,
    /// Most elements in any one array.
    pub max_len: u32,
}

impl Shape {
    /// The shape of a container that holds a child of shape `child`.
    pub fn absorb(&mut self, child: Shape) {
        self.object_depth = self.object_depth.max(child.object_depth);
        self.max_keys = self.max_keys.max(child.max_keys);
        self.max_len = self.max_len.max(child.max_len);
    }
}

/// A key seen in the current object: two words, pushed straight from registers (a wider entry
/// built on the stack and copied cost a store-forwarding stall per key). Its end and escapes are
/// found again by rescanning, only when a fingerprint matches.
#[derive(Debug, Clone, Copy)]
struct KeyEntry {
    fingerprint: u64,
    /// Offset just after the opening quote.
    start: usize,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Index in `ScanState::keys` where this object's keys start.
    keys_start: usize,
    /// A serial number unique within the document, for the large-object key set.
    serial: u32,
    first: bool,
    /// One bit per key fingerprint seen in this object: most keys skip the linear check.
    bloom: u64,
}

/// Reusable buffers for the scanner. Keep one per worker and pass it to every [`Scanner`]:
/// after warm-up, scanning allocates nothing.
#[derive(Debug, Default)]
pub struct ScanState {
    frames: Vec<Frame>,
    keys: Vec<KeyEntry>,
    /// Decoded keys of objects past [`LINEAR_KEY_CHECK_LIMIT`], by object serial, in a
    /// SipHash set: duplicate detection there cannot be driven quadratic by crafted keys.
    large_object_keys: HashSet<(u32, Box<[u8]>)>,
    key_scratch: Vec<u8>,
    compare_scratch: Vec<u8>,
    next_serial: u32,
}

/// A validating scanner over one JSON document.
#[derive(Debug)]
pub struct Scanner<'a, 's> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
    state: &'s mut ScanState,
}

impl<'a, 's> Scanner<'a, 's> {
    /// Starts scanning `buf`, after checking that the whole of it is UTF-8.
    ///
    /// `max_depth` bounds the nesting of objects and arrays; deeper documents are rejected
    /// with [`JsonErrorKind::TooDeep`] before the recursion can exhaust the stack.
    pub fn new(buf: &'a [u8], state: &'s mut ScanState, max_depth: usize) -> Result<Self, JsonError> {
        if simdutf8::basic::from_utf8(buf).is_err() {
            // The vectorised check only says "invalid"; find the offset the slow way (rare).
            let offset = std::str::from_utf8(buf).err().map_or(0, |e| e.valid_up_to());
            return Err(JsonError::new(JsonErrorKind::InvalidUtf8, offset));
        }
        state.frames.clear();
        state.keys.clear();
        state.large_object_keys.clear();
        state.next_serial = 0;
        Ok(Self { buf, pos: 0, max_depth, state })
    }

    /// The document being scanned.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Current byte offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn err(&self, kind: JsonErrorKind) -> JsonError {
        JsonError::new(kind, self.pos)
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        // Compact JSON has no whitespace between tokens: one comparison settles the usual case.
        match self.buf.get(self.pos) {
            Some(&b) if b > b' ' => return,
            None => return,
            _ => {}
        }
        while let Some(&b) = self.buf.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.pos += 1;
        }
    }

    /// Skips whitespace and tells what kind of value starts here.
    #[inline]
    pub fn peek_kind(&mut self) -> Result<ValueKind, JsonError> {
        self.skip_ws();
        match self.buf.get(self.pos) {
            Some(b'{') => Ok(ValueKind::Object),
            Some(b'[') => Ok(ValueKind::Array),
            Some(b'"') => Ok(ValueKind::String),
            Some(b'-' | b'0'..=b'9') => Ok(ValueKind::Number),
            Some(b't' | b'f') => Ok(ValueKind::Bool),
            Some(b'n') => Ok(ValueKind::Null),
            Some(_) => Err(self.err(JsonErrorKind::UnexpectedByte)),
            None => Err(self.err(JsonErrorKind::UnexpectedEnd)),
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        match self.buf.get(self.pos) {
            Some(&b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.err(JsonErrorKind::UnexpectedByte)),
            None => Err(self.err(JsonErrorKind::UnexpectedEnd)),
        }
    }

    fn push_frame(&mut self) -> Result<(), JsonError> {
        if self.state.frames.len() >= self.max_depth {
            // At the bracket just consumed, as the skip path reports it.
            return Err(JsonError::new(JsonErrorKind::TooDeep, self.pos - 1));
        }
        let serial = self.state.next_serial;
        self.state.next_serial = serial.wrapping_add(1);
        self.state.frames.push(Frame { keys_start: self.state.keys.len(), serial, first: true, bloom: 0 });
        Ok(())
    }

    fn pop_frame(&mut self) {
        if let Some(frame) = self.state.frames.pop() {
            self.state.keys.truncate(frame.keys_start);
        }
    }

    /// Consumes `{` (after whitespace) and enters the object.
    pub fn begin_object(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        self.expect(b'{')?;
        self.push_frame()
    }

    /// Consumes `[` (after whitespace) and enters the array.
    pub fn begin_array(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        self.expect(b'[')?;
        self.push_frame()
    }

    /// Moves to the next member of the current object.
    ///
    /// Returns its key, with the position left at the start of the value, or `None` after
    /// consuming the closing `}`.
    #[inline]
    pub fn next_key(&mut self) -> Result<Option<KeyRef>, JsonError> {
        if !self.next_item(b'}')? {
            return Ok(None);
        }
        let key = self.read_key(self.pos)?;
        let mut frame = match self.state.frames.last() {
            Some(frame) => *frame,
            None => return Err(JsonError::new(JsonErrorKind::UnexpectedByte, key.quote_start)),
        };
        self.check_duplicate(&mut frame, key)?;
        if let Some(top) = self.state.frames.last_mut() {
            top.bloom = frame.bloom;
        }
        self.pos = after_colon(self.buf, key.quote_end)?;
        Ok(Some(key))
    }

    /// Reads the key whose opening quote should be at `at`: its span, decoded form (into
    /// `key_scratch` when escaped) and fingerprint.
    #[inline(always)]
    fn read_key(&mut self, at: usize) -> Result<KeyRef, JsonError> {
        if self.buf.get(at) != Some(&b'"') {
            let kind = if at >= self.buf.len() { JsonErrorKind::UnexpectedEnd } else { JsonErrorKind::UnexpectedByte };
            return Err(JsonError::new(kind, at));
        }
        let (close, plain_fingerprint) = scan_key_body(self.buf, at + 1)?;
        let mut key = KeyRef { quote_start: at, quote_end: close + 1, escaped: false, fingerprint: 0 };
        key.fingerprint = match plain_fingerprint {
            Some(fp) => fp,
            None => {
                key.escaped = true;
                self.state.key_scratch.clear();
                decode_string_into(self.buf, at + 1, close, &mut self.state.key_scratch)?;
                fingerprint(&self.state.key_scratch)
            }
        };
        Ok(key)
    }

    /// Moves to the next element of the current array: `true` with the position at the
    /// element, or `false` after consuming the closing `]`.
    pub fn next_element(&mut self) -> Result<bool, JsonError> {
        self.next_item(b']')
    }

    /// Shared by objects and arrays: handles the separator or the closing byte.
    fn next_item(&mut self, close: u8) -> Result<bool, JsonError> {
        self.skip_ws();
        let first = match self.state.frames.last_mut() {
            Some(frame) => std::mem::replace(&mut frame.first, false),
            None => return Err(self.err(JsonErrorKind::UnexpectedByte)),
        };
        match self.buf.get(self.pos) {
            Some(&b) if b == close => {
                self.pos += 1;
                self.pop_frame();
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                self.skip_ws();
                if self.buf.get(self.pos) == Some(&close) {
                    return Err(self.err(JsonErrorKind::UnexpectedByte));
                }
                Ok(true)
            }
            Some(_) if first => Ok(true),
            Some(_) => Err(self.err(JsonErrorKind::UnexpectedByte)),
            None => Err(self.err(JsonErrorKind::UnexpectedEnd)),
        }
    }

    /// The decoded bytes of the key most recently returned by [`Self::next_key`].
    #[inline]
    pub fn key_bytes(&self, key: KeyRef) -> &[u8] {
        if key.escaped {
            &self.state.key_scratch
        } else {
            &self.buf[key.quote_start + 1..key.quote_end - 1]
        }
    }

    /// Records `key` as a member of the object `frame`, refusing it if the object has it already.
    /// The usual case (a small object, no fingerprint seen before in it) is a bloom-filter miss
    /// and a push, inlined; the rest is out of line.
    #[inline(always)]
    fn check_duplicate(&mut self, frame: &mut Frame, key: KeyRef) -> Result<(), JsonError> {
        let bit = 1u64 << (key.fingerprint >> 58);
        let bloom_hit = frame.bloom & bit != 0;
        frame.bloom |= bit;
        if !bloom_hit && self.state.keys.len() - frame.keys_start < LINEAR_KEY_CHECK_LIMIT {
            self.state.keys.push(KeyEntry { fingerprint: key.fingerprint, start: key.quote_start + 1 });
            return Ok(());
        }
        self.check_duplicate_slow(*frame, key)
    }

    #[inline(never)]
    fn check_duplicate_slow(&mut self, frame: Frame, key: KeyRef) -> Result<(), JsonError> {
        if self.state.keys.len() - frame.keys_start >= LINEAR_KEY_CHECK_LIMIT {
            return self.check_duplicate_large(frame, key);
        }
        let candidate_seen = self.state.keys[frame.keys_start..].iter().any(|e| e.fingerprint == key.fingerprint);
        if candidate_seen && self.is_true_duplicate(frame.keys_start, key)? {
            return Err(JsonError::new(JsonErrorKind::DuplicateKey, key.quote_start));
        }
        self.state.keys.push(KeyEntry { fingerprint: key.fingerprint, start: key.quote_start + 1 });
        Ok(())
    }

    /// Large objects: exact decoded keys in a hash set (linear in the number of keys, whatever
    /// their fingerprints).
    fn check_duplicate_large(&mut self, frame: Frame, key: KeyRef) -> Result<(), JsonError> {
        let buf = self.buf;
        if self.state.keys.len() - frame.keys_start == LINEAR_KEY_CHECK_LIMIT {
            for i in frame.keys_start..self.state.keys.len() {
                let start = self.state.keys[i].start;
                decode_key_again(buf, start, &mut self.state.compare_scratch)?;
                self.state.large_object_keys.insert((frame.serial, self.state.compare_scratch.as_slice().into()));
            }
        }
        let decoded: Box<[u8]> = self.key_bytes(key).into();
        if !self.state.large_object_keys.insert((frame.serial, decoded)) {
            return Err(JsonError::new(JsonErrorKind::DuplicateKey, key.quote_start));
        }
        self.state.keys.push(KeyEntry { fingerprint: key.fingerprint, start: key.quote_start + 1 });
        Ok(())
    }

    /// Confirms a fingerprint match by comparing decoded bytes (fingerprints can collide).
    fn is_true_duplicate(&mut self, keys_start: usize, key: KeyRef) -> Result<bool, JsonError> {
        let buf = self.buf;
        let new_bytes: &[u8] =
            if key.escaped { &self.state.key_scratch } else { &buf[key.quote_start + 1..key.quote_end - 1] };
        for old in self.state.keys[keys_start..].iter().filter(|e| e.fingerprint == key.fingerprint) {
            decode_key_again(buf, old.start, &mut self.state.compare_scratch)?;
            if self.state.compare_scratch == new_bytes {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Scans a string value; returns where it is.
    #[inline]
    pub fn scan_string(&mut self) -> Result<StrSpan, JsonError> {
        self.skip_ws();
        let start = self.pos;
        self.expect(b'"')?;
        let (close, escaped) = scan_string_body(self.buf, start + 1)?;
        self.pos = close + 1;
        Ok(StrSpan { start, end: close + 1, escaped })
    }

    /// Scans a number, validating JSON's grammar; returns its span.
    pub fn scan_number(&mut self) -> Result<(usize, usize), JsonError> {
        self.skip_ws();
        let start = self.pos;
        self.pos = number_end(self.buf, start)?;
        Ok((start, self.pos))
    }

    /// Scans `true`, `false` or `null`; returns its span.
    pub fn scan_literal(&mut self) -> Result<(usize, usize), JsonError> {
        self.skip_ws();
        let start = self.pos;
        self.pos = literal_end(self.buf, start)?;
        Ok((start, self.pos))
    }

    /// Skips one value of any kind, validating all of it, and returns its shape.
    ///
    /// The skip loops below are the scanner's hottest code (an event's `context` is skipped
    /// whole): they keep the position in a local, push no frames and dispatch on the byte
    /// directly, but check exactly what the member-by-member API checks.
    #[inline]
    pub fn skip_value(&mut self) -> Result<Shape, JsonError> {
        let mut shape = Shape::default();
        self.skip_value_into(&mut shape)?;
        Ok(shape)
    }

    /// [`Self::skip_value`], absorbing the value's shape into `parent` (cheaper for a caller
    /// that accumulates shapes: no `Shape` comes back inside a `Result`).
    pub fn skip_value_into(&mut self, parent: &mut Shape) -> Result<(), JsonError> {
        self.skip_ws();
        let depth = self.state.frames.len();
        self.pos = self.skip_at(self.pos, depth, parent)?;
        Ok(())
    }

    /// Skips the value starting at `pos` (no leading whitespace), absorbing its shape into
    /// `parent`; returns the offset after it. (Offsets go out alone and shapes through `parent`:
    /// a tuple inside the `Result` was returned through memory and reloaded at odd offsets,
    /// which stalled every call.)
    #[inline(always)]
    fn skip_at(&mut self, pos: usize, depth: usize, parent: &mut Shape) -> Result<usize, JsonError> {
        let buf = self.buf;
        match buf.get(pos) {
            Some(b'"') => Ok(scan_string_body(buf, pos + 1)?.0 + 1),
            Some(b'{') => self.skip_object_at(pos, depth, parent),
            Some(b'[') => self.skip_array_at(pos, depth, parent),
            Some(b'-' | b'0'..=b'9') => number_end(buf, pos),
            Some(b't' | b'f' | b'n') => literal_end(buf, pos),
            Some(_) => Err(JsonError::new(JsonErrorKind::UnexpectedByte, pos)),
            None => Err(JsonError::new(JsonErrorKind::UnexpectedEnd, pos)),
        }
    }

    fn skip_object_at(&mut self, open: usize, depth: usize, parent: &mut Shape) -> Result<usize, JsonError> {
        if depth >= self.max_depth {
            return Err(JsonError::new(JsonErrorKind::TooDeep, open));
        }
        let buf = self.buf;
        let mut shape = Shape::default();
        let mut pos = skip_ws_at(buf, open + 1);
        if buf.get(pos) == Some(&b'}') {
            shape.object_depth = 1;
            parent.absorb(shape);
            return Ok(pos + 1);
        }
        let serial = self.state.next_serial;
        self.state.next_serial = serial.wrapping_add(1);
        let mut frame = Frame { keys_start: self.state.keys.len(), serial, first: false, bloom: 0 };
        let mut keys = 0u32;
        let end = loop {
            let key = self.read_key(pos)?;
            let checked = self.check_duplicate(&mut frame, key);
            if let Err(e) = checked {
                self.state.keys.truncate(frame.keys_start);
                return Err(e);
            }
            keys += 1;
            pos = after_colon(buf, key.quote_end)?;
            let after = self.skip_at(pos, depth + 1, &mut shape)?;
            match after_item(buf, after, b'}')? {
                AfterItem::Next(next) => pos = next,
                AfterItem::Closed(end) => break end,
            }
        };
        self.state.keys.truncate(frame.keys_start);
        shape.object_depth += 1;
        shape.max_keys = shape.max_keys.max(keys);
        parent.absorb(shape);
        Ok(end)
    }

    fn skip_array_at(&mut self, open: usize, depth: usize, parent: &mut Shape) -> Result<usize, JsonError> {
        if depth >= self.max_depth {
            return Err(JsonError::new(JsonErrorKind::TooDeep, open));
        }
        let buf = self.buf;
        let mut shape = Shape::default();
        let mut pos = skip_ws_at(buf, open + 1);
        if buf.get(pos) == Some(&b']') {
            parent.absorb(shape);
            return Ok(pos + 1);
        }
        let mut len = 0u32;
        let end = loop {
            let after = self.skip_at(pos, depth + 1, &mut shape)?;
            len += 1;
            match after_item(buf, after, b']')? {
                AfterItem::Next(next) => pos = next,
                AfterItem::Closed(end) => break end,
            }
        };
        shape.max_len = shape.max_len.max(len);
        parent.absorb(shape);
        Ok(end)
    }

    /// Checks that nothing but whitespace follows the document.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(self.err(JsonErrorKind::TrailingCharacters))
        }
    }
}

/// Decodes again the key whose body starts at `start` (a key the scanner accepted earlier).
fn decode_key_again(buf: &[u8], start: usize, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let (end, _) = scan_string_body(buf, start)?;
    out.clear();
    decode_string_into(buf, start, end, out)
}

/// The offset after the number starting at `start`, validating JSON's grammar.
fn number_end(buf: &[u8], start: usize) -> Result<usize, JsonError> {
    let mut p = start;
    if buf.get(p) == Some(&b'-') {
        p += 1;
    }
    let integer_start = p;
    match buf.get(p) {
        Some(b'0') => p += 1,
        Some(b'1'..=b'9') => p = skip_digits(buf, p),
        _ => return Err(JsonError::new(JsonErrorKind::InvalidNumber, p)),
    }
    let integer_digits = p - integer_start;
    if buf.get(p) == Some(&b'.') {
        let digits = p + 1;
        p = skip_digits(buf, digits);
        if p == digits {
            return Err(JsonError::new(JsonErrorKind::InvalidNumber, p));
        }
    }
    let has_exponent = matches!(buf.get(p), Some(b'e' | b'E'));
    if has_exponent {
        p += 1;
        if matches!(buf.get(p), Some(b'+' | b'-')) {
            p += 1;
        }
        let digits = p;
        p = skip_digits(buf, digits);
        if p == digits {
            return Err(JsonError::new(JsonErrorKind::InvalidNumber, p));
        }
    }
    if matches!(buf.get(p), Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')) {
        return Err(JsonError::new(JsonErrorKind::InvalidNumber, p));
    }
    let may_overflow = has_exponent || integer_digits > MAX_FINITE_INTEGER_DIGITS;
    if may_overflow && !fits_f64(&buf[start..p]) {
        return Err(JsonError::new(JsonErrorKind::NumberOutOfRange, start));
    }
    Ok(p)
}

/// The offset after the `true`, `false` or `null` starting at `start`.
fn literal_end(buf: &[u8], start: usize) -> Result<usize, JsonError> {
    let rest = &buf[start.min(buf.len())..];
    let len = if rest.starts_with(b"true") || rest.starts_with(b"null") {
        4
    } else if rest.starts_with(b"false") {
        5
    } else if b"true".starts_with(rest) || b"false".starts_with(rest) || b"null".starts_with(rest) {
        return Err(JsonError::new(JsonErrorKind::UnexpectedEnd, buf.len()));
    } else {
        return Err(JsonError::new(JsonErrorKind::UnexpectedByte, start));
    };
    Ok(start + len)
}

/// The first offset at or after `pos` that is not JSON whitespace.
#[inline(always)]
fn skip_ws_at(buf: &[u8], mut pos: usize) -> usize {
    // Compact JSON has no whitespace between tokens: one comparison settles the usual case.
    while let Some(&b) = buf.get(pos) {
        if b > b' ' || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            break;
        }
        pos += 1;
    }
    pos
}

/// What follows an item of a container.
enum AfterItem {
    /// A comma: the next item starts at this offset.
    Next(usize),
    /// The closing bracket: the container ends just before this offset.
    Closed(usize),
}

/// Reads the separator after an item that ended at `after`, in a container closed by `close`.
#[inline(always)]
fn after_item(buf: &[u8], after: usize, close: u8) -> Result<AfterItem, JsonError> {
    let pos = skip_ws_at(buf, after);
    match buf.get(pos) {
        Some(b',') => Ok(AfterItem::Next(skip_ws_at(buf, pos + 1))),
        Some(&b) if b == close => Ok(AfterItem::Closed(pos + 1)),
        Some(_) => Err(JsonError::new(JsonErrorKind::UnexpectedByte, pos)),
        None => Err(JsonError::new(JsonErrorKind::UnexpectedEnd, pos)),
    }
}

/// After a key's closing quote at `quote_end - 1`: the `:` and whitespace; returns the offset
/// of the value.
#[inline(always)]
fn after_colon(buf: &[u8], quote_end: usize) -> Result<usize, JsonError> {
    let pos = if buf.get(quote_end) == Some(&b':') { quote_end } else { skip_ws_at(buf, quote_end) };
    match buf.get(pos) {
        Some(b':') => Ok(skip_ws_at(buf, pos + 1)),
        Some(_) => Err(JsonError::new(JsonErrorKind::UnexpectedByte, pos)),
        None => Err(JsonError::new(JsonErrorKind::UnexpectedEnd, pos)),
    }
}

/// A number without an exponent and with at most this many integer digits is below 10^308,
/// hence finite as a double (the largest is about 1.8e308): only numbers with an exponent or a
/// longer integer part pay for a parse.
const MAX_FINITE_INTEGER_DIGITS: usize = 308;

/// Whether a number is finite as a double. JSON allows any size, but downstream parsers (serde,
/// Mixpanel's) reject numbers that overflow, and one such event could fail a whole batch.
fn fits_f64(text: &[u8]) -> bool {
    std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()).is_some_and(f64::is_finite)
}

#[inline]
fn skip_digits(buf: &[u8], mut p: usize) -> usize {
    while matches!(buf.get(p), Some(b'0'..=b'9')) {
        p += 1;
    }
    p
}

/// A fast, non-cryptographic fingerprint of a key, for duplicate detection and policy lookups:
/// every byte counts (8-byte words, the last one zero-padded, then the length), mixed with a
/// per-process random seed so crafted keys cannot be made to collide offline. Collisions stay
/// harmless: a match is always confirmed by comparing decoded bytes. Word by word, so the key
/// scanner computes it in the same pass that finds the closing quote ([`scan_key_body`]).
#[inline]
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let mut h = fingerprint_seed();
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        h = fingerprint_mix(h, load_u64(word));
    }
    let rest = words.remainder().len();
    if rest > 0 {
        h = fingerprint_mix(h, zero_padded_tail(bytes, rest));
    }
    fingerprint_finish(h, n)
}

/// The last `rest` (1 to 7) bytes of `bytes` as a little-endian word, zero-padded, read with
/// overlapping fixed-size loads (no variable-length copy).
#[inline(always)]
fn zero_padded_tail(bytes: &[u8], rest: usize) -> u64 {
    let n = bytes.len();
    if n >= 8 {
        return load_u64(&bytes[n - 8..]) >> (8 * (8 - rest));
    }
    // The whole key is the tail (n == rest < 8).
    if n >= 4 {
        let low = u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        let high = u64::from(u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]));
        low | high << (8 * (n - 4))
    } else {
        u64::from(bytes[0]) | u64::from(bytes[n / 2]) << (8 * (n / 2)) | u64::from(bytes[n - 1]) << (8 * (n - 1))
    }
}

const FINGERPRINT_K: u64 = 0x517c_c1b7_2722_0a95;

#[inline(always)]
fn fingerprint_mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(FINGERPRINT_K)
}

#[inline(always)]
fn fingerprint_finish(h: u64, len: usize) -> u64 {
    let mut h = (h ^ len as u64).wrapping_mul(FINGERPRINT_K);
    h ^= h >> 29;
    h.wrapping_mul(FINGERPRINT_K) ^ (h >> 32)
}

/// Scans a key's body from just after its opening quote: returns the offset of the closing
/// quote and, when the key has no escapes, its [`fingerprint`] (computed from the same word
/// loads that look for the quote). An escaped key returns `None`: its fingerprint is of the
/// decoded bytes.
#[inline(always)]
fn scan_key_body(buf: &[u8], start: usize) -> Result<(usize, Option<u64>), JsonError> {
    let mut h = fingerprint_seed();
    let mut pos = start;
    while let Some(bytes) = buf.get(pos..pos + 8) {
        let word = load_u64(bytes);
        let special = special_bytes(word);
        if special == 0 {
            h = fingerprint_mix(h, word);
            pos += 8;
            continue;
        }
        let at = (special.trailing_zeros() / 8) as usize;
        if buf[pos + at] != b'"' {
            break;
        }
        if at > 0 {
            h = fingerprint_mix(h, word & (u64::MAX >> (64 - 8 * at)));
        }
        let close = pos + at;
        return Ok((close, Some(fingerprint_finish(h, close - start))));
    }
    // An escape, a control character or the buffer's last few bytes: the general path.
    let (close, escaped) = scan_string_body(buf, start)?;
    Ok((close, (!escaped).then(|| fingerprint(&buf[start..close]))))
}

fn fingerprint_seed() -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64))
}

#[inline(always)]
fn load_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(doc: &str) -> Result<Shape, JsonError> {
        validate_bytes(doc.as_bytes())
    }

    fn validate_bytes(doc: &[u8]) -> Result<Shape, JsonError> {
        let mut state = ScanState::default();
        let mut sc = Scanner::new(doc, &mut state, 32)?;
        let shape = sc.skip_value()?;
        sc.finish()?;
        Ok(shape)
    }

    fn kind(doc: &str) -> JsonErrorKind {
        validate(doc).expect_err("document should be rejected").kind
    }

    #[test]
    fn accepts_valid_documents() {
        for doc in [
            r#"{}"#,
            r#"[]"#,
            r#" { "a" : [ 1 , -2.5e+3 , true , false , null , "x" , { } ] } "#,
            r#"{"a":{"b":{"c":[0,0.1,1E9]}}}"#,
            r#""only a string""#,
            "-0",
        ] {
            assert!(validate(doc).is_ok(), "{doc}");
        }
    }

    #[test]
    fn trailing_comma_in_object_is_rejected() {
        assert_eq!(kind(r#"{"a":1,}"#), JsonErrorKind::UnexpectedByte);
    }

    #[test]
    fn trailing_comma_in_array_is_rejected() {
        assert_eq!(kind("[1,]"), JsonErrorKind::UnexpectedByte);
    }

    #[test]
    fn leading_comma_is_rejected() {
        assert_eq!(kind("[,1]"), JsonErrorKind::UnexpectedByte);
        assert_eq!(kind(r#"{,"a":1}"#), JsonErrorKind::UnexpectedByte);
    }

    #[test]
    fn missing_comma_is_rejected() {
        assert_eq!(kind(r#"{"a":1 "b":2}"#), JsonErrorKind::UnexpectedByte);
        assert_eq!(kind("[1 2]"), JsonErrorKind::UnexpectedByte);
    }

    #[test]
    fn truncated_document_is_rejected() {
        assert_eq!(kind(r#"{"a":"#), JsonErrorKind::UnexpectedEnd);
        assert_eq!(kind(r#"{"a":1"#), JsonErrorKind::UnexpectedEnd);
        assert_eq!(kind(r#"{"a":tr"#), JsonErrorKind::UnexpectedEnd);
    }

    #[test]
    fn bad_numbers_are_rejected() {
        for doc in ["01", "1.", "1e", "-", "1.2.3", "-a"] {
            assert_eq!(kind(doc), JsonErrorKind::InvalidNumber, "{doc}");
        }
        for doc in [".5", "+1", "[0x10]"] {
            assert_eq!(kind(doc), JsonErrorKind::UnexpectedByte, "{doc}");
        }
    }

    #[test]
    fn long_but_finite_numbers_are_accepted_as_text() {
        assert!(validate(&format!("[{}]", "9".repeat(300))).is_ok());
        assert!(validate("[1e308, -2.5E-400, 123456789012345678901234567890]").is_ok());
        // Around the 308-digit line that decides whether a number needs a parse.
        assert!(validate(&format!("[{}.{}]", "9".repeat(308), "9".repeat(50))).is_ok());
        assert!(validate(&format!("[1{}]", "0".repeat(308))).is_ok(), "1e308 written out is finite");
    }

    #[test]
    fn numbers_overflowing_a_double_are_rejected() {
        let just_over = format!("[-{}]", "9".repeat(309));
        for doc in ["[1e309]", "[-1E00010728713524295]", &format!("[{}]", "9".repeat(400)), &just_over] {
            assert_eq!(kind(doc), JsonErrorKind::NumberOutOfRange, "{doc}");
        }
    }

    #[test]
    fn bad_literal_is_rejected() {
        assert_eq!(kind("[nul]"), JsonErrorKind::UnexpectedByte);
        assert_eq!(kind("[True]"), JsonErrorKind::UnexpectedByte);
    }

    #[test]
    fn duplicate_key_is_rejected() {
        assert_eq!(kind(r#"{"a":1,"a":2}"#), JsonErrorKind::DuplicateKey);
    }

    #[test]
    fn duplicate_key_written_with_escape_is_rejected() {
        assert_eq!(kind(r#"{"email":1,"em\u0061il":2}"#), JsonErrorKind::DuplicateKey);
        assert_eq!(kind(r#"{"em\u0061il":1,"email":2}"#), JsonErrorKind::DuplicateKey);
    }

    #[test]
    fn same_key_in_sibling_objects_is_fine() {
        assert!(validate(r#"{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}"#).is_ok());
    }

    #[test]
    fn duplicate_key_in_large_object_is_rejected() {
        let mut doc = String::from("{");
        for i in 0..200 {
            doc.push_str(&format!("\"k{i}\":{i},"));
        }
        doc.push_str("\"k7\":0}");
        assert_eq!(kind(&doc), JsonErrorKind::DuplicateKey);
    }

    #[test]
    fn large_object_without_duplicates_is_accepted() {
        let body: Vec<String> = (0..300).map(|i| format!("\"k{i}\":{i}")).collect();
        let shape = validate(&format!("{{{}}}", body.join(","))).unwrap();
        assert_eq!(shape.max_keys, 300);
    }

    #[test]
    fn nesting_deeper_than_limit_is_rejected() {
        let doc = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert_eq!(kind(&doc), JsonErrorKind::TooDeep);
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(validate(&ok).is_ok());
    }

    #[test]
    fn too_deep_points_at_the_bracket_whether_walked_or_skipped() {
        let doc = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert_eq!(validate(&doc).unwrap_err().offset, 32, "skip path");
        let mut state = ScanState::default();
        let mut sc = Scanner::new(doc.as_bytes(), &mut state, 32).unwrap();
        let walked = (0..33).map(|_| sc.begin_array()).find_map(Result::err).expect("the 33rd level is refused");
        assert_eq!((walked.kind, walked.offset), (JsonErrorKind::TooDeep, 32), "walker path");
    }

    #[test]
    fn extreme_nesting_is_rejected_without_stack_overflow() {
        let doc = "[".repeat(1_000_000);
        assert_eq!(kind(&doc), JsonErrorKind::TooDeep);
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let err = validate_bytes(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::InvalidUtf8);
        assert_eq!(err.offset, 6);
    }

    #[test]
    fn trailing_characters_are_rejected() {
        assert_eq!(kind("{} {}"), JsonErrorKind::TrailingCharacters);
        assert_eq!(kind("{}x"), JsonErrorKind::TrailingCharacters);
    }

    #[test]
    fn empty_document_is_rejected() {
        assert_eq!(kind(""), JsonErrorKind::UnexpectedEnd);
        assert_eq!(kind("   "), JsonErrorKind::UnexpectedEnd);
    }

    #[test]
    fn shape_counts_object_depth_keys_and_lengths() {
        let shape = validate(r#"{"a":{"b":{"c":1}},"l":[1,2,3,[4]],"x":1}"#).unwrap();
        assert_eq!(shape, Shape { object_depth: 3, max_keys: 3, max_len: 4 });
    }

    #[test]
    fn fingerprint_of_the_scanner_equals_the_function() {
        // The key scanner computes fingerprints word by word as it looks for the quote; both
        // must agree for every length and position, or policy lookups would miss keys.
        for len in 0..40 {
            let key: String = (0..len).map(|i| (b'a' + (i * 7 % 26) as u8) as char).collect();
            for padding in 0..9 {
                let doc = format!("{{\"{key}\":1}}{}", " ".repeat(padding));
                let mut state = ScanState::default();
                let mut sc = Scanner::new(doc.as_bytes(), &mut state, 8).unwrap();
                sc.begin_object().unwrap();
                let k = sc.next_key().unwrap().unwrap();
                assert_eq!(k.fingerprint, fingerprint(key.as_bytes()), "length {len}, padding {padding}");
            }
        }
    }

    #[test]
    fn fingerprint_separates_similar_keys() {
        let keys = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "abc",
            "abcd",
            "abce",
            "extra_1",
            "extra_2",
            "context_page_url",
            "context_page_uri",
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(fingerprint(a.as_bytes()), fingerprint(b.as_bytes()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn keys_differing_only_in_the_middle_have_different_fingerprints() {
        // Found in review: a fingerprint of the first and last 8 bytes made such keys collide,
        // and a large object of them made duplicate detection quadratic.
        let a = "abcdefgh_1_stuvwxyz";
        let b = "abcdefgh_2_stuvwxyz";
        assert_ne!(fingerprint(a.as_bytes()), fingerprint(b.as_bytes()));
        assert!(validate(&format!(r#"{{"{a}":1,"{b}":2}}"#)).is_ok());
        assert_eq!(kind(&format!(r#"{{"{a}":1,"{a}":2}}"#)), JsonErrorKind::DuplicateKey);
    }

    #[test]
    fn large_object_of_similar_keys_is_checked_exactly_and_fast() {
        let body: Vec<String> = (0..20_000).map(|i| format!("\"aaaaaaaa{i:06}zzzzzzzz\":0")).collect();
        let doc = format!("{{{}}}", body.join(","));
        let started = std::time::Instant::now();
        assert!(validate(&doc).is_ok());
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        let dup = format!("{{{},\"aaaaaaaa000007zzzzzzzz\":1}}", body.join(","));
        assert_eq!(kind(&dup), JsonErrorKind::DuplicateKey);
    }

    #[test]
    fn key_bytes_are_decoded() {
        let doc = br#"{"a\u0062c":1}"#;
        let mut state = ScanState::default();
        let mut sc = Scanner::new(doc, &mut state, 8).unwrap();
        sc.begin_object().unwrap();
        let key = sc.next_key().unwrap().unwrap();
        assert_eq!(sc.key_bytes(key), b"abc");
    }
}
