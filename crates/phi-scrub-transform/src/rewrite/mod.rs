//! The one-pass rewriter: walks an event with the scanner and the compiled policy, copying
//! untouched spans as raw bytes and writing only what changes (hashes, removals, separators).
//!
//! Untouched neighbours are copied as one run, separators and formatting included; a removed
//! member only costs the comma in front of the next run. Nothing here allocates per event once
//! the buffers have grown to the size of the largest event seen.
//!
//! With detectors on, every kept string is searched, so kept containers are walked rather than
//! copied whole; a string with no match is still copied as it came.
//!
//! This file is the walker and its decisions. Beside it: [`container`] (an object or array being
//! written), [`replace`] (what hash, redact and generalisers write), [`detection`] (detector
//! hits), [`audit`] (the typed audit trail) and [`counts`] (the counters, declared once).

mod audit;
mod container;
mod counts;
mod detection;
mod replace;

use std::ops::Range;

use phi_scrub_json::{JsonError, KeyRef, Scanner, ValueKind};

use crate::detect::{Context, ContextCache, DetectAction, Detectors, Match, Workspace};
use crate::generalise::GeneraliseContext;
use crate::key_table::KeyTable;
use crate::policy::{Action, NodeId, Policy};
use crate::pseudonym::Pseudonymizer;

pub use audit::{AuditTrail, Outcome};
pub(crate) use container::Written;
pub(crate) use counts::WalkCounts;

use container::Container;
use counts::Counter;

/// What the policy does to values beyond keeping and dropping them: generalisers' settings and
/// the free-text detectors.
#[derive(Debug, Default)]
pub(crate) struct ValueRules {
    pub detectors: Detectors,
    pub detect_action: DetectAction,
    pub context: GeneraliseContext,
}

/// Reusable buffers for values the walker writes itself.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The JSON of one replacement value.
    pub value: Vec<u8>,
    pub matches: Vec<Match>,
    /// A string being rebuilt around detector matches.
    pub rebuilt: String,
    /// The detectors' reusable space.
    pub detect: Workspace,
    /// The keys leading to the field being walked (when detecting).
    pub keys: KeyStack,
    /// The detectors' context of recent keys.
    pub contexts: ContextCache,
}

impl Scratch {
    /// The detectors' context for a value under the innermost key, from the cache when that key
    /// was seen recently (keys repeat from event to event; reading one costs a split into words).
    pub(crate) fn key_context(&mut self) -> Context {
        self.contexts.get(self.keys.innermost())
    }
}

/// The keys leading to the field being walked, innermost last: the detectors read the
/// innermost as context.
#[derive(Debug, Default)]
pub(crate) struct KeyStack {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeyStack {
    pub(crate) fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    pub(crate) fn pop(&mut self) {
        self.ends.pop();
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
    }

    /// The innermost key (empty at the top level; a `properties_from` value has its source's).
    pub(crate) fn innermost(&self) -> &[u8] {
        let n = self.ends.len();
        let start = if n >= 2 { self.ends[n - 2] } else { 0 };
        &self.bytes[start..self.ends.last().copied().unwrap_or(0)]
    }
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

/// A member of an object (with its key) or an element of an array, about to be decided.
struct Member<'k> {
    /// Where the member starts in the input (its key's quote, or the element itself).
    start: usize,
    key_raw: Option<&'k [u8]>,
    kind: ValueKind,
    /// The policy set below it (for a container to walk).
    set: Range<usize>,
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

    /// The policy set at the event's root; the sets below it are pushed after it.
    pub(crate) fn root_set(&mut self) -> Range<usize> {
        self.policy.push_root(self.sets)
    }

    /// Steps from `set` to the set of its member `key` (pushed after the others).
    pub(crate) fn step(&mut self, set: Range<usize>, key: &[u8], key_fingerprint: u64) -> Range<usize> {
        self.policy.step(self.sets, set, key, key_fingerprint)
    }

    /// Leaves the members of `set`: forgets every set pushed after it.
    pub(crate) fn leave(&mut self, set: Range<usize>) {
        self.sets.truncate(set.end);
    }

