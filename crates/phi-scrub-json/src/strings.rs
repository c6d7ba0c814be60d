//! JSON string bodies: finding their end fast, validating escapes, decoding on demand.
//!
//! The hot loop looks at eight bytes at a time (SWAR: "SIMD within a register") for the three
//! bytes that end a plain run inside a string: `"`, `\` and control characters below U+0020.
//! This is portable safe Rust; on ~1 KB Segment events it keeps string scanning well under the
//! per-event budget (see `BENCHMARKS.md`).

use super::error::{JsonError, JsonErrorKind};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit per byte) the bytes of `word` below `n`; exact for the lowest flagged byte.
#[inline(always)]
const fn bytes_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * n as u64) & !word & HIGHS
}

/// Flags the bytes of `word` equal to `b`; exact for the lowest flagged byte.
#[inline(always)]
const fn bytes_equal(word: u64, b: u8) -> u64 {
    bytes_below(word ^ (ONES * b as u64), 1)
}

/// Flags (high bit per byte) the bytes of `word` that end a plain run inside a string: `"`,
/// `\\` and control characters. Exact for the lowest flagged byte.
#[inline(always)]
pub(crate) const fn special_bytes(word: u64) -> u64 {
    bytes_equal(word, b'"') | bytes_equal(word, b'\\') | bytes_below(word, 0x20)
}

/// Index of the first byte at or after `from` that is `"`, `\` or below U+0020, or `buf.len()`.
#[inline]
pub(crate) fn find_string_special(buf: &[u8], from: usize) -> usize {
    let mut pos = from;
    while pos + 8 <= buf.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&buf[pos..pos + 8]);
        let word = u64::from_le_bytes(chunk);
        let mask = special_bytes(word);
        if mask != 0 {
            return pos + (mask.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while pos < buf.len() {
        let b = buf[pos];
        if b == b'"' || b == b'\\' || b < 0x20 {
            return pos;
        }
        pos += 1;
    }
    pos
}

/// Scans a string body starting just after its opening quote.
///
/// Returns the offset of the closing quote and whether the body holds any escape.
#[inline]
pub(crate) fn scan_string_body(buf: &[u8], start: usize) -> Result<(usize, bool), JsonError> {
    let mut pos = start;
    let mut escaped = false;
    loop {
        pos = find_string_special(buf, pos);
        match buf.get(pos) {
            None => return Err(JsonError::new(JsonErrorKind::UnexpectedEnd, pos)),
            Some(b'"') => return Ok((pos, escaped)),
            Some(b'\\') => {
                escaped = true;
                pos = validate_escape(buf, pos)?;
            }
            Some(_) => return Err(JsonError::new(JsonErrorKind::ControlCharacter, pos)),
        }
    }
}

/// Validates the escape at `pos` (which holds `\`) and returns the offset after it.
fn validate_escape(buf: &[u8], pos: usize) -> Result<usize, JsonError> {
    match buf.get(pos + 1) {
        None => Err(JsonError::new(JsonErrorKind::UnexpectedEnd, pos)),
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 2),
        Some(b'u') => {
            let (_, next) = read_unicode_escape(buf, pos)?;
            Ok(next)
        }
        Some(_) => Err(JsonError::new(JsonErrorKind::InvalidEscape, pos)),
    }
}

/// Reads four hex digits at `pos`.
fn read_hex4(buf: &[u8], pos: usize) -> Result<u16, JsonError> {
    let digits = buf.get(pos..pos + 4).ok_or(JsonError::new(JsonErrorKind::UnexpectedEnd, pos))?;
    let mut value = 0u16;
    for &d in digits {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(JsonError::new(JsonErrorKind::InvalidEscape, pos)),
        };
        value = (value << 4) | u16::from(nibble);
    }
    Ok(value)
}

/// Reads a `\uXXXX` escape (and its low-surrogate partner when needed) at `pos`.
///
/// Returns the decoded character and the offset after the escape(s). A surrogate without its
/// partner is an error: it cannot be represented in UTF-8, and silently replacing it would let
/// two different inputs decode (and hash) to the same text.
fn read_unicode_escape(buf: &[u8], pos: usize) -> Result<(char, usize), JsonError> {
    let first = read_hex4(buf, pos + 2)?;
    let after = pos + 6;
    match first {
        0xD800..=0xDBFF => {
            if buf.get(after) != Some(&b'\\') || buf.get(after + 1) != Some(&b'u') {
                return Err(JsonError::new(JsonErrorKind::LoneSurrogate, pos));
            }
            let second = read_hex4(buf, after + 2)?;
            if !(0xDC00..=0xDFFF).contains(&second) {
                return Err(JsonError::new(JsonErrorKind::LoneSurrogate, pos));
            }
            let code = 0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00);
            let c = char::from_u32(code).ok_or(JsonError::new(JsonErrorKind::LoneSurrogate, pos))?;
            Ok((c, after + 6))
        }
        0xDC00..=0xDFFF => Err(JsonError::new(JsonErrorKind::LoneSurrogate, pos)),
        _ => {
            let c = char::from_u32(u32::from(first)).ok_or(JsonError::new(JsonErrorKind::InvalidEscape, pos))?;
            Ok((c, after))
        }
    }
}

