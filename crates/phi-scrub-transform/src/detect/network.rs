//! Network identifiers in text: IPv6 addresses (full, `::`-compressed, with a dotted IPv4 tail)
//! and the query strings and fragments of URLs.

use super::{is_alnum, Detector, Match};

/// Appends the IPv6 addresses in `text`.
pub(super) fn find_ipv6(text: &[u8], matches: &mut Vec<Match>) {
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let candidate = b.is_ascii_hexdigit() || (b == b':' && text.get(i + 1) == Some(&b':'));
        if !candidate || (i > 0 && is_alnum(text[i - 1])) {
            i += 1;
            continue;
        }
        // The longest reading that ends at a word boundary: in `…::3595:60c7:ag` that is
        // `…:60c7`, not `…:60c7:a` glued to `g`.
        let ends = ipv6_ends(text, i);
        match ends.iter().rev().find(|&&end| !text.get(end).is_some_and(|&b| is_alnum(b))) {
            Some(&end) => {
                matches.push(Match { start: i, end, detector: Detector::Ip });
                i = end;
            }
            None => i += 1,
        }
    }
}

/// Every place an IPv6 address read from `start` could end (eight groups, or fewer with one
/// `::`, optionally ending in dotted IPv4), shortest first.
fn ipv6_ends(text: &[u8], start: usize) -> Vec<usize> {
    let (mut i, mut groups, mut compressed) = (start, 0, false);
    let mut ends = Vec::new();
    let valid = |groups: usize, compressed: bool| if compressed { (1..=7).contains(&groups) } else { groups == 8 };
    loop {
        let group_start = i;
        while i < text.len() && text[i].is_ascii_hexdigit() && i - group_start <= 4 {
            i += 1;
        }
        if i - group_start > 4 {
            return ends;
        }
        if groups >= 8 {
            return ends;
        }
        if i > group_start {
            if text.get(i) == Some(&b'.') && (compressed || groups == 6) {
                if let Some(end) = parse_ipv4_at(text, group_start) {
                    if valid(groups + 2, compressed) {
                        ends.push(end);
                    }
                    return ends;
                }
            }
            groups += 1;
        }
        if valid(groups, compressed) && i > start {
            ends.push(i);
        }
        match (text.get(i), text.get(i + 1)) {
            (Some(b':'), Some(b':')) if !compressed => {
                compressed = true;
                i += 2;
                if valid(groups, compressed) {
                    ends.push(i);
                }
            }
            (Some(b':'), Some(next)) if next.is_ascii_hexdigit() && i > group_start => i += 1,
            _ => return ends,
        }
    }
}

/// Reads a dotted IPv4 address at `start`; returns where it ends.
fn parse_ipv4_at(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    for octet in 0..4 {
        let digits_start = i;
        while i < text.len() && text[i].is_ascii_digit() && i - digits_start < 3 {
            i += 1;
        }
        let value: u32 = std::str::from_utf8(&text[digits_start..i]).ok()?.parse().ok()?;
        if value > 255 {
            return None;
        }
        if octet < 3 {
            if text.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    Some(i)
}

/// Appends the query strings and fragments of the URLs in `text`.
pub(super) fn find_url_queries(text: &[u8], matches: &mut Vec<Match>) {
    // One pass: `token_start` follows the delimiters, so each byte is looked at a bounded
    // number of times whatever the input (no scanning back from every `?`).
    let delimiter = |b: u8| b.is_ascii_whitespace() || matches!(b, b'"' | b'<' | b'>' | b'(' | b')');
    let mut token_start = 0;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if delimiter(b) {
            token_start = i + 1;
            i += 1;
            continue;
        }
        if !matches!(b, b'?' | b'#') {
            i += 1;
            continue;
        }
        // The query runs to whitespace or a quote: brackets are common inside it (`?q=a(b&…`)
        // and must not end the match early.
        let mut end = i + 1;
        while end < text.len() && !text[end].is_ascii_whitespace() && !matches!(text[end], b'"' | b'\'') {
            end += 1;
        }
        let token = &text[token_start..i];
        let url_like = token.windows(3).any(|w| w == b"://") || token.starts_with(b"www.") || token.starts_with(b"/");
        let bare_query = token.is_empty() && b == b'?' && text[i + 1..end].contains(&b'=');
        if end > i + 1 && (url_like || bare_query) {
            matches.push(Match { start: i, end, detector: Detector::UrlQuery });
        }
        i = end;
    }
}
