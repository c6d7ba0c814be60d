//! The validating, borrowing scanner: one pass over one document, offsets out, no DOM.
//!
//! The caller drives it member by member (`begin_object`, `next_key`, then either descends into
//! the value or calls `skip_value`), so a rewriter can copy untouched spans as raw bytes and look
//! closely only at what its policy names. Every byte passed over is validated, including the
//! spans that are merely skipped, and keys are checked for duplicates after unescaping: `"a"` and
//! `"\u0061"` are the same key.
//!
//! This file is the cursor (the member-by-member API); the skip loops, duplicate-key detection
//! and key fingerprints are in the files beside it.

mod duplicates;
mod fingerprint;
mod skip;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use super::error::{JsonError, JsonErrorKind};
use super::span::StrSpan;
use super::strings::{decode_string_into, scan_string_body};

use duplicates::KeyEntry;
pub use fingerprint::fingerprint;
use fingerprint::scan_key_body;
use skip::{after_colon, literal_end, number_end};

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
    /// Decoded keys of objects past [`duplicates::LINEAR_KEY_CHECK_LIMIT`], by object serial, in a
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
