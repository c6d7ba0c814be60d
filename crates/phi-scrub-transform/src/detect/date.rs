//! Calendar dates with a day in them, which HIPAA counts as identifiers when they belong to the
//! person (birth, admission, visit): `07/02/1984`, `7-2-1984`, `2.7.1984`, `1984/07/02`,
//! `July 2nd, 1984`, `2 Jul 1984`. ISO dates (`1984-07-02`, also the start of a timestamp) and
//! dates without a year (`07/02`, `July 2`) are taken only after a cue word (born, DOB, admitted,
//! visit…) or under a key that names a birth date, because events carry ISO timestamps of their
//! own. A year alone is not a date here: the preset keeps years.

use super::context::Context;
use super::words::{cue_before, is_one_of, Word};
use super::{is_alnum, Detector, Match};

/// Words before a date that make it the person's.
const CUES: &[&str] = &[
    "born", "birth", "dob", "birthday", "bday", "admitted", "admission", "admit", "discharged", "discharge", "visit",
    "visited", "seen", "appointment", "appt", "service", "dos", "surgery", "procedure", "died", "death", "deceased",
    "dod", "nacimiento", "nacido", "nacida", "fecha",
];

const MONTHS: &[&str] = &[
    "jan", "january", "feb", "february", "mar", "march", "apr", "april", "may", "jun", "june", "jul", "july", "aug",
    "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec", "december", "enero", "febrero",
    "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
];

/// Appends the dates in `text`.
pub(super) fn find(text: &[u8], words: &[Word], cx: &Context, matches: &mut Vec<Match>) {
    let cued = |start: usize| cx.cues(Detector::Date) || cue_before(text, start, 3, CUES);
    find_numeric(text, &cued, matches);
    find_named(text, words, &cued, matches);
}

/// Up to three digit groups joined by one separator kind: `07/02/1984`.
fn find_numeric(text: &[u8], cued: &dyn Fn(usize) -> bool, matches: &mut Vec<Match>) {
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() || (i > 0 && (is_alnum(text[i - 1]) || matches!(text[i - 1], b'/' | b'.'))) {
            i += 1;
            continue;
        }
        let (groups, sep, end) = read_groups(text, i);
        let glued = text.get(end).is_some_and(|&b| is_alnum(b) && b != b'T') || matches!(text.get(end), Some(b'/'));
        if !glued {
            if let Some(always) = numeric_date(&groups, sep) {
                if always || cued(i) {
                    matches.push(Match { start: i, end, detector: Detector::Date });
                }
            }
        }
        i = end.max(i + 1);
    }
}

/// Reads digit groups from `from`: their values and lengths, the separator, and the end.
fn read_groups(text: &[u8], from: usize) -> (Vec<(u32, usize)>, u8, usize) {
    let mut groups = Vec::with_capacity(3);
    let (mut i, mut sep) = (from, 0u8);
    loop {
        let start = i;
        let mut value = 0u32;
        while i < text.len() && text[i].is_ascii_digit() && i - start < 5 {
            value = value * 10 + u32::from(text[i] - b'0');
            i += 1;
        }
        groups.push((value, i - start));
        let next_sep = text.get(i).copied();
        let continues = groups.len() < 3
            && matches!(next_sep, Some(b'/' | b'-' | b'.'))
            && (sep == 0 || next_sep == Some(sep))
            && text.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !continues {
            return (groups, sep, i);
        }
        sep = next_sep.unwrap_or(0);
        i += 1;
    }
}

/// Whether digit groups make a date: `Some(true)` for a form taken anywhere, `Some(false)` for
/// one taken only after a cue, `None` for no date.
fn numeric_date(groups: &[(u32, usize)], sep: u8) -> Option<bool> {
    let month = |v: u32| (1..=12).contains(&v);
    let day = |v: u32| (1..=31).contains(&v);
    let short = |g: (u32, usize)| (1..=2).contains(&g.1);
    match *groups {
        // Year first: 1984-07-02 (ISO, after a cue) or 1984/07/02 (anywhere).
        [y, m, d] if y.1 == 4 && short(m) && short(d) && month(m.0) && day(d.0) => Some(sep == b'/'),
        // Year last: 07/02/1984, 2.7.1984, 7-2-84; month and day either way round.
        [a, b, y] if short(a) && short(b) && (y.1 == 4 || (y.1 == 2 && sep == b'/')) => {
            let valid = (month(a.0) && day(b.0)) || (day(a.0) && month(b.0));
            valid.then_some(true)
        }
        // No year: 07/02, after a cue.
        [a, b] if sep == b'/' && short(a) && short(b) && month(a.0) && day(b.0) => Some(false),
        _ => None,
    }
}

