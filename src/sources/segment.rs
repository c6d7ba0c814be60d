//! Segment tracking-API bodies: one call (`/v1/track`, `/v1/page`, `/v1/screen`), a batch
//! (`/v1/batch`: `{"batch":[…],"context":{…},"integrations":{…}}`), and generic bodies (NDJSON or
//! a JSON array) for agents such as Vector's or Fluent Bit's `http` sinks.
//!
//! Each call is scanned once with the validating scanner and re-spliced: `writeKey` is taken
//! out (credentials do not travel downstream), `type` is set from the endpoint when missing, and
//! a batch's `context` / `integrations` are given to items that have none of their own (an
//! item's own object wins; the two are not deep-merged).

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
    /// The event bytes.
    pub event: Vec<u8>,
    /// `writeKey` from the body.
    pub write_key: Option<String>,
}

/// Envelope fields a batch lends to its items.
#[derive(Debug, Default, Clone, Copy)]
struct Envelope<'a> {
    context: Option<&'a [u8]>,
    integrations: Option<&'a [u8]>,
}

/// Prepares one call. `call` is the endpoint's type (`None` for batch items, which must carry
/// their own).
pub fn prepare_call(body: &[u8], call: Option<&'static str>, state: &mut ScanState) -> Result<Call, BodyError> {
    prepare(body, call, Envelope::default(), state)
}

fn prepare(
    body: &[u8],
    call: Option<&'static str>,
    env: Envelope<'_>,
    state: &mut ScanState,
) -> Result<Call, BodyError> {
    let mut sc = Scanner::new(body, state, MAX_DEPTH)?;
    if sc.peek_kind()? != ValueKind::Object {
        return Err(BodyError::NotAnObject);
    }
    let mut out = Vec::with_capacity(body.len() + 32);
    out.push(b'{');
    let seen = copy_members(&mut sc, call, &mut out)?;
    sc.finish()?;
    add_missing(&mut out, call, env, &seen)?;
    out.push(b'}');
    Ok(Call { event: out, write_key: seen.write_key })
}

/// What [`copy_members`] found among a call's members.
#[derive(Default)]
struct Seen {
    write_key: Option<String>,
    has_type: bool,
    has_context: bool,
    has_integrations: bool,
}

/// Copies the members of the call at the scanner's position into `out` (after its `{`), all
/// but `writeKey`, checking `type` against the endpoint's.
fn copy_members(sc: &mut Scanner<'_, '_>, call: Option<&'static str>, out: &mut Vec<u8>) -> Result<Seen, BodyError> {
    let body = sc.buf();
    sc.begin_object()?;
    let mut seen = Seen::default();
    let mut text = Vec::new();
    while let Some(key) = sc.next_key()? {
        let name = sc.key_bytes(key).to_vec();
        let start = key.quote_start;
        let value_start = sc.pos();
        sc.skip_value()?;
        let value = &body[value_start..sc.pos()];
        match name.as_slice() {
            b"writeKey" => {
                seen.write_key = string_value(value, &mut text);
                continue;
            }
            b"type" => {
                seen.has_type = true;
                let found = string_value(value, &mut text).ok_or(BodyError::BadType)?;
                if let Some(endpoint) = call.filter(|c| *c != found) {
                    return Err(BodyError::TypeMismatch { found, endpoint });
                }
            }
            b"context" => seen.has_context = true,
            b"integrations" => seen.has_integrations = true,
            _ => {}
        }
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(&body[start..sc.pos()]);
    }
    Ok(seen)
}

/// Adds what the call lacks: its `type` from the endpoint, and the batch envelope's `context`
/// and `integrations`.
fn add_missing(out: &mut Vec<u8>, call: Option<&'static str>, env: Envelope<'_>, seen: &Seen) -> Result<(), BodyError> {
    let mut add = |name: &str, value: &[u8]| {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(format!("\"{name}\":").as_bytes());
        out.extend_from_slice(value);
    };
    if !seen.has_type {
        match call {
            Some(c) => add("type", format!("\"{c}\"").as_bytes()),
            None => return Err(BodyError::MissingType(0)),
        }
    }
    if let (false, Some(c)) = (seen.has_context, env.context) {
        add("context", c);
    }
    if let (false, Some(i)) = (seen.has_integrations, env.integrations) {
        add("integrations", i);
    }
    Ok(())
}

fn string_value(raw: &[u8], text: &mut Vec<u8>) -> Option<String> {
    if raw.len() < 2 || raw[0] != b'"' {
        return None;
    }
    text.clear();
    decode_string_into(raw, 1, raw.len() - 1, text).ok()?;
    String::from_utf8(text.clone()).ok()
}

