//! The `http_server` source: Segment's tracking API (`POST /v1/track`, `/v1/page`,
//! `/v1/screen`, `/v1/batch`) and a generic endpoint (`path`, NDJSON or a JSON array) so that
//! Vector's or Fluent Bit's `http` sinks can feed phi-scrub.
//!
//! Limits are Segment's: 32 KB per event, 500 KB per request, 2500 events per batch; bodies may
//! be gzip-compressed and are bounded after decompression too. Errors are JSON:
//! `{"success":false,"message":…}` with 400, 401, 413, 415 or 503. A request is answered 200
//! once its events are in the pipeline; when the pipeline is full the answer is 503 with
//! `Retry-After` rather than more memory. With `acknowledgements = true` the answer waits until
//! every event of the request has been delivered or dead-lettered, so a client that retries on
//! failure loses nothing even if phi-scrub is killed (Mixpanel's `$insert_id` absorbs repeats).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::http_body::{self, BodyBudget, Held, ReadError};
use super::segment::{prepare_batch, prepare_call, split_generic, BodyError};
use crate::component::{parse_table, BuildError, SourceConfig, SourceContext, SourcePlugin, Task};
use crate::fanout::{Fanout, SendError};
use crate::logging::Throttle;
use crate::metrics::{Metrics, Publisher};
use crate::tls::{ReloadableAcceptor, TlsConfig};
use phi_scrub_core::event::{AckGroup, Event};
use phi_scrub_core::secret::SecretBytes;
use phi_scrub_json::ScanState;

const fn default_max_event_bytes() -> usize {
    32 * 1024
}
const fn default_max_body_bytes() -> usize {
    500 * 1024
}
/// 16 MiB: above what agents send at their defaults (Vector's `http` sink batches up to
/// 10,000,000 bytes, Fluent Bit's chunks up to ~2 MB).
const fn default_generic_max_body_bytes() -> usize {
    16 * 1024 * 1024
}
/// 64 MiB held by request bodies at once, across all requests.
const fn default_body_buffer_bytes() -> usize {
    64 * 1024 * 1024
}
const fn default_max_batch_events() -> usize {
    2500
}
fn default_path() -> String {
    "/events".into()
}
const fn default_shutdown_grace_secs() -> f64 {
    10.0
}

/// `[sources.NAME] type = "http_server"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub address: String,
    /// Accepted Segment write keys (HTTP Basic user, empty password, or `writeKey` in the
    /// body). Empty: no authentication.
    #[serde(default)]
    pub write_keys: Vec<SecretBytes>,
    /// Path of the generic endpoint (NDJSON or JSON array bodies).
    #[serde(default = "default_path")]
    pub path: String,
    /// Largest event (Segment: 32 KB).
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// Largest request body on Segment's endpoints, after decompression (Segment: 500 KB).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Largest request body on the generic endpoint (`path`), after decompression: 16 MiB,
    /// above Vector's 10 MB default batch and Fluent Bit's 2 MB chunks. Above it: 413, which
    /// agents do not retry (lower Vector's `batch.max_bytes` or Fluent Bit's chunk size).
    #[serde(default = "default_generic_max_body_bytes")]
    pub generic_max_body_bytes: usize,
    /// Most bytes all request bodies may hold at once; a body that does not fit now is answered
    /// 503 with `Retry-After`, which Segment's SDKs, Vector and Fluent Bit retry. At least twice
    /// the larger of the two body limits (a gzip body holds both its forms at once).
    #[serde(default = "default_body_buffer_bytes")]
    pub body_buffer_bytes: usize,
    /// Most events in one batch request (Segment: 2500).
    #[serde(default = "default_max_batch_events")]
    pub max_batch_events: usize,
    /// Answer only once every event of the request is delivered or dead-lettered.
    #[serde(default)]
    pub acknowledgements: bool,
    /// On shutdown, how long open requests may take to finish, in seconds.
    #[serde(default = "default_shutdown_grace_secs")]
    pub shutdown_grace_secs: f64,
    /// Vector's `decoding.codec`: `json` is accepted (and is what is read).
    #[serde(default)]
    pub decoding: Option<crate::vector_compat::Decoding>,
    /// TLS: `tls.enabled`, `tls.crt_file`, `tls.key_file` (PEM); for client certificates,
    /// `tls.ca_file` with `tls.verify_certificate = true`. Files are re-read on SIGHUP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

struct Ctx {
    name: Arc<str>,
    config: HttpServerConfig,
    budget: BodyBudget,
    /// Taken at shutdown, so the pipeline can drain even if a client holds a connection open.
    out: Mutex<Option<Fanout>>,
    metrics: Mutex<Metrics>,
    publisher: Publisher,
    /// Keeps a storm of refusals to a line now and then.
    log: Throttle,
}

