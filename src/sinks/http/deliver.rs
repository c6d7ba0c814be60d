//! Delivering one batch: encode, send, read Mixpanel's answer, retry what may be retried, and
//! say for every event whether it was delivered or given up (with the reason).
//!
//! Retried: 429, 5xx, timeouts and connection errors, with exponential backoff and jitter,
//! honouring `Retry-After`, bounded by attempts and by total duration. Split: 413 (halves are
//! sent separately until one event is left). Never retried: other 4xx (a 400 counts against
//! Mixpanel's rate limit); 401/403 give the batch up at once with a reason naming the fix.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use serde::Deserialize;

use tokio::sync::watch;

use phi_scrub_core::event::Event;

use super::config::{HttpSettings, ResponseMode};

/// Reason given to events still undelivered when the shutdown grace period ends.
pub const DEADLINE_REASON: &str = "shutdown deadline passed before delivery";

/// Why the sink gave an event up: a stable `label` (the counter in the summary and metrics) and
/// the `detail` written to the dead-letter file (Mixpanel's message, the last status, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiveUp {
    /// Counter label, e.g. `retries exhausted`.
    pub label: &'static str,
    /// Full reason.
    pub detail: String,
}

impl GiveUp {
    /// A reason with its label.
    pub fn new(label: &'static str, detail: impl Into<String>) -> Self {
        Self { label, detail: detail.into() }
    }

    /// The shutdown grace period ended first.
    pub fn deadline() -> Self {
        Self::new("shutdown deadline", DEADLINE_REASON)
    }
}

/// Resolves once `deadline` is (or becomes) true; never if its sender is gone while false.
pub async fn past(mut deadline: watch::Receiver<bool>) {
    while !*deadline.borrow_and_update() {
        if deadline.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What became of one batch.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Events Mixpanel accepted.
    pub delivered: Vec<Event>,
    /// Events given up, with the reason.
    pub dead: Vec<(Event, GiveUp)>,
    /// Retries made.
    pub retries: u64,
    /// Requests sent.
    pub requests: u64,
}

enum Answer {
    Delivered,
    /// Strict mode: these indexes failed (with reasons); the others were ingested.
    Partial(Vec<(usize, GiveUp)>),
    RejectAll(GiveUp),
    TooLarge,
    Retry {
        after: Option<Duration>,
        reason: String,
    },
}

/// Builds the headers every request of this sink carries.
pub(super) fn headers(settings: &HttpSettings) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if settings.gzip {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Some((user, password)) = &settings.basic_auth {
        let mut raw = user.as_bytes().to_vec();
        raw.push(b':');
        raw.extend_from_slice(password.expose());
        let token = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&raw));
        let mut value = HeaderValue::from_str(&format!("Basic {}", token.as_str()))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        value.set_sensitive(true);
        h.insert(AUTHORIZATION, value);
    }
    h
}

/// Delivers `events` (already within the batch limits), retrying and splitting as needed, until
/// `deadline` turns true: then what is left becomes dead letters.
pub async fn deliver(
    client: &reqwest::Client,
    settings: &HttpSettings,
    events: Vec<Event>,
    deadline: watch::Receiver<bool>,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    let mut stack = vec![events];
    while let Some(batch) = stack.pop() {
        match deliver_one(client, settings, batch, &mut outcome, &deadline).await {
            Some(too_large) if too_large.len() > 1 => {
                let mut first = too_large;
                let second = first.split_off(first.len() / 2);
                stack.push(second);
                stack.push(first);
            }
            Some(single) => {
                let reason = GiveUp::new("too large", "event too large for mixpanel (413)");
                outcome.dead.extend(single.into_iter().map(|e| (e, reason.clone())))
            }
            None => {}
        }
    }
    outcome
}

