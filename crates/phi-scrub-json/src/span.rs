//! Where a string is in the document, as the scanner returns it: the raw bytes (quotes
//! included) for copying, the content between the quotes, and its decoded text on demand.

use crate::error::JsonError;
use crate::strings::decode_string_into;

/// A string value's position. Offsets are into the document the scanner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrSpan {
    /// Offset of the opening quote.
    pub start: usize,
    /// Offset just after the closing quote.
    pub end: usize,
    /// Whether the string holds escapes (its decoded text differs from its content).
    pub escaped: bool,
}

impl StrSpan {
    /// The string as written, quotes included: what to copy to keep it as it came.
    pub fn raw<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.start..self.end]
    }

    /// The bytes between the quotes, escapes as written.
    pub fn content<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.start + 1..self.end - 1]
    }

    /// Appends the decoded text to `out`.
    pub fn decode_into(&self, buf: &[u8], out: &mut Vec<u8>) -> Result<(), JsonError> {
        if self.escaped {
            decode_string_into(buf, self.start + 1, self.end - 1, out)
        } else {
            out.extend_from_slice(self.content(buf));
            Ok(())
        }
    }

    /// The decoded text: borrowed from the document when there is no escape, else decoded
    /// into `scratch` (cleared first).
    pub fn text<'b>(&self, buf: &'b [u8], scratch: &'b mut Vec<u8>) -> Result<&'b [u8], JsonError> {
        if !self.escaped {
            return Ok(self.content(buf));
        }
        scratch.clear();
        decode_string_into(buf, self.start + 1, self.end - 1, scratch)?;
        Ok(scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_content_and_text_of_a_plain_string() {
        let buf = br#"["ab"]"#;
        let span = StrSpan { start: 1, end: 5, escaped: false };
        assert_eq!(span.raw(buf), br#""ab""#);
        assert_eq!(span.content(buf), b"ab");
        assert_eq!(span.text(buf, &mut Vec::new()).unwrap(), b"ab");
    }

    #[test]
    fn text_of_an_escaped_string_is_decoded() {
        let buf = br#""a\u0062\n""#;
        let span = StrSpan { start: 0, end: buf.len(), escaped: true };
        let mut scratch = b"old".to_vec();
        assert_eq!(span.text(buf, &mut scratch).unwrap(), b"ab\n");
        let mut out = b"x".to_vec();
        span.decode_into(buf, &mut out).unwrap();
        assert_eq!(out, b"xab\n");
    }
}
