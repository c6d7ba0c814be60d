//! The one-pass rewriter: walks an event with the scanner and the compiled policy, copying
//! untouched spans as raw bytes and writing only what changes (hashes, removals, separators).
//!
//! Untouched neighbours are copied as one run, separators and formatting included; a removed
//! member only costs the comma in front of the next run. Nothing here allocates per event once
//! the buffers have grown to the size of the largest event seen.
//!
//! With detectors on, every kept string is searched, so kept containers are walked rather than
//! copied whole; a string with no match is still copied as it came.

use std::ops::Range;

use crate::detect::{DetectAction, Detector, Detectors, Match};
use crate::pseudonym::Pseudonymizer;
use phi_scrub_json::{decode_string_into, write_escaped_str, JsonError, Scanner, Shape, ValueKind};

use crate::generalise::{first_chars, generalise, strip_url_value, GeneraliseContext, Generaliser, Scalar, REDACTED};
use crate::policy::{Action, NodeId, Policy};

/// What the policy does to values beyond keeping and dropping them: generalisers' settings and
/// the free-text detectors.
#[derive(Debug, Default)]
pub(crate) struct ValueRules {
    pub detectors: Detectors,
    pub detect_action: DetectAction,
    pub context: GeneraliseContext,
}

/// What the walker decided for each field of one event: the raw material of `phi-scrub audit`.
/// Only filled when auditing; the hot path never builds paths.
#[derive(Debug, Default)]
pub struct AuditTrail {
    /// The keys leading to the field being walked.
    stack: Vec<String>,
    /// (path, outcome) for every field decided, in order.
    pub decisions: Vec<(String, &'static str)>,
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

    pub(crate) fn push(&mut self, key: &[u8]) {
        self.stack.push(String::from_utf8_lossy(key).into_owned());
    }

    pub(crate) fn pop(&mut self) {
        self.stack.pop();
    }

    pub(crate) fn record(&mut self, outcome: &'static str) {
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

/// Reusable buffers for values the walker writes itself.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The JSON of one replacement value.
    pub value: Vec<u8>,
    pub matches: Vec<Match>,
    /// A string being rebuilt around detector matches.
    pub rebuilt: String,
}

/// What the walker counted in one event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalkCounts {
    /// Values replaced by their keyed hash.
    pub hashed: u64,
    /// Fields and array elements removed.
    pub removed: u64,
    /// Objects or arrays found under a `hash` path, removed rather than forwarded.
    pub hash_containers_removed: u64,
    /// Values replaced by the redaction marker.
    pub redacted: u64,
    /// Values replaced by a coarser form (year, zip3, …).
    pub generalised: u64,
    /// Values a generaliser could not read, removed rather than forwarded.
    pub ungeneralisable_removed: u64,
    /// Detector matches, by [`Detector::index`].
    pub detected: [u64; Detector::ALL.len()],
}

impl WalkCounts {
    /// Adds another event's counts to these (plain additions: no map lookups per event).
    pub(crate) fn absorb(&mut self, other: &WalkCounts) {
        self.hashed += other.hashed;
        self.removed += other.removed;
        self.hash_containers_removed += other.hash_containers_removed;
        self.redacted += other.redacted;
        self.generalised += other.generalised;
        self.ungeneralisable_removed += other.ungeneralisable_removed;
        for (total, n) in self.detected.iter_mut().zip(other.detected) {
            *total += n;
        }
    }
}

/// The shape of a rewritten object: for limits such as Mixpanel's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Structure of what was written.
    pub shape: Shape,
    /// Members written at the object's own level.
    pub members: u32,
    /// Whether anything differs from the input (if not, the input span was copied verbatim).
    pub modified: bool,
}

