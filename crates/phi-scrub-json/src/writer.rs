//! Writing JSON: only what the rewriter emits itself (hashes, Mixpanel's keys, event names).
//! Everything else is copied from the input as it was.

use bytes::BufMut;

/// Appends `text` as a JSON string literal (with quotes), escaping `"`, `\` and control
/// characters. Non-ASCII text is written as UTF-8, not as `\u` escapes.
pub fn write_escaped_str<B: BufMut>(out: &mut B, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.put_u8(b'"');
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.put_slice(&bytes[run_start..i]);
        if short.is_empty() {
            out.put_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        } else {
            out.put_slice(short);
        }
        run_start = i + 1;
    }
    out.put_slice(&bytes[run_start..]);
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_escaped_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_text_is_quoted() {
        assert_eq!(escaped("Viewed Home Page"), r#""Viewed Home Page""#);
    }

    #[test]
    fn specials_are_escaped_and_round_trip() {
        let text = "a\"b\\c\nd\u{1}é";
        let out = escaped(text);
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, text);
    }
}
