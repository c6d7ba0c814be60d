//! Free-text detectors: find e-mail addresses, phone numbers, SSNs, IP addresses, payment card
//! numbers, URL query strings, dates, ZIP codes, street addresses, record numbers and person
//! names inside string values, numbers, keys and event names, so the transform can redact or
//! hash them in place.
//!
//! Tuned for few false negatives: a phone number written five ways is still a phone number. The
//! key a value sits under is read as context ([`Context`]): a ten-digit number under `phone` is
//! a phone, under `appointment_id` it is not. Text with characters outside ASCII is folded first
//! (see [`crate::fold`]: fullwidth digits, no-break spaces, en dashes, zero-width spaces,
//! look-alike letters) and the matches are mapped back to the original bytes.
//!
//! One file per kind: [`numbers`] (phone, SSN, card, IPv4, ZIP), [`network`] (IPv6, URL
//! queries), [`email`], [`date`], [`address`], [`record`], [`names`]; [`context`] reads keys
//! and the words before a match.

mod address;
mod context;
mod date;
mod email;
mod names;
mod network;
mod numbers;
mod record;
mod words;

#[cfg(test)]
mod tests;

use serde::Deserialize;

pub use context::{Context, ContextCache};

use crate::fold::FoldedText;

/// One detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// `local@domain.tld`, also spelled out (`jane at example dot com`, `jane[at]example.com`).
    Email,
    /// North American numbers in any common layout, international numbers written with `+` or
    /// `00`, national numbers with a trunk `0` (`020 7946 0958`, `06 12 34 56 78`).
    Phone,
    /// `123-45-6789`, `123 45 6789`, `123.45.6789`, or nine digits on their own.
    Ssn,
    /// Dotted IPv4 and IPv6 (full or `::`-compressed); not a version number.
    Ip,
    /// 13 to 19 digits starting with 2 to 6 (the card networks' ranges), optionally grouped by
    /// spaces or dashes, passing the Luhn check.
    CreditCard,
    /// The query string and fragment of a URL (`?…`, `#…`).
    UrlQuery,
    /// A calendar date with a day: `07/02/1984`, `2 July 1984`, `July 2nd, 1984`; ISO dates
    /// and dates without a year after a cue word (born, DOB, admitted, visit…).
    Date,
    /// A US ZIP code: ZIP+4 always; five digits after a cue word (zip, near, in…), after a state,
    /// under a key that names a place, or in an event name.
    Zip,
    /// A house number, street words and a street suffix (`12 Oak Street`, `400 W 5th Ave Apt
    /// 2`), and PO boxes.
    StreetAddress,
    /// Medical record, member, account, policy, claim and licence numbers after their cue
    /// word (`MRN 00482913`, `member ID: XJH4821`, `acct #5521-009`).
    RecordNumber,
    /// A person's name: after a cue (Patient, Dr., Mr., Ms., Mrs.), a given name and surname
    /// from the US Census lists, and both in a URL slug (`/doctors/jane-roe`).
    PersonName,
}

impl Detector {
    /// Every detector with its name (in configs and `[redacted:NAME]` markers) and the counter
    /// of its matches, in index order: the one place a detector is named.
    const TABLE: [(Self, &'static str, &'static str); 11] = [
        (Self::Email, "email", "detected_email"),
        (Self::Phone, "phone", "detected_phone"),
        (Self::Ssn, "ssn", "detected_ssn"),
        (Self::Ip, "ip", "detected_ip"),
        (Self::CreditCard, "credit_card", "detected_credit_card"),
        (Self::UrlQuery, "url_query", "detected_url_query"),
        (Self::Date, "date", "detected_date"),
        (Self::Zip, "zip", "detected_zip"),
        (Self::StreetAddress, "street_address", "detected_street_address"),
        (Self::RecordNumber, "record_number", "detected_record_number"),
        (Self::PersonName, "person_name", "detected_person_name"),
    ];

    /// Every detector, in the order their counters are kept.
    pub const ALL: [Self; Self::TABLE.len()] = {
        let mut all = [Self::Email; Self::TABLE.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = Self::TABLE[i].0;
            i += 1;
        }
        all
    };

    /// The name used in configs and markers.
    pub const fn name(self) -> &'static str {
        Self::TABLE[self as usize].1
    }

    /// The counter of this detector's matches.
    pub const fn counter(self) -> &'static str {
        Self::TABLE[self as usize].2
    }

    /// The index into per-detector counters.
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What to write in place of a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectAction {
    /// `[redacted:email]` and so on.
    #[default]
    Redact,
    /// The keyed hash of the matched text (the same pseudonym a `hash` rule would give).
    Hash,
}

/// Reusable space for the detectors: the folded copy of a text with characters outside ASCII,
/// and its words.
#[derive(Debug, Default)]
pub struct Workspace {
    folded: FoldedText,
    words: Vec<words::Word>,
}

/// One match: a byte range of the searched text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub start: usize,
    pub end: usize,
    pub detector: Detector,
}

/// A set of enabled detectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Detectors {
    enabled: u16,
}

const DIGIT_DETECTORS: u16 = Detector::Phone.bit()
    | Detector::Ssn.bit()
    | Detector::Ip.bit()
    | Detector::CreditCard.bit()
    | Detector::Zip.bit()
    | Detector::Date.bit()
    | Detector::StreetAddress.bit()
    | Detector::RecordNumber.bit();

impl Detectors {
    /// The given detectors.
    pub fn new(list: &[Detector]) -> Self {
        Self { enabled: list.iter().fold(0, |bits, d| bits | d.bit()) }
    }

    /// The same set without `d`.
    pub fn without(self, d: Detector) -> Self {
        Self { enabled: self.enabled & !d.bit() }
    }

