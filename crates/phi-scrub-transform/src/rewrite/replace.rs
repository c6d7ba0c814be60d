//! Value replacement: what a `hash`, `redact` or generaliser rule writes in place of a value.
//! Objects and arrays are never forwarded in clear; `null` stays `null`; strings a generaliser
//! keeps as free text (a truncated string, a stripped URL) are searched by the detectors.

use phi_scrub_json::{write_escaped_str, JsonError, Scanner, ValueKind};

use crate::detect::Detector;
use crate::generalise::{first_chars, generalise, strip_url_value, Generaliser, Scalar, REDACTED};
use crate::policy::Action;
use crate::pseudonym::hash_text;

use super::counts::Counter;
use super::Walker;

impl Walker<'_> {
    /// Reads the value at the scanner's position and writes the JSON of what `action` makes of
    /// it into `scratch.value`; `false` when nothing is written (the value is removed).
    pub(super) fn replace_value(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        kind: ValueKind,
        action: Action,
    ) -> Result<bool, JsonError> {
        let buf = sc.buf();
        self.scratch.value.clear();
        self.text.clear();
        match kind {
            ValueKind::Object | ValueKind::Array => {
                sc.skip_value()?;
                return Ok(self.replace_container(action));
            }
            ValueKind::Null => {
                sc.scan_literal()?;
                self.scratch.value.extend_from_slice(b"null");
                return Ok(true);
            }
            ValueKind::String => sc.scan_string()?.decode_into(buf, self.text)?,
            ValueKind::Number | ValueKind::Bool => {
                let (s, e) = if kind == ValueKind::Number { sc.scan_number()? } else { sc.scan_literal()? };
                self.text.extend_from_slice(&buf[s..e]);
            }
        }
        Ok(self.replace_scalar(kind, action))
    }

    fn replace_container(&mut self, action: Action) -> bool {
        if action == Action::Redact {
            write_escaped_str(&mut self.scratch.value, REDACTED);
            self.counts.add(Counter::Redacted);
            return true;
        }
        if matches!(action, Action::Hash { .. }) {
            self.counts.add(Counter::HashContainersRemoved);
        } else {
            self.counts.add(Counter::UngeneralisableRemoved);
        }
        self.counts.add(Counter::Removed);
        false
    }

    /// `replace_value` for a scalar whose decoded text is in `self.text`.
    fn replace_scalar(&mut self, kind: ValueKind, action: Action) -> bool {
        match action {
            Action::Hash { trim, lowercase } => {
                let hex = hash_text(self.pseudonymizer, self.text, trim, lowercase);
                self.scratch.value.push(b'"');
                self.scratch.value.extend_from_slice(&hex);
                self.scratch.value.push(b'"');
                self.counts.add(Counter::Hashed);
                true
            }
            Action::Redact => {
                write_escaped_str(&mut self.scratch.value, REDACTED);
                self.counts.add(Counter::Redacted);
                true
            }
            Action::Drop | Action::Allow => false,
            Action::Generalise(g) => {
                let written = self.generalise_scalar(kind, g);
                if written {
                    self.counts.add(Counter::Generalised);
                } else {
                    self.counts.add(Counter::UngeneralisableRemoved);
                    self.counts.add(Counter::Removed);
                }
                written
            }
        }
    }

    /// Writes the generalised form of the scalar in `self.text`; `false` when the generaliser
    /// cannot read it.
    fn generalise_scalar(&mut self, kind: ValueKind, g: Generaliser) -> bool {
        // Taken out of the walker (no copy) so the detectors can borrow the walker meanwhile.
        let decoded = std::mem::take(self.text);
        let written = self.generalise_text(&decoded, kind, g);
        *self.text = decoded;
        written
    }

    fn generalise_text(&mut self, decoded: &[u8], kind: ValueKind, g: Generaliser) -> bool {
        // The scanner validated the document, so decoded text is UTF-8.
        let text = std::str::from_utf8(decoded).unwrap_or_default();
        let scalar = match kind {
            ValueKind::String => Scalar::String(text),
            ValueKind::Number => Scalar::Number(text),
            _ => Scalar::Bool,
        };
        match (g, scalar) {
            (Generaliser::Truncate(n), Scalar::String(s)) => {
                // Searched before it is cut, so a cut cannot break a match (`…555-234-56`) and
                // hide it.
                let found = self.rebuild_kept_text(self.rules.detectors, s.as_bytes());
                let searched = if found { self.scratch.rebuilt.as_str() } else { s };
                write_escaped_str(&mut self.scratch.value, first_chars(searched, n));
                true
            }
            (Generaliser::UrlStrip, Scalar::String(s)) => {
                let Some(stripped) = strip_url_value(s, &self.rules.context) else { return false };
                // Its query is already down to the kept parameters: search their values, but
                // not for a query string.
                let found =
                    self.rebuild_kept_text(self.rules.detectors.without(Detector::UrlQuery), stripped.as_bytes());
                write_escaped_str(&mut self.scratch.value, if found { &self.scratch.rebuilt } else { &stripped });
                true
            }
            _ => generalise(g, scalar, &self.rules.context, &mut self.scratch.value),
        }
    }
}