enum Decision {
    /// A `drop` rule.
    Remove,
    /// Default-deny: no `allow` covers it.
    Deny,
    /// The detectors found an identifier in the member's key.
    IdentifierInKey,
    /// Hash, redact or generalise.
    Replace(Action),
    Keep,
    /// Walk the container. `prune`: it is only walked for what rules below keep, and is removed
    /// if nothing is.
    Descend {
        allowed: bool,
        prune: bool,
    },
}

/// Policy, key and reusable scratch space for rewriting events.
#[derive(Debug)]
pub(crate) struct Walker<'p> {
    pub policy: &'p Policy,
    pub pseudonymizer: &'p Pseudonymizer,
    pub rules: &'p ValueRules,
    pub sets: &'p mut Vec<NodeId>,
    pub text: &'p mut Vec<u8>,
    pub scratch: &'p mut Scratch,
    pub counts: WalkCounts,
    pub audit: Option<&'p mut AuditTrail>,
}

/// Output of an object or array under construction: tracks separators and the current run of
/// untouched input bytes that will be copied in one go.
struct Splice {
    written_any: bool,
    run: Option<(usize, usize)>,
    members: u32,
}

impl Splice {
    fn new() -> Self {
        Self { written_any: false, run: None, members: 0 }
    }

    fn extend_run(&mut self, start: usize, end: usize) {
        self.members += 1;
        self.run = Some(match self.run {
            Some((s, _)) => (s, end),
            None => (start, end),
        });
    }

    fn flush(&mut self, buf: &[u8], out: &mut Vec<u8>) {
        if let Some((s, e)) = self.run.take() {
            self.separator(out);
            out.extend_from_slice(&buf[s..e]);
        }
    }

    /// Writes a separator if something precedes; call before writing a member by hand.
    fn separator(&mut self, out: &mut Vec<u8>) {
        if self.written_any {
            out.push(b',');
        }
        self.written_any = true;
    }

    /// Writes `"key":value` (or just the value in an array) after a separator.
    fn member(&mut self, key_raw: Option<&[u8]>, value: &[u8], out: &mut Vec<u8>) {
        self.separator(out);
        self.members += 1;
        if let Some(key) = key_raw {
            out.extend_from_slice(key);
            out.push(b':');
        }
        out.extend_from_slice(value);
    }
}

