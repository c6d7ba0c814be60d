//! Person names, found with the 1990 US Census name lists (public domain, shipped in `data/`:
//! the 5,163 given names and the 30,000 most frequent surnames) and cue words:
//!
//! - after a cue: `Patient Jane Roe`, `Dr. Okafor`, `Mrs. Smith`, `pt: Roe, Jane` (after an
//!   honorific any capitalised word is taken; after `patient`, one from the lists);
//! - a given name followed by a surname, both capitalised (`Jane Roe called`, `Jane Q. Roe`,
//!   `Roe, Jane`), as in free text, page and screen titles and event names;
//! - the same in lowercase joined by `-`, `_` or `.` (a URL slug: `/doctors/jane-roe`), or by a
//!   space in a typed search (`jane roe cardiology`) or under a key that names a person;
//! - under a key that names a person (`name`, `patient`), capitalised words on their own.
//!
//! Words that are names but far more often something else (`Will`, `May`, `Grace`, `Care`,
//! `Center`, `Page`) are never taken without a cue. What is left alone: a single name without a
//! cue (`Smith` on its own), names not in the lists without a cue, and lowercase names in prose.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::context::Context;
use super::words::Word;
use super::{Detector, Match};

const GIVEN: &str = include_str!("../../data/census-1990-given-names.txt");
const SURNAMES: &str = include_str!("../../data/census-1990-surnames.txt");

/// Honorifics: any capitalised word after one is a name.
const HONORIFICS: &[&str] = &["dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "sr", "sra", "srta"];
/// Cues after which a listed name is taken.
const PATIENT_CUES: &[&str] = &["patient", "pt", "paciente", "name", "nombre", "member", "caller", "client"];

/// Given names that are far more often ordinary words: not taken as the start of a name
/// without a cue (`Grace Period`, `Rose Hill`, `Will Call`).
const NOT_GIVEN: &str = include_str!("../../data/names-not-given.txt");

/// Words on the name lists that are, in analytics events, almost never names: never taken as a
/// name without an honorific.
const NOT_NAMES: &str = include_str!("../../data/names-not-names.txt");

struct Lists {
    given: HashSet<&'static str>,
    surnames: HashSet<&'static str>,
    not_given: HashSet<&'static str>,
    not_names: HashSet<&'static str>,
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| Lists {
        given: GIVEN.lines().collect(),
        surnames: SURNAMES.lines().collect(),
        not_given: NOT_GIVEN.lines().collect(),
        not_names: NOT_NAMES.lines().collect(),
    })
}

/// The word lowercased into `buf`, apostrophes dropped (names are short; longer words are never
/// names).
fn lower<'b>(text: &[u8], w: Word, buf: &'b mut [u8; 24]) -> Option<&'b str> {
    if w.glued_digit {
        return None;
    }
    // The lists write `O'Malley` as `omalley`.
    let mut n = 0;
    for &b in text[w.start..w.end].iter().filter(|&&b| b != b'\'') {
        *buf.get_mut(n)? = b.to_ascii_lowercase();
        n += 1;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// A capital and at least one more letter; two capitals (`MA`, `OK`) are an abbreviation.
fn capitalised(text: &[u8], w: Word) -> bool {
    let word = &text[w.start..w.end];
    if w.glued_digit {
        return false;
    }
    word[0].is_ascii_uppercase() && word.len() > 1 && !(word.len() == 2 && word[1].is_ascii_uppercase())
}

/// What lies between two words.
fn between(text: &[u8], a: Word, b: Word) -> &[u8] {
    &text[a.end..b.start]
}

struct Finder<'t> {
    text: &'t [u8],
    words: &'t [Word],
    lists: &'static Lists,
    /// Lowercase pairs joined by a space count (a typed search, a key naming a person).
    lowercase_spaced: bool,
    cued_key: bool,
}

