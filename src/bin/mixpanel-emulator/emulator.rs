//! A Mixpanel ingestion stand-in for tests: `/import` and `/track` on loopback, behaving as
//! Mixpanel documents, with injectable faults. Mixpanel itself cannot be reached from CI.
//!
//! Followed:
//! - docs.mixpanel.com/reference/import-events: Basic auth with a service account plus
//!   `project_id`; JSON array or NDJSON body; `Content-Encoding: gzip`; at most 2000 events per
//!   request; `strict=1` validates each event, ingests the valid ones and answers 400 with
//!   `failed_records` (`index`, `$insert_id`, `field`, `message`) and `num_records_imported`;
//!   401 `{"code":401,"error":"Invalid credentials","status":"Unauthorized"}`; 413 over the size
//!   limit (`request exceeds max limit of 2097152 bytes`, the OpenAPI example); 429
//!   `Project exceeded rate limits...`.
//! - docs.mixpanel.com/reference/track-event: token in `properties.token`; answers `1` / `0`,
//!   or `{"status":1,"error":null}` with `verbose=1`; events older than 5 days are dropped silently.
//! - docs.mixpanel.com/reference/event-deduplication: events are de-duplicated on
//!   (`event`, `distinct_id`, `time`, `$insert_id`).
//! - Per event: only `event` and `properties` at the top level, `time` after 1971 and at most an
//!   hour ahead, `$insert_id` at most 36 bytes of `[A-Za-z0-9-]`, fewer than 255 properties, and
//!   the `distinct_id` placeholders Mixpanel refuses.
//!
//! `GET /_emulator/stats` returns counters; `GET /_emulator/events` returns the unique accepted
//! events as NDJSON. Faults are chosen per request at random with the configured rates.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use phi_scrub::gzip::{gunzip_bounded, GunzipError};
use phi_scrub_transform::mixpanel;

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Service-account user for `/import`.
    pub user: String,
    /// Service-account secret for `/import`.
    pub secret: String,
    /// The project id `/import` requires.
    pub project_id: String,
    /// The project token `/track` requires.
    pub token: String,
    /// Largest uncompressed body accepted (413 above).
    pub max_body_bytes: usize,
    /// Fraction of requests answered 429 with `Retry-After`.
    pub rate_429: f64,
    /// `Retry-After` seconds on a 429.
    pub retry_after_secs: u64,
    /// Fraction of requests answered 500.
    pub rate_500: f64,
    /// Fraction of requests whose connection is dropped without an answer.
    pub rate_drop: f64,
    /// Fraction of requests answered only after `slow_ms`.
    pub rate_slow: f64,
    /// Delay of a slow answer.
    pub slow_ms: u64,
    /// Append every newly accepted event here, and reload it at start, so that what was
    /// accepted survives a restart of the emulator (as it would at Mixpanel).
    pub journal: Option<std::path::PathBuf>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            user: "svc-user".into(),
            secret: "svc-secret".into(),
            project_id: "12345".into(),
            token: "test-token".into(),
            max_body_bytes: mixpanel::MAX_REQUEST_BYTES,
            rate_429: 0.0,
            retry_after_secs: 1,
            rate_500: 0.0,
            rate_drop: 0.0,
            rate_slow: 0.0,
            slow_ms: 2000,
            journal: None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    journal: Option<std::fs::File>,
    seen: HashSet<(String, String, i64, String)>,
    events: Vec<Bytes>,
    accepted_total: u64,
    duplicates: u64,
    rejected: u64,
    requests: BTreeMap<u16, u64>,
    dropped_connections: u64,
}

type Shared = Arc<(EmulatorConfig, Mutex<State>)>;

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, config: EmulatorConfig) -> std::io::Result<()> {
    let mut state = State::default();
    if let Some(path) = &config.journal {
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines() {
                if let Ok(event) = serde_json::from_str::<Value>(line) {
                    if let Ok(key) = validate_event(&event, i64::MAX / 2, None) {
                        state.seen.insert(key);
                        state.events.push(Bytes::from(line.to_owned()));
                    }
                }
            }
        }
        state.journal = Some(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
    }
    let shared: Shared = Arc::new((config, Mutex::new(state)));
    loop {
        let (stream, _) = listener.accept().await?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, shared.clone()));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Asked to drop the connection: the service fails, and hyper closes it without an answer.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injected: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

