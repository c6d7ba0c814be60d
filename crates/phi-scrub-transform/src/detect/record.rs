//! Record numbers (medical record, member, account, policy, claim, case and licence numbers):
//! a token with at least four digits (five when all digits) right after its cue word, perhaps with `#`, `:`, `no.`,
//! `number` or `id` between (`MRN 00482913`, `member ID: XJH4821`, `acct #5521-009`,
//! `MRN-00482913`), or on its own under a key that names such a number. Without a cue a
//! number is left to the other detectors: on its own shape it could be anything.

use super::context::Context;
use super::words::{is_one_of, Word};
use super::{is_alnum, Detector, Match};

const CUES: &[&str] = &[
    "mrn", "record", "chart", "member", "account", "acct", "policy", "license", "licence", "dl", "claim", "subscriber",
    "case", "insurance", "medicare", "medicaid", "expediente", "poliza", "cuenta",
];

/// Words that only lead to the number after a cue (`MRN number`, `member ID`).
const CONNECTORS: &[&str] = &["no", "number", "num", "nbr", "nr", "id", "is", "numero", "de"];

/// Appends the record numbers in `text`.
pub(super) fn find(text: &[u8], words: &[Word], cx: &Context, matches: &mut Vec<Match>) {
    if cx.cues(Detector::RecordNumber) {
        let start = first_token(text);
        if let Some(end) = token_end(text, start) {
            matches.push(Match { start, end, detector: Detector::RecordNumber });
        }
    }
    let mut after = 0;
    for w in words {
        let word = &text[w.start..w.end];
        if w.start < after || word.contains(&b'\'') {
            continue;
        }
        let cue = is_one_of(word, CUES) || (is_one_of(word, &["patient", "pt"]) && connector_follows(text, w.end));
        if !cue {
            continue;
        }
        let at = after_connectors(text, w.end);
        if let Some(stop) = token_end(text, at) {
            matches.push(Match { start: at, end: stop, detector: Detector::RecordNumber });
            after = stop;
        }
    }
}

fn first_token(text: &[u8]) -> usize {
    text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len())
}

/// Whether a connector (`#`, `id`, `number`…) follows `at` (`patient #4821`, not `patient 42`).
fn connector_follows(text: &[u8], at: usize) -> bool {
    after_connectors(text, at) > at + usize::from(text.get(at) == Some(&b' '))
}

/// Past the separators and connector words after a cue.
fn after_connectors(text: &[u8], mut at: usize) -> usize {
    for _ in 0..6 {
        match text.get(at) {
            Some(b' ' | b'#' | b':' | b'-' | b'.' | b'=') => at += 1,
            Some(b) if b.is_ascii_alphabetic() => {
                let mut end = at;
                while end < text.len() && text[end].is_ascii_alphabetic() {
                    end += 1;
                }
                let glued_digits = text.get(end).is_some_and(u8::is_ascii_digit);
                if !is_one_of(&text[at..end], CONNECTORS) || glued_digits {
                    return at;
                }
                at = end;
            }
            _ => return at,
        }
    }
    at
}

/// The end of a record-number token at `at`: letters, digits and inner dashes, at most 24 bytes,
/// with at least four digits (five when it is all digits, so that a year is not one).
fn token_end(text: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    // Looked at no further than one byte past the longest token taken.
    while end < text.len() && end - at <= 24 && (is_alnum(text[end]) || (text[end] == b'-' && end > at)) {
        end += 1;
    }
    if end - at > 24 {
        return None;
    }
    while end > at && text[end - 1] == b'-' {
        end -= 1;
    }
    let token = &text[at..end];
    let digits = token.iter().filter(|b| b.is_ascii_digit()).count();
    let enough = if digits == token.len() { digits >= 5 } else { digits >= 4 };
    (enough && token.len() <= 24).then_some(end)
}
