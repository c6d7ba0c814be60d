//! What an answer means: Mixpanel's statuses and bodies (strict mode's `failed_records`,
//! `/track`'s verbose status) turned into delivered, partly rejected, rejected, too large or
//! retry (with `Retry-After`).

use std::time::Duration;

use serde::Deserialize;

use super::config::ResponseMode;
use super::outcome::GiveUp;

/// How one request went.
pub(super) enum Answer {
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

/// `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

pub(super) fn connection_reason(e: &reqwest::Error) -> String {
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

pub(super) fn classify(status: u16, retry_after: Option<Duration>, body: &[u8], mode: ResponseMode) -> Answer {
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
}
