//! Reading a Segment call's envelope in the single pass that scrubs it: the top-level fields the
//! Mixpanel event is made of (`event`, `type`, page names, ids, timestamps) are noted as spans,
//! `properties` is scrubbed by the walker into a buffer of its own, `properties_from` sources are
//! followed and scrubbed into another, and everything else is skipped (still validated).
//!
//! The reader calls the walker for policy decisions and rewriting; it never writes the event.

use std::ops::Range;

use phi_scrub_core::transform::BuildError;
use phi_scrub_json::{fingerprint, write_escaped_str, JsonError, KeyRef, Scanner, Shape, StrSpan, ValueKind};

use crate::drop_reason::DropReason;
use crate::mixpanel::{self, RESERVED_INPUT_KEYS};
use crate::path::{Path, Segment};
use crate::rewrite::{Outcome, Walker, Written};

/// A string or number the envelope holds.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar {
    /// A string, as the scanner found it.
    String(StrSpan),
    /// A number's text.
    Number { start: usize, end: usize },
}

impl Scalar {
    /// The value's text (a string decoded, borrowed when it has no escapes; a number as
    /// written).
    pub(super) fn text<'b>(self, buf: &'b [u8], scratch: &'b mut Vec<u8>) -> Result<&'b [u8], JsonError> {
        match self {
            Self::String(span) => span.text(buf, scratch),
            Self::Number { start, end } => Ok(&buf[start..end]),
        }
    }

    /// Whether it is a non-empty string or any number.
    pub(super) fn is_present(self) -> bool {
        match self {
            Self::String(span) => span.end - span.start > 2,
            Self::Number { .. } => true,
        }
    }
}

/// The top-level fields of one call, as read.
#[derive(Debug, Default)]
pub(super) struct Envelope {
    pub(super) event: Option<StrSpan>,
    pub(super) kind: Option<StrSpan>,
    pub(super) name: Option<StrSpan>,
    pub(super) category: Option<StrSpan>,
    pub(super) user_id: Option<Scalar>,
    pub(super) anonymous_id: Option<Scalar>,
    pub(super) message_id: Option<StrSpan>,
    pub(super) timestamp: Option<StrSpan>,
    pub(super) original_timestamp: Option<StrSpan>,
    pub(super) properties: Option<Written>,
}

/// A `properties_from` entry: where to read, the key to write, and what was captured.
#[derive(Debug)]
pub(super) struct Include {
    path: Vec<Box<[u8]>>,
    pub(super) key_json: Vec<u8>,
    pub(super) captured: Option<Range<usize>>,
    pub(super) shape: Shape,
}

/// Top-level Segment fields the reader takes itself; `properties_from` cannot start there.
const ENVELOPE_KEYS: &[&[u8]] = &[
    b"event", b"type", b"name", b"category", b"userId", b"anonymousId", b"messageId", b"timestamp",
    b"originalTimestamp", b"properties",
];

/// Reads envelopes: the compiled `properties_from` sources, the keys removed from `properties`
/// whatever the policy, and the per-event buffers the scrubbed values are written to.
#[derive(Debug)]
pub(super) struct EnvelopeReader {
    pub(super) includes: Vec<Include>,
    /// Keys removed from `properties` whatever the policy, with their fingerprints.
    reserved: Vec<(u64, Box<[u8]>)>,
    /// The scrubbed `properties` object.
    pub(super) properties: Vec<u8>,
    /// The scrubbed `properties_from` values, one after another.
    pub(super) captures: Vec<u8>,
}