/// Dates with a month name: `July 2nd, 1984`, `2 July 1984`, `2nd of July`.
fn find_named(text: &[u8], words: &[Word], cued: &dyn Fn(usize) -> bool, matches: &mut Vec<Match>) {
    let mut after = 0;
    for w in words {
        if w.start < after || !(3..=10).contains(&(w.end - w.start)) || !is_one_of(&text[w.start..w.end], MONTHS) {
            continue;
        }
        if let Some((start, stop, has_year)) = around_month(text, w.start, w.end) {
            if has_year || cued(start) {
                matches.push(Match { start, end: stop, detector: Detector::Date });
                after = stop;
            }
        }
    }
}

/// The date around the month name at `month_start..month_end`: a day after it (and perhaps a
/// year), or a day before it (`2 July`, `2nd of July`) and perhaps a year after.
fn around_month(text: &[u8], month_start: usize, month_end: usize) -> Option<(usize, usize, bool)> {
    let mut after = month_end;
    if text.get(after) == Some(&b'.') {
        after += 1;
    }
    if let Some((day_end, _)) = number_at(text, skip(text, after, b" "), 1..=2).filter(|&(_, v)| (1..=31).contains(&v))
    {
        let day_end = ordinal_end(text, day_end);
        let (stop, has_year) = year_after(text, day_end).map_or((day_end, false), |e| (e, true));
        return Some((month_start, stop, has_year));
    }
    let before = day_before(text, month_start)?;
    let (stop, has_year) = year_after(text, after).map_or((month_end, false), |e| (e, true));
    Some((before, stop, has_year))
}

/// A day written before a month: `2 `, `2nd `, `2nd of `, `02-`; returns where it starts.
fn day_before(text: &[u8], month_start: usize) -> Option<usize> {
    let mut j = month_start;
    while j > 0 && matches!(text[j - 1], b' ' | b'-') {
        j -= 1;
    }
    if j >= 2 && text[..j].ends_with(b"of") {
        j -= 2;
        while j > 0 && text[j - 1] == b' ' {
            j -= 1;
        }
    }
    if j >= 2 && matches!(&text[j - 2..j], b"st" | b"nd" | b"rd" | b"th") {
        j -= 2;
    }
    let end = j;
    while j > 0 && text[j - 1].is_ascii_digit() && end - j < 2 {
        j -= 1;
    }
    let glued = j > 0 && is_alnum(text[j - 1]);
    let day: u32 = std::str::from_utf8(&text[j..end]).ok()?.parse().ok()?;
    (end > j && !glued && (1..=31).contains(&day) && j < month_start).then_some(j)
}

/// A year after a day or month: `, 1984` or ` 1984`; returns where it ends.
fn year_after(text: &[u8], from: usize) -> Option<usize> {
    let at = skip(text, from, b", ");
    let (end, _) = number_at(text, at, 4..=4)?;
    Some(end)
}

/// A standalone number of `len` digits at `at`: where it ends and its value.
fn number_at(text: &[u8], at: usize, len: std::ops::RangeInclusive<usize>) -> Option<(usize, u32)> {
    let mut end = at;
    while end < text.len() && text[end].is_ascii_digit() && end - at < *len.end() + 1 {
        end += 1;
    }
    let n = end - at;
    if !len.contains(&n) || text.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let value = std::str::from_utf8(&text[at..end]).ok()?.parse().ok()?;
    Some((end, value))
}

/// Past an ordinal suffix (`st`, `nd`, `rd`, `th`) at `at`, if there is one.
fn ordinal_end(text: &[u8], at: usize) -> usize {
    let suffix = text.get(at..at + 2).is_some_and(|s| matches!(s, b"st" | b"nd" | b"rd" | b"th"));
    if suffix && !text.get(at + 2).is_some_and(u8::is_ascii_alphanumeric) {
        at + 2
    } else {
        at
    }
}

/// Past at most two bytes from `set` at `at`.
fn skip(text: &[u8], mut at: usize, set: &[u8]) -> usize {
    let from = at;
    while at < text.len() && at - from < 2 && set.contains(&text[at]) {
        at += 1;
    }
    at
}