/// Sends one batch until it is settled; returns it back when it must be split (413).
async fn deliver_one(
    client: &reqwest::Client,
    settings: &HttpSettings,
    events: Vec<Event>,
    outcome: &mut BatchOutcome,
    deadline: &watch::Receiver<bool>,
) -> Option<Vec<Event>> {
    let body = encode(&events, settings.gzip);
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        outcome.requests += 1;
        let answer = tokio::select! {
            answer = send(client, settings, body.clone()) => answer,
            () = past(deadline.clone()) => Answer::RejectAll(GiveUp::deadline()),
        };
        let (after, reason) = match answer {
            Answer::Delivered => {
                outcome.delivered.extend(events);
                return None;
            }
            Answer::Partial(failed) => {
                settle_partial(events, failed, outcome);
                return None;
            }
            Answer::RejectAll(reason) => {
                outcome.dead.extend(events.into_iter().map(|e| (e, reason.clone())));
                return None;
            }
            Answer::TooLarge => return Some(events),
            Answer::Retry { after, reason } => (after, reason),
        };
        attempt += 1;
        let delay = backoff(settings, attempt, after);
        if attempt > settings.retry_attempts || started.elapsed() + delay > settings.max_retry_duration {
            let reason =
                GiveUp::new("retries exhausted", format!("retries exhausted after {attempt} attempts: {reason}"));
            outcome.dead.extend(events.into_iter().map(|e| (e, reason.clone())));
            return None;
        }
        outcome.retries += 1;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = past(deadline.clone()) => {
                outcome.dead.extend(events.into_iter().map(|e| (e, GiveUp::deadline())));
                return None;
            }
        }
    }
}

fn settle_partial(events: Vec<Event>, failed: Vec<(usize, GiveUp)>, outcome: &mut BatchOutcome) {
    let mut reasons: Vec<Option<GiveUp>> = vec![None; events.len()];
    for (index, reason) in failed {
        if let Some(slot) = reasons.get_mut(index) {
            *slot = Some(reason);
        }
    }
    for (event, reason) in events.into_iter().zip(reasons) {
        match reason {
            Some(r) => outcome.dead.push((event, r)),
            None => outcome.delivered.push(event),
        }
    }
}

/// Exponential backoff with jitter (half fixed, half random), or `Retry-After` when given.
fn backoff(settings: &HttpSettings, attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(settings.max_retry_duration);
    }
    let exp = settings.initial_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(settings.max_backoff);
    capped / 2 + capped.mul_f64(fastrand::f64() / 2.0)
}

/// The body: a JSON array of the events, gzip-compressed if asked.
pub fn encode(events: &[Event], gzip: bool) -> bytes::Bytes {
    let mut json = Vec::with_capacity(events.iter().map(|e| e.payload.len() + 1).sum::<usize>() + 2);
    json.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        json.extend_from_slice(&e.payload);
    }
    json.push(b']');
    if !gzip {
        return json.into();
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(&json);
    encoder.finish().unwrap_or_default().into()
}

async fn send(client: &reqwest::Client, settings: &HttpSettings, body: bytes::Bytes) -> Answer {
    let response = client.post(&settings.url).headers(headers(settings)).body(body).send().await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Answer::Retry { after: None, reason: connection_reason(&e) },
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let text = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return Answer::Retry { after: None, reason: connection_reason(&e) },
    };
    classify(status, retry_after, &text, settings.mode)
}

/// `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn connection_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "connection error".into()
    }
}

#[derive(Deserialize)]
struct MixpanelError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    failed_records: Option<Vec<FailedRecord>>,
}

