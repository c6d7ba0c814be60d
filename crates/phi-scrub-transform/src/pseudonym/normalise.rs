//! Normalisation of a value before it is hashed (`hash = [{ path, trim, lowercase }]`), so
//! `Ann@X.org ` and `ann@x.org` get one pseudonym. In place, without a new `String` for the
//! usual value; pinned to `str::to_lowercase` and `str::trim` by property tests.

use super::{Pseudonymizer, HEX_LEN};

/// Hashes decoded text after the requested normalisation. `text` is UTF-8 (the scanner
/// validated the document), and is modified in place.
pub(crate) fn hash_text(
    pseudonymizer: &Pseudonymizer,
    text: &mut Vec<u8>,
    trim: bool,
    lowercase: bool,
) -> [u8; HEX_LEN] {
    if lowercase {
        lowercase_in_place(text);
    }
    let bytes = if trim { trim_unicode_whitespace(text) } else { text.as_slice() };
    pseudonymizer.hash_hex(bytes)
}

/// `str::to_lowercase`, in place. Characters whose lowercase is one character of the same UTF-8
/// width (ASCII, and most letters with accents: `Ó` and `ó` are both two bytes) are rewritten
/// where they stand; at the first other character (a capital sigma, whose lowercase depends on
/// its neighbours, or one whose lowercase changes length, such as `İ`) the rest goes through
/// `str::to_lowercase` (lowering the prefix again changes nothing).
fn lowercase_in_place(text: &mut Vec<u8>) {
    let mut i = 0;
    loop {
        let ascii_run = text[i..].iter().position(|b| !b.is_ascii()).unwrap_or(text.len() - i);
        text[i..i + ascii_run].make_ascii_lowercase();
        i += ascii_run;
        if i == text.len() {
            return;
        }
        match lower_same_width(&mut text[i..]) {
            Some(width) => i += width,
            None => return lowercase_whole(text),
        }
    }
}

/// Lowers the non-ASCII character at the start of `bytes` where it stands, when its lowercase
/// is one character of the same UTF-8 width and it is not a capital sigma; returns its width.
#[inline]
fn lower_same_width(bytes: &mut [u8]) -> Option<usize> {
    // Latin-1 Supplement (U+0080-U+00FF, the accented letters of most European names) without
    // `char::to_lowercase`'s table search: `À`-`Þ` (C3 80-9E) except `×` (C3 97) move up by
    // 0x20; the rest of the block is its own lowercase.
    match (bytes[0], bytes.get(1).copied()) {
        (0xc2, Some(0x80..=0xbf)) => return Some(2),
        (0xc3, Some(second @ 0x80..=0xbf)) => {
            if second <= 0x9e && second != 0x97 {
                bytes[1] = second + 0x20;
            }
            return Some(2);
        }
        _ => {}
    }
    let width = match bytes[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(bytes.get(..width)?).ok()?.chars().next()?;
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) if c != '\u{03a3}' && l.len_utf8() == width => {
            l.encode_utf8(&mut bytes[..width]);
            Some(width)
        }
        _ => None,
    }
}

/// `str::to_lowercase` of the whole text, through a new `String`.
#[cold]
fn lowercase_whole(text: &mut Vec<u8>) {
    // Decoded JSON strings are UTF-8; lossy rather than a panic if that ever broke.
    let lowered = String::from_utf8_lossy(text).to_lowercase();
    *text = lowered.into_bytes();
}

/// `str::trim` on UTF-8 bytes: ASCII edges are settled without decoding; a non-ASCII edge (which
/// may be Unicode whitespace such as U+00A0) goes through `str::trim`.
fn trim_unicode_whitespace(text: &[u8]) -> &[u8] {
    let is_ascii_space = |b: &u8| b.is_ascii() && char::from(*b).is_whitespace();
    let start = text.iter().position(|b| !is_ascii_space(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !is_ascii_space(b)).map_or(start, |i| i + 1);
    let inner = &text[start..end];
    match (inner.first(), inner.last()) {
        (Some(first), Some(last)) if !first.is_ascii() || !last.is_ascii() => {
            std::str::from_utf8(inner).map(|s| s.trim().as_bytes()).unwrap_or(inner)
        }
        _ => inner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lowercase_and_trim_match_the_standard_library_on_edge_cases() {
        for s in [
            "  A@B.COM ",
            "\u{a0}José@X.org\u{3000}",
            "ΣΑΣ Σ",
            "İstanbul",
            "\u{212a}elvin",
            "\u{b}x\u{c}",
            "",
            " ",
            "ÉΣ",
            "ΆΣ ",
            "ÓΣa",
            "Ⅰ\u{301}Σ",
            "ÀΣ\u{301}",
            "ẞΣ",
        ] {
            let mut text = s.as_bytes().to_vec();
            lowercase_in_place(&mut text);
            assert_eq!(text, s.to_lowercase().as_bytes(), "{s:?}");
            assert_eq!(trim_unicode_whitespace(s.as_bytes()), s.trim().as_bytes(), "{s:?}");
        }
    }

    #[test]
    fn latin1_block_is_lowered_like_the_standard_library() {
        for c in (0x80..=0xff).filter_map(char::from_u32) {
            let s = format!("A{c}b{c}");
            let mut text = s.as_bytes().to_vec();
            lowercase_in_place(&mut text);
            assert_eq!(text, s.to_lowercase().as_bytes(), "{c:?}");
        }
    }

    proptest! {
        #[test]
        fn lowercase_and_trim_match_the_standard_library(s in "\\PC{0,40}|[ \u{a0}\u{85}\t]{0,3}[a-zA-ZΣİ\u{212a}]{0,20}[ \u{a0}\u{2003}]{0,3}") {
            let mut text = s.as_bytes().to_vec();
            lowercase_in_place(&mut text);
            let expected = s.to_lowercase();
            prop_assert_eq!(&text, expected.as_bytes());
            prop_assert_eq!(trim_unicode_whitespace(s.as_bytes()), s.trim().as_bytes());
        }
    }
}