impl Finder<'_> {
    fn lowered(&self, i: usize, then: impl FnOnce(&str) -> bool) -> bool {
        let mut buf = [0; 24];
        lower(self.text, self.words[i], &mut buf).is_some_and(then)
    }

    fn given(&self, i: usize) -> bool {
        let l = self.lists;
        self.lowered(i, |w| l.given.contains(w) && !l.not_given.contains(w) && !l.not_names.contains(w))
    }

    fn surname(&self, i: usize) -> bool {
        let l = self.lists;
        self.lowered(i, |w| l.surnames.contains(w) && !l.not_names.contains(w))
    }

    fn listed(&self, i: usize) -> bool {
        let l = self.lists;
        self.lowered(i, |w| (l.given.contains(w) || l.surnames.contains(w)) && !l.not_names.contains(w))
    }

    fn stop(&self, i: usize) -> bool {
        !self.lowered(i, |w| !self.lists.not_names.contains(w))
    }

    fn cap(&self, i: usize) -> bool {
        capitalised(self.text, self.words[i])
    }

    /// Whether words `i` and `j` are joined as two parts of one name may be.
    fn joined(&self, i: usize, j: usize) -> Joint {
        let sep = between(self.text, self.words[i], self.words[j]);
        match sep {
            b" " => Joint::Space,
            b"-" | b"_" | b"." | b"+" => Joint::Slug,
            b", " | b"," => Joint::Comma,
            _ => Joint::None,
        }
    }

    /// A name starting at word `i`; returns the index of its last word.
    fn pair_at(&self, i: usize) -> Option<usize> {
        let n = self.words.len();
        if i + 1 >= n {
            return None;
        }
        let initial_next = self.words[i + 1].end - self.words[i + 1].start == 1;
        let (caps, joint) = (self.cap(i) && (self.cap(i + 1) || initial_next), self.joined(i, i + 1));
        let lower_ok = match joint {
            Joint::Slug => true,
            Joint::Space => self.lowercase_spaced,
            _ => false,
        };
        if !(caps || lower_ok) {
            return None;
        }
        if joint == Joint::Comma {
            return (caps && self.surname(i) && self.given(i + 1)).then_some(i + 1);
        }
        if joint == Joint::None || !self.given(i) {
            return None;
        }
        if self.surname(i + 1) {
            return Some(i + 1);
        }
        // A middle initial or a middle name: `Jane Q. Roe`, `Mary Ann Smith`.
        if i + 2 >= n {
            return None;
        }
        let initial = self.words[i + 1].end - self.words[i + 1].start == 1;
        let middle_joint = match between(self.text, self.words[i + 1], self.words[i + 2]) {
            b". " => initial,
            _ => self.joined(i + 1, i + 2) != Joint::None,
        };
        let middle = (initial && self.text[self.words[i + 1].start].is_ascii_uppercase()) || self.given(i + 1);
        (middle && middle_joint && self.surname(i + 2)).then_some(i + 2)
    }

    /// The name after a cue word at `i`; returns its first and last word.
    fn after_cue(&self, i: usize) -> Option<(usize, usize)> {
        // Cue words are two to eight letters.
        if !(2..=8).contains(&(self.words[i].end - self.words[i].start)) {
            return None;
        }
        let mut buf = [0; 24];
        let cue = lower(self.text, self.words[i], &mut buf)?;
        let honorific = HONORIFICS.contains(&cue);
        if !honorific && !PATIENT_CUES.contains(&cue) {
            return None;
        }
        let first = i + 1;
        if first >= self.words.len() || !self.joined_loose(i, first) {
            return None;
        }
        let takes = |j: usize| {
            let shaped = self.cap(j) || (self.lowercase_spaced && self.listed(j));
            shaped && !self.stop(j) && (honorific || self.listed(j))
        };
        if !takes(first) {
            return None;
        }
        let mut last = first;
        while last + 1 < self.words.len() && last - first < 2 && self.joined(last, last + 1) != Joint::None {
            if !(takes(last + 1) || (self.cap(last + 1) && self.listed(last + 1))) {
                break;
            }
            last += 1;
        }
        Some((first, last))
    }

    /// Whether a cue and the next word are separated only by spaces and punctuation (`Dr. `,
    /// `patient: `).
    fn joined_loose(&self, i: usize, j: usize) -> bool {
        let sep = between(self.text, self.words[i], self.words[j]);
        sep.len() <= 3 && sep.iter().all(|b| matches!(b, b' ' | b'.' | b':' | b',' | b'-'))
    }

    /// Under a key naming a person: capitalised words not on the stop list.
    fn cued_run(&self, i: usize) -> Option<usize> {
        if !self.cued_key || !self.cap(i) || self.stop(i) {
            return None;
        }
        let mut last = i;
        while last + 1 < self.words.len() && self.cap(last + 1) && self.joined(last, last + 1) != Joint::None {
            last += 1;
        }
        (last > i || self.listed(i)).then_some(last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joint {
    Space,
    Slug,
    Comma,
    None,
}

/// Appends the person names in `text`.
pub(super) fn find(text: &[u8], words: &[Word], cx: &Context, matches: &mut Vec<Match>) {
    // A name needs a capital, a slug separator or a space (`Jane Roe`, `jane-roe`, `jane roe`).
    let separated = memchr::memchr3(b' ', b'-', b'_', text).is_some() || memchr::memchr(b'.', text).is_some();
    if words.is_empty() || (!separated && !text.iter().any(u8::is_ascii_uppercase)) {
        return;
    }
    let cued_key = cx.cues(Detector::PersonName);
    let no_capitals = !text.iter().any(u8::is_ascii_uppercase);
    let f = Finder {
        text,
        words,
        lists: lists(),
        lowercase_spaced: (cx.typed() || cued_key || cx.is_key()) && no_capitals,
        cued_key,
    };
    let mut i = 0;
    while i < f.words.len() {
        let found =
            f.after_cue(i).or_else(|| f.pair_at(i).map(|last| (i, last))).or_else(|| f.cued_run(i).map(|l| (i, l)));
        match found {
            Some((first, last)) => {
                let (start, end) = (f.words[first].start, f.words[last].end);
                matches.push(Match { start, end, detector: Detector::PersonName });
                i = last + 1;
            }
            None => i += 1,
        }
    }
}

/// Whether `word` is on the given-name or surname list (for tests and docs).
#[cfg(test)]
pub(super) fn is_listed(word: &str) -> bool {
    let l = lists();
    let w = word.to_ascii_lowercase();
    (l.given.contains(w.as_str()) || l.surnames.contains(w.as_str())) && !l.not_names.contains(w.as_str())
}