impl Walker<'_> {
    fn decide(&self, set: &[NodeId], allowed: bool, kind: ValueKind, at_key: bool) -> Decision {
        let mut allowed = allowed;
        if at_key {
            match self.policy.action(set) {
                Some(Action::Drop) => return Decision::Remove,
                Some(Action::Allow) => allowed = true,
                Some(action) => return Decision::Replace(action),
                None => {}
            }
        }
        let container = matches!(kind, ValueKind::Object | ValueKind::Array);
        let visible = allowed || !self.policy.allow_mode();
        match (container, visible) {
            (true, true) if self.policy.has_rules_below(set) || !self.rules.detectors.is_empty() => {
                Decision::Descend { allowed, prune: false }
            }
            (true, false) if self.policy.keeps_below(set) => Decision::Descend { allowed, prune: true },
            (_, true) => Decision::Keep,
            (_, false) => Decision::Deny,
        }
    }

    /// Whether a field reached by `set` is kept as it is or walked for what rules below it keep
    /// (not removed, hashed or otherwise replaced).
    pub(crate) fn keeps(&self, set: &[NodeId], kind: ValueKind) -> bool {
        matches!(self.decide(set, false, kind, true), Decision::Keep | Decision::Descend { .. })
    }

    /// Whether a rule other than `allow` applies to the field reached by `set`, so that nothing
    /// under it may be forwarded in clear.
    pub(crate) fn removes_subtree(&self, set: &[NodeId]) -> bool {
        !matches!(self.policy.action(set), None | Some(Action::Allow))
    }

    /// Whether a field reached by `set` is under an `allow` rule (or already was).
    pub(crate) fn allowed_at(&self, set: &[NodeId], allowed: bool) -> bool {
        allowed || self.policy.action(set) == Some(Action::Allow)
    }

    /// Rewrites the object at the scanner's position into `out`.
    ///
    /// `set` is the active policy set for the object's members, `allowed` whether the object is
    /// under an `allow` rule, and members named in `reserved` are removed whatever the policy.
    pub(crate) fn object(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        set: Range<usize>,
        allowed: bool,
        reserved: &[(u64, Box<[u8]>)],
        out: &mut Vec<u8>,
    ) -> Result<Written, JsonError> {
        let buf = sc.buf();
        sc.peek_kind()?;
        let (in_start, out_start) = (sc.pos(), out.len());
        sc.begin_object()?;
        out.push(b'{');
        let mut splice = Splice::new();
        let mut shape = Shape::default();
        let mut modified = false;
        // Without auditing or detectors (both look at every member), a simple node's members
        // can be decided by one table lookup.
        let fast = self.audit.is_none() && self.rules.detectors.is_empty();
        let simple = if fast { self.policy.simple_keys(&self.sets[set.clone()]) } else { None };
        while let Some(key) = sc.next_key()? {
            let kind = sc.peek_kind()?;
            let key_bytes = sc.key_bytes(key);
            self.audit_push(key_bytes);
            if reserved.iter().any(|(fp, r)| *fp == key.fingerprint && **r == *key_bytes) {
                self.remove_member(sc, &mut splice, &mut modified, out)?;
                self.audit_record("removed: a key Mixpanel reserves");
                self.audit_pop();
                continue;
            }
            if let Some(table) = simple {
                // The usual member of a simple node: kept, removed or replaced as decided from
                // its one child, without building the set (a container to walk takes the
                // general path). `Member` is built only where needed: built before this branch
                // it cost 2.5% on the Mixpanel job.
                let child = table.find(key_bytes, key.fingerprint);
                let decision = self.decide(child.as_slice(), allowed, kind, true);
                match decision {
                    Decision::Keep => {
                        keep_as_is(sc, key.quote_start, &mut splice, &mut shape)?;
                        continue;
                    }
                    Decision::Remove | Decision::Deny => {
                        self.remove_member(sc, &mut splice, &mut modified, out)?;
                        continue;
                    }
                    Decision::Replace(_) => {
                        // A replaced value needs no set below it, and without detectors no key
                        // is taken for an identifier.
                        let member = Member {
                            start: key.quote_start,
                            key_raw: Some(&buf[key.quote_start..key.quote_end]),
                            kind,
                        };
                        let no_set = set.end..set.end;
                        self.member(sc, decision, no_set, member, &mut splice, &mut shape, &mut modified, out)?;
                        continue;
                    }
                    _ => {}
                }
            }
            let child = if set.is_empty() {
                set.clone()
            } else {
                self.policy.step(self.sets, set.clone(), key_bytes, key.fingerprint)
            };
            let mut decision = self.decide(&self.sets[child.clone()], allowed, kind, true);
            // A key can carry an identifier too (`{"ann@x.org": true}`); keys cannot be rewritten
            // without risking duplicates, so such a member is removed.
            if !matches!(decision, Decision::Remove | Decision::Deny) && self.key_has_identifier(key_bytes) {
                decision = Decision::IdentifierInKey;
            }
            let member = Member { start: key.quote_start, key_raw: Some(&buf[key.quote_start..key.quote_end]), kind };
            self.member(sc, decision, child, member, &mut splice, &mut shape, &mut modified, out)?;
            self.sets.truncate(set.end);
            self.audit_pop();
        }
        splice.flush(buf, out);
        out.push(b'}');
        shape.object_depth += 1;
        shape.max_keys = shape.max_keys.max(splice.members);
        keep_verbatim_unless(modified, &buf[in_start..sc.pos()], out_start, out);
        Ok(Written { shape, members: splice.members, modified })
    }

    /// Removes the member or element at the scanner's position (its value is skipped).
    fn remove_member(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        splice: &mut Splice,
        modified: &mut bool,
        out: &mut Vec<u8>,
    ) -> Result<(), JsonError> {
        splice.flush(sc.buf(), out);
        sc.skip_value()?;
        self.counts.removed += 1;
        *modified = true;
        Ok(())
    }

    /// Applies one decision to an object member or array element.
    #[allow(clippy::too_many_arguments)]
    fn member(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        decision: Decision,
        set: Range<usize>,
        member: Member<'_>,
        splice: &mut Splice,
        shape: &mut Shape,
        modified: &mut bool,
        out: &mut Vec<u8>,
    ) -> Result<(), JsonError> {
        let buf = sc.buf();
        match decision {
            Decision::Keep if member.kind == ValueKind::String && !self.rules.detectors.is_empty() => {
                self.audit_record("kept");
                if self.detect_in_string(sc)? {
                    splice.flush(buf, out);
                    splice.member(member.key_raw, &self.scratch.value, out);
                    *modified = true;
                } else {
                    splice.extend_run(member.start, sc.pos());
                }
            }
            Decision::Keep => {
                self.audit_record("kept");
                keep_as_is(sc, member.start, splice, shape)?;
            }
            Decision::Remove | Decision::Deny | Decision::IdentifierInKey => {
                self.audit_record(match decision {
                    Decision::Remove => "dropped by rule",
                    Decision::Deny => "denied (not allowed)",
                    _ => "removed: identifier in key",
                });
                self.remove_member(sc, splice, modified, out)?;
            }
            Decision::Replace(action) => {
                splice.flush(buf, out);
                *modified = true;
                let written = self.replace_value(sc, member.kind, action)?;
                self.audit_record(replace_outcome(action, written));
                if written {
                    splice.member(member.key_raw, &self.scratch.value, out);
                }
            }
            Decision::Descend { allowed, prune } => {
                splice.flush(buf, out);
                let (mark, written_before) = (out.len(), splice.written_any);
                splice.member(member.key_raw, b"", out);
                let child = self.container(sc, member.kind, set, allowed, out)?;
                if prune && child.members == 0 {
                    out.truncate(mark);
                    splice.written_any = written_before;
                    splice.members -= 1;
                    self.counts.removed += 1;
                    *modified = true;
                } else {
                    shape.absorb(child.shape);
                    *modified |= child.modified;
                }
            }
        }
        Ok(())
    }

    fn container(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        kind: ValueKind,
        set: Range<usize>,
        allowed: bool,
        out: &mut Vec<u8>,
    ) -> Result<Written, JsonError> {
        if kind == ValueKind::Object {
            self.object(sc, set, allowed, &[], out)
        } else {
            self.array(sc, set, allowed, out)
        }
    }

    /// Rewrites the array at the scanner's position: each element is matched against the same
    /// set as the array itself (paths do not name arrays).
    fn array(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        set: Range<usize>,
        allowed: bool,
        out: &mut Vec<u8>,
    ) -> Result<Written, JsonError> {
        let buf = sc.buf();
        sc.peek_kind()?;
        let (in_start, out_start) = (sc.pos(), out.len());
        sc.begin_array()?;
        out.push(b'[');
        let mut splice = Splice::new();
        let mut shape = Shape::default();
        let mut modified = false;
        while sc.next_element()? {
            let kind = sc.peek_kind()?;
            let decision = self.decide(&self.sets[set.clone()], allowed, kind, false);
            let member = Member { start: sc.pos(), key_raw: None, kind };
            self.member(sc, decision, set.clone(), member, &mut splice, &mut shape, &mut modified, out)?;
        }
        splice.flush(buf, out);
        out.push(b']');
        shape.max_len = shape.max_len.max(splice.members);
        keep_verbatim_unless(modified, &buf[in_start..sc.pos()], out_start, out);
        Ok(Written { shape, members: splice.members, modified })
    }

    /// Reads the value at the scanner's position and writes the JSON of what `action` makes of
    /// it into `scratch.value`; `false` when nothing is written (the value is removed).
    /// Objects and arrays are never forwarded in clear; `null` stays `null`.
    fn replace_value(&mut self, sc: &mut Scanner<'_, '_>, kind: ValueKind, action: Action) -> Result<bool, JsonError> {
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
            ValueKind::String => {
                let (s, e, escaped) = sc.scan_string()?;
                if escaped {
                    decode_string_into(buf, s + 1, e - 1, self.text)?;
                } else {
                    self.text.extend_from_slice(&buf[s + 1..e - 1]);
                }
            }
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
            self.counts.redacted += 1;
            return true;
        }
        if matches!(action, Action::Hash { .. }) {
            self.counts.hash_containers_removed += 1;
        } else {
            self.counts.ungeneralisable_removed += 1;
        }
        self.counts.removed += 1;
        false
    }

    /// `replace_value` for a scalar whose decoded text is in `self.text`.
    fn replace_scalar(&mut self, kind: ValueKind, action: Action) -> bool {
        let g = match action {
            Action::Hash { trim, lowercase } => {
                let hex = hash_text(self.pseudonymizer, self.text, trim, lowercase);
                self.scratch.value.push(b'"');
                self.scratch.value.extend_from_slice(&hex);
                self.scratch.value.push(b'"');
                self.counts.hashed += 1;
                return true;
            }
            Action::Redact => {
                write_escaped_str(&mut self.scratch.value, REDACTED);
                self.counts.redacted += 1;
                return true;
            }
            Action::Drop | Action::Allow => return false,
            Action::Generalise(g) => g,
        };
        // The scanner validated the document, so decoded text is UTF-8.
        let text = std::str::from_utf8(self.text).unwrap_or_default();
        let scalar = match kind {
            ValueKind::String => Scalar::String(text),
            ValueKind::Number => Scalar::Number(text),
            _ => Scalar::Bool,
        };
        // Strings that stay free text after generalising (a truncated string; a URL's host and
        // kept parameters) are searched by the detectors; a truncated one before it is cut, so
        // a cut cannot break a match (`…555-234-56`) and hide it.
        let written = match (g, scalar) {
            (Generaliser::Truncate(n), Scalar::String(s)) => {
                let found = rebuild_matches(
                    self.rules,
                    self.rules.detectors,
                    self.pseudonymizer,
                    s.as_bytes(),
                    self.scratch,
                    &mut self.counts,
                );
                let searched = if found { self.scratch.rebuilt.as_str() } else { s };
                write_escaped_str(&mut self.scratch.value, first_chars(searched, n));
                self.audit_hits(found);
                true
            }
            (Generaliser::UrlStrip, Scalar::String(s)) => match strip_url_value(s, &self.rules.context) {
                Some(stripped) => {
                    // Its query is already down to the kept parameters: search their values, but
                    // not for a query string.
                    let found = rebuild_matches(
                        self.rules,
                        self.rules.detectors.without(Detector::UrlQuery),
                        self.pseudonymizer,
                        stripped.as_bytes(),
                        self.scratch,
                        &mut self.counts,
                    );
                    write_escaped_str(&mut self.scratch.value, if found { &self.scratch.rebuilt } else { &stripped });
                    self.audit_hits(found);
                    true
                }
                None => false,
            },
            _ => generalise(g, scalar, &self.rules.context, &mut self.scratch.value),
        };
        if written {
            self.counts.generalised += 1;
        } else {
            self.counts.ungeneralisable_removed += 1;
            self.counts.removed += 1;
        }
        written
    }

    /// Scans the kept string at the scanner's position with the detectors; when something
    /// matches, writes the string with its matches replaced into `scratch.value` and returns
    /// `true`.
    fn detect_in_string(&mut self, sc: &mut Scanner<'_, '_>) -> Result<bool, JsonError> {
        let buf = sc.buf();
        let (s, e, escaped) = sc.scan_string()?;
        let content = if escaped {
            self.text.clear();
            decode_string_into(buf, s + 1, e - 1, self.text)?;
            &self.text[..]
        } else {
            &buf[s + 1..e - 1]
        };
        let found = redact_matches(self.rules, self.pseudonymizer, content, self.scratch, &mut self.counts);
        self.audit_hits(found);
        Ok(found)
    }

    /// Whether the detectors find something in a key (counted per detector).
    ///
    /// Never true without detectors: the simple-node fast path in [`Self::object`] (which runs
    /// only without them) relies on that and does not call this. A check that works without
    /// detectors must be added there too.
    fn key_has_identifier(&mut self, key: &[u8]) -> bool {
        // Most keys are plain words: no byte any detector starts from.
        let trigger = |b: &u8| b.is_ascii_digit() || matches!(b, b'@' | b':' | b'?' | b'#');
        if self.rules.detectors.is_empty() || !key.iter().any(trigger) {
            return false;
        }
        let found = find_matches(self.rules.detectors, key, self.scratch, &mut self.counts);
        self.audit_hits(found);
        found
    }

    /// Auditing: the detector matches just found belong to the current field.
    fn audit_hits(&mut self, found: bool) {
        if let (true, Some(audit)) = (found, self.audit.as_deref_mut()) {
            audit.record_hits(&self.scratch.matches);
        }
    }

    /// Auditing: enters the field `key`.
    pub(crate) fn audit_push(&mut self, key: &[u8]) {
        if let Some(audit) = self.audit.as_deref_mut() {
            audit.push(key);
        }
    }

    /// Auditing: leaves the current field.
    pub(crate) fn audit_pop(&mut self) {
        if let Some(audit) = self.audit.as_deref_mut() {
            audit.pop();
        }
    }

    /// Auditing: what happened to the current field.
    pub(crate) fn audit_record(&mut self, outcome: &'static str) {
        if let Some(audit) = self.audit.as_deref_mut() {
            audit.record(outcome);
        }
    }

    /// Applies the policy to one field's value (its key is the caller's business) and writes
    /// the result into `out`; `None` when the policy removes it.
    pub(crate) fn field_value(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        kind: ValueKind,
        set: Range<usize>,
        allowed: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<Shape>, JsonError> {
        let decision = self.decide(&self.sets[set.clone()], allowed, kind, true);
        let mut splice = Splice::new();
        let mut shape = Shape::default();
        let mut modified = false;
        let member = Member { start: sc.pos(), key_raw: None, kind };
        let mark = out.len();
        self.member(sc, decision, set, member, &mut splice, &mut shape, &mut modified, out)?;
        splice.flush(sc.buf(), out);
        Ok((splice.members > 0 && out.len() > mark).then_some(shape))
    }

    /// Whether kept strings are searched by detectors.
    pub(crate) fn detecting(&self) -> bool {
        !self.rules.detectors.is_empty()
    }

    /// Writes the decoded text in `self.text` (an event name) as a JSON string, detector
    /// matches replaced.
    pub(crate) fn write_text_detected(&mut self, out: &mut Vec<u8>) {
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
        if found {
            if let Some(audit) = self.audit.as_deref_mut() {
                audit.push(b"event");
                audit.record_hits(&self.scratch.matches);
                audit.pop();
            }
        }
        found
    }
}