#[derive(Deserialize)]
struct FailedRecord {
    index: usize,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct VerboseStatus {
    status: i64,
    #[serde(default)]
    error: Option<String>,
}

fn classify(status: u16, retry_after: Option<Duration>, body: &[u8], mode: ResponseMode) -> Answer {
    match status {
        200..=299 if mode == ResponseMode::MixpanelVerbose => match serde_json::from_slice::<VerboseStatus>(body) {
            Ok(VerboseStatus { status: 1, .. }) => Answer::Delivered,
            Ok(v) => Answer::RejectAll(GiveUp::new(
                "rejected by mixpanel",
                format!("mixpanel rejected the batch: {}", v.error.unwrap_or_default()),
            )),
            Err(_) => Answer::RejectAll(GiveUp::new("refused", "unreadable answer from /track")),
        },
        200..=299 => Answer::Delivered,
        400 if mode == ResponseMode::MixpanelStrict => match serde_json::from_slice::<MixpanelError>(body) {
            Ok(MixpanelError { failed_records: Some(failed), .. }) if !failed.is_empty() => Answer::Partial(
                failed
                    .into_iter()
                    .map(|f| {
                        let field = f.field.unwrap_or_default();
                        let message = f.message.unwrap_or_default();
                        (f.index, GiveUp::new("rejected by mixpanel", format!("mixpanel rejected {field}: {message}")))
                    })
                    .collect(),
            ),
            Ok(e) => Answer::RejectAll(GiveUp::new(
                "rejected by mixpanel",
                format!("mixpanel answered 400: {}", e.error.unwrap_or_default()),
            )),
            Err(_) => Answer::RejectAll(GiveUp::new("rejected by mixpanel", "mixpanel answered 400")),
        },
        401 | 403 => Answer::RejectAll(GiveUp::new(
            "unauthorized",
            format!("mixpanel answered {status}: check auth.user, auth.password and project_id (not retried)"),
        )),
        413 => Answer::TooLarge,
        429 => Answer::Retry { after: retry_after, reason: "429 rate limited".into() },
        500..=599 => Answer::Retry { after: retry_after, reason: format!("{status} from server") },
        _ => Answer::RejectAll(GiveUp::new("refused", format!("answered {status} (not retried)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_400_lists_failed_records() {
        let body = br#"{"code":400,"error":"x","failed_records":[{"index":1,"$insert_id":"a","field":"properties.time","message":"too old"}],"num_records_imported":2}"#;
        match classify(400, None, body, ResponseMode::MixpanelStrict) {
            Answer::Partial(f) => assert_eq!(
                f,
                vec![(1, GiveUp::new("rejected by mixpanel", "mixpanel rejected properties.time: too old"))]
            ),
            _ => panic!("expected a partial answer"),
        }
    }

    #[test]
    fn retryable_and_final_statuses() {
        assert!(
            matches!(classify(429, Some(Duration::from_secs(3)), b"", ResponseMode::MixpanelStrict), Answer::Retry { after: Some(d), .. } if d == Duration::from_secs(3))
        );
        assert!(matches!(classify(503, None, b"", ResponseMode::Plain), Answer::Retry { .. }));
        assert!(matches!(classify(401, None, b"", ResponseMode::MixpanelStrict), Answer::RejectAll(_)));
        assert!(matches!(classify(413, None, b"", ResponseMode::MixpanelStrict), Answer::TooLarge));
        assert!(matches!(classify(404, None, b"", ResponseMode::Plain), Answer::RejectAll(_)));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn verbose_track_status_zero_rejects() {
        assert!(matches!(
            classify(200, None, br#"{"status":1,"error":null}"#, ResponseMode::MixpanelVerbose),
            Answer::Delivered
        ));
        assert!(matches!(
            classify(200, None, br#"{"status":0,"error":"bad"}"#, ResponseMode::MixpanelVerbose),
            Answer::RejectAll(_)
        ));
    }

    #[test]
    fn encoded_batch_is_a_json_array_and_gzip_round_trips() {
        let events: Vec<Event> = ["{\"a\":1}", "{\"b\":2}"]
            .iter()
            .map(|p| Event::new(bytes::Bytes::from_static(p.as_bytes()), "t".into()))
            .collect();
        assert_eq!(&encode(&events, false)[..], b"[{\"a\":1},{\"b\":2}]");
        let gz = encode(&events, true);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, "[{\"a\":1},{\"b\":2}]");
    }
}