    /// Whether a field reached by `set` is kept as it is or walked for what rules below it keep
    /// (not removed, hashed or otherwise replaced).
    pub(crate) fn keeps(&self, set: Range<usize>, kind: ValueKind) -> bool {
        matches!(self.decide(&self.sets[set], false, kind, true), Decision::Keep | Decision::Descend { .. })
    }

    /// Whether the member `key` of `set` would be kept (see [`Self::keeps`]).
    pub(crate) fn keeps_child(&mut self, set: Range<usize>, key: &[u8], key_ref: KeyRef, kind: ValueKind) -> bool {
        let child = self.step(set.clone(), key, key_ref.fingerprint);
        let kept = self.keeps(child, kind);
        self.leave(set);
        kept
    }

    /// Whether a rule other than `allow` applies to the field reached by `set`, so that nothing
    /// under it may be forwarded in clear.
    pub(crate) fn removes_subtree(&self, set: Range<usize>) -> bool {
        !matches!(self.policy.action(&self.sets[set]), None | Some(Action::Allow))
    }

    /// Whether a field reached by `set` is under an `allow` rule (or already was).
    pub(crate) fn allowed_at(&self, set: Range<usize>, allowed: bool) -> bool {
        allowed || self.policy.action(&self.sets[set]) == Some(Action::Allow)
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
        let mut c = Container::begin(sc, ValueKind::Object, out)?;
        // Without auditing or detectors (both look at every member), a simple node's members
        // can be decided by one table lookup.
        let fast = self.audit.is_none() && self.rules.detectors.is_empty();
        let simple = if fast { self.policy.simple_keys(&self.sets[set.clone()]) } else { None };
        while let Some(key) = sc.next_key()? {
            let kind = sc.peek_kind()?;
            let key_bytes = sc.key_bytes(key);
            if reserved.iter().any(|(fp, r)| *fp == key.fingerprint && **r == *key_bytes) {
                self.enter_field(key_bytes);
                self.remove_member(sc, &mut c)?;
                self.audit_record(Outcome::ReservedKey);
                self.exit_field();
                continue;
            }
            if let Some(table) = simple {
                if self.simple_member(sc, table, key, kind, allowed, &mut c)? {
                    continue;
                }
            }
            self.keyed_member(sc, set.clone(), key, kind, allowed, &mut c)?;
        }
        Ok(c.finish(sc))
    }

