//! Detector hits: running the free-text detectors over a kept string, a key or an event name,
//! counting what they find, and rebuilding the text with each match replaced (by
//! `[redacted:NAME]` or its keyed hash) while the untouched bytes stay as they were.

use phi_scrub_json::{write_escaped_str, JsonError, Scanner, StrSpan};

use crate::detect::{Context, DetectAction, Detector, Detectors};
use crate::generalise::REDACTED;

use super::{Scratch, ValueRules, Walker};
use crate::pseudonym::Pseudonymizer;

impl Walker<'_> {
    /// Whether kept strings are searched by detectors.
    pub(crate) fn detecting(&self) -> bool {
        !self.rules.detectors.is_empty()
    }

    /// Scans the kept string at the scanner's position with the detectors; when something
    /// matches, writes the string with its matches replaced into `scratch.value` and returns
    /// `true`.
    pub(super) fn detect_in_string(&mut self, sc: &mut Scanner<'_, '_>) -> Result<bool, JsonError> {
        let buf = sc.buf();
        let content = sc.scan_string()?.text(buf, self.text)?;
        let cx = self.scratch.key_context();
        let found = redact_matches(self.rules, &cx, self.pseudonymizer, content, self.scratch, &mut self.counts);
        self.audit_hits(found, None);
        Ok(found)
    }

    /// Scans the kept number at the scanner's position with the detectors that read digits
    /// (a phone, an SSN or a ZIP sent as a JSON number); when something matches, writes the
    /// replacement (a string) into `scratch.value` and returns `true`. Only integers of five
    /// digits or more are searched: nothing shorter is an identifier, and a fraction or an
    /// exponent is a measurement.
    pub(super) fn detect_in_number(&mut self, sc: &mut Scanner<'_, '_>) -> Result<bool, JsonError> {
        let (start, end) = sc.scan_number()?;
        let raw = &sc.buf()[start..end];
        let digits = raw.strip_prefix(b"-").unwrap_or(raw);
        if digits.len() < 5 || !digits.iter().all(u8::is_ascii_digit) {
            return Ok(false);
        }
        let cx = self.scratch.key_context();
        if !find_matches(self.rules.detectors, digits, &cx, self.scratch, &mut self.counts) {
            return Ok(false);
        }
        // The whole number goes: a number cannot be cut like a string.
        let detector = self.scratch.matches[0].detector;
        self.scratch.matches.truncate(1);
        self.scratch.matches[0] = crate::detect::Match { start: 0, end: digits.len(), detector };
        self.audit_hits(true, None);
        self.scratch.rebuilt.clear();
        write_replacement(self.rules, self.pseudonymizer, digits, detector, &mut self.scratch.rebuilt);
        self.scratch.value.clear();
        write_escaped_str(&mut self.scratch.value, &self.scratch.rebuilt);
        Ok(true)
    }

    /// Whether the detectors find something in a key (counted per detector).
    ///
    /// Never true without detectors: the simple-node fast path in [`Self::object`] (which runs
    /// only without them) relies on that and does not call this. A check that works without
    /// detectors must be added there too.
    pub(super) fn key_has_identifier(&mut self, key: &[u8]) -> bool {
        self.scratch.matches.clear();
        self.rules.detectors.find_in_key(key, &mut self.scratch.detect, &mut self.scratch.matches);
        for m in &self.scratch.matches {
            self.counts.add_detected(m.detector);
        }
        if self.scratch.matches.is_empty() {
            return false;
        }
        self.audit_hits(true, None);
        true
    }

    /// Searches a string a generaliser kept as free text (`content`) with `detectors`; when
    /// something matches, the text with its matches replaced is in `scratch.rebuilt`.
    pub(super) fn rebuild_kept_text(&mut self, detectors: Detectors, content: &[u8]) -> bool {
        let cx = self.scratch.key_context();
        let search = Search { detectors, cx: &cx };
        let found = rebuild_matches(self.rules, search, self.pseudonymizer, content, self.scratch, &mut self.counts);
        self.audit_hits(found, None);
        found
    }

    /// Writes the decoded text of an escaped string (an event name) as a JSON string, detector
    /// matches replaced.
    pub(crate) fn write_decoded_detected(
        &mut self,
        span: StrSpan,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), JsonError> {
        self.text.clear();
        span.decode_into(buf, self.text)?;
        self.write_text_detected(out);
        Ok(())
    }

    /// Writes `name` (a built event name) as a JSON string, detector matches replaced.
    pub(crate) fn write_str_detected(&mut self, name: &str, out: &mut Vec<u8>) {
        self.text.clear();
        self.text.extend_from_slice(name.as_bytes());
        self.write_text_detected(out);
    }

    /// Writes the decoded text in `self.text` as a JSON string, detector matches replaced.
    fn write_text_detected(&mut self, out: &mut Vec<u8>) {
        if !self.event_name_matches(None) {
            write_escaped_str(out, std::str::from_utf8(self.text).unwrap_or(REDACTED));
            return;
        }
        out.extend_from_slice(&self.scratch.value);
    }

    /// Writes a JSON string without escapes (quotes included), detector matches replaced; when
    /// nothing matches, its bytes are copied as they are.
    pub(crate) fn write_plain_string_detected(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        if self.event_name_matches(Some(&raw[1..raw.len() - 1])) {
            out.extend_from_slice(&self.scratch.value);
        } else {
            out.extend_from_slice(raw);
        }
    }

    /// Runs the detectors over an event name (`content`, or the decoded text in `self.text`);
    /// on a match the replacement is in `scratch.value`.
    fn event_name_matches(&mut self, content: Option<&[u8]>) -> bool {
        let content = content.unwrap_or(self.text);
        let cx = Context::event_name();
        let found = redact_matches(self.rules, &cx, self.pseudonymizer, content, self.scratch, &mut self.counts);
        self.audit_hits(found, Some(b"event"));
        found
    }
}

