//! Segment tracking-API bodies: one call (`/v1/track`, `/v1/page`, `/v1/screen`), a batch
//! (`/v1/batch`: `{"batch":[…],"context":{…},"integrations":{…}}`), and generic bodies (NDJSON or
//! a JSON array) for agents such as Vector's or Fluent Bit's `http` sinks.
//!
//! A body is scanned once with the validating scanner. A call that needs no change is handed on
//! as a slice of the body, without a copy; the others are re-spliced: `writeKey` is taken out
//! (credentials do not travel downstream), `type` is set from the endpoint when missing, and a
//! batch's `context` / `integrations` are given to items that have none of their own (an item's
//! own object wins; the two are not deep-merged).

use std::ops::Range;

use bytes::Bytes;
use thiserror::Error;

use phi_scrub_json::{decode_string_into, JsonError, ScanState, Scanner, ValueKind};

/// Nesting limit while splitting bodies (the transform applies its own, stricter one).
const MAX_DEPTH: usize = 64;

/// Why a body was refused (answered 400 or 413). Never quotes the body.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    #[error("invalid JSON: {0}")]
    Json(#[from] JsonError),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("`type` is `{found}` but the endpoint is /v1/{endpoint}")]
    TypeMismatch { found: String, endpoint: &'static str },
    #[error("batch item {0} has no `type`")]
    MissingType(usize),
    #[error("`type` must be a string")]
    BadType,
    #[error("`batch` must be an array")]
    BadBatch,
    #[error("an event is larger than {0} bytes")]
    EventTooLarge(usize),
    #[error("more than {0} events in one request")]
    TooManyEvents(usize),
}

/// A call ready for the pipeline, and the write key it carried in its body, if any.
#[derive(Debug)]
pub struct Call {
    /// The event bytes: a slice of the body when the call needed no change (no copy).
    pub event: Bytes,
    /// `writeKey` from the body.
    pub write_key: Option<String>,
}

/// Envelope fields a batch lends to its items.
#[derive(Debug, Default, Clone, Copy)]
struct Envelope<'a> {
    context: Option<&'a [u8]>,
    integrations: Option<&'a [u8]>,
}

/// Prepares one call. `call` is the endpoint's type.
pub fn prepare_call(body: &Bytes, call: &'static str, state: &mut ScanState) -> Result<Call, BodyError> {
    let mut text = Vec::new();
    let mut sc = Scanner::new(body, state, MAX_DEPTH)?;
    let scanned = scan_call(&mut sc, Some(call), &mut text)?;
    sc.finish()?;
    finish_call(body, scanned, Some(call), Envelope::default())
}

/// What one pass over a call found: its members of note, where its `writeKey` member is, and
/// its range in the body.
#[derive(Default)]
struct Scanned {
    write_key: Option<String>,
    write_key_member: Option<Range<usize>>,
    has_type: bool,
    has_context: bool,
    has_integrations: bool,
    range: Range<usize>,
}

/// The members a call's preparation looks at.
enum Member {
    WriteKey,
    Type,
    Context,
    Integrations,
    Other,
}

impl Member {
    fn of(key: &[u8]) -> Self {
        match key {
            b"writeKey" => Self::WriteKey,
            b"type" => Self::Type,
            b"context" => Self::Context,
            b"integrations" => Self::Integrations,
            _ => Self::Other,
        }
    }
}

/// Scans the call at the scanner's position once (validating it), noting its `writeKey`,
/// `type`, `context` and `integrations`, and checking `type` against the endpoint's.
fn scan_call(sc: &mut Scanner<'_, '_>, call: Option<&'static str>, text: &mut Vec<u8>) -> Result<Scanned, BodyError> {
    if sc.peek_kind()? != ValueKind::Object {
        return Err(BodyError::NotAnObject);
    }
    let body = sc.buf();
    let start = sc.pos();
    sc.begin_object()?;
    let mut seen = Scanned::default();
    while let Some(key) = sc.next_key()? {
        let member = Member::of(sc.key_bytes(key));
        let value_start = sc.pos();
        sc.skip_value()?;
        let value = &body[value_start..sc.pos()];
        match member {
            Member::WriteKey => {
                seen.write_key = string_value(value, text);
                seen.write_key_member = Some(key.quote_start - start..sc.pos() - start);
            }
            Member::Type => {
                seen.has_type = true;
                let found = string_value(value, text).ok_or(BodyError::BadType)?;
                if let Some(endpoint) = call.filter(|c| *c != found) {
                    return Err(BodyError::TypeMismatch { found, endpoint });
                }
            }
            Member::Context => seen.has_context = true,
            Member::Integrations => seen.has_integrations = true,
            Member::Other => {}
        }
    }
    seen.range = start..sc.pos();
    Ok(seen)
}

