//! The audit trail: what the walker decided for each field of one event, and which detectors
//! matched where, as typed outcomes. Only filled when auditing (`phi-scrub audit`); the hot
//! path never builds paths.

use crate::detect::{Detector, Match};
use crate::generalise::Generaliser;
use crate::policy::Action;

use super::Walker;

/// What the policy did to one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Kept as it came (strings still searched by the detectors).
    Kept,
    /// Removed by a `drop` rule.
    DroppedByRule,
    /// Removed by default-deny: no `allow` covers it.
    Denied,
    /// Removed because its key holds an identifier.
    IdentifierInKey,
    /// Removed because Mixpanel reserves its key.
    ReservedKey,
    /// Replaced by its keyed hash.
    Hashed,
    /// An object or array under a `hash` rule, removed.
    HashedContainerRemoved,
    /// Replaced by the redaction marker.
    Redacted,
    /// Replaced by a coarser form.
    Generalised(Generaliser),
    /// A value the generaliser could not read, removed.
    Ungeneralisable,
    /// The Mixpanel event's name was read from it.
    EventName,
    /// The Segment call type was read from it.
    CallType,
    /// A page or screen name, read for the event name.
    PageNaming,
    /// Hashed into `distinct_id`.
    IntoDistinctId,
    /// Hashed into `$insert_id`.
    IntoInsertId,
    /// Converted to Mixpanel's `time`.
    IntoTime,
    /// Not forwarded: the policy would not keep it in clear.
    NotForwardedByPolicy,
    /// Not forwarded: the Mixpanel event has no place for it.
    NotForwardedByShape,
}

impl Outcome {
    /// What `action` did, given whether it wrote a value.
    pub(crate) fn of_replacement(action: Action, written: bool) -> Self {
        match (action, written) {
            (Action::Hash { .. }, true) => Self::Hashed,
            (Action::Hash { .. }, false) => Self::HashedContainerRemoved,
            (Action::Redact, _) => Self::Redacted,
            (Action::Generalise(g), true) => Self::Generalised(g),
            (Action::Generalise(_), false) => Self::Ungeneralisable,
            (Action::Drop | Action::Allow, _) => Self::DroppedByRule,
        }
    }

    /// The words the audit report prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kept => "kept",
            Self::DroppedByRule => "dropped by rule",
            Self::Denied => "denied (not allowed)",
            Self::IdentifierInKey => "removed: identifier in key",
            Self::ReservedKey => "removed: a key Mixpanel reserves",
            Self::Hashed => "hashed",
            Self::HashedContainerRemoved => "removed: object or array under hash",
            Self::Redacted => "redacted",
            Self::Generalised(g) => match g {
                Generaliser::Year => "generalised: year",
                Generaliser::Age => "generalised: age",
                Generaliser::Zip3 => "generalised: zip3",
                Generaliser::Truncate(_) => "generalised: truncate",
                Generaliser::UrlStrip => "generalised: url_strip",
                Generaliser::UserAgent => "generalised: user_agent",
            },
            Self::Ungeneralisable => "removed: could not be generalised",
            Self::EventName => "event name",
            Self::CallType => "read: call type",
            Self::PageNaming => "read: page naming",
            Self::IntoDistinctId => "hashed into distinct_id",
            Self::IntoInsertId => "hashed into $insert_id",
            Self::IntoTime => "converted to time",
            Self::NotForwardedByPolicy => "not forwarded: policy",
            Self::NotForwardedByShape => "not forwarded: mixpanel shape",
        }
    }
}

/// What the walker decided for each field of one event: the raw material of `phi-scrub audit`.
#[derive(Debug, Default)]
pub struct AuditTrail {
    /// The keys leading to the field being walked.
    stack: Vec<String>,
    /// (path, outcome) for every field decided, in order.
    pub decisions: Vec<(String, Outcome)>,
    /// (keys of the field, detector) for every detector match.
    pub hits: Vec<(Vec<String>, Detector)>,
}

impl AuditTrail {
    /// Forgets the previous event.
    pub fn clear(&mut self) {
        self.stack.clear();
        self.decisions.clear();
        self.hits.clear();
    }

    fn pop(&mut self) {
        self.stack.pop();
    }

    fn record(&mut self, outcome: Outcome) {
        self.decisions.push((self.path(), outcome));
    }

    fn record_hits(&mut self, matches: &[Match]) {
        self.hits.extend(matches.iter().map(|m| (self.stack.clone(), m.detector)));
    }

    /// The current path, written as a policy path (keys that need it quoted).
    fn path(&self) -> String {
        crate::path::display_keys(&self.stack)
    }
}

impl Walker<'_> {
    /// Enters the field `key`: the audit's path, and the key the detectors read as context.
    pub(crate) fn enter_field(&mut self, key: &[u8]) {
        if self.audit.is_some() {
            let shown = crate::detect::shown_key(key, &mut self.scratch.detect);
            if let Some(audit) = self.audit.as_deref_mut() {
                audit.stack.push(shown);
            }
        }
        if self.detecting() {
            self.scratch.keys.push(key);
        }
    }

    /// Leaves the current field.
    pub(crate) fn exit_field(&mut self) {
        if let Some(audit) = self.audit.as_deref_mut() {
            audit.pop();
        }
        if self.detecting() {
            self.scratch.keys.pop();
        }
    }

    /// Auditing: what happened to the current field.
    pub(crate) fn audit_record(&mut self, outcome: Outcome) {
        if let Some(audit) = self.audit.as_deref_mut() {
            audit.record(outcome);
        }
    }

    /// Auditing: the detector matches just found (in `scratch.matches`) belong to the current
    /// field, or to the field `key` when one is given.
    pub(super) fn audit_hits(&mut self, found: bool, key: Option<&[u8]>) {
        let (true, Some(audit)) = (found, self.audit.as_deref_mut()) else { return };
        if let Some(key) = key {
            audit.stack.push(String::from_utf8_lossy(key).into_owned());
        }
        audit.record_hits(&self.scratch.matches);
        if key.is_some() {
            audit.pop();
        }
    }
}