/// The `http_server` source's registry entry.
pub const PLUGIN: SourcePlugin = SourcePlugin { type_name: "http_server", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SourceConfig>, String> {
    let config = parse_table::<HttpServerConfig>("http_server", table)?;
    if config.body_buffer_bytes / 2 < config.max_body_bytes.max(config.generic_max_body_bytes) {
        // A body that could never fit would be answered 503 forever; a gzip body holds its
        // compressed and its inflated bytes at once.
        return Err("`body_buffer_bytes` must be at least twice `max_body_bytes` and `generic_max_body_bytes`".into());
    }
    if config.write_keys.iter().any(|k| k.is_empty()) {
        // An empty key (`${SEGMENT_WRITE_KEY}` set but empty) would let any request in.
        return Err("`write_keys` holds an empty key: is its variable set but empty?".into());
    }
    if let Some(tls) = config.tls.as_ref().filter(|t| t.enabled) {
        tls.server_config().map_err(|e| e.to_string())?;
    }
    Ok(Box::new(config))
}

impl SourceConfig for HttpServerConfig {
    fn build(&self, cx: SourceContext<'_>) -> Result<Task, BuildError> {
        Ok(Box::pin(run(cx.name, self.clone(), cx.out, cx.shutdown, cx.publisher)))
    }
}

/// Serves until `shutdown` flips, then lets open requests finish within the grace period.
pub async fn run(
    name: Arc<str>,
    config: HttpServerConfig,
    out: Fanout,
    mut shutdown: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let listener = TcpListener::bind(&config.address).await?;
    let tls_on = config.tls.as_ref().is_some_and(|t| t.enabled);
    tracing::info!(address = %config.address, tls = tls_on, "listening");
    let grace = Duration::try_from_secs_f64(config.shutdown_grace_secs).unwrap_or(Duration::from_secs(10));
    let budget = BodyBudget::new(config.body_buffer_bytes);
    let out = Mutex::new(Some(out));
    let tls = match config.tls.clone().filter(|t| t.enabled) {
        Some(t) => Some(ReloadableAcceptor::new(t).map_err(std::io::Error::other)?),
        None => None,
    };
    let reloader = tls.clone().map(|t| tokio::spawn(t.reload_on_sighup(name.to_string())));
    let metrics = Mutex::new(Metrics::default());
    let ctx = Arc::new(Ctx { name, config, budget, out, metrics, publisher, log: Throttle::default() });
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors, say: back off instead of spinning on accept.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let acceptor = tls.as_ref().map(ReloadableAcceptor::current);
                tokio::spawn(serve_connection(stream, acceptor, ctx.clone(), graceful.watcher()));
            }
            _ = shutdown.changed() => break,
        }
    }
    if let Some(task) = reloader {
        task.abort();
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    if let Ok(mut out) = ctx.out.lock() {
        out.take();
    }
    let metrics = ctx.metrics.lock().map(|m| m.clone()).unwrap_or_default();
    Ok(metrics)
}

/// How long a request with acknowledgements waits for room in a full pipeline before its 503.
const ROOM_WAIT: Duration = Duration::from_secs(1);

/// A client has this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection, after the TLS handshake when TLS is on. A client that fails the
/// handshake (plain HTTP on a TLS port, an untrusted or missing client certificate) is counted
/// and dropped; the server goes on serving.
async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, ctx: Arc<Ctx>, watcher: Watcher) {
    let service = {
        let ctx = ctx.clone();
        service_fn(move |req| handle(req, ctx.clone()))
    };
    let Some(acceptor) = tls else {
        let _ = watcher.watch(http1::Builder::new().serve_connection(TokioIo::new(stream), service)).await;
        return;
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let _ = watcher.watch(http1::Builder::new().serve_connection(TokioIo::new(stream), service)).await;
        }
        _ => {
            if let Ok(mut m) = ctx.metrics.lock() {
                m.add("tls_handshakes_failed", 1);
                ctx.publisher.publish(&m);
            }
        }
    }
}

/// What a request is answered with.
type Answer = Response<Full<Bytes>>;

/// A request's events, and the write key its body carried.
type Received = (Vec<Bytes>, Option<String>);

