//! The skip loops: one value passed over, validated in full, its shape measured. The scanner's
//! hottest code (an event's `context` is skipped whole): the position stays in a local, no
//! frames are pushed and bytes are dispatched directly, but exactly what the member-by-member
//! API checks is checked here too.

use super::{Frame, Scanner, Shape};
use crate::error::{JsonError, JsonErrorKind};
use crate::strings::scan_string_body;

impl Scanner<'_, '_> {
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
}

/// The offset after the number starting at `start`, validating JSON's grammar.
pub(super) fn number_end(buf: &[u8], start: usize) -> Result<usize, JsonError> {
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
pub(super) fn literal_end(buf: &[u8], start: usize) -> Result<usize, JsonError> {
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
pub(super) fn skip_ws_at(buf: &[u8], mut pos: usize) -> usize {
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
pub(super) enum AfterItem {
    /// A comma: the next item starts at this offset.
    Next(usize),
    /// The closing bracket: the container ends just before this offset.
    Closed(usize),
}

/// Reads the separator after an item that ended at `after`, in a container closed by `close`.
#[inline(always)]
pub(super) fn after_item(buf: &[u8], after: usize, close: u8) -> Result<AfterItem, JsonError> {
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
pub(super) fn after_colon(buf: &[u8], quote_end: usize) -> Result<usize, JsonError> {
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
pub(super) const MAX_FINITE_INTEGER_DIGITS: usize = 308;

/// Whether a number is finite as a double. JSON allows any size, but downstream parsers (serde,
/// Mixpanel's) reject numbers that overflow, and one such event could fail a whole batch.
pub(super) fn fits_f64(text: &[u8]) -> bool {
    std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()).is_some_and(f64::is_finite)
}

#[inline]
pub(super) fn skip_digits(buf: &[u8], mut p: usize) -> usize {
    while matches!(buf.get(p), Some(b'0'..=b'9')) {
        p += 1;
    }
    p
}
