//! The one-pass rewriter: walks an event with the scanner and the compiled policy, copying
//! untouched spans as raw bytes and writing only what changes (hashes, removals, separators).
//!
//! Untouched neighbours are copied as one run, separators and formatting included; a removed
//! member only costs the comma in front of the next run. Nothing here allocates per event once
//! the buffers have grown to the size of the largest event seen.

use std::ops::Range;

use crate::json::{decode_string_into, JsonError, Scanner, Shape, ValueKind};
use crate::pseudonym::Pseudonymizer;

use super::policy::{Action, NodeId, Policy};

/// What the walker counted in one event.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalkCounts {
    /// Values replaced by their keyed hash.
    pub hashed: u64,
    /// Fields and array elements removed.
    pub removed: u64,
    /// Objects or arrays found under a `hash` path, removed rather than forwarded.
    pub hash_containers_removed: u64,
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
    Remove,
    Hash { trim: bool, lowercase: bool },
    Keep,
    Descend { allowed: bool },
}

/// Policy, key and reusable scratch space for rewriting events.
#[derive(Debug)]
pub(crate) struct Walker<'p> {
    pub policy: &'p Policy,
    pub pseudonymizer: &'p Pseudonymizer,
    pub sets: &'p mut Vec<NodeId>,
    pub text: &'p mut Vec<u8>,
    pub counts: WalkCounts,
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
}