/// Runs the detectors over `content` (decoded string text); when something matches, writes the
/// whole string with each match replaced into `scratch.value` (as JSON) and returns `true`.
fn redact_matches(
    rules: &ValueRules,
    cx: &Context,
    pseudonymizer: &Pseudonymizer,
    content: &[u8],
    scratch: &mut Scratch,
    counts: &mut super::WalkCounts,
) -> bool {
    let search = Search { detectors: rules.detectors, cx };
    if !rebuild_matches(rules, search, pseudonymizer, content, scratch, counts) {
        return false;
    }
    scratch.value.clear();
    write_escaped_str(&mut scratch.value, &scratch.rebuilt);
    true
}

/// Runs the detectors over `content` into `scratch.matches` and counts the matches; `true` when
/// there are any.
fn find_matches(
    detectors: Detectors,
    content: &[u8],
    cx: &Context,
    scratch: &mut Scratch,
    counts: &mut super::WalkCounts,
) -> bool {
    if detectors.is_empty() {
        return false;
    }
    scratch.matches.clear();
    detectors.find(content, cx, &mut scratch.detect, &mut scratch.matches);
    for m in &scratch.matches {
        counts.add_detected(m.detector);
    }
    !scratch.matches.is_empty()
}

/// Runs the detectors over `content`; when something matches, puts the text with each match
/// replaced into `scratch.rebuilt`, counts the matches, and returns `true`.
/// Which detectors search a text, and its context.
#[derive(Clone, Copy)]
struct Search<'c> {
    detectors: Detectors,
    cx: &'c Context,
}

fn rebuild_matches(
    rules: &ValueRules,
    search: Search<'_>,
    pseudonymizer: &Pseudonymizer,
    content: &[u8],
    scratch: &mut Scratch,
    counts: &mut super::WalkCounts,
) -> bool {
    if !find_matches(search.detectors, content, search.cx, scratch, counts) {
        return false;
    }
    scratch.rebuilt.clear();
    // Matches start and end on character boundaries (folded matches are mapped back to whole
    // characters), so the pieces between them are whole characters.
    let text = std::str::from_utf8(content).unwrap_or_default();
    let mut from = 0;
    for m in &scratch.matches {
        scratch.rebuilt.push_str(text.get(from..m.start).unwrap_or_default());
        write_replacement(rules, pseudonymizer, &content[m.start..m.end], m.detector, &mut scratch.rebuilt);
        from = m.end;
    }
    scratch.rebuilt.push_str(text.get(from..).unwrap_or_default());
    true
}

/// Writes what replaces a match of `detector` on `matched`: the marker, or its keyed hash.
fn write_replacement(
    rules: &ValueRules,
    pseudonymizer: &Pseudonymizer,
    matched: &[u8],
    detector: Detector,
    out: &mut String,
) {
    match rules.detect_action {
        DetectAction::Redact => {
            out.push_str("[redacted:");
            out.push_str(detector.name());
            out.push(']');
        }
        DetectAction::Hash => {
            let hex = pseudonymizer.hash_hex(matched);
            out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
        }
    }
}
