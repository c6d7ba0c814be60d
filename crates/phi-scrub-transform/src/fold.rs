//! Folding text before it is matched, so that an identifier written with look-alike characters
//! is still recognised: compatibility forms (fullwidth `４１５`, `＠`, no-break spaces, ligatures)
//! become their plain forms (NFKD), accents are taken off letters, invisible characters
//! (zero-width spaces and joiners, soft hyphens, direction marks) are removed, dashes become `-`,
//! and letters from other scripts that look like Latin ones (Cyrillic `е`, Greek `ο`) become
//! those Latin letters.
//!
//! Keys are folded and lowercased before they are split into words; values are folded only for
//! the detectors, which keep a map back to the original bytes so that a redaction still cuts
//! the text as it came. ASCII text is never changed by folding, so it is not folded at all.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Calls `out` with the folded form of `c` (nothing, one or several characters).
pub(crate) fn fold_char(c: char, out: &mut impl FnMut(char)) {
    if c.is_ascii() {
        out(c);
        return;
    }
    if is_invisible(c) {
        return;
    }
    decompose_compatible(c, |d| {
        if is_combining_mark(d) || is_invisible(d) {
            return;
        }
        out(plain(d));
    });
}

/// Format characters that render as nothing: an identifier split by them reads the same.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}')
}

/// The plain form of a decomposed character: spaces, dashes and look-alike letters.
fn plain(c: char) -> char {
    if c.is_whitespace() {
        return ' ';
    }
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{2043}' => '-',
        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
        '\u{2024}' | '\u{3002}' => '.',
        _ => look_alike(c).unwrap_or(c),
    }
}

/// The Latin letter a Cyrillic or Greek letter is drawn like, if any (the pairs Unicode's
/// confusables list gives for these scripts, letters only: digits and punctuation from that
/// list, such as `0` for `O`, would turn numbers into words).
fn look_alike(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic.
        'а' => 'a',
        'в' => 'b',
        'е' | 'ё' => 'e',
        'һ' => 'h',
        'і' | 'ї' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ѕ' => 's',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ɡ' => 'g',
        'А' => 'A',
        'В' => 'B',
        'Е' | 'Ё' => 'E',
        'Н' => 'H',
        'І' => 'I',
        'Ј' => 'J',
        'К' => 'K',
        'М' => 'M',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'Ѕ' => 'S',
        'У' => 'Y',
        // Greek.
        'α' => 'a',
        'ο' => 'o',
        'ρ' => 'p',
        'ν' => 'v',
        'ι' => 'i',
        'κ' => 'k',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        _ => return None,
    })
}

/// A value folded for the detectors, with the original byte each folded byte came from.
#[derive(Debug, Default)]
pub(crate) struct FoldedText {
    pub(crate) text: Vec<u8>,
    /// For each byte of `text`, the start of the original character it came from.
    origin: Vec<u32>,
    /// The original text's length.
    len: usize,
}

impl FoldedText {
    /// Folds `original` (valid UTF-8 with non-ASCII characters) into `self`.
    pub(crate) fn fold(&mut self, original: &str) {
        self.text.clear();
        self.origin.clear();
        self.len = original.len();
        for (at, c) in original.char_indices() {
            fold_char(c, &mut |f| {
                let mut utf8 = [0; 4];
                for &b in f.encode_utf8(&mut utf8).as_bytes() {
                    self.text.push(b);
                    self.origin.push(at as u32);
                }
            });
        }
    }

    /// The original byte range of the folded range `start..end`: from the start of the
    /// character the first byte came from to the end of the one the last byte came from.
    pub(crate) fn original_range(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        let from = self.origin.get(start).map_or(self.len, |&o| o as usize);
        let last = self.origin.get(end.saturating_sub(1)).map_or(self.len, |&o| o as usize);
        let to = original[last..].chars().next().map_or(self.len, |c| last + c.len_utf8());
        (from, to.max(from))
    }
}

/// `text` folded, without the map back.
#[cfg(test)]
pub(crate) fn fold_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut |f| out.push(f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_fold_to_plain_text() {
        assert_eq!(fold_str("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"), "jane@example.com");
        assert_eq!(fold_str("４１５\u{a0}５５５\u{2013}０１２３"), "415 555-0123");
        assert_eq!(fold_str("5\u{200b}5\u{200b}5-234-5678"), "555-234-5678");
        assert_eq!(fold_str("\u{0435}mail"), "email", "Cyrillic е");
        assert_eq!(fold_str("José Müller Nguyễn"), "Jose Muller Nguyen");
        assert_eq!(fold_str("ann@exаmple.com"), "ann@example.com", "mixed-script domain");
        assert_eq!(fold_str("plain ascii"), "plain ascii");
        assert_eq!(fold_str("東京"), "東京", "other scripts stay");
    }

    #[test]
    fn ranges_map_back_to_whole_original_characters() {
        let original = "call ４１５ now";
        let mut f = FoldedText::default();
        f.fold(original);
        let folded = std::str::from_utf8(&f.text).unwrap();
        assert_eq!(folded, "call 415 now");
        let (s, e) = f.original_range(original, 5, 8);
        assert_eq!(&original[s..e], "４１５");
        let (s, e) = f.original_range(original, 9, 12);
        assert_eq!(&original[s..e], "now");
    }
}