/// The call's event: the body's own bytes when nothing changes, else a copy without `writeKey`
/// and with what it lacks (its `type` from the endpoint, the batch's `context` and
/// `integrations`).
fn finish_call(
    body: &Bytes,
    scanned: Scanned,
    call: Option<&'static str>,
    env: Envelope<'_>,
) -> Result<Call, BodyError> {
    let adds_type = !scanned.has_type;
    if adds_type && call.is_none() {
        return Err(BodyError::MissingType(0));
    }
    let context = env.context.filter(|_| !scanned.has_context);
    let integrations = env.integrations.filter(|_| !scanned.has_integrations);
    let write_key = scanned.write_key;
    if scanned.write_key_member.is_none() && !adds_type && context.is_none() && integrations.is_none() {
        return Ok(Call { event: body.slice(scanned.range), write_key });
    }
    let object = &body[scanned.range];
    let mut out = Vec::with_capacity(object.len() + context.map_or(0, <[u8]>::len) + 32);
    match scanned.write_key_member {
        Some(member) => without_member(object, member, &mut out),
        None => out.extend_from_slice(&object[..object.len() - 1]),
    }
    if let Some(c) = call.filter(|_| adds_type) {
        add_member(&mut out, "type", format!("\"{c}\"").as_bytes());
    }
    if let Some(c) = context {
        add_member(&mut out, "context", c);
    }
    if let Some(i) = integrations {
        add_member(&mut out, "integrations", i);
    }
    out.push(b'}');
    Ok(Call { event: Bytes::from(out), write_key })
}

/// Copies a valid object without one of its members and without its closing `}`, taking one
/// comma out with the member.
fn without_member(object: &[u8], member: Range<usize>, out: &mut Vec<u8>) {
    let before = &object[..member.start];
    let after = object[member.end..].trim_ascii_start();
    if let Some(rest) = after.strip_prefix(b",") {
        out.extend_from_slice(before);
        out.extend_from_slice(&rest[..rest.len() - 1]);
    } else {
        // The last member: the comma before it goes.
        let before = before.trim_ascii_end();
        out.extend_from_slice(before.strip_suffix(b",").unwrap_or(before));
    }
}

/// Appends `"name":value` to an object being built (without its closing `}`).
fn add_member(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    if out.trim_ascii_end().last() != Some(&b'{') {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value);
}

fn string_value(raw: &[u8], text: &mut Vec<u8>) -> Option<String> {
    if raw.len() < 2 || raw[0] != b'"' {
        return None;
    }
    text.clear();
    decode_string_into(raw, 1, raw.len() - 1, text).ok()?;
    String::from_utf8(text.clone()).ok()
}

/// Splits and prepares a `/v1/batch` body in one validating pass. Returns the calls and the
/// envelope's write key.
pub fn prepare_batch(
    body: &Bytes,
    max_event_bytes: usize,
    max_events: usize,
    state: &mut ScanState,
) -> Result<(Vec<Call>, Option<String>), BodyError> {
    let mut items = Vec::new();
    let mut env = Envelope::default();
    let mut write_key = None;
    let mut text = Vec::new();
    let mut sc = Scanner::new(body, state, MAX_DEPTH)?;
    if sc.peek_kind()? != ValueKind::Object {
        return Err(BodyError::NotAnObject);
    }
    sc.begin_object()?;
    while let Some(key) = sc.next_key()? {
        let member = Member::of(sc.key_bytes(key));
        if sc.key_bytes(key) == b"batch" {
            if sc.peek_kind()? != ValueKind::Array {
                return Err(BodyError::BadBatch);
            }
            sc.begin_array()?;
            while sc.next_element()? {
                let item = scan_call(&mut sc, None, &mut text)?;
                if item.range.len() > max_event_bytes {
                    return Err(BodyError::EventTooLarge(max_event_bytes));
                }
                items.push(item);
                if items.len() > max_events {
                    return Err(BodyError::TooManyEvents(max_events));
                }
            }
            continue;
        }
        let start = sc.pos();
        sc.skip_value()?;
        let value = &body[start..sc.pos()];
        match member {
            Member::Context => env.context = Some(value),
            Member::Integrations => env.integrations = Some(value),
            Member::WriteKey => write_key = string_value(value, &mut text),
            Member::Type | Member::Other => {}
        }
    }
    sc.finish()?;
    let mut calls = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let call = finish_call(body, item, None, env).map_err(|e| match e {
            BodyError::MissingType(_) => BodyError::MissingType(i),
            other => other,
        })?;
        calls.push(call);
    }
    Ok((calls, write_key))
}