fn reply(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = if status == StatusCode::OK {
        "{\"success\":true}".to_owned()
    } else {
        serde_json::json!({"success": false, "message": message}).to_string()
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Answers a request with an error, counted by `label`, and logged: back-pressure and bad
/// credentials as warnings (throttled), what a sender got wrong at debug level. The line names
/// the label and status only, never the request.
fn refuse(ctx: &Ctx, status: StatusCode, label: &'static str, message: &str) -> Response<Full<Bytes>> {
    if let Ok(mut m) = ctx.metrics.lock() {
        m.drop_one(label);
        ctx.publisher.publish(&m);
    }
    let status_code = status.as_u16();
    if matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::UNAUTHORIZED | StatusCode::INTERNAL_SERVER_ERROR)
    {
        if let Some(held_back) = ctx.log.permit(label) {
            tracing::warn!(component_id = %ctx.name, reason = label, status = status_code, lines_held_back = held_back, "refusing requests");
        }
    } else {
        tracing::debug!(component_id = %ctx.name, reason = label, status = status_code, "request refused");
    }
    reply(status, message)
}

async fn handle(req: Request<Incoming>, ctx: Arc<Ctx>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match route(req, &ctx).await {
        Ok(response) => response,
        Err(response) => response,
    })
}

enum Endpoint {
    Call(&'static str),
    Batch,
    Generic,
}

async fn route(req: Request<Incoming>, ctx: &Ctx) -> Result<Response<Full<Bytes>>, Response<Full<Bytes>>> {
    let endpoint = match req.uri().path() {
        "/v1/track" => Endpoint::Call("track"),
        "/v1/page" => Endpoint::Call("page"),
        "/v1/screen" => Endpoint::Call("screen"),
        "/v1/batch" => Endpoint::Batch,
        p if p == ctx.config.path => Endpoint::Generic,
        _ => return Err(refuse(ctx, StatusCode::NOT_FOUND, "not found", "no such endpoint")),
    };
    if req.method() != Method::POST {
        return Err(refuse(ctx, StatusCode::METHOD_NOT_ALLOWED, "method not allowed", "use POST"));
    }
    let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.as_bytes().to_ascii_lowercase()).unwrap_or_default();
    let json = content_type.starts_with(b"application/json");
    let ndjson = content_type.starts_with(b"application/x-ndjson");
    if !(json || (ndjson && matches!(endpoint, Endpoint::Generic))) {
        return Err(refuse(
            ctx,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "wrong content type",
            "send Content-Type: application/json",
        ));
    }
    let basic_key = basic_user(&req);
    // A Basic-auth key decides on its own: an unknown one is refused before the body is read
    // (it would take room in the body budget for nothing).
    if basic_key.is_some() && !write_key_known(basic_key.as_deref(), ctx) {
        return Err(refuse(ctx, StatusCode::UNAUTHORIZED, "unauthorized", "missing or unknown write key"));
    }
    let limit = match endpoint {
        Endpoint::Generic => ctx.config.generic_max_body_bytes,
        _ => ctx.config.max_body_bytes,
    };
    // Held until the events are in the pipeline (or refused): the budget bounds what bodies
    // hold in memory at once.
    let (body, _held) = read_body(req, ctx, limit).await?;
    let (events, body_key) = events_of(&body, endpoint, ndjson, ctx).map_err(|refused| *refused)?;
    // A Basic-auth key was checked above; otherwise the body's key decides.
    if basic_key.is_none() && !write_key_known(body_key.as_deref(), ctx) {
        return Err(refuse(ctx, StatusCode::UNAUTHORIZED, "unauthorized", "missing or unknown write key"));
    }
    deliver(events, body.len(), ctx).await
}

/// The events of a body read from `endpoint`, and the write key it carried; or the answer
/// refusing it.
fn events_of(body: &Bytes, endpoint: Endpoint, ndjson: bool, ctx: &Ctx) -> Result<Received, Box<Answer>> {
    let mut state = ScanState::default();
    let refused = |e: BodyError| Box::new(body_error(ctx, &e));
    match endpoint {
        Endpoint::Call(call) => {
            if body.len() > ctx.config.max_event_bytes {
                return Err(Box::new(refuse(ctx, StatusCode::PAYLOAD_TOO_LARGE, "too large", "event over 32 KB")));
            }
            let c = prepare_call(body, call, &mut state).map_err(refused)?;
            Ok((vec![c.event], c.write_key))
        }
        Endpoint::Batch => {
            let (calls, key) = prepare_batch(body, ctx.config.max_event_bytes, ctx.config.max_batch_events, &mut state)
                .map_err(refused)?;
            Ok((calls.into_iter().map(|c| c.event).collect(), key))
        }
        Endpoint::Generic => {
            let events = split_generic(body, ndjson, ctx.config.max_event_bytes, &mut state).map_err(refused)?;
            Ok((events, None))
        }
    }
}

/// Whether the request carries a known write key (always, when none are set). Compared in
/// constant time, and against every key, so timing tells nothing of them.
fn write_key_known(given: Option<&str>, ctx: &Ctx) -> bool {
    if ctx.config.write_keys.is_empty() {
        return true;
    }
    let given = given.unwrap_or_default();
    let known =
        ctx.config.write_keys.iter().fold(subtle::Choice::from(0), |found, k| {
            found | subtle::ConstantTimeEq::ct_eq(k.expose(), given.as_bytes())
        });
    bool::from(known)
}

