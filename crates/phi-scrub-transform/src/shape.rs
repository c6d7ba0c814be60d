//! The Mixpanel shape: a Segment `track` / `page` / `screen` call becomes
//! `{"event":…,"properties":{…scrubbed properties…,"token","distinct_id","time","$insert_id","ip"}}`.
//!
//! The envelope is read in the same single pass that scrubs `properties`; only `properties`
//! (and explicit `properties_from` fields) reach the output. Mixpanel's own keys are always
//! written by phi-scrub, never taken from the input, and an event Mixpanel would reject is
//! dropped here with the reason instead of failing later in a batch.

use std::ops::Range;

use crate::mixpanel::{self, RESERVED_INPUT_KEYS};
use crate::path::{Path, Segment};
use phi_scrub_core::transform::BuildError;
use phi_scrub_json::{
    decode_string_into, fingerprint, write_escaped_str, JsonError, JsonErrorKind, KeyRef, Scanner, Shape, ValueKind,
};

use crate::config::{MixpanelConfig, PageNaming};
use crate::rewrite::{Walker, Written};

/// Why an event went to `dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Not strictly valid JSON.
    Json(JsonErrorKind),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A Segment field has the wrong type (the label names it).
    InvalidField(&'static str),
    /// A track call without a non-empty `event` string.
    MissingEventName,
    /// A Segment type other than track, page and screen.
    UnsupportedType,
    /// Neither `userId` nor `anonymousId` holds a usable identifier.
    MissingDistinctId,
    /// Neither `timestamp` nor `originalTimestamp` is present.
    MissingTimestamp,
    /// The timestamp is not ISO-8601 with an offset.
    BadTimestamp,
    /// The time is before 1971 or more than an hour ahead: Mixpanel would reject it.
    TimestampOutOfRange,
    /// The event breaks one of Mixpanel's per-event limits (the label names it).
    MixpanelLimit(&'static str),
}

impl DropReason {
    /// A short stable label: the `dropped` reason and its counter name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json(kind) => kind.as_str(),
            Self::NotAnObject => "not a json object",
            Self::InvalidField(label) | Self::MixpanelLimit(label) => label,
            Self::MissingEventName => "missing event name",
            Self::UnsupportedType => "unsupported type",
            Self::MissingDistinctId => "no usable userId or anonymousId",
            Self::MissingTimestamp => "missing timestamp",
            Self::BadTimestamp => "unparseable timestamp",
            Self::TimestampOutOfRange => "timestamp out of mixpanel range",
        }
    }
}

impl From<JsonError> for DropReason {
    fn from(e: JsonError) -> Self {
        Self::Json(e.kind)
    }
}

/// A string or number value's span (quotes included for strings).
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    escaped: bool,
    string: bool,
}

#[derive(Debug, Default)]
struct Envelope {
    event: Option<Span>,
    kind: Option<Span>,
    name: Option<Span>,
    category: Option<Span>,
    user_id: Option<Span>,
    anonymous_id: Option<Span>,
    message_id: Option<Span>,
    timestamp: Option<Span>,
    original_timestamp: Option<Span>,
    properties: Option<Written>,
}

/// A `properties_from` entry: where to read, and the key to write.
#[derive(Debug)]
struct Include {
    path: Vec<Box<[u8]>>,
    key_json: Vec<u8>,
    captured: Option<Range<usize>>,
    shape: Shape,
}

/// The compiled `mixpanel` table plus its per-event buffers.
#[derive(Debug)]
pub(crate) struct MixpanelShape {
    token_json: crate::pseudonym::SecretBytes,
    page_names: PageNaming,
    time_unit_ms: i64,
    includes: Vec<Include>,
    /// Keys removed from `properties` whatever the policy, with their fingerprints.
    reserved: Vec<(u64, Box<[u8]>)>,
    properties: Vec<u8>,
    captures: Vec<u8>,
    name: String,
    clock: mixpanel::RecentClock,
}