/// Splits a generic body, each event a slice of it: NDJSON (one event per non-blank line) when
/// `ndjson`, otherwise one JSON value: an array of events or a single event (which may span
/// lines). Array elements are validated here; NDJSON lines and single events are left to the
/// transform.
pub fn split_generic(
    body: &Bytes,
    ndjson: bool,
    max_event_bytes: usize,
    state: &mut ScanState,
) -> Result<Vec<Bytes>, BodyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let events: Vec<Bytes> = if !ndjson && first != Some(&b'[') {
        vec![body.clone()]
    } else if !ndjson {
        let mut sc = Scanner::new(body, state, MAX_DEPTH)?;
        sc.begin_array()?;
        let mut out = Vec::new();
        while sc.next_element()? {
            let start = sc.pos();
            sc.skip_value()?;
            out.push(body.slice(start..sc.pos()));
        }
        sc.finish()?;
        out
    } else {
        ndjson_lines(body)
    };
    if events.iter().any(|e| e.len() > max_event_bytes) {
        return Err(BodyError::EventTooLarge(max_event_bytes));
    }
    Ok(events)
}

/// The non-blank lines of an NDJSON body, found with `memchr`.
fn ndjson_lines(body: &Bytes) -> Vec<Bytes> {
    let mut lines = Vec::new();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    for end in ends {
        if !body[start..end].iter().all(u8::is_ascii_whitespace) {
            lines.push(body.slice(start..end));
        }
        start = end + 1;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: &str, endpoint: Option<&'static str>) -> Result<(serde_json::Value, Option<String>), BodyError> {
        let body = Bytes::copy_from_slice(body.as_bytes());
        let c = prepare_call(&body, endpoint.unwrap_or("track"), &mut ScanState::default())?;
        Ok((serde_json::from_slice(&c.event).unwrap(), c.write_key))
    }

    #[test]
    fn write_key_is_taken_out_and_type_set_from_the_endpoint() {
        let (v, key) = call(r#"{"event":"E","writeKey":"wk-123","userId":"u"}"#, Some("track")).unwrap();
        assert_eq!(key.as_deref(), Some("wk-123"));
        assert_eq!(v, serde_json::json!({"event":"E","userId":"u","type":"track"}));
    }

    #[test]
    fn type_that_contradicts_the_endpoint_is_refused() {
        let err = call(r#"{"type":"identify","userId":"u"}"#, Some("page")).unwrap_err();
        assert_eq!(err, BodyError::TypeMismatch { found: "identify".into(), endpoint: "page" });
    }

    #[test]
    fn batch_lends_context_to_items_without_one_and_keeps_their_own() {
        let body = r#"{"writeKey":"k","context":{"ip":"1.2.3.4"},"batch":[
            {"type":"track","event":"A"},{"type":"page","context":{"own":true}}]}"#;
        let (calls, key) =
            prepare_batch(&Bytes::copy_from_slice(body.as_bytes()), 32768, 2500, &mut ScanState::default()).unwrap();
        assert_eq!(key.as_deref(), Some("k"));
        let a: serde_json::Value = serde_json::from_slice(&calls[0].event).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&calls[1].event).unwrap();
        assert_eq!(a["context"]["ip"], "1.2.3.4");
        assert_eq!(b["context"], serde_json::json!({"own": true}));
    }

    #[test]
    fn batch_item_without_type_is_refused_by_index() {
        let body = r#"{"batch":[{"type":"track","event":"A"},{"event":"B"}]}"#;
        assert_eq!(
            prepare_batch(&Bytes::copy_from_slice(body.as_bytes()), 32768, 2500, &mut ScanState::default())
                .unwrap_err(),
            BodyError::MissingType(1)
        );
    }

    #[test]
    fn type_that_is_not_a_string_is_refused() {
        // Found by the segment_body fuzz target: `{"type":false}` in a batch passed as typed.
        let body = r#"{"batch":[{"type":false}]}"#;
        assert_eq!(
            prepare_batch(&Bytes::copy_from_slice(body.as_bytes()), 32768, 2500, &mut ScanState::default())
                .unwrap_err(),
            BodyError::BadType
        );
        assert_eq!(call(r#"{"type":7}"#, Some("track")).unwrap_err(), BodyError::BadType);
    }

    #[test]
    fn batch_limits_apply() {
        let body = r#"{"batch":[{"type":"track"},{"type":"track"},{"type":"track"}]}"#;
        assert_eq!(
            prepare_batch(&Bytes::copy_from_slice(body.as_bytes()), 32768, 2, &mut ScanState::default()).unwrap_err(),
            BodyError::TooManyEvents(2)
        );
        assert_eq!(
            prepare_batch(&Bytes::copy_from_slice(body.as_bytes()), 10, 5, &mut ScanState::default()).unwrap_err(),
            BodyError::EventTooLarge(10)
        );
    }

    #[test]
    fn generic_bodies_split_as_array_or_ndjson() {
        let mut s = ScanState::default();
        assert_eq!(
            split_generic(&Bytes::from_static(b" [{\"a\":1}, {\"b\":2}]"), false, 100, &mut s).unwrap(),
            vec![Bytes::from_static(b"{\"a\":1}"), Bytes::from_static(b"{\"b\":2}")]
        );
        assert_eq!(
            split_generic(&Bytes::from_static(b"{\"a\":1}\n\n{\"b\":2}\n"), true, 100, &mut s).unwrap().len(),
            2
        );
        assert!(split_generic(&Bytes::from_static(b"[{\"a\":1},]"), false, 100, &mut s).is_err());
        // Found in review: a pretty-printed single object sent as application/json is one event.
        assert_eq!(split_generic(&Bytes::from_static(b"{\n \"a\": 1\n}"), false, 100, &mut s).unwrap().len(), 1);
    }

    #[test]
    fn a_call_that_needs_no_change_is_a_slice_of_the_body_not_a_copy() {
        let body = Bytes::copy_from_slice(br#"{"writeKey":"k","batch":[ {"type":"track","event":"A"} ]}"#);
        let (calls, _) = prepare_batch(&body, 32768, 10, &mut ScanState::default()).unwrap();
        assert_eq!(&calls[0].event[..], br#"{"type":"track","event":"A"}"#);
        let inside = body.as_ptr_range();
        assert!(inside.contains(&calls[0].event.as_ptr()), "copied");
    }

    #[test]
    fn the_write_key_comes_out_wherever_it_stands() {
        for (body, want) in [
            (r#"{"writeKey":"k","type":"track","a":1}"#, serde_json::json!({"type":"track","a":1})),
            (r#"{"type":"track", "writeKey" : "k" ,"a":1}"#, serde_json::json!({"type":"track","a":1})),
            (r#"{ "type":"track","a":1 , "writeKey":"k" }"#, serde_json::json!({"type":"track","a":1})),
            (r#"{"writeKey":"k"}"#, serde_json::json!({"type":"track"})),
            (r#" { "writeKey" : "k" } "#, serde_json::json!({"type":"track"})),
        ] {
            let (v, key) = call(body, Some("track")).unwrap();
            assert_eq!((v, key.as_deref()), (want, Some("k")), "{body}");
        }
    }

    proptest::proptest! {
        /// Whatever the members, their order and the whitespace, a call comes out as its members
        /// without `writeKey`, with `type` added when missing.
        #[test]
        fn prepared_calls_are_the_members_without_the_write_key(
            members in proptest::collection::btree_map("[a-z]{1,6}", 0u32..1000, 0..6),
            key_at in 0usize..7,
            with_key in proptest::bool::ANY,
            ws in "[ \t\n]{0,2}",
        ) {
            proptest::prop_assume!(!members.contains_key("type"));
            let mut parts: Vec<String> = members.iter().map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}")).collect();
            if with_key {
                parts.insert(key_at.min(parts.len()), format!("{ws}\"writeKey\"{ws}:{ws}\"wk\"{ws}"));
            }
            let body = format!("{ws}{{{}}}{ws}", parts.join(","));
            let (got, key) = call(&body, Some("track")).unwrap();
            let mut want: serde_json::Map<String, serde_json::Value> =
                members.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect();
            want.entry("type").or_insert_with(|| serde_json::json!("track"));
            proptest::prop_assert_eq!(got, serde_json::Value::Object(want));
            proptest::prop_assert_eq!(key.is_some(), with_key);
        }
    }
}