/// The audit's word for what a hash, redact or generalise rule did.
fn replace_outcome(action: Action, written: bool) -> &'static str {
    match (action, written) {
        (Action::Hash { .. }, true) => "hashed",
        (Action::Hash { .. }, false) => "removed: object or array under hash",
        (Action::Redact, _) => "redacted",
        (Action::Generalise(g), true) => match g {
            Generaliser::Year => "generalised: year",
            Generaliser::Age => "generalised: age",
            Generaliser::Zip3 => "generalised: zip3",
            Generaliser::Truncate(_) => "generalised: truncate",
            Generaliser::UrlStrip => "generalised: url_strip",
            Generaliser::UserAgent => "generalised: user_agent",
        },
        (Action::Generalise(_), false) => "removed: could not be generalised",
        (Action::Drop | Action::Allow, _) => "dropped by rule",
    }
}

/// A member of an object (with its key) or an element of an array.
struct Member<'k> {
    /// Where the member starts in the input (its key's quote, or the element itself).
    start: usize,
    key_raw: Option<&'k [u8]>,
    kind: ValueKind,
}

/// Runs the detectors over `content` (decoded string text); when something matches, writes the
/// whole string with each match replaced into `scratch.value` (as JSON) and returns `true`.
fn redact_matches(
    rules: &ValueRules,
    pseudonymizer: &Pseudonymizer,
    content: &[u8],
    scratch: &mut Scratch,
    counts: &mut WalkCounts,
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
fn find_matches(detectors: Detectors, content: &[u8], scratch: &mut Scratch, counts: &mut WalkCounts) -> bool {
    if detectors.is_empty() {
        return false;
    }
    scratch.matches.clear();
    detectors.find(content, &mut scratch.matches);
    for m in &scratch.matches {
        counts.detected[m.detector.index()] += 1;
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
    counts: &mut WalkCounts,
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

/// Keeps the member or element that starts at `start` as it is: its value is skipped (and its
/// shape absorbed) and its bytes join the run copied verbatim.
fn keep_as_is(sc: &mut Scanner<'_, '_>, start: usize, splice: &mut Splice, shape: &mut Shape) -> Result<(), JsonError> {
    sc.skip_value_into(shape)?;
    splice.extend_run(start, sc.pos());
    Ok(())
}

/// Replaces what was written since `out_start` by the input span when nothing changed, so an
/// untouched container keeps its exact formatting.
fn keep_verbatim_unless(modified: bool, input_span: &[u8], out_start: usize, out: &mut Vec<u8>) {
    if !modified {
        out.truncate(out_start);
        out.extend_from_slice(input_span);
    }
}

/// Hashes decoded text after the requested normalisation. `text` is UTF-8 (the scanner
/// validated the document), and is modified in place.
pub(crate) fn hash_text(
    pseudonymizer: &Pseudonymizer,
    text: &mut Vec<u8>,
    trim: bool,
    lowercase: bool,
) -> [u8; crate::pseudonym::HEX_LEN] {
    if lowercase {
        lowercase_in_place(text);
    }
    let bytes = if trim { trim_unicode_whitespace(text) } else { text.as_slice() };
    pseudonymizer.hash_hex(bytes)
}

/// `str::to_lowercase`, in place. Characters whose lowercase is one character of the same UTF-8
/// width (ASCII, and most letters with accents: `Ó` and `ó` are both two bytes) are rewritten
/// where they stand; at the first other character (a capital sigma, whose lowercase depends on
/// its neighbours, or one whose lowercase changes length, such as `İ`) the rest goes through
/// `str::to_lowercase` (lowering the prefix again changes nothing).
fn lowercase_in_place(text: &mut Vec<u8>) {
    let mut i = 0;
    loop {
        let ascii_run = text[i..].iter().position(|b| !b.is_ascii()).unwrap_or(text.len() - i);
        text[i..i + ascii_run].make_ascii_lowercase();
        i += ascii_run;
        if i == text.len() {
            return;
        }
        match lower_same_width(&mut text[i..]) {
            Some(width) => i += width,
            None => return lowercase_whole(text),
        }
    }
}

/// Lowers the non-ASCII character at the start of `bytes` where it stands, when its lowercase
/// is one character of the same UTF-8 width and it is not a capital sigma; returns its width.
#[inline]
fn lower_same_width(bytes: &mut [u8]) -> Option<usize> {
    // Latin-1 Supplement (U+0080-U+00FF, the accented letters of most European names) without
    // `char::to_lowercase`'s table search: `À`-`Þ` (C3 80-9E) except `×` (C3 97) move up by
    // 0x20; the rest of the block is its own lowercase.
    match (bytes[0], bytes.get(1).copied()) {
        (0xc2, Some(0x80..=0xbf)) => return Some(2),
        (0xc3, Some(second @ 0x80..=0xbf)) => {
            if second <= 0x9e && second != 0x97 {
                bytes[1] = second + 0x20;
            }
            return Some(2);
        }
        _ => {}
    }
    let width = match bytes[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(bytes.get(..width)?).ok()?.chars().next()?;
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) if c != '\u{03a3}' && l.len_utf8() == width => {
            l.encode_utf8(&mut bytes[..width]);
            Some(width)
        }
        _ => None,
    }
}

/// `str::to_lowercase` of the whole text, through a new `String`.
#[cold]
fn lowercase_whole(text: &mut Vec<u8>) {
    // Decoded JSON strings are UTF-8; lossy rather than a panic if that ever broke.
    let lowered = String::from_utf8_lossy(text).to_lowercase();
    *text = lowered.into_bytes();
}

/// `str::trim` on UTF-8 bytes: ASCII edges are settled without decoding; a non-ASCII edge (which
/// may be Unicode whitespace such as U+00A0) goes through `str::trim`.
fn trim_unicode_whitespace(text: &[u8]) -> &[u8] {
    let is_ascii_space = |b: &u8| b.is_ascii() && char::from(*b).is_whitespace();
    let start = text.iter().position(|b| !is_ascii_space(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !is_ascii_space(b)).map_or(start, |i| i + 1);
    let inner = &text[start..end];
    match (inner.first(), inner.last()) {
        (Some(first), Some(last)) if !first.is_ascii() || !last.is_ascii() => {
            std::str::from_utf8(inner).map(|s| s.trim().as_bytes()).unwrap_or(inner)
        }
        _ => inner,
    }
}

#[cfg(test)]
mod normalise_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lowercase_and_trim_match_the_standard_library_on_edge_cases() {
        for s in [
            "  A@B.COM ",
            "\u{a0}José@X.org\u{3000}",
            "ΣΑΣ Σ",
            "İstanbul",
            "\u{212a}elvin",
            "\u{b}x\u{c}",
            "",
            " ",
            "ÉΣ",
            "ΆΣ ",
            "ÓΣa",
            "Ⅰ\u{301}Σ",
            "ÀΣ\u{301}",
            "ẞΣ",
        ] {
            let mut text = s.as_bytes().to_vec();
            lowercase_in_place(&mut text);
            assert_eq!(text, s.to_lowercase().as_bytes(), "{s:?}");
            assert_eq!(trim_unicode_whitespace(s.as_bytes()), s.trim().as_bytes(), "{s:?}");
        }
    }

    #[test]
    fn latin1_block_is_lowered_like_the_standard_library() {
        for c in (0x80..=0xff).filter_map(char::from_u32) {
            let s = format!("A{c}b{c}");
            let mut text = s.as_bytes().to_vec();
            lowercase_in_place(&mut text);
            assert_eq!(text, s.to_lowercase().as_bytes(), "{c:?}");
        }
    }

    proptest! {
        #[test]
        fn lowercase_and_trim_match_the_standard_library(s in "\\PC{0,40}|[ \u{a0}\u{85}\t]{0,3}[a-zA-ZΣİ\u{212a}]{0,20}[ \u{a0}\u{2003}]{0,3}") {
            let mut text = s.as_bytes().to_vec();
            lowercase_in_place(&mut text);
            let expected = s.to_lowercase();
            prop_assert_eq!(&text, expected.as_bytes());
            prop_assert_eq!(trim_unicode_whitespace(s.as_bytes()), s.trim().as_bytes());
        }
    }
}
