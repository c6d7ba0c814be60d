//! Numbers in text: phone numbers (North American, `+` and `00` international, trunk-`0`
//! national), SSNs, payment cards (Luhn-checked), dotted IPv4 addresses and ZIP codes, read from
//! one pass over the digit runs.

use super::context::Context;
use super::words::{cue_before, glued_before, is_one_of, words_before};
use super::{is_alnum, Detector, Detectors, Match};

/// Words before five digits that make them a ZIP code.
const ZIP_CUES: &[&str] = &["zip", "zipcode", "postal", "postcode", "near", "around", "in", "area", "code", "cerca"];

/// Letters glued before a phone number that say it is one (`call5552345678`, `tel:`).
const PHONE_GLUE: &[&str] = &["tel", "ph", "phone", "call", "cell", "mobile", "mob", "fax", "text", "sms"];

/// US state and territory abbreviations: five digits after one (`Boston, MA 02115`) are a ZIP.
const STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA",
    "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR",
    "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "GU", "VI",
];

struct NumberRun {
    start: usize,
    end: usize,
    plus: bool,
    groups: [u8; 8],
    group_count: usize,
    seps: [u8; 8],
    /// The first [`MAX_RUN_DIGITS`] digits; `digit_count` counts them all.
    digit_buf: [u8; MAX_RUN_DIGITS],
    digit_count: usize,
}

/// No pattern has more digits than a 19-digit card number; longer runs are kept short here.
const MAX_RUN_DIGITS: usize = 20;

impl NumberRun {
    fn group_lens(&self) -> &[u8] {
        &self.groups[..self.group_count.min(8)]
    }

    fn digits(&self) -> &[u8] {
        &self.digit_buf[..self.digit_count.min(MAX_RUN_DIGITS)]
    }

    fn separators(&self) -> &[u8] {
        &self.seps[..self.group_count.saturating_sub(1).min(8)]
    }
}

/// Appends the numbers in `text` that the enabled detectors recognise.
pub(super) fn find(on: Detectors, text: &[u8], cx: &Context, matches: &mut Vec<Match>) {
    let bounds = Bounds::of(text, cx);
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() || (i > 0 && text[i - 1] == b'.' && preceded_by_digit(text, i - 1)) {
            i += 1;
            continue;
        }
        let glued_left = i > 0 && is_alnum(text[i - 1]);
        if glued_left && (text[i - 1].is_ascii_digit() || !is_one_of(glued_before(text, i), PHONE_GLUE)) {
            i += 1;
            continue;
        }
        let run = read_run(text, i);
        i = run.end.max(i + 1);
        // Glued to a letter or digit it is part of a word, except a phone extension (`…5678x204`).
        let extension = text.get(run.end) == Some(&b'x') && text.get(run.end + 1).is_some_and(u8::is_ascii_digit);
        // After a phone cue (`call5552345678now`) letters on the right do not matter either.
        if run.end < text.len() && is_alnum(text[run.end]) && !extension && !glued_left {
            continue;
        }
        let found = if glued_left { phone_only(on, &run) } else { classify(on, &run, text, cx, &bounds) };
        if let Some(detector) = found {
            matches.push(Match { start: run.start, end: run.end, detector });
        }
    }
}

/// A run glued to a phone cue word (`call5552345678`) is read as a phone number only.
fn phone_only(on: Detectors, run: &NumberRun) -> Option<Detector> {
    (on.on(Detector::Phone) && is_phone(run)).then_some(Detector::Phone)
}

fn preceded_by_digit(text: &[u8], i: usize) -> bool {
    i > 0 && text[i - 1].is_ascii_digit()
}

/// Reads digits and single separators (` `, `-`, `.`, and the parentheses of an area code)
/// from `from`, which holds a digit.
fn read_run(text: &[u8], from: usize) -> NumberRun {
    let mut start = from;
    let mut plus = false;
    if start > 0 && text[start - 1] == b'(' {
        start -= 1;
    }
    if start > 0 && text[start - 1] == b'+' {
        start -= 1;
        plus = true;
    }
    let mut run = NumberRun {
        start,
        end: from,
        plus,
        groups: [0; 8],
        group_count: 1,
        seps: [0; 8],
        digit_buf: [0; MAX_RUN_DIGITS],
        digit_count: 0,
    };
    let mut i = from;
    loop {
        while i < text.len() && text[i].is_ascii_digit() {
            if run.digit_count < MAX_RUN_DIGITS {
                run.digit_buf[run.digit_count] = text[i];
            }
            run.digit_count += 1;
            if run.group_count <= 8 {
                run.groups[run.group_count - 1] = run.groups[run.group_count - 1].saturating_add(1);
            }
            i += 1;
        }
        run.end = i;
        // A separator: `-`, `.`, ` `, `) `, `)`, `(`; then a digit must follow.
        let mut j = i;
        let mut sep = 0u8;
        while j < text.len() && j - i < 2 && matches!(text[j], b' ' | b'-' | b'.' | b'(' | b')') {
            sep = if sep == 0 { text[j] } else { sep };
            j += 1;
        }
        if j == i || j >= text.len() || !text[j].is_ascii_digit() {
            return run;
        }
        if run.group_count < 8 {
            run.seps[run.group_count - 1] = sep;
        }
        run.group_count += 1;
        i = j;
    }
}