impl Walker<'_> {
    fn decide(&self, set: &[NodeId], allowed: bool, kind: ValueKind, at_key: bool) -> Decision {
        let mut allowed = allowed;
        if at_key {
            match self.policy.action(set) {
                Some(Action::Drop) => return Decision::Remove,
                Some(Action::Hash { trim, lowercase }) => return Decision::Hash { trim, lowercase },
                Some(Action::Allow) => allowed = true,
                None => {}
            }
        }
        let container = matches!(kind, ValueKind::Object | ValueKind::Array);
        if container && self.policy.has_rules_below(set) {
            Decision::Descend { allowed }
        } else if allowed || !self.policy.allow_mode() {
            Decision::Keep
        } else {
            Decision::Remove
        }
    }

    /// The decision for a field reached by `set` (the root of a document or a captured path).
    pub(crate) fn keeps(&self, set: &[NodeId], kind: ValueKind) -> bool {
        matches!(self.decide(set, false, kind, true), Decision::Keep | Decision::Descend { .. })
    }

    /// Whether a `drop` or `hash` rule applies to the field reached by `set`, so that nothing
    /// under it may be forwarded in clear.
    pub(crate) fn removes_subtree(&self, set: &[NodeId]) -> bool {
        matches!(self.policy.action(set), Some(Action::Drop | Action::Hash { .. }))
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
        reserved: &[Box<[u8]>],
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
        while let Some(key) = sc.next_key()? {
            let kind = sc.peek_kind()?;
            let key_bytes = sc.key_bytes(key);
            if reserved.iter().any(|r| **r == *key_bytes) {
                splice.flush(buf, out);
                sc.skip_value()?;
                self.counts.removed += 1;
                modified = true;
                continue;
            }
            let child = if set.is_empty() {
                set.clone()
            } else {
                self.policy.step(self.sets, set.clone(), key_bytes, key.fingerprint)
            };
            let key_raw = &buf[key.quote_start..key.quote_end];
            match self.decide(&self.sets[child.clone()], allowed, kind, true) {
                Decision::Keep => {
                    shape.absorb(sc.skip_value()?);
                    splice.extend_run(key.quote_start, sc.pos());
                }
                Decision::Remove => {
                    splice.flush(buf, out);
                    sc.skip_value()?;
                    self.counts.removed += 1;
                    modified = true;
                }
                Decision::Hash { trim, lowercase } => {
                    splice.flush(buf, out);
                    modified = true;
                    let hashed = self.hash_value(sc, kind, trim, lowercase)?;
                    if !matches!(hashed, Hashed::Removed) {
                        splice.separator(out);
                        splice.members += 1;
                        out.extend_from_slice(key_raw);
                        out.push(b':');
                        hashed.write(out);
                    }
                }
                Decision::Descend { allowed } => {
                    splice.flush(buf, out);
                    splice.separator(out);
                    splice.members += 1;
                    out.extend_from_slice(key_raw);
                    out.push(b':');
                    let child_written = self.container(sc, kind, child.clone(), allowed, out)?;
                    shape.absorb(child_written.shape);
                    modified |= child_written.modified;
                }
            }
            self.sets.truncate(set.end);
        }
        splice.flush(buf, out);
        out.push(b'}');
        shape.object_depth += 1;
        shape.max_keys = shape.max_keys.max(splice.members);
        keep_verbatim_unless(modified, &buf[in_start..sc.pos()], out_start, out);
        Ok(Written { shape, members: splice.members, modified })
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
            match self.decide(&self.sets[set.clone()], allowed, kind, false) {
                Decision::Keep => {
                    let start = sc.pos();
                    shape.absorb(sc.skip_value()?);
                    splice.extend_run(start, sc.pos());
                }
                Decision::Descend { allowed } => {
                    splice.flush(buf, out);
                    splice.separator(out);
                    splice.members += 1;
                    let child_written = self.container(sc, kind, set.clone(), allowed, out)?;
                    shape.absorb(child_written.shape);
                    modified |= child_written.modified;
                }
                Decision::Remove | Decision::Hash { .. } => {
                    splice.flush(buf, out);
                    sc.skip_value()?;
                    self.counts.removed += 1;
                    modified = true;
                }
            }
        }
        splice.flush(buf, out);
        out.push(b']');
        shape.max_len = shape.max_len.max(splice.members);
        keep_verbatim_unless(modified, &buf[in_start..sc.pos()], out_start, out);
        Ok(Written { shape, members: splice.members, modified })
    }

    /// Hashes the value at the scanner's position for a `hash` path. Objects and arrays are
    /// removed (and counted), never forwarded in clear; `null` stays `null`.
    fn hash_value(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        kind: ValueKind,
        trim: bool,
        lowercase: bool,
    ) -> Result<Hashed, JsonError> {
        let buf = sc.buf();
        match kind {
            ValueKind::Object | ValueKind::Array => {
                sc.skip_value()?;
                self.counts.hash_containers_removed += 1;
                self.counts.removed += 1;
                return Ok(Hashed::Removed);
            }
            ValueKind::Null => {
                sc.scan_literal()?;
                return Ok(Hashed::Null);
            }
            ValueKind::String => {
                let (s, e, escaped) = sc.scan_string()?;
                self.text.clear();
                if escaped {
                    decode_string_into(buf, s + 1, e - 1, self.text)?;
                } else {
                    self.text.extend_from_slice(&buf[s + 1..e - 1]);
                }
            }
            ValueKind::Number | ValueKind::Bool => {
                let (s, e) = if kind == ValueKind::Number { sc.scan_number()? } else { sc.scan_literal()? };
                self.text.clear();
                self.text.extend_from_slice(&buf[s..e]);
            }
        }
        self.counts.hashed += 1;
        Ok(Hashed::Hex(hash_text(self.pseudonymizer, self.text, trim, lowercase)))
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
        match self.decide(&self.sets[set.clone()], allowed, kind, true) {
            Decision::Keep => {
                let start = sc.pos();
                let shape = sc.skip_value()?;
                out.extend_from_slice(&sc.buf()[start..sc.pos()]);
                Ok(Some(shape))
            }
            Decision::Remove => {
                sc.skip_value()?;
                self.counts.removed += 1;
                Ok(None)
            }
            Decision::Hash { trim, lowercase } => Ok(match self.hash_value(sc, kind, trim, lowercase)? {
                Hashed::Removed => None,
                hashed => {
                    hashed.write(out);
                    Some(Shape::default())
                }
            }),
            Decision::Descend { allowed } => Ok(Some(self.container(sc, kind, set, allowed, out)?.shape)),
        }
    }
}

/// Replaces what was written since `out_start` by the input span when nothing changed, so an
/// untouched container keeps its exact formatting.
fn keep_verbatim_unless(modified: bool, input_span: &[u8], out_start: usize, out: &mut Vec<u8>) {
    if !modified {
        out.truncate(out_start);
        out.extend_from_slice(input_span);
    }
}

/// The result of hashing one value.
enum Hashed {
    Removed,
    Null,
    Hex([u8; crate::pseudonym::HEX_LEN]),
}

impl Hashed {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Removed => {}
            Self::Null => out.extend_from_slice(b"null"),
            Self::Hex(hex) => {
                out.push(b'"');
                out.extend_from_slice(hex);
                out.push(b'"');
            }
        }
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
        if text.is_ascii() {
            text.make_ascii_lowercase();
        } else {
            let lowered = String::from_utf8_lossy(text).to_lowercase();
            text.clear();
            text.extend_from_slice(lowered.as_bytes());
        }
    }
    let mut bytes: &[u8] = text;
    if trim {
        bytes = std::str::from_utf8(bytes).map(|s| s.trim().as_bytes()).unwrap_or(bytes);
    }
    pseudonymizer.hash_hex(bytes)
}
