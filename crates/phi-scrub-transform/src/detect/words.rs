//! Words in searched text: the text split once into runs of letters (for the detectors that
//! look for cue words, month names and names), the word before a match (a cue such as `born`,
//! `near` or `order`), and case-insensitive lookups in word lists.

/// A run of ASCII letters (with inner apostrophes: `O'Brien`) in the searched text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Word {
    pub start: usize,
    pub end: usize,
    /// A digit touches it (`MRN00482913`, `Jane2`).
    pub glued_digit: bool,
}

/// Splits `text` into its words, into `out`.
pub(super) fn split_words(text: &[u8], out: &mut Vec<Word>) {
    out.clear();
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len()
            && (text[i].is_ascii_alphabetic()
                || (text[i] == b'\'' && text.get(i + 1).is_some_and(u8::is_ascii_alphabetic)))
        {
            i += 1;
        }
        let glued_digit =
            text.get(i).is_some_and(u8::is_ascii_digit) || (start > 0 && text[start - 1].is_ascii_digit());
        out.push(Word { start, end: i, glued_digit });
    }
}

/// Whether `word` is one of `list` (ASCII case ignored; the lists are lowercase).
pub(super) fn is_one_of(word: &[u8], list: &[&str]) -> bool {
    let Some(&first) = word.first() else { return false };
    let first = first.to_ascii_lowercase();
    // Length and first letter rule out nearly every entry before a full comparison.
    list.iter().any(|l| {
        let l = l.as_bytes();
        l.len() == word.len() && l[0] == first && l.eq_ignore_ascii_case(word)
    })
}

/// The words that end before `pos`, nearest first: runs of ASCII letters, with anything but
/// letters and digits between them skipped (`DOB: 07/02/1984` gives `dob` before the date).
/// Stops at a digit, so that the words belong to this match and not an earlier number.
pub(super) fn words_before(text: &[u8], pos: usize) -> impl Iterator<Item = &[u8]> {
    let mut end = pos.min(text.len());
    std::iter::from_fn(move || {
        while end > 0 && !text[end - 1].is_ascii_alphanumeric() {
            end -= 1;
        }
        if end == 0 || text[end - 1].is_ascii_digit() {
            return None;
        }
        let mut start = end;
        while start > 0 && text[start - 1].is_ascii_alphabetic() {
            start -= 1;
        }
        let word = &text[start..end];
        end = start;
        Some(word)
    })
}

/// Whether one of the `n` words before `pos` is in `list`.
pub(super) fn cue_before(text: &[u8], pos: usize, n: usize, list: &[&str]) -> bool {
    words_before(text, pos).take(n).any(|w| is_one_of(w, list))
}

/// The ASCII letters glued to the left of `pos` (`call` in `call5552345678`).
pub(super) fn glued_before(text: &[u8], pos: usize) -> &[u8] {
    let mut start = pos;
    while start > 0 && text[start - 1].is_ascii_alphabetic() {
        start -= 1;
    }
    &text[start..pos]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_before_skip_punctuation_and_stop_at_digits() {
        let text = b"DOB: 07/02/1984";
        let got: Vec<&[u8]> = words_before(text, 5).collect();
        assert_eq!(got, [&b"DOB"[..]]);
        let got: Vec<&[u8]> = words_before(b"call 1 then Ann ", 16).collect();
        assert_eq!(got, [&b"Ann"[..], b"then"]);
        assert!(cue_before(b"born on 1984-07-02", 8, 2, &["born"]));
        assert!(!cue_before(b"born on 1984-07-02", 8, 1, &["born"]));
        assert_eq!(glued_before(b"x call5552345678", 6), b"call");
    }
}
