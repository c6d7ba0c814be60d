//! Sending one batch and retrying: send, act on the answer ([`super::response`]), retry what
//! may be retried, and say for every event whether it was delivered or given up.
//!
//! Retried: 429, 5xx, timeouts and connection errors, with exponential backoff and jitter,
//! honouring `Retry-After`, bounded by attempts and by total duration. Split: 413 (halves are
//! sent separately until one event is left). Never retried: other 4xx (a 400 counts against
//! Mixpanel's rate limit); 401/403 give the batch up at once with a reason naming the fix.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use tokio::sync::watch;

use crate::logging::Throttle;
use phi_scrub_core::event::Event;

use super::config::HttpSettings;
use super::encode::encode;
use super::outcome::{BatchOutcome, GiveUp};
use super::response::{classify, connection_reason, parse_retry_after, Answer};

/// Resolves once `deadline` is (or becomes) true; never if its sender is gone while false.
pub async fn past(mut deadline: watch::Receiver<bool>) {
    while !*deadline.borrow_and_update() {
        if deadline.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Builds the headers every request of this sink carries.
pub(super) fn headers(settings: &HttpSettings) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if settings.gzip.is_some() {
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
/// `deadline` turns true: then what is left becomes dead letters. Retries are logged through
/// `log`.
pub async fn deliver(
    client: &reqwest::Client,
    settings: &HttpSettings,
    events: Vec<Event>,
    deadline: watch::Receiver<bool>,
    log: &Throttle,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    let mut stack = vec![events];
    while let Some(batch) = stack.pop() {
        match deliver_one(client, settings, batch, &mut outcome, &deadline, log).await {
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
    log: &Throttle,
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
        if let Some(held_back) = log.permit("retrying") {
            let delay_ms = delay.as_millis() as u64;
            tracing::warn!(%reason, attempt, delay_ms, events = events.len(), lines_held_back = held_back, "retrying a batch");
        }
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
