//! A key split into its words: `insuranceMemberId` is `insurance member id`, `ssn_last4` is
//! `ssn last 4`, `PatientDOB` is `patient dob`, `teléfono` is `telefono`. The key is folded first
//! (see [`crate::fold`]: case, width, accents, look-alike letters, invisible characters), then cut
//! at separators, at a lowercase-to-uppercase step (`memberId`), before the last capital of a
//! capital run followed by lowercase (`HTTPServer` is `http server`) and between letters and
//! digits.
//!
//! The preset matches compound keys by these words, and the detectors read them as context (a
//! number under `phone` is a phone; under `appointment_id` it is not).

use crate::fold::fold_char;

/// At most this many words of a key are kept (a key is rarely more than five).
const MAX_WORDS: usize = 16;
/// At most this many bytes of folded words are kept.
const MAX_BYTES: usize = 128;

/// The words of a key, lowercase and folded.
#[derive(Debug, Clone)]
pub(crate) struct KeyWords {
    bytes: [u8; MAX_BYTES],
    len: usize,
    ends: [u8; MAX_WORDS],
    count: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    if c.is_ascii_digit() || (c.is_numeric() && !c.is_alphabetic()) {
        Class::Digit
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_alphabetic() {
        Class::Lower
    } else {
        Class::Other
    }
}

impl KeyWords {
    /// Splits `key` (raw key bytes; invalid UTF-8 is read lossily) into words.
    pub(crate) fn of(key: &[u8]) -> Self {
        let mut words = Self { bytes: [0; MAX_BYTES], len: 0, ends: [0; MAX_WORDS], count: 0 };
        if key.is_ascii() {
            words.split_ascii(key);
        } else {
            let mut chars: Vec<char> = Vec::with_capacity(key.len());
            for c in String::from_utf8_lossy(key).chars() {
                fold_char(c, &mut |f| chars.push(f));
            }
            words.split(chars.len(), |i| chars[i]);
        }
        words
    }

    /// [`Self::split`] for ASCII keys, byte by byte (the usual case, and on the hot path).
    fn split_ascii(&mut self, key: &[u8]) {
        let class = |b: u8| match b {
            b'a'..=b'z' => Class::Lower,
            b'A'..=b'Z' => Class::Upper,
            b'0'..=b'9' => Class::Digit,
            _ => Class::Other,
        };
        let mut in_word = false;
        let mut prev = Class::Other;
        for (i, &b) in key.iter().enumerate() {
            let now = class(b);
            if now == Class::Other {
                self.end_word(&mut in_word);
                prev = now;
                continue;
            }
            let next = key.get(i + 1).map_or(Class::Other, |&n| class(n));
            if in_word && boundary(prev, now, next) {
                self.end_word(&mut in_word);
            }
            in_word = true;
            if self.count < MAX_WORDS && self.len < MAX_BYTES {
                self.bytes[self.len] = b.to_ascii_lowercase();
                self.len += 1;
            }
            prev = now;
        }
        self.end_word(&mut in_word);
    }

    /// Splits the `n` characters `at(0..n)` into words.
    fn split(&mut self, n: usize, at: impl Fn(usize) -> char) {
        let mut in_word = false;
        for i in 0..n {
            let c = at(i);
            if class(c) == Class::Other {
                self.end_word(&mut in_word);
                continue;
            }
            if in_word && starts_word(at(i - 1), c, if i + 1 < n { Some(at(i + 1)) } else { None }) {
                self.end_word(&mut in_word);
            }
            in_word = true;
            if c.is_ascii() {
                self.push_char(c.to_ascii_lowercase());
            } else {
                for lower in c.to_lowercase() {
                    self.push_char(lower);
                }
            }
        }
        self.end_word(&mut in_word);
    }

    fn push_char(&mut self, c: char) {
        let mut utf8 = [0; 4];
        let encoded = c.encode_utf8(&mut utf8).as_bytes();
        if self.count < MAX_WORDS && self.len + encoded.len() <= MAX_BYTES {
            self.bytes[self.len..self.len + encoded.len()].copy_from_slice(encoded);
            self.len += encoded.len();
        }
    }

    fn end_word(&mut self, in_word: &mut bool) {
        let start = if self.count == 0 { 0 } else { self.ends[self.count - 1] as usize };
        if *in_word && self.len > start && self.count < MAX_WORDS {
            self.ends[self.count] = self.len as u8;
            self.count += 1;
        }
        *in_word = false;
    }

    /// How many words.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Word `i`.
    pub(crate) fn word(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// The words `from..to` joined without separators, as [`crate::key_table::normalise_key`]
    /// writes a key.
    pub(crate) fn joined(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] as usize };
        let end = if to == 0 { 0 } else { self.ends[to - 1] as usize };
        &self.bytes[start..end]
    }

    /// Every word.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.count).map(|i| self.word(i))
    }

    /// Whether any word is one of `list`.
    pub(crate) fn any_in(&self, list: &[&str]) -> bool {
        self.iter().any(|w| list.iter().any(|l| l.as_bytes() == w))
    }
}

/// Whether `now` (after `prev`, before `next`) starts a new word inside a run of letters and
/// digits.
fn starts_word(prev: char, now: char, next: Option<char>) -> bool {
    boundary(class(prev), class(now), next.map_or(Class::Other, class))
}

/// Whether a character of class `now` between `prev` and `next` starts a new word.
fn boundary(prev: Class, now: Class, next: Class) -> bool {
    match (prev, now) {
        (Class::Digit, Class::Lower | Class::Upper) | (Class::Lower | Class::Upper, Class::Digit) => true,
        (Class::Lower, Class::Upper) => true,
        // `HTTPServer`: the `S` starts `server`.
        (Class::Upper, Class::Upper) => next == Class::Lower,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(key: &str) -> Vec<String> {
        let w = KeyWords::of(key.as_bytes());
        w.iter().map(|w| String::from_utf8(w.to_vec()).unwrap()).collect()
    }

    #[test]
    fn keys_split_into_words() {
        assert_eq!(words("insuranceMemberId"), ["insurance", "member", "id"]);
        assert_eq!(words("ssnLast4"), ["ssn", "last", "4"]);
        assert_eq!(words("patient_DOB"), ["patient", "dob"]);
        assert_eq!(words("PatientDOB"), ["patient", "dob"]);
        assert_eq!(words("HTTPServer"), ["http", "server"]);
        assert_eq!(words("near-zip"), ["near", "zip"]);
        assert_eq!(words("address1"), ["address", "1"]);
        assert_eq!(words("teléfono"), ["telefono"]);
        assert_eq!(words("\u{0435}mail"), ["email"], "Cyrillic е");
        assert_eq!(words("ｅｍａｉｌ＿ａｄｄｒｅｓｓ"), ["email", "address"]);
        assert_eq!(words("e\u{200b}mail"), ["email"]);
        assert_eq!(words("fecha de nacimiento"), ["fecha", "de", "nacimiento"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("__"), Vec::<String>::new());
    }

    #[test]
    fn joined_windows_match_normalised_keys() {
        let w = KeyWords::of(b"insuranceMemberId");
        assert_eq!(w.joined(1, 3), b"memberid");
        assert_eq!(w.joined(0, 1), b"insurance");
        assert_eq!(w.count(), 3);
    }

    #[test]
    fn long_keys_keep_what_fits() {
        let key = "word_".repeat(40);
        let w = KeyWords::of(key.as_bytes());
        assert_eq!(w.count(), MAX_WORDS);
        assert!(w.iter().all(|x| x == b"word"));
    }
}
