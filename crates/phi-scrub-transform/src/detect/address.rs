//! Street addresses: a house number, one to four street words and a street suffix, with an
//! optional unit (`12 Oak Street`, `400 W 5th Ave Apt 2`, `1600 pennsylvania ave nw`), and post
//! office boxes (`PO Box 123`). Words of time and distance between the number and the suffix
//! (`5 minutes drive`) are not a street.

use super::words::is_one_of;
use super::{is_alnum, Detector, Match};

const SUFFIXES: &[&str] = &[
    "street", "st", "avenue", "ave", "av", "road", "rd", "boulevard", "blvd", "drive", "dr", "lane", "ln", "way",
    "court", "ct", "place", "pl", "terrace", "ter", "parkway", "pkwy", "highway", "hwy", "circle", "cir", "square",
    "sq", "trail", "trl", "loop", "alley", "plaza", "crescent", "row", "pike", "expressway", "freeway",
];

const DIRECTIONS: &[&str] = &["n", "s", "e", "w", "ne", "nw", "se", "sw", "north", "south", "east", "west"];

const UNITS: &[&str] = &["apt", "apartment", "suite", "ste", "unit", "fl", "floor", "rm", "room"];

/// Words that make `5 minutes drive` a distance, not an address.
const NOT_STREET: &[&str] = &[
    "minute", "minutes", "min", "mins", "mile", "miles", "mi", "hour", "hours", "hr", "hrs", "day", "days", "week",
    "weeks", "km", "block", "blocks", "step", "steps", "times", "year", "years", "lane", "way",
];

/// Appends the street addresses and PO boxes in `text`.
pub(super) fn find(text: &[u8], matches: &mut Vec<Match>) {
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() || (i > 0 && (is_alnum(text[i - 1]) || matches!(text[i - 1], b'.' | b'-'))) {
            i += 1;
            continue;
        }
        match street_from(text, i) {
            Some(end) => {
                matches.push(Match { start: i, end, detector: Detector::StreetAddress });
                i = end;
            }
            None => i += 1,
        }
    }
    find_po_boxes(text, matches);
}

/// A word at `at` (letters, digits and inner `'`), returned as its end; `None` at no word.
fn word_end(text: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    while end < text.len() && (is_alnum(text[end]) || (text[end] == b'\'' && end > at)) {
        end += 1;
    }
    (end > at).then_some(end)
}

/// Past spaces (and a comma) after a word.
fn next_word(text: &[u8], mut at: usize) -> usize {
    if text.get(at) == Some(&b'.') {
        at += 1;
    }
    if text.get(at) == Some(&b',') {
        at += 1;
    }
    while text.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

fn street_from(text: &[u8], start: usize) -> Option<usize> {
    // A house number: up to six digits and a letter (`12B`), looked at no further.
    let number_end = start + text[start..].iter().take(8).take_while(|b| b.is_ascii_alphanumeric()).count();
    let number = &text[start..number_end];
    let digits = number.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=6).contains(&digits) || number.len() > digits + 1 || text.get(number_end) != Some(&b' ') {
        return None;
    }
    let mut at = next_word(text, number_end);
    let mut street_words = 0;
    for _ in 0..5 {
        let end = word_end(text, at)?;
        let word = &text[at..end];
        if street_words > 0 && is_one_of(word, SUFFIXES) {
            return Some(unit_after(text, suffix_end(text, end)));
        }
        let ordinal = word.first().is_some_and(u8::is_ascii_digit)
            && word.len() >= 3
            && matches!(&word[word.len() - 2..], b"st" | b"nd" | b"rd" | b"th");
        let plain = word.iter().all(u8::is_ascii_alphabetic);
        if !(plain || ordinal) || is_one_of(word, NOT_STREET) {
            return None;
        }
        if !is_one_of(word, DIRECTIONS) {
            street_words += 1;
        }
        at = next_word(text, end);
    }
    None
}

/// Past a `.` after an abbreviated suffix and a trailing direction (`Ave NW`).
fn suffix_end(text: &[u8], end: usize) -> usize {
    let end = if text.get(end) == Some(&b'.') { end + 1 } else { end };
    if text.get(end) != Some(&b' ') {
        return end;
    }
    match word_end(text, end + 1) {
        Some(e) if is_one_of(&text[end + 1..e], DIRECTIONS) => e,
        _ => end,
    }
}

/// Past a unit after the street (`, Apt 2`, ` #4B`, ` Suite 300`).
fn unit_after(text: &[u8], end: usize) -> usize {
    let at = next_word(text, end);
    let unit_word = word_end(text, at).filter(|&e| is_one_of(&text[at..e], UNITS));
    let after_word = match (text.get(at), unit_word) {
        (Some(b'#'), _) => at + 1,
        (_, Some(e)) => next_word(text, e),
        _ => return end,
    };
    let after_word = if text.get(after_word) == Some(&b'#') { after_word + 1 } else { after_word };
    match word_end(text, after_word) {
        Some(e) if text[after_word..e].iter().any(u8::is_ascii_digit) || e - after_word == 1 => e,
        _ => end,
    }
}

/// `PO Box 123`, `P.O. Box 123`, `Post Office Box 123`.
fn find_po_boxes(text: &[u8], matches: &mut Vec<Match>) {
    for start in (0..text.len().saturating_sub(2)).filter(|&i| text[i..i + 3].eq_ignore_ascii_case(b"box")) {
        let mut j = start + 3;
        while j < text.len() && text[j] == b' ' {
            j += 1;
        }
        let digits = text[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        let before = text[..start].trim_ascii_end();
        let ends = |p: &[u8]| before.len() >= p.len() && before[before.len() - p.len()..].eq_ignore_ascii_case(p);
        let prefix = [&b"post office"[..], b"p.o.", b"po"].into_iter().find(|p| ends(p));
        if let (true, Some(p)) = (digits > 0, prefix) {
            matches.push(Match { start: before.len() - p.len(), end: j + digits, detector: Detector::StreetAddress });
        }
    }
}