/// What is read of the whole text once, not per number (which would be quadratic): where its
/// letters and digits start and end, and whether it is nothing but digits in a typed search.
struct Bounds {
    first_alnum: usize,
    last_alnum: usize,
    typed_digits: bool,
}

impl Bounds {
    fn of(text: &[u8], cx: &Context) -> Self {
        let first_alnum = text.iter().position(u8::is_ascii_alphanumeric).unwrap_or(text.len());
        let last_alnum = text.iter().rposition(u8::is_ascii_alphanumeric).unwrap_or(0);
        let typed_digits = cx.typed() && text.iter().all(|b| b.is_ascii_digit() || b.is_ascii_whitespace());
        Self { first_alnum, last_alnum, typed_digits }
    }

    /// Whether the run `start..end` is all the letters and digits of the text.
    fn whole(&self, start: usize, end: usize) -> bool {
        self.first_alnum >= start && self.last_alnum < end
    }
}

fn classify(on: Detectors, run: &NumberRun, text: &[u8], cx: &Context, bounds: &Bounds) -> Option<Detector> {
    let n = run.digit_count;
    let digits = run.digits();
    let groups = run.group_lens();
    let seps = run.separators();
    let bare = groups.len() == 1 && !run.plus;
    let whole = bounds.whole(run.start, run.end);
    let bare_ok = |d: Detector| !bare || cx.bare_digits_may_be(d, text, run.start, whole);
    let dotted = !seps.is_empty() && seps.iter().all(|&s| s == b'.');
    if on.on(Detector::Ip) && dotted && groups.len() == 4 && !run.plus && is_ipv4(run) {
        return cx.may_be_ip(text, run.start).then_some(Detector::Ip);
    }
    let card_seps = seps.iter().all(|&s| s == b' ' || s == b'-');
    // Card networks' numbers start with 2 to 6 (Mastercard, Amex, Visa, Discover, JCB, UnionPay…);
    // that keeps Unix times in milliseconds (13 digits from 1) out, one in ten of which passes Luhn.
    let card_prefix = matches!(digits[0], b'2'..=b'6');
    if on.on(Detector::CreditCard)
        && (13..=19).contains(&n)
        && card_seps
        && card_prefix
        && luhn(digits)
        && bare_ok(Detector::CreditCard)
    {
        return Some(Detector::CreditCard);
    }
    if on.on(Detector::Ssn) && n == 9 && !run.plus {
        let ssn_layout = groups == [3, 2, 4] && seps.iter().all(|&s| matches!(s, b'-' | b' ' | b'.'));
        if (groups == [9] && bare_ok(Detector::Ssn)) || ssn_layout {
            return Some(Detector::Ssn);
        }
    }
    if on.on(Detector::Zip) && is_zip(run, text, cx, bounds) {
        return Some(Detector::Zip);
    }
    if on.on(Detector::Phone) && is_phone(run) && bare_ok(Detector::Phone) {
        return Some(Detector::Phone);
    }
    None
}

/// ZIP+4 (`94112-1234`) anywhere; five digits where the context says a place: a cue word or a
/// state just before, a key naming a place, an event name, or the whole of a typed search.
fn is_zip(run: &NumberRun, text: &[u8], cx: &Context, bounds: &Bounds) -> bool {
    let groups = run.group_lens();
    if groups == [5, 4] && run.separators() == [b'-'] && !run.plus {
        return true;
    }
    if groups != [5] || run.plus || run.start != run.end - 5 {
        return false;
    }
    let state_before = words_before(text, run.start).next().is_some_and(|w| {
        w.len() == 2 && w.iter().all(u8::is_ascii_uppercase) && STATES.iter().any(|s| s.as_bytes() == w)
    });
    cx.cues(Detector::Zip)
        || cx.is_event_name()
        || bounds.typed_digits
        || state_before
        || cue_before(text, run.start, 2, ZIP_CUES)
}

fn is_ipv4(run: &NumberRun) -> bool {
    let mut digits = run.digits().iter();
    run.group_lens().iter().all(|&len| {
        // The length first: a long group would overflow the octet.
        (1..=3).contains(&len) && {
            let octet: u32 = digits.by_ref().take(len as usize).fold(0, |v, d| v * 10 + u32::from(d - b'0'));
            octet <= 255
        }
    })
}

fn is_phone(run: &NumberRun) -> bool {
    let n = run.digit_count;
    let digits = run.digits();
    let groups = run.group_lens();
    if run.plus {
        return (8..=15).contains(&n);
    }
    // International with `00` (`0044 20 7946 0958`), or national with a trunk `0` and at least
    // two groups or ten digits (`020 7946 0958`, `06 12 34 56 78`, `0612345678`).
    if digits.starts_with(b"00") {
        return (10..=15).contains(&n);
    }
    if digits[0] == b'0' {
        return (10..=11).contains(&n) && groups.iter().all(|&g| g >= 2);
    }
    // A date such as 2026-11-29 10 or 1984.07.02 is not a phone number: its last group is short.
    if groups.len() > 1 && groups.last().is_some_and(|&g| g < 4) {
        return false;
    }
    let nanp = |d: &[u8]| d.len() == 10 && d[0] >= b'2' && d[3] >= b'2';
    match n {
        7 => groups == [3, 4],
        10 => nanp(digits),
        11 => digits[0] == b'1' && nanp(&digits[1..]),
        _ => false,
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let v = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = v * 2;
                doubled - if doubled > 9 { 9 } else { 0 }
            } else {
                v
            }
        })
        .sum();
    sum % 10 == 0
}