/// Which envelope slot a top-level key fills, and how it may be typed.
enum Slot {
    Text(fn(&mut Envelope) -> &mut Option<StrSpan>, &'static str, Outcome),
    Id(fn(&mut Envelope) -> &mut Option<Scalar>, &'static str),
}

fn slot(key: &[u8]) -> Option<Slot> {
    Some(match key {
        b"event" => Slot::Text(|e| &mut e.event, "invalid type for event", Outcome::EventName),
        b"type" => Slot::Text(|e| &mut e.kind, "invalid type for type", Outcome::CallType),
        b"name" => Slot::Text(|e| &mut e.name, "invalid type for name", Outcome::PageNaming),
        b"category" => Slot::Text(|e| &mut e.category, "invalid type for category", Outcome::PageNaming),
        b"userId" => Slot::Id(|e| &mut e.user_id, "invalid type for userId"),
        b"anonymousId" => Slot::Id(|e| &mut e.anonymous_id, "invalid type for anonymousId"),
        b"messageId" => Slot::Text(|e| &mut e.message_id, "invalid type for messageId", Outcome::IntoInsertId),
        b"timestamp" => Slot::Text(|e| &mut e.timestamp, "invalid type for timestamp", Outcome::IntoTime),
        b"originalTimestamp" => {
            Slot::Text(|e| &mut e.original_timestamp, "invalid type for originalTimestamp", Outcome::IntoTime)
        }
        _ => return None,
    })
}

impl EnvelopeReader {
    /// Compiles `properties_from` (name → source path).
    pub(super) fn compile<'c>(
        properties_from: impl Iterator<Item = (&'c String, &'c String)>,
    ) -> Result<Self, BuildError> {
        let mut reserved: Vec<(u64, Box<[u8]>)> =
            RESERVED_INPUT_KEYS.iter().map(|k| (fingerprint(k), Box::from(*k))).collect();
        let mut includes = Vec::new();
        for (name, source) in properties_from {
            includes.push(compile_include(name, source)?);
            reserved.push((fingerprint(name.as_bytes()), name.as_bytes().into()));
        }
        refuse_nested_includes(&includes)?;
        Ok(Self { includes, reserved, properties: Vec::new(), captures: Vec::new() })
    }

    /// Reads the call at the scanner's position (an object): its envelope, with `properties`
    /// and the `properties_from` sources scrubbed into this reader's buffers.
    pub(super) fn read(&mut self, sc: &mut Scanner<'_, '_>, walker: &mut Walker<'_>) -> Result<Envelope, DropReason> {
        self.properties.clear();
        self.captures.clear();
        for include in &mut self.includes {
            include.captured = None;
            include.shape = Shape::default();
        }
        let mut env = Envelope::default();
        let root = walker.root_set();
        sc.begin_object()?;
        while let Some(key) = sc.next_key()? {
            let kind = sc.peek_kind()?;
            walker.enter_field(sc.key_bytes(key));
            let outcome = self.read_field(sc, walker, &mut env, key, kind, root.clone());
            if let Ok(Some(outcome)) = outcome {
                walker.audit_record(outcome);
            }
            walker.exit_field();
            outcome?;
        }
        Ok(env)
    }

    /// Reads one top-level field; returns the audit's outcome for what the reader did with it
    /// (none when the walker recorded its own decisions below it).
    fn read_field(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        env: &mut Envelope,
        key: KeyRef,
        kind: ValueKind,
        root: Range<usize>,
    ) -> Result<Option<Outcome>, DropReason> {
        let key_bytes = sc.key_bytes(key);
        // Page and screen names become part of the event name only if the policy would
        // forward them as they are (not dropped, not hashed, allowed in allow mode).
        if matches!(key_bytes, b"name" | b"category") && !walker.keeps_child(root.clone(), key_bytes, key, kind) {
            sc.skip_value()?;
            return Ok(Some(Outcome::NotForwardedByPolicy));
        }
        match slot(key_bytes) {
            Some(Slot::Text(field, label, outcome)) => {
                *field(env) = read_string(sc, kind).map_err(|e| e.or_invalid(label))?;
                Ok(Some(outcome))
            }
            Some(Slot::Id(field, label)) => {
                *field(env) = read_id(sc, kind).map_err(|e| e.or_invalid(label))?;
                Ok(Some(Outcome::IntoDistinctId))
            }
            None if key_bytes == b"properties" => {
                env.properties = self.scrub_properties(sc, walker, root, kind)?;
                Ok(None)
            }
            None => self.other_field(sc, walker, key, root),
        }
    }

    /// A top-level field that is not the envelope's: followed when a `properties_from` source
    /// starts there, else skipped.
    fn other_field(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        key: KeyRef,
        root: Range<usize>,
    ) -> Result<Option<Outcome>, DropReason> {
        let key_bytes = sc.key_bytes(key);
        let candidates: Vec<usize> =
            (0..self.includes.len()).filter(|&i| *self.includes[i].path[0] == *key_bytes).collect();
        if candidates.is_empty() {
            sc.skip_value()?;
            return Ok(Some(Outcome::NotForwardedByShape));
        }
        let child = walker.step(root.clone(), key_bytes, key.fingerprint);
        let allowed = walker.allowed_at(child.clone(), false);
        self.follow(sc, walker, Follow { set: child, candidates: &candidates, depth: 1, allowed })?;
        walker.leave(root);
        Ok(None)
    }

    fn scrub_properties(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        root: Range<usize>,
        kind: ValueKind,
    ) -> Result<Option<Written>, DropReason> {
        match kind {
            ValueKind::Object => {}
            ValueKind::Null => {
                sc.skip_value()?;
                return Ok(None);
            }
            _ => return Err(DropReason::InvalidField("properties is not an object")),
        }
        let child = walker.step(root.clone(), b"properties", fingerprint(b"properties"));
        let written = if walker.keeps(child.clone(), kind) {
            let allowed = walker.allowed_at(child.clone(), false);
            Some(walker.object(sc, child, allowed, &self.reserved, &mut self.properties)?)
        } else {
            sc.skip_value()?;
            None
        };
        walker.leave(root);
        Ok(written)
    }

    /// Walks towards `properties_from` sources.
    fn follow(&mut self, sc: &mut Scanner<'_, '_>, walker: &mut Walker<'_>, at: Follow<'_>) -> Result<(), DropReason> {
        let kind = sc.peek_kind()?;
        let targets: Vec<usize> =
            at.candidates.iter().copied().filter(|&i| self.includes[i].path.len() == at.depth).collect();
        if !targets.is_empty() {
            return self.capture(sc, walker, kind, at, &targets);
        }
        // A `drop` or `hash` rule on a parent covers everything below it: nothing is taken out.
        if kind != ValueKind::Object || walker.removes_subtree(at.set.clone()) {
            sc.skip_value()?;
            return Ok(());
        }
        sc.begin_object()?;
        while let Some(key) = sc.next_key()? {
            let key_bytes = sc.key_bytes(key);
            let next: Vec<usize> =
                at.candidates.iter().copied().filter(|&i| *self.includes[i].path[at.depth] == *key_bytes).collect();
            if next.is_empty() {
                sc.skip_value()?;
                continue;
            }
            let child = walker.step(at.set.clone(), key_bytes, key.fingerprint);
            let allowed = walker.allowed_at(child.clone(), at.allowed);
            walker.enter_field(key_bytes);
            let deeper = Follow { set: child, candidates: &next, depth: at.depth + 1, allowed };
            let followed = self.follow(sc, walker, deeper);
            walker.exit_field();
            followed?;
            walker.leave(at.set.clone());
        }
        Ok(())
    }

    /// Scrubs the value at a `properties_from` source into the capture buffer.
    fn capture(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        kind: ValueKind,
        at: Follow<'_>,
        targets: &[usize],
    ) -> Result<(), DropReason> {
        let start = self.captures.len();
        let Some(shape) = walker.field_value(sc, kind, at.set, at.allowed, &mut self.captures)? else {
            return Ok(());
        };
        for &t in targets {
            self.includes[t].captured = Some(start..self.captures.len());
            self.includes[t].shape = shape;
        }
        Ok(())
    }

    /// Checks Mixpanel's per-event limits on what will be written.
    pub(super) fn check_limits(&self, env: &Envelope) -> Result<(), DropReason> {
        let mut shape = env.properties.map(|p| p.shape).unwrap_or_default();
        // The properties object itself is not one of the nested levels Mixpanel counts.
        shape.object_depth = shape.object_depth.saturating_sub(1);
        let mut count = env.properties.map(|p| p.members).unwrap_or(0) + 5;
        for include in self.includes.iter().filter(|i| i.captured.is_some()) {
            count += 1;
            shape.absorb(include.shape);
        }
        if count > mixpanel::MAX_PROPERTIES {
            return Err(DropReason::MixpanelLimit("too many properties for mixpanel"));
        }
        if shape.object_depth > mixpanel::MAX_OBJECT_DEPTH {
            return Err(DropReason::MixpanelLimit("objects nested too deep for mixpanel"));
        }
        if shape.max_keys > mixpanel::MAX_OBJECT_KEYS {
            return Err(DropReason::MixpanelLimit("object with too many keys for mixpanel"));
        }
        if shape.max_len > mixpanel::MAX_LIST_LEN {
            return Err(DropReason::MixpanelLimit("list too long for mixpanel"));
        }
        Ok(())
    }
}

/// Where a walk towards `properties_from` sources stands: the policy set, the includes whose
/// first `depth` segments match the path so far, and whether an `allow` covers it.
#[derive(Clone)]
struct Follow<'c> {
    set: Range<usize>,
    candidates: &'c [usize],
    depth: usize,
    allowed: bool,
}