    /// The usual member of a simple node: kept, removed or replaced as decided from its one
    /// child, without building the set. `false` when it needs the general path (a container
    /// to walk). `Member` is built only where needed: built before this branch it cost 2.5% on
    /// the Mixpanel job.
    fn simple_member(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        table: &KeyTable,
        key: KeyRef,
        kind: ValueKind,
        allowed: bool,
        c: &mut Container<'_>,
    ) -> Result<bool, JsonError> {
        let child = table.find(sc.key_bytes(key), key.fingerprint);
        let decision = self.decide(child.as_slice(), allowed, kind, true);
        match decision {
            Decision::Keep => keep_as_is(sc, key.quote_start, c)?,
            Decision::Remove | Decision::Deny => self.remove_member(sc, c)?,
            Decision::Replace(_) => {
                // A replaced value needs no set below it, and without detectors no key is taken
                // for an identifier.
                let no_set = 0..0;
                let key_raw = Some(&sc.buf()[key.quote_start..key.quote_end]);
                let member = Member { start: key.quote_start, key_raw, kind, set: no_set };
                self.member(sc, decision, member, c)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// An object member on the general path: its policy set is stepped to, and its key is
    /// searched by the detectors.
    fn keyed_member(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        set: Range<usize>,
        key: KeyRef,
        kind: ValueKind,
        allowed: bool,
        c: &mut Container<'_>,
    ) -> Result<(), JsonError> {
        let key_bytes = sc.key_bytes(key);
        self.enter_field(key_bytes);
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
        let key_raw = Some(&sc.buf()[key.quote_start..key.quote_end]);
        self.member(sc, decision, Member { start: key.quote_start, key_raw, kind, set: child }, c)?;
        self.sets.truncate(set.end);
        self.exit_field();
        Ok(())
    }

    /// Removes the member or element at the scanner's position (its value is skipped).
    fn remove_member(&mut self, sc: &mut Scanner<'_, '_>, c: &mut Container<'_>) -> Result<(), JsonError> {
        c.flush(sc.buf());
        sc.skip_value()?;
        self.counts.add(Counter::Removed);
        c.modified = true;
        Ok(())
    }

    /// Applies one decision to an object member or array element.
    fn member(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        decision: Decision,
        member: Member<'_>,
        c: &mut Container<'_>,
    ) -> Result<(), JsonError> {
        match decision {
            Decision::Keep if member.kind == ValueKind::String && !self.rules.detectors.is_empty() => {
                self.audit_record(Outcome::Kept);
                if self.detect_in_string(sc)? {
                    c.flush(sc.buf());
                    c.member(member.key_raw, &self.scratch.value);
                    c.modified = true;
                } else {
                    c.extend_run(member.start, sc.pos());
                }
            }
            Decision::Keep if member.kind == ValueKind::Number && self.rules.detectors.reads_numbers() => {
                self.audit_record(Outcome::Kept);
                if self.detect_in_number(sc)? {
                    c.flush(sc.buf());
                    c.member(member.key_raw, &self.scratch.value);
                    c.modified = true;
                } else {
                    c.extend_run(member.start, sc.pos());
                }
            }
            Decision::Keep => {
                self.audit_record(Outcome::Kept);
                keep_as_is(sc, member.start, c)?;
            }
            Decision::Remove | Decision::Deny | Decision::IdentifierInKey => {
                self.audit_record(match decision {
                    Decision::Remove => Outcome::DroppedByRule,
                    Decision::Deny => Outcome::Denied,
                    _ => Outcome::IdentifierInKey,
                });
                self.remove_member(sc, c)?;
            }
            Decision::Replace(action) => {
                c.flush(sc.buf());
                c.modified = true;
                let written = self.replace_value(sc, member.kind, action)?;
                self.audit_record(Outcome::of_replacement(action, written));
                if written {
                    c.member(member.key_raw, &self.scratch.value);
                }
            }
            Decision::Descend { allowed, prune } => self.descend(sc, member, allowed, prune, c)?,
        }
        Ok(())
    }

    /// Walks a member's object or array; with `prune`, takes it back when nothing was kept.
    fn descend(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        member: Member<'_>,
        allowed: bool,
        prune: bool,
        c: &mut Container<'_>,
    ) -> Result<(), JsonError> {
        c.flush(sc.buf());
        let mark = c.mark();
        c.member(member.key_raw, b"");
        let child = if member.kind == ValueKind::Object {
            self.object(sc, member.set, allowed, &[], c.out())?
        } else {
            self.array(sc, member.set, allowed, c.out())?
        };
        if prune && child.members == 0 {
            c.rewind(mark);
            self.counts.add(Counter::Removed);
        } else {
            c.shape.absorb(child.shape);
            c.modified |= child.modified;
        }
        Ok(())
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
        let mut c = Container::begin(sc, ValueKind::Array, out)?;
        while sc.next_element()? {
            let kind = sc.peek_kind()?;
            let decision = self.decide(&self.sets[set.clone()], allowed, kind, false);
            let member = Member { start: sc.pos(), key_raw: None, kind, set: set.clone() };
            self.member(sc, decision, member, &mut c)?;
        }
        Ok(c.finish(sc))
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
    ) -> Result<Option<phi_scrub_json::Shape>, JsonError> {
        let decision = self.decide(&self.sets[set.clone()], allowed, kind, true);
        let mark = out.len();
        let mut c = Container::lone_value(sc, out);
        self.member(sc, decision, Member { start: sc.pos(), key_raw: None, kind, set }, &mut c)?;
        c.flush(sc.buf());
        let (members, shape) = (c.members, c.shape);
        Ok((members > 0 && out.len() > mark).then_some(shape))
    }
}

/// Keeps the member or element that starts at `start` as it is: its value is skipped (and its
/// shape absorbed) and its bytes join the run copied verbatim.
fn keep_as_is(sc: &mut Scanner<'_, '_>, start: usize, c: &mut Container<'_>) -> Result<(), JsonError> {
    sc.skip_value_into(&mut c.shape)?;
    c.extend_run(start, sc.pos());
    Ok(())
}