/// Top-level Segment fields the shape reads itself; `properties_from` cannot start there.
const ENVELOPE_KEYS: &[&[u8]] = &[
    b"event",
    b"type",
    b"name",
    b"category",
    b"userId",
    b"anonymousId",
    b"messageId",
    b"timestamp",
    b"originalTimestamp",
    b"properties",
];

/// Tags that keep ids made from a `messageId` apart from ids made from whole events (the id key
/// itself is used for nothing else, so one byte suffices).
const INSERT_ID_DOMAIN: &[u8] = b"m";
const INSERT_ID_FALLBACK_DOMAIN: &[u8] = b"e";

impl MixpanelShape {
    pub(crate) fn compile(config: &MixpanelConfig) -> Result<Self, BuildError> {
        let token = std::str::from_utf8(config.token.expose()).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(BuildError::InvalidOption {
                option: "mixpanel.token",
                message: "the Mixpanel project token is empty; set `token = \"${MIXPANEL_TOKEN}\"`".into(),
            });
        }
        let mut token_json = Vec::new();
        write_escaped_str(&mut token_json, token);
        let mut reserved: Vec<(u64, Box<[u8]>)> =
            RESERVED_INPUT_KEYS.iter().map(|k| (fingerprint(k), Box::from(*k))).collect();
        let mut includes = Vec::new();
        for (name, source) in &config.properties_from {
            includes.push(compile_include(name, source)?);
            reserved.push((fingerprint(name.as_bytes()), name.as_bytes().into()));
        }
        refuse_nested_includes(&includes)?;
        Ok(Self {
            token_json: crate::pseudonym::SecretBytes::new(token_json),
            page_names: config.page_names,
            time_unit_ms: config.time_resolution.millis(),
            includes,
            reserved,
            properties: Vec::new(),
            captures: Vec::new(),
            name: String::new(),
            clock: mixpanel::RecentClock::default(),
        })
    }

    /// Reads the envelope, scrubs `properties`, and writes the Mixpanel event into `out`.
    pub(crate) fn shape(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        self.properties.clear();
        self.captures.clear();
        for include in &mut self.includes {
            include.captured = None;
            include.shape = Shape::default();
        }
        let env = self.read_envelope(sc, walker)?;
        sc.finish()?;
        let buf = sc.buf();
        let event_name = self.event_name(&env, buf, walker.text)?;
        let distinct_id = distinct_id(&env, buf, walker)?;
        let time_ms = event_time(&env, buf, walker.text, &mut self.clock)?;
        let time_ms = time_ms - time_ms.rem_euclid(self.time_unit_ms);
        let insert_id = insert_id(&env, buf, payload, walker)?;
        self.check_limits(&env)?;

        out.extend_from_slice(b"{\"event\":");
        // Event names are free text too: with detectors on they are searched like values.
        match event_name {
            EventName::Raw(span) if walker.detecting() && !span.escaped => {
                walker.write_plain_string_detected(&buf[span.start..span.end], out);
            }
            EventName::Raw(span) if walker.detecting() => {
                // An escaped name (the plain one is handled above): decoded into the walker's text.
                walker.text.clear();
                decode_string_into(buf, span.start + 1, span.end - 1, walker.text)?;
                walker.write_text_detected(out);
            }
            EventName::Built if walker.detecting() => {
                walker.text.clear();
                walker.text.extend_from_slice(self.name.as_bytes());
                walker.write_text_detected(out);
            }
            EventName::Raw(span) => out.extend_from_slice(&buf[span.start..span.end]),
            EventName::Built => write_escaped_str(out, &self.name),
        }
        out.extend_from_slice(b",\"properties\":{");
        if env.properties.is_some_and(|p| p.members > 0) {
            // The scrubbed members, without the object's braces.
            out.extend_from_slice(&self.properties[1..self.properties.len() - 1]);
            out.push(b',');
        }
        for include in &self.includes {
            if let Some(range) = include.captured.clone() {
                out.extend_from_slice(&include.key_json);
                out.push(b':');
                out.extend_from_slice(&self.captures[range]);
                out.push(b',');
            }
        }
        out.extend_from_slice(b"\"token\":");
        out.extend_from_slice(self.token_json.expose());
        out.extend_from_slice(b",\"distinct_id\":\"");
        out.extend_from_slice(&distinct_id);
        out.extend_from_slice(b"\",\"time\":");
        out.extend_from_slice(itoa::Buffer::new().format(time_ms).as_bytes());
        out.extend_from_slice(b",\"$insert_id\":\"");
        out.extend_from_slice(&insert_id);
        out.extend_from_slice(b"\",\"ip\":\"0\"}}");
        if out.len() >= mixpanel::MAX_EVENT_BYTES {
            return Err(DropReason::MixpanelLimit("event over mixpanel size limit"));
        }
        Ok(())
    }

    fn read_envelope(&mut self, sc: &mut Scanner<'_, '_>, walker: &mut Walker<'_>) -> Result<Envelope, DropReason> {
        let mut env = Envelope::default();
        let root = walker.policy.push_root(walker.sets);
        sc.begin_object()?;
        while let Some(key) = sc.next_key()? {
            let kind = sc.peek_kind()?;
            walker.audit_push(sc.key_bytes(key));
            let outcome = self.read_field(sc, walker, &mut env, key, kind, root.clone());
            if let Ok(Some(label)) = outcome {
                walker.audit_record(label);
            }
            walker.audit_pop();
            outcome?;
        }
        Ok(env)
    }

    /// Reads one top-level field; returns the audit's word for what the shape did with it (none
    /// when the walker recorded its own decisions below it).
    fn read_field(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        env: &mut Envelope,
        key: KeyRef,
        kind: ValueKind,
        root: Range<usize>,
    ) -> Result<Option<&'static str>, DropReason> {
        // Page and screen names become part of the event name only if the policy would
        // forward them as they are (not dropped, not hashed, allowed in allow mode).
        if matches!(sc.key_bytes(key), b"name" | b"category") {
            let child = walker.policy.step(walker.sets, root.clone(), sc.key_bytes(key), key.fingerprint);
            let in_clear = walker.keeps(&walker.sets[child], kind);
            walker.sets.truncate(root.end);
            if !in_clear {
                sc.skip_value()?;
                return Ok(Some("not forwarded: policy"));
            }
        }
        let (slot, label, numbers_ok, outcome) = match sc.key_bytes(key) {
            b"event" => (&mut env.event, "invalid type for event", false, "event name"),
            b"type" => (&mut env.kind, "invalid type for type", false, "read: call type"),
            b"name" => (&mut env.name, "invalid type for name", false, "read: page naming"),
            b"category" => (&mut env.category, "invalid type for category", false, "read: page naming"),
            b"userId" => (&mut env.user_id, "invalid type for userId", true, "hashed into distinct_id"),
            b"anonymousId" => (&mut env.anonymous_id, "invalid type for anonymousId", true, "hashed into distinct_id"),
            b"messageId" => (&mut env.message_id, "invalid type for messageId", false, "hashed into $insert_id"),
            b"timestamp" => (&mut env.timestamp, "invalid type for timestamp", false, "converted to time"),
            b"originalTimestamp" => {
                (&mut env.original_timestamp, "invalid type for originalTimestamp", false, "converted to time")
            }
            b"properties" => {
                env.properties = self.scrub_properties(sc, walker, root, kind)?;
                return Ok(None);
            }
            other => {
                if !self.includes.iter().any(|i| *i.path[0] == *other) {
                    sc.skip_value()?;
                    return Ok(Some("not forwarded: mixpanel shape"));
                }
                let child = walker.policy.step(walker.sets, root.clone(), other, key.fingerprint);
                let candidates: Vec<usize> =
                    (0..self.includes.len()).filter(|&i| *self.includes[i].path[0] == *other).collect();
                let allowed = walker.allowed_at(&walker.sets[child.clone()], false);
                self.follow(sc, walker, child, &candidates, 1, allowed)?;
                walker.sets.truncate(root.end);
                return Ok(None);
            }
        };
        *slot = read_scalar(sc, kind, numbers_ok).map_err(|e| match e {
            ScalarError::Json(e) => DropReason::from(e),
            ScalarError::WrongType => DropReason::InvalidField(label),
        })?;
        Ok(Some(outcome))
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
        let child = walker.policy.step(walker.sets, root.clone(), b"properties", fingerprint(b"properties"));
        let set = &walker.sets[child.clone()];
        let written = if walker.keeps(set, kind) {
            let allowed = walker.allowed_at(set, false);
            Some(walker.object(sc, child, allowed, &self.reserved, &mut self.properties)?)
        } else {
            sc.skip_value()?;
            None
        };
        walker.sets.truncate(root.end);
        Ok(written)
    }

    /// Walks towards `properties_from` sources; `candidates` are the includes whose first
    /// `depth` segments match the path so far.
    fn follow(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        set: Range<usize>,
        candidates: &[usize],
        depth: usize,
        allowed: bool,
    ) -> Result<(), DropReason> {
        let kind = sc.peek_kind()?;
        let targets: Vec<usize> =
            candidates.iter().copied().filter(|&i| self.includes[i].path.len() == depth).collect();
        if !targets.is_empty() {
            return self.capture(sc, walker, kind, set, allowed, &targets);
        }
        // A `drop` or `hash` rule on a parent covers everything below it: nothing is taken out.
        if kind != ValueKind::Object || walker.removes_subtree(&walker.sets[set.clone()]) {
            sc.skip_value()?;
            return Ok(());
        }
        sc.begin_object()?;
        while let Some(key) = sc.next_key()? {
            let key_bytes = sc.key_bytes(key);
            let next: Vec<usize> =
                candidates.iter().copied().filter(|&i| *self.includes[i].path[depth] == *key_bytes).collect();
            if next.is_empty() {
                sc.skip_value()?;
                continue;
            }
            let child = walker.policy.step(walker.sets, set.clone(), key_bytes, key.fingerprint);
            let allowed = walker.allowed_at(&walker.sets[child.clone()], allowed);
            walker.audit_push(key_bytes);
            let followed = self.follow(sc, walker, child, &next, depth + 1, allowed);
            walker.audit_pop();
            followed?;
            walker.sets.truncate(set.end);
        }
        Ok(())
    }

    /// Scrubs the value at a `properties_from` source into the capture buffer.
    fn capture(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        kind: ValueKind,
        set: Range<usize>,
        allowed: bool,
        targets: &[usize],
    ) -> Result<(), DropReason> {
        let start = self.captures.len();
        let Some(shape) = walker.field_value(sc, kind, set, allowed, &mut self.captures)? else {
            return Ok(());
        };
        for &t in targets {
            self.includes[t].captured = Some(start..self.captures.len());
            self.includes[t].shape = shape;
        }
        Ok(())
    }

    fn event_name(&mut self, env: &Envelope, buf: &[u8], text: &mut Vec<u8>) -> Result<EventName, DropReason> {
        let kind = match env.kind {
            Some(span) => match decoded(buf, span, text)? {
                b"track" => CallType::Track,
                b"page" => CallType::Page,
                b"screen" => CallType::Screen,
                _ => return Err(DropReason::UnsupportedType),
            },
            None => CallType::Track,
        };
        let (noun, fallback) = match kind {
            CallType::Track => {
                return match env.event {
                    Some(span) if span.end - span.start > 2 => Ok(EventName::Raw(span)),
                    _ => Err(DropReason::MissingEventName),
                }
            }
            CallType::Page => ("Page", "Loaded a Page"),
            CallType::Screen => ("Screen", "Loaded a Screen"),
        };
        let label = match self.page_names {
            PageNaming::Consolidated => None,
            PageNaming::Named => env.name,
            PageNaming::Categorized => env.category.or(env.name),
        };
        self.name.clear();
        match label {
            Some(span) if span.end - span.start > 2 => {
                let label = decoded(buf, span, text)?;
                self.name.push_str("Viewed ");
                self.name.push_str(&String::from_utf8_lossy(label));
                self.name.push(' ');
                self.name.push_str(noun);
            }
            _ => self.name.push_str(fallback),
        }
        Ok(EventName::Built)
    }

    fn check_limits(&self, env: &Envelope) -> Result<(), DropReason> {
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

enum CallType {
    Track,
    Page,
    Screen,
}

enum EventName {
    Raw(Span),
    Built,
}

enum ScalarError {
    Json(JsonError),
    WrongType,
}

/// Reads a string (or, when `numbers_ok`, a number) field; `null` counts as absent.
fn read_scalar(sc: &mut Scanner<'_, '_>, kind: ValueKind, numbers_ok: bool) -> Result<Option<Span>, ScalarError> {
    match kind {
        ValueKind::String => {
            let (start, end, escaped) = sc.scan_string().map_err(ScalarError::Json)?;
            Ok(Some(Span { start, end, escaped, string: true }))
        }
        ValueKind::Number if numbers_ok => {
            let (start, end) = sc.scan_number().map_err(ScalarError::Json)?;
            Ok(Some(Span { start, end, escaped: false, string: false }))
        }
        ValueKind::Null => {
            sc.scan_literal().map_err(ScalarError::Json)?;
            Ok(None)
        }
        _ => Err(ScalarError::WrongType),
    }
}

/// A span's text (a string without its quotes, or a number's text): borrowed from `buf`, or
/// decoded into `text` when the string has escapes.
fn decoded<'a>(buf: &'a [u8], span: Span, text: &'a mut Vec<u8>) -> Result<&'a [u8], JsonError> {
    if !span.string {
        return Ok(&buf[span.start..span.end]);
    }
    if !span.escaped {
        return Ok(&buf[span.start + 1..span.end - 1]);
    }
    text.clear();
    decode_string_into(buf, span.start + 1, span.end - 1, text)?;
    Ok(text)
}

/// The keyed hash of `userId`, or of `anonymousId` when `userId` is absent or a placeholder.
fn distinct_id(env: &Envelope, buf: &[u8], walker: &mut Walker<'_>) -> Result<[u8; 64], DropReason> {
    for span in [env.user_id, env.anonymous_id].into_iter().flatten() {
        let id = decoded(buf, span, walker.text)?;
        if mixpanel::is_usable_distinct_id(id) {
            return Ok(walker.pseudonymizer.hash_hex(id));
        }
    }
    Err(DropReason::MissingDistinctId)
}

fn event_time(
    env: &Envelope,
    buf: &[u8],
    text: &mut Vec<u8>,
    clock: &mut mixpanel::RecentClock,
) -> Result<i64, DropReason> {
    let span = env.timestamp.or(env.original_timestamp).ok_or(DropReason::MissingTimestamp)?;
    let parsed = std::str::from_utf8(decoded(buf, span, text)?).ok().and_then(mixpanel::parse_timestamp_ms);
    let time_ms = parsed.ok_or(DropReason::BadTimestamp)?;
    if !clock.time_in_range(time_ms) {
        return Err(DropReason::TimestampOutOfRange);
    }
    Ok(time_ms)
}

/// 32 hex characters from the keyed hash of `messageId` (or, without one, of the event bytes),
/// so a retried event gets the same `$insert_id` and Mixpanel de-duplicates it.
fn insert_id(
    env: &Envelope,
    buf: &[u8],
    payload: &[u8],
    walker: &mut Walker<'_>,
) -> Result<[u8; mixpanel::INSERT_ID_HEX_LEN], DropReason> {
    let digest = match env.message_id.filter(|s| s.end - s.start > 2) {
        Some(span) => {
            let message_id = decoded(buf, span, walker.text)?;
            walker.pseudonymizer.insert_id_digest(&[INSERT_ID_DOMAIN, message_id])
        }
        None => walker.pseudonymizer.insert_id_digest(&[INSERT_ID_FALLBACK_DOMAIN, payload]),
    };
    let mut hex = [0u8; mixpanel::INSERT_ID_HEX_LEN];
    // Cannot fail: 16 bytes fill 32 hex characters exactly.
    let _ = hex::encode_to_slice(digest, &mut hex);
    Ok(hex)
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