async fn handle(req: Request<Incoming>, shared: Shared) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (config, state) = (&shared.0, &shared.1);
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && path.starts_with("/_emulator/") {
        return Ok(inspect(&path, state));
    }
    let roll = fastrand::f64();
    if roll < config.rate_drop {
        lock(state).dropped_connections += 1;
        return Err(DropConnection);
    }
    if fastrand::f64() < config.rate_slow {
        tokio::time::sleep(Duration::from_millis(config.slow_ms)).await;
    }
    let response = if roll < config.rate_drop + config.rate_429 {
        let mut r = answer(
            429,
            json!({"code":429,"error":"Project exceeded rate limits. Please retry the request with exponential backoff.","status":"Too Many Requests"}),
        );
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(config.retry_after_secs));
        r
    } else if roll < config.rate_drop + config.rate_429 + config.rate_500 {
        answer(500, json!({"code":500,"error":"Internal Server Error","status":"Internal Server Error"}))
    } else {
        match (req.method(), path.as_str()) {
            (&Method::POST, "/import") => import(req, config, state).await,
            (&Method::POST, "/track") => track(req, config, state).await,
            _ => answer(404, json!({"code":404,"error":"not found","status":"Not Found"})),
        }
    };
    *lock(state).requests.entry(response.status().as_u16()).or_insert(0) += 1;
    Ok(response)
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn answer(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn inspect(path: &str, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let s = lock(state);
    if path == "/_emulator/events" {
        let mut body = Vec::new();
        for e in &s.events {
            body.extend_from_slice(e);
            body.push(b'\n');
        }
        return Response::new(Full::new(Bytes::from(body)));
    }
    let requests: BTreeMap<String, u64> = s.requests.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    answer(
        200,
        json!({"accepted_unique": s.seen.len(), "accepted_total": s.accepted_total, "duplicates": s.duplicates,
               "rejected": s.rejected, "requests": requests, "dropped_connections": s.dropped_connections}),
    )
}

/// Reads the body: size limit before and after gzip, then a JSON array or NDJSON.
async fn read_events(req: Request<Incoming>, config: &EmulatorConfig) -> Result<Vec<Value>, Response<Full<Bytes>>> {
    let too_large = || {
        answer(
            413,
            json!({"code":413,"error":format!("request exceeds max limit of {} bytes", config.max_body_bytes),"status":"Request Entity Too Large"}),
        )
    };
    let gzip = req.headers().get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let ndjson = req.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/x-ndjson"));
    let body = match Limited::new(req.into_body(), config.max_body_bytes).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(too_large()),
    };
    let body = if gzip {
        match gunzip_bounded(&body, config.max_body_bytes) {
            Ok(out) => Bytes::from(out),
            Err(GunzipError::TooLarge(_)) => return Err(too_large()),
            Err(_) => return Err(bad_request("invalid gzip body")),
        }
    } else {
        body
    };
    let parsed: Result<Vec<Value>, _> = if ndjson {
        body.split(|&b| b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(serde_json::from_slice)
            .collect()
    } else {
        serde_json::from_slice(&body)
    };
    parsed.map_err(|_| bad_request("unable to parse request body as JSON"))
}

fn bad_request(message: &str) -> Response<Full<Bytes>> {
    answer(400, json!({"code":400,"error":message,"status":"Bad Request"}))
}

fn basic_auth_ok(req: &Request<Incoming>, user: &str, secret: &str) -> bool {
    use base64::Engine;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")));
    req.headers().get(AUTHORIZATION).is_some_and(|v| v.as_bytes() == expected.as_bytes())
}

async fn import(req: Request<Incoming>, config: &EmulatorConfig, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or_default().to_owned();
    if !basic_auth_ok(&req, &config.user, &config.secret) {
        return answer(401, json!({"code":401,"error":"Invalid credentials","status":"Unauthorized"}));
    }
    if !query.split('&').any(|kv| kv == format!("project_id={}", config.project_id)) {
        return answer(401, json!({"code":401,"error":"Invalid project_id","status":"Unauthorized"}));
    }
    let events = match read_events(req, config).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if events.len() > mixpanel::MAX_EVENTS_PER_REQUEST {
        return bad_request("max batch size of 2000 events exceeded");
    }
    let now = mixpanel::now_ms();
    let mut failed = Vec::new();
    let mut imported = 0u64;
    let mut s = lock(state);
    for (index, event) in events.iter().enumerate() {
        match validate_event(event, now, None) {
            Ok(key) => {
                imported += 1;
                accept(&mut s, key, event);
            }
            Err((field, message)) => {
                s.rejected += 1;
                let insert_id = event["properties"]["$insert_id"].as_str().unwrap_or_default();
                failed.push(json!({"index": index, "$insert_id": insert_id, "field": field, "message": message}));
            }
        }
    }
    if failed.is_empty() {
        answer(200, json!({"code":200,"num_records_imported":imported,"status":"OK"}))
    } else {
        answer(
            400,
            json!({"code":400,"error":"some data points in the request failed validation","status":"Bad Request",
                   "num_records_imported":imported,"failed_records":failed}),
        )
    }
}

async fn track(req: Request<Incoming>, config: &EmulatorConfig, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let verbose = req.uri().query().unwrap_or_default().split('&').any(|kv| kv == "verbose=1");
    let events = match read_events(req, config).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let now = mixpanel::now_ms();
    let mut s = lock(state);
    let mut error = None;
    for event in &events {
        match validate_event(event, now, Some(&config.token)) {
            Ok(key) if key.2 >= now - 5 * 86_400_000 => accept(&mut s, key, event),
            Ok(_) => {} // older than 5 days: dropped silently, as documented
            Err((field, message)) => {
                s.rejected += 1;
                error.get_or_insert(format!("{field}: {message}"));
            }
        }
    }
    let ok = error.is_none();
    match (verbose, ok) {
        (true, _) => answer(200, json!({"status": u8::from(ok), "error": error})),
        (false, true) => Response::new(Full::new(Bytes::from_static(b"1"))),
        (false, false) => Response::new(Full::new(Bytes::from_static(b"0"))),
    }
}

fn accept(s: &mut State, key: (String, String, i64, String), event: &Value) {
    s.accepted_total += 1;
    if s.seen.insert(key) {
        let line = event.to_string();
        if let Some(journal) = &mut s.journal {
            use std::io::Write;
            let _ = writeln!(journal, "{line}");
        }
        s.events.push(Bytes::from(line));
    } else {
        s.duplicates += 1;
    }
}

type Failure = (&'static str, String);

/// Checks one event as strict mode does; returns its de-duplication key.
fn validate_event(event: &Value, now: i64, token: Option<&str>) -> Result<(String, String, i64, String), Failure> {
    let obj = event.as_object().ok_or(("event", "event must be an object".to_owned()))?;
    if let Some(k) = obj.keys().find(|k| *k != "event" && *k != "properties") {
        return Err(("event", format!("unexpected top-level key `{k}`")));
    }
    let name = obj.get("event").and_then(Value::as_str).filter(|s| !s.is_empty());
    let name = name.ok_or(("event", "'event' must be a non-empty string".to_owned()))?;
    let props =
        obj.get("properties").and_then(Value::as_object).ok_or(("properties", "must be an object".to_owned()))?;
    if props.len() >= 255 {
        return Err(("properties", "too many properties".to_owned()));
    }
    if let Some(t) = token {
        if props.get("token").and_then(Value::as_str) != Some(t) {
            return Err(("properties.token", "invalid token".to_owned()));
        }
    }
    let time = props
        .get("time")
        .and_then(Value::as_f64)
        .ok_or(("properties.time", "'properties.time' is required".to_owned()))?;
    let time_ms = if time < 1e11 { (time * 1000.0) as i64 } else { time as i64 };
    if !mixpanel::time_in_range(time_ms, now) {
        return Err(("properties.time", "'properties.time' is out of range".to_owned()));
    }
    let distinct = match props.get("distinct_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(("properties.distinct_id", "'properties.distinct_id' is required".to_owned())),
    };
    if !mixpanel::is_usable_distinct_id(distinct.as_bytes()) {
        return Err(("properties.distinct_id", "invalid distinct_id".to_owned()));
    }
    let insert_id = props.get("$insert_id").and_then(Value::as_str).unwrap_or_default();
    let insert_ok = !insert_id.is_empty()
        && insert_id.len() <= mixpanel::MAX_INSERT_ID_BYTES
        && insert_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if token.is_none() && !insert_ok {
        return Err(("properties.$insert_id", "'$insert_id' must be 1-36 characters of [A-Za-z0-9-]".to_owned()));
    }
    Ok((name.to_owned(), distinct, time_ms, insert_id.to_owned()))
}