/// Why a field could not be read.
enum ReadError {
    Json(JsonError),
    WrongType,
}

impl ReadError {
    fn or_invalid(self, label: &'static str) -> DropReason {
        match self {
            Self::Json(e) => DropReason::from(e),
            Self::WrongType => DropReason::InvalidField(label),
        }
    }
}

/// Reads a string field; `null` counts as absent.
fn read_string(sc: &mut Scanner<'_, '_>, kind: ValueKind) -> Result<Option<StrSpan>, ReadError> {
    match kind {
        ValueKind::String => Ok(Some(sc.scan_string().map_err(ReadError::Json)?)),
        ValueKind::Null => sc.scan_literal().map(|_| None).map_err(ReadError::Json),
        _ => Err(ReadError::WrongType),
    }
}

/// Reads an id field: a string or a number; `null` counts as absent.
fn read_id(sc: &mut Scanner<'_, '_>, kind: ValueKind) -> Result<Option<Scalar>, ReadError> {
    match kind {
        ValueKind::Number => {
            let (start, end) = sc.scan_number().map_err(ReadError::Json)?;
            Ok(Some(Scalar::Number { start, end }))
        }
        _ => Ok(read_string(sc, kind)?.map(Scalar::String)),
    }
}

/// A source inside another (`context.page` and `context.page.path`) would never be reached: the
/// outer one consumes the value first. Refused rather than silently ignored.
fn refuse_nested_includes(includes: &[Include]) -> Result<(), BuildError> {
    for (i, a) in includes.iter().enumerate() {
        for (j, b) in includes.iter().enumerate() {
            if i != j && a.path.len() < b.path.len() && b.path.starts_with(&a.path) {
                return Err(BuildError::InvalidOption {
                    option: "mixpanel.properties_from",
                    message: "one source path lies inside another; take the outer one or the inner one".into(),
                });
            }
        }
    }
    Ok(())
}

fn compile_include(name: &str, source: &str) -> Result<Include, BuildError> {
    let invalid = |message: String| BuildError::InvalidOption { option: "mixpanel.properties_from", message };
    if RESERVED_INPUT_KEYS.contains(&name.as_bytes()) || name.is_empty() {
        return Err(invalid(format!("`{name}` is a Mixpanel key that phi-scrub sets itself; choose another name")));
    }
    let path = Path::parse(source).map_err(|e| invalid(e.to_string()))?;
    let mut keys = Vec::new();
    for segment in path.segments() {
        match segment {
            Segment::Key(k) => keys.push(Box::from(k.as_bytes())),
            _ => return Err(invalid(format!("`{source}` has a wildcard; name one exact path"))),
        }
    }
    if keys.first().is_some_and(|k| ENVELOPE_KEYS.contains(&&**k)) {
        return Err(invalid(format!(
            "`{source}` starts at a field the Mixpanel shape reads itself (one of {}); name a field elsewhere, e.g. under `context`",
            ENVELOPE_KEYS.iter().map(|k| String::from_utf8_lossy(k)).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut key_json = Vec::new();
    write_escaped_str(&mut key_json, name);
    Ok(Include { path: keys, key_json, captured: None, shape: Shape::default() })
}