/// Splits and prepares a `/v1/batch` body. Returns the calls and the envelope's write key.
pub fn prepare_batch(
    body: &[u8],
    max_event_bytes: usize,
    max_events: usize,
    state: &mut ScanState,
) -> Result<(Vec<Call>, Option<String>), BodyError> {
    let mut items = Vec::new();
    let mut env = Envelope::default();
    let mut write_key = None;
    let mut text = Vec::new();
    {
        let mut sc = Scanner::new(body, state, MAX_DEPTH)?;
        if sc.peek_kind()? != ValueKind::Object {
            return Err(BodyError::NotAnObject);
        }
        sc.begin_object()?;
        while let Some(key) = sc.next_key()? {
            let name = sc.key_bytes(key).to_vec();
            let start = sc.pos();
            if name == b"batch" {
                if sc.peek_kind()? != ValueKind::Array {
                    return Err(BodyError::BadBatch);
                }
                sc.begin_array()?;
                while sc.next_element()? {
                    let item_start = sc.pos();
                    sc.skip_value()?;
                    items.push(item_start..sc.pos());
                    if items.len() > max_events {
                        return Err(BodyError::TooManyEvents(max_events));
                    }
                }
                continue;
            }
            sc.skip_value()?;
            let value = &body[start..sc.pos()];
            match name.as_slice() {
                b"context" => env.context = Some(value),
                b"integrations" => env.integrations = Some(value),
                b"writeKey" => write_key = string_value(value, &mut text),
                _ => {}
            }
        }
        sc.finish()?;
    }
    let mut calls = Vec::with_capacity(items.len());
    for (i, range) in items.into_iter().enumerate() {
        let item = &body[range];
        if item.len() > max_event_bytes {
            return Err(BodyError::EventTooLarge(max_event_bytes));
        }
        let call = prepare(item, None, env, state).map_err(|e| match e {
            BodyError::MissingType(_) => BodyError::MissingType(i),
            other => other,
        })?;
        calls.push(call);
    }
    Ok((calls, write_key))
}

/// Splits a generic body: NDJSON (one event per non-blank line) when `ndjson`, otherwise one
/// JSON value: an array of events or a single event (which may span lines). Array elements are
/// validated here; NDJSON lines and single events are left to the transform.
pub fn split_generic(
    body: &[u8],
    ndjson: bool,
    max_event_bytes: usize,
    state: &mut ScanState,
) -> Result<Vec<Vec<u8>>, BodyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let events: Vec<Vec<u8>> = if !ndjson && first != Some(&b'[') {
        vec![body.to_vec()]
    } else if !ndjson {
        let mut sc = Scanner::new(body, state, MAX_DEPTH)?;
        sc.begin_array()?;
        let mut out = Vec::new();
        while sc.next_element()? {
            let start = sc.pos();
            sc.skip_value()?;
            out.push(body[start..sc.pos()].to_vec());
        }
        sc.finish()?;
        out
    } else {
        body.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).map(<[u8]>::to_vec).collect()
    };
    if events.iter().any(|e| e.len() > max_event_bytes) {
        return Err(BodyError::EventTooLarge(max_event_bytes));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: &str, endpoint: Option<&'static str>) -> Result<(serde_json::Value, Option<String>), BodyError> {
        let c = prepare_call(body.as_bytes(), endpoint, &mut ScanState::default())?;
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
        let (calls, key) = prepare_batch(body.as_bytes(), 32768, 2500, &mut ScanState::default()).unwrap();
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
            prepare_batch(body.as_bytes(), 32768, 2500, &mut ScanState::default()).unwrap_err(),
            BodyError::MissingType(1)
        );
    }

    #[test]
    fn type_that_is_not_a_string_is_refused() {
        // Found by the segment_body fuzz target: `{"type":false}` in a batch passed as typed.
        let body = r#"{"batch":[{"type":false}]}"#;
        assert_eq!(
            prepare_batch(body.as_bytes(), 32768, 2500, &mut ScanState::default()).unwrap_err(),
            BodyError::BadType
        );
        assert_eq!(call(r#"{"type":7}"#, Some("track")).unwrap_err(), BodyError::BadType);
    }

    #[test]
    fn batch_limits_apply() {
        let body = r#"{"batch":[{"type":"track"},{"type":"track"},{"type":"track"}]}"#;
        assert_eq!(
            prepare_batch(body.as_bytes(), 32768, 2, &mut ScanState::default()).unwrap_err(),
            BodyError::TooManyEvents(2)
        );
        assert_eq!(
            prepare_batch(body.as_bytes(), 10, 5, &mut ScanState::default()).unwrap_err(),
            BodyError::EventTooLarge(10)
        );
    }

    #[test]
    fn generic_bodies_split_as_array_or_ndjson() {
        let mut s = ScanState::default();
        assert_eq!(
            split_generic(b" [{\"a\":1}, {\"b\":2}]", false, 100, &mut s).unwrap(),
            vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]
        );
        assert_eq!(split_generic(b"{\"a\":1}\n\n{\"b\":2}\n", true, 100, &mut s).unwrap().len(), 2);
        assert!(split_generic(b"[{\"a\":1},]", false, 100, &mut s).is_err());
        // Found in review: a pretty-printed single object sent as application/json is one event.
        assert_eq!(split_generic(b"{\n \"a\": 1\n}", false, 100, &mut s).unwrap().len(), 1);
    }
}