fn body_error(ctx: &Ctx, e: &BodyError) -> Response<Full<Bytes>> {
    match e {
        BodyError::EventTooLarge(_) | BodyError::TooManyEvents(_) => {
            refuse(ctx, StatusCode::PAYLOAD_TOO_LARGE, "too large", &e.to_string())
        }
        _ => refuse(ctx, StatusCode::BAD_REQUEST, "invalid body", &e.to_string()),
    }
}

fn basic_user(req: &Request<Incoming>) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':').map_or(text.as_str(), |(user, _)| user).to_owned())
}

/// The body, bounded before and after gzip decompression and by the shared budget.
async fn read_body(req: Request<Incoming>, ctx: &Ctx, limit: usize) -> Result<(Bytes, Held), Response<Full<Bytes>>> {
    let gzip = req.headers().get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    match http_body::read(req.into_body(), declared, gzip, limit, &ctx.budget).await {
        Ok(read) => Ok(read),
        Err(ReadError::TooLarge) => {
            Err(refuse(ctx, StatusCode::PAYLOAD_TOO_LARGE, "too large", &too_large_message(limit)))
        }
        Err(ReadError::NoRoom) => {
            Err(busy(ctx, "body buffer full", "too many request bodies in progress, retry later"))
        }
        Err(ReadError::Invalid(why)) => Err(refuse(ctx, StatusCode::BAD_REQUEST, "invalid body", why)),
    }
}

/// What a 413 says: the limit and, since agents drop what is refused with a 4xx, which option
/// to lower.
fn too_large_message(limit: usize) -> String {
    format!(
        "request body over {limit} bytes; send smaller batches (Vector: batch.max_bytes, Fluent Bit: a smaller chunk \
         size, Segment: 500 KB per batch)"
    )
}

/// A 503 with `Retry-After`: the request is fine but cannot be taken now.
fn busy(ctx: &Ctx, label: &'static str, message: &str) -> Response<Full<Bytes>> {
    let mut r = refuse(ctx, StatusCode::SERVICE_UNAVAILABLE, label, message);
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

async fn deliver(events: Vec<Bytes>, bytes: usize, ctx: &Ctx) -> Result<Response<Full<Bytes>>, Response<Full<Bytes>>> {
    let count = events.len() as u64;
    let mut batch: Vec<Event> = events.into_iter().map(|e| Event::new(e, ctx.name.clone())).collect();
    let out = ctx.out.lock().ok().and_then(|o| o.clone());
    let Some(mut out) = out else {
        return Err(refuse(ctx, StatusCode::SERVICE_UNAVAILABLE, "shutting down", "shutting down"));
    };
    if ctx.config.acknowledgements {
        let (settled, done) = tokio::sync::oneshot::channel();
        let group = AckGroup::new(move |ok| {
            let _ = settled.send(ok);
        });
        batch = batch.into_iter().map(|e| e.with_ack(&group)).collect();
        drop(group);
        // A full pipeline is waited for a moment, then answered 503 like without
        // acknowledgements: a stuck sink (a full stream) must reach the sender, not hang it. With
        // several consumers, a send cut short may have reached some: the sender's retry then
        // makes duplicates, which the stream and Mixpanel drop by id.
        match tokio::time::timeout(ROOM_WAIT, out.send(batch)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(refuse(ctx, StatusCode::SERVICE_UNAVAILABLE, "shutting down", "shutting down")),
            Err(_) => return Err(busy(ctx, "pipeline full", "pipeline full, retry later")),
        }
        count_in(ctx, count, bytes);
        return match done.await {
            Ok(true) => Ok(reply(StatusCode::OK, "")),
            _ => Err(refuse(
                ctx,
                StatusCode::INTERNAL_SERVER_ERROR,
                "not stored",
                "some events could not be stored; retry",
            )),
        };
    }
    match out.try_send(batch) {
        Ok(()) => {
            count_in(ctx, count, bytes);
            Ok(reply(StatusCode::OK, ""))
        }
        Err(SendError::Full(_)) => Err(busy(ctx, "pipeline full", "pipeline full, retry later")),
        Err(SendError::Closed) => Err(refuse(ctx, StatusCode::SERVICE_UNAVAILABLE, "shutting down", "shutting down")),
    }
}

fn count_in(ctx: &Ctx, events: u64, bytes: usize) {
    if let Ok(mut m) = ctx.metrics.lock() {
        m.events_in += events;
        m.events_out += events;
        m.bytes_in += bytes as u64;
        m.add("requests", 1);
        ctx.publisher.publish(&m);
    }
}
