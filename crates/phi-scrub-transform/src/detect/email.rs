//! E-mail addresses: `local@domain.tld`, and the same spelled out to get past filters
//! (`jane at example dot com`, `jane[at]example[dot]com`, `jane (at) example.com`,
//! `jane @ example . com`). A spelled-out address counts only when its domain ends in a known
//! top-level domain, so `meet at noon` is left alone.

use super::{is_alnum, Detector, Match};

/// Top-level domains a spelled-out address must end in.
const TLDS: &[&str] = &[
    "com", "org", "net", "edu", "gov", "mil", "health", "care", "clinic", "io", "co", "us", "uk", "ca", "info", "me",
    "biz", "de", "fr", "es", "mx", "au", "in", "nl", "it", "br",
];

/// Appends the e-mail addresses in `text`; `has_at` says whether it holds an `@`.
pub(super) fn find(text: &[u8], has_at: bool, matches: &mut Vec<Match>) {
    if has_at {
        find_plain(text, matches);
    }
    if may_be_spelled(text, has_at) {
        find_spelled(text, matches);
    }
}

/// Whether `text` has an `at` (any case) or an `@`: nothing can be spelled out without one.
fn may_be_spelled(text: &[u8], has_at: bool) -> bool {
    has_at || memchr::memchr2_iter(b't', b'T', text).any(|i| i > 0 && matches!(text[i - 1], b'a' | b'A'))
}

fn find_plain(text: &[u8], matches: &mut Vec<Match>) {
    let local = |b: u8| is_alnum(b) || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'');
    let domain = |b: u8| is_alnum(b) || matches!(b, b'.' | b'-');
    for at in memchr::memchr_iter(b'@', text) {
        let mut start = at;
        while start > 0 && local(text[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < text.len() && domain(text[end]) {
            end += 1;
        }
        if start == at {
            continue;
        }
        if let Some(end) = email_end(text, at, end) {
            matches.push(Match { start, end, detector: Detector::Email });
        }
    }
}

/// Text glued to an address (`a@b.com.Thanks`) can make its last label invalid: backs off label
/// by label from `end` to the longest host that ends in a real top-level domain.
fn email_end(text: &[u8], at: usize, mut end: usize) -> Option<usize> {
    loop {
        while end > at + 1 && matches!(text[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let host = &text[at + 1..end];
        let dot = host.iter().rposition(|&b| b == b'.')?;
        let tld = &host[dot + 1..];
        if dot > 0 && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
            return Some(end);
        }
        end = at + 1 + dot;
    }
}

fn is_local(b: u8) -> bool {
    is_alnum(b) || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn find_spelled(text: &[u8], matches: &mut Vec<Match>) {
    let mut i = 1;
    while i < text.len() {
        if !is_local(text[i - 1]) || !matches!(text[i], b' ' | b'[' | b'(' | b'{' | b'<') {
            i += 1;
            continue;
        }
        let Some(after_at) = token(text, i, &["at", "@"]) else {
            i += 1;
            continue;
        };
        let mut start = i;
        while start > 0 && is_local(text[start - 1]) {
            start -= 1;
        }
        match spelled_domain(text, after_at) {
            Some(end) => {
                matches.push(Match { start, end, detector: Detector::Email });
                i = end;
            }
            None => i += 1,
        }
    }
}

/// A spelled separator at `i`: one of `words` in brackets (`[at]`, `(dot)`, `{at}`, `<at>`), or
/// between spaces (` at `, ` @ `, ` dot `), or `.` for a dot; returns where it ends. A bare `@`
/// or `.` without spaces is the ordinary address, not this.
fn token(text: &[u8], i: usize, words: &[&str]) -> Option<usize> {
    let mut j = i;
    while j < text.len() && j - i < 2 && text[j] == b' ' {
        j += 1;
    }
    let spaced_before = j > i;
    let rest = &text[j..];
    for w in words {
        let w = w.as_bytes();
        for (open, close) in [(b'[', b']'), (b'(', b')'), (b'{', b'}'), (b'<', b'>')] {
            let n = w.len() + 2;
            if rest.len() >= n && rest[0] == open && rest[n - 1] == close && rest[1..n - 1].eq_ignore_ascii_case(w) {
                return Some(skip_spaces(text, j + n));
            }
        }
        let spaced_after = rest.get(w.len()) == Some(&b' ');
        if spaced_before && spaced_after && rest.len() > w.len() && rest[..w.len()].eq_ignore_ascii_case(w) {
            return Some(skip_spaces(text, j + w.len()));
        }
    }
    None
}

fn skip_spaces(text: &[u8], mut j: usize) -> usize {
    let from = j;
    while j < text.len() && j - from < 2 && text[j] == b' ' {
        j += 1;
    }
    j
}

/// A domain from `from`: labels separated by dots, plain or spelled, ending in a known
/// top-level domain; returns where it ends.
fn spelled_domain(text: &[u8], from: usize) -> Option<usize> {
    let label_end = |mut j: usize| {
        while j < text.len() && (is_alnum(text[j]) || text[j] == b'-') {
            j += 1;
        }
        j
    };
    let mut end = label_end(from);
    if end == from {
        return None;
    }
    let (mut labels, mut last) = (1, from..end);
    loop {
        let dot = if text.get(end) == Some(&b'.') { Some(end + 1) } else { token(text, end, &["dot", "."]) };
        let Some(next) = dot else { break };
        let next_end = label_end(next);
        if next_end == next {
            break;
        }
        (labels, last, end) = (labels + 1, next..next_end, next_end);
    }
    let tld = &text[last];
    let known = TLDS.iter().any(|t| t.as_bytes().eq_ignore_ascii_case(tld));
    (labels >= 2 && known).then_some(end)
}
