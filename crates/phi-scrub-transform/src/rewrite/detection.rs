//! Detector hits: running the free-text detectors over a kept string, a key or an event name,
//! counting what they find, and rebuilding the text with each match replaced (by
//! `[redacted:NAME]` or its keyed hash) while the untouched bytes stay as they were.

use phi_scrub_json::{write_escaped_str, JsonError, Scanner, StrSpan};

use crate::detect::{DetectAction, Detectors};
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
        let found = redact_matches(self.rules, self.pseudonymizer, content, self.scratch, &mut self.counts);
        self.audit_hits(found, None);
        Ok(found)
    }

    /// Whether the detectors find something in a key (counted per detector).
    ///
    /// Never true without detectors: the simple-node fast path in [`Self::object`] (which runs
    /// only without them) relies on that and does not call this. A check that works without
    /// detectors must be added there too.
    pub(super) fn key_has_identifier(&mut self, key: &[u8]) -> bool {
        // Most keys are plain words: no byte any detector starts from.
        let trigger = |b: &u8| b.is_ascii_digit() || matches!(b, b'@' | b':' | b'?' | b'#');
        if self.rules.detectors.is_empty() || !key.iter().any(trigger) {
            return false;
        }
        let found = find_matches(self.rules.detectors, key, self.scratch, &mut self.counts);
        self.audit_hits(found, None);
        found
    }

    /// Searches a string a generaliser kept as free text (`content`) with `detectors`; when
    /// something matches, the text with its matches replaced is in `scratch.rebuilt`.
    pub(super) fn rebuild_kept_text(&mut self, detectors: Detectors, content: &[u8]) -> bool {
        let found = rebuild_matches(self.rules, detectors, self.pseudonymizer, content, self.scratch, &mut self.counts);
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
        let found = redact_matches(self.rules, self.pseudonymizer, content, self.scratch, &mut self.counts);
        self.audit_hits(found, Some(b"event"));
        found
    }
}

/// Runs the detectors over `content` (decoded string text); when something matches, writes the
/// whole string with each match replaced into `scratch.value` (as JSON) and returns `true`.
fn redact_matches(
    rules: &ValueRules,
    pseudonymizer: &Pseudonymizer,
    content: &[u8],
    scratch: &mut Scratch,
    counts: &mut super::WalkCounts,
) -> bool {
    if !rebuild_matches(rules, rules.detectors, pseudonymizer, content, scratch, counts) {
        return false;
    }
    scratch.value.clear();
    write_escaped_str(&mut scratch.value, &scratch.rebuilt);
    true
}

/// Runs the detectors over `content` into `scratch.matches` and counts the matches; `true` when
/// there are any.
fn find_matches(detectors: Detectors, content: &[u8], scratch: &mut Scratch, counts: &mut super::WalkCounts) -> bool {
    if detectors.is_empty() {
        return false;
    }
    scratch.matches.clear();
    detectors.find(content, &mut scratch.matches);
    for m in &scratch.matches {
        counts.add_detected(m.detector);
    }
    !scratch.matches.is_empty()
}

/// Runs the detectors over `content`; when something matches, puts the text with each match
/// replaced into `scratch.rebuilt`, counts the matches, and returns `true`.
fn rebuild_matches(
    rules: &ValueRules,
    detectors: Detectors,
    pseudonymizer: &Pseudonymizer,
    content: &[u8],
    scratch: &mut Scratch,
    counts: &mut super::WalkCounts,
) -> bool {
    if !find_matches(detectors, content, scratch, counts) {
        return false;
    }
    scratch.rebuilt.clear();
    // Matches start and end on ASCII bytes, so the pieces between them are whole characters.
    let text = std::str::from_utf8(content).unwrap_or_default();
    let mut from = 0;
    for m in &scratch.matches {
        scratch.rebuilt.push_str(&text[from..m.start]);
        match rules.detect_action {
            DetectAction::Redact => {
                scratch.rebuilt.push_str("[redacted:");
                scratch.rebuilt.push_str(m.detector.name());
                scratch.rebuilt.push(']');
            }
            DetectAction::Hash => {
                let hex = pseudonymizer.hash_hex(&content[m.start..m.end]);
                scratch.rebuilt.push_str(std::str::from_utf8(&hex).unwrap_or_default());
            }
        }
        from = m.end;
    }
    scratch.rebuilt.push_str(&text[from..]);
    true
}