    /// Whether no detector is enabled.
    pub fn is_empty(self) -> bool {
        self.enabled == 0
    }

    fn on(self, d: Detector) -> bool {
        self.enabled & d.bit() != 0
    }

    /// Whether any detector that reads digits is on.
    pub fn reads_numbers(self) -> bool {
        self.enabled & DIGIT_DETECTORS != 0
    }

    /// Appends to `matches` the matches in `text`, in order and without overlaps. Text with
    /// characters outside ASCII is searched folded (see [`crate::fold`]); `folded` is reusable
    /// space for that.
    pub fn find(self, text: &[u8], cx: &Context, space: &mut Workspace, matches: &mut Vec<Match>) {
        let first = matches.len();
        let original = if text.is_ascii() { None } else { std::str::from_utf8(text).ok() };
        match original {
            Some(original) => {
                let folded = &mut space.folded;
                folded.fold(original);
                let folded_text = std::mem::take(&mut folded.text);
                self.find_plain(&folded_text, cx, &mut space.words, matches);
                for m in &mut matches[first..] {
                    (m.start, m.end) = space.folded.original_range(original, m.start, m.end);
                }
                space.folded.text = folded_text;
            }
            None => self.find_plain(text, cx, &mut space.words, matches),
        }
        merge_overlaps(matches, first);
    }

    /// Appends to `matches` the identifiers in an object key (`{"ann@x.org": true}`,
    /// `{"Jane Roe": {…}}`, `{"00482913": …}`): what [`Self::find`] finds in it, and a key of
    /// six digits or more, taken for a record number. Most keys are plain lowercase words with
    /// no byte any detector starts from, and are not searched.
    pub fn find_in_key(self, key: &[u8], space: &mut Workspace, matches: &mut Vec<Match>) {
        let trigger = |b: &u8| b.is_ascii_digit() || b.is_ascii_uppercase() || !b.is_ascii() || b"@:?#".contains(b);
        if self.is_empty() || !key.iter().any(trigger) {
            return;
        }
        let first = matches.len();
        self.find(key, &Context::key(), space, matches);
        let long_number = key.len() >= 6 && key.iter().all(u8::is_ascii_digit);
        if long_number && matches.len() == first {
            matches.push(Match { start: 0, end: key.len(), detector: Detector::RecordNumber });
        }
    }

    /// [`Self::find`] for text with nothing to fold.
    fn find_plain(self, text: &[u8], cx: &Context, words: &mut Vec<words::Word>, matches: &mut Vec<Match>) {
        let triggers = Triggers::of(text);
        // The text's words, split once for the detectors that read them.
        let wants_words = (self.on(Detector::PersonName) && triggers.letters >= 4)
            || (triggers.digits > 0 && self.on(Detector::Date))
            || (triggers.digits >= 4 && self.on(Detector::RecordNumber));
        if wants_words {
            words::split_words(text, words);
        } else {
            words.clear();
        }
        if self.on(Detector::Email) && (triggers.at || triggers.letters >= 6) {
            email::find(text, triggers.at, matches);
        }
        if triggers.digits >= 4 && self.enabled & DIGIT_DETECTORS != 0 {
            numbers::find(self, text, cx, matches);
            if self.on(Detector::RecordNumber) {
                record::find(text, words, cx, matches);
            }
        }
        if triggers.digits > 0 && self.on(Detector::Date) {
            date::find(text, words, cx, matches);
        }
        if triggers.digits > 0 && triggers.letters >= 4 && self.on(Detector::StreetAddress) {
            address::find(text, matches);
        }
        if triggers.colons >= 2 && self.on(Detector::Ip) {
            network::find_ipv6(text, matches);
        }
        if triggers.query && self.on(Detector::UrlQuery) {
            network::find_url_queries(text, matches);
        }
        if self.on(Detector::PersonName) && triggers.letters >= 4 {
            names::find(text, words, cx, matches);
        }
    }
}

/// A key as audit trails and reports show it: `[NAME]` in place of a key that holds an
/// identifier (`{"ann@x.org": true}` is at `answers.[email]`), found by every detector whatever
/// a config runs, so neither ever holds one.
pub fn shown_key(key: &[u8], space: &mut Workspace) -> String {
    let mut matches = Vec::new();
    Detectors::new(&Detector::ALL).find_in_key(key, space, &mut matches);
    match matches.first() {
        Some(m) => format!("[{}]", m.detector.name()),
        None => String::from_utf8_lossy(key).into_owned(),
    }
}

/// Sorts the matches from `first` on and merges the ones that overlap into one span (named after
/// the first), so that no part of either is left in clear.
fn merge_overlaps(matches: &mut Vec<Match>, first: usize) {
    if matches.len() - first < 2 {
        return;
    }
    matches[first..].sort_by_key(|m| (m.start, std::cmp::Reverse(m.end)));
    let mut keep = first;
    for i in first + 1..matches.len() {
        let m = matches[i];
        if m.start < matches[keep].end {
            matches[keep].end = matches[keep].end.max(m.end);
        } else {
            keep += 1;
            matches[keep] = m;
        }
    }
    matches.truncate(keep + 1);
}

/// What one pass over the bytes says is worth looking at.
#[derive(Debug, Default)]
struct Triggers {
    at: bool,
    digits: usize,
    letters: usize,
    colons: usize,
    query: bool,
}

impl Triggers {
    fn of(text: &[u8]) -> Self {
        let mut t = Self::default();
        for &b in text {
            match b {
                b'0'..=b'9' => t.digits += 1,
                b'a'..=b'z' | b'A'..=b'Z' => t.letters += 1,
                b'@' => t.at = true,
                b':' => t.colons += 1,
                b'?' | b'#' => t.query = true,
                _ => {}
            }
        }
        t
    }
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