/// Appends the decoded text of the string body `buf[start..end]` to `out`.
///
/// `buf[start..end]` must be a body that [`scan_string_body`] accepted; errors are still
/// returned rather than assumed away, so a misuse cannot panic.
pub fn decode_string_into(buf: &[u8], start: usize, end: usize, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut pos = start;
    while pos < end {
        let next = match buf[pos..end].iter().position(|&b| b == b'\\') {
            Some(i) => pos + i,
            None => end,
        };
        out.extend_from_slice(&buf[pos..next]);
        if next == end {
            break;
        }
        pos = decode_escape(buf, next, out)?;
    }
    Ok(())
}

fn decode_escape(buf: &[u8], pos: usize, out: &mut Vec<u8>) -> Result<usize, JsonError> {
    let simple = match buf.get(pos + 1) {
        Some(b'"') => b'"',
        Some(b'\\') => b'\\',
        Some(b'/') => b'/',
        Some(b'b') => 0x08,
        Some(b'f') => 0x0c,
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'u') => {
            let (c, next) = read_unicode_escape(buf, pos)?;
            let mut tmp = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            return Ok(next);
        }
        _ => return Err(JsonError::new(JsonErrorKind::InvalidEscape, pos)),
    };
    out.push(simple);
    Ok(pos + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<String, JsonError> {
        let buf = body.as_bytes();
        let (end, _) = scan_string_body(buf, 0)?;
        let mut out = Vec::new();
        decode_string_into(buf, 0, end, &mut out)?;
        Ok(String::from_utf8(out).expect("decoded text is UTF-8"))
    }

    #[test]
    fn finds_quote_after_long_plain_run() {
        let s = format!("{}\"", "a".repeat(37));
        assert_eq!(find_string_special(s.as_bytes(), 0), 37);
    }

    #[test]
    fn finds_first_special_in_word_with_several() {
        assert_eq!(find_string_special(b"ab\\c\"defgh", 0), 2);
        assert_eq!(find_string_special(b"abcdefg\x01\"", 0), 7);
    }

    #[test]
    fn high_bytes_are_not_special() {
        let s = "ééééé\"".as_bytes();
        assert_eq!(find_string_special(s, 0), 10);
    }

    #[test]
    fn decodes_simple_escapes() {
        assert_eq!(decode(r#"a\"b\\c\/d\n\t""#).unwrap(), "a\"b\\c/d\n\t");
    }

    #[test]
    fn decodes_unicode_escape_to_utf8() {
        assert_eq!(decode(r#"a\u0040b.com""#).unwrap(), "a@b.com");
        assert_eq!(decode(r#"\u00e9""#).unwrap(), "é");
    }

    #[test]
    fn decodes_surrogate_pair() {
        assert_eq!(decode(r#"\ud83d\ude00""#).unwrap(), "😀");
    }

    #[test]
    fn lone_high_surrogate_is_rejected() {
        assert_eq!(decode(r#"\ud83dx""#).unwrap_err().kind, JsonErrorKind::LoneSurrogate);
    }

    #[test]
    fn lone_low_surrogate_is_rejected() {
        assert_eq!(decode(r#"\ude00""#).unwrap_err().kind, JsonErrorKind::LoneSurrogate);
    }

    #[test]
    fn high_surrogate_followed_by_non_low_is_rejected() {
        assert_eq!(decode(r#"\ud83d\u0041""#).unwrap_err().kind, JsonErrorKind::LoneSurrogate);
    }

    #[test]
    fn unknown_escape_is_rejected() {
        assert_eq!(decode(r#"\x41""#).unwrap_err().kind, JsonErrorKind::InvalidEscape);
    }

    #[test]
    fn short_unicode_escape_is_rejected() {
        assert_eq!(decode(r#"\u12g4""#).unwrap_err().kind, JsonErrorKind::InvalidEscape);
    }

    #[test]
    fn raw_control_character_is_rejected() {
        assert_eq!(decode("a\nb\"").unwrap_err().kind, JsonErrorKind::ControlCharacter);
    }

    #[test]
    fn unterminated_string_is_rejected() {
        assert_eq!(decode("abc").unwrap_err().kind, JsonErrorKind::UnexpectedEnd);
        assert_eq!(decode("abc\\").unwrap_err().kind, JsonErrorKind::UnexpectedEnd);
    }
}
