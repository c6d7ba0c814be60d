//! The `nats` sink: events published to a NATS JetStream stream, each counted as delivered only
//! once the stream acknowledged it. The ingest tier of a scale-out deployment: scrub first, so
//! raw PHI never rests on the broker's disk.
//!
//! Every message carries `Nats-Msg-Id` (the event's `$insert_id` when it has one, else a digest
//! of its bytes), so a publish retried after a lost acknowledgement is de-duplicated by the
//! stream. A failed publish is retried with a growing delay, without end: while it waits the
//! sink reads no more batches, so a full stream (created with `discard = "new"`) or a broker
//! that is down is back-pressure that reaches the senders (`http_server` answers 503), never
//! the deletion of older messages. At the shutdown deadline what is still unpublished is lost
//! to this process and its acknowledgements fail, so senders that asked for them retry.

use std::future::IntoFuture;
use std::time::Duration;

use async_nats::jetstream::{self, context::Publish, stream};
use serde::Deserialize;
use tokio::sync::watch;

use crate::component::{parse_table, BuildError, SinkConfig, SinkContext, SinkPlugin, Task};
use crate::fanout::Input;
use crate::logging::Throttle;
use crate::metrics::{Metrics, Publisher};
use crate::nats::NatsAuth;
use crate::tls::TlsConfig;
use phi_scrub_core::event::Event;

/// `[sinks.NAME] type = "nats"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSinkConfig {
    /// `nats://host:port`.
    pub url: String,
    /// The subject events are published on.
    pub subject: String,
    pub jetstream: JetStreamSink,
    #[serde(default)]
    pub auth: Option<NatsAuth>,
    /// `tls.*`: TLS to the server when `tls.enabled`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Retry delays.
    #[serde(default)]
    pub request: NatsRequest,
}

/// `jetstream.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamSink {
    /// Must be `true`: a core NATS publish is not acknowledged, so nothing would say an event
    /// arrived.
    pub enabled: bool,
    /// The stream, created if missing with `subjects = [subject]` and `discard = "new"`.
    pub stream: String,
    /// Stream limits when it is created.
    #[serde(default)]
    pub max_bytes: Option<i64>,
    #[serde(default)]
    pub max_age_secs: Option<u64>,
    #[serde(default)]
    pub replicas: Option<usize>,
}

/// `request.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsRequest {
    #[serde(default = "default_initial_backoff")]
    pub retry_initial_backoff_secs: f64,
    #[serde(default = "default_max_backoff")]
    pub retry_max_backoff_secs: f64,
    /// How long a batch may keep failing before `/ready` reports the sink stuck (it keeps
    /// retrying: nothing is dropped).
    #[serde(default = "default_max_duration")]
    pub retry_max_duration_secs: f64,
}

impl Default for NatsRequest {
    fn default() -> Self {
        Self {
            retry_initial_backoff_secs: default_initial_backoff(),
            retry_max_backoff_secs: default_max_backoff(),
            retry_max_duration_secs: default_max_duration(),
        }
    }
}

fn default_initial_backoff() -> f64 {
    0.1
}

fn default_max_backoff() -> f64 {
    5.0
}

fn default_max_duration() -> f64 {
    60.0
}

/// The `nats` sink's registry entry.
pub const PLUGIN: SinkPlugin = SinkPlugin { type_name: "nats", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SinkConfig>, String> {
    let config = parse_table::<NatsSinkConfig>("nats", table)?;
    if !config.jetstream.enabled {
        return Err("`jetstream.enabled` must be true: core NATS publishes are not acknowledged, so a lost \
                    event would go unnoticed"
            .into());
    }
    if config.subject.is_empty() || config.jetstream.stream.is_empty() {
        return Err("`subject` and `jetstream.stream` must not be empty".into());
    }
    crate::nats::validate(config.auth.as_ref(), config.tls.as_ref())?;
    let r = &config.request;
    let valid = |v: f64| v.is_finite() && v > 0.0;
    if !valid(r.retry_initial_backoff_secs) || !valid(r.retry_max_backoff_secs) || !valid(r.retry_max_duration_secs) {
        return Err("`request.retry_*_secs` must be positive".into());
    }
    Ok(Box::new(config))
}

impl SinkConfig for NatsSinkConfig {
    fn build(&self, cx: SinkContext<'_>) -> Result<Task, BuildError> {
        let config = self.clone();
        Ok(Box::pin(async move { run(config, cx.name, cx.input, cx.deadline, cx.publisher).await }))
    }
}

async fn run(
    config: NatsSinkConfig,
    name: String,
    mut rx: Input,
    mut deadline: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let js = match start(&config, &name).await {
        Ok(js) => js,
        // Batches already queued fail their acknowledgements when `rx` is dropped: an acknowledged
        // sender never gets a 200 for an event never stored.
        Err(e) => return Err(e),
    };
    let mut metrics = Metrics::default();
    let log = Throttle::default();
    while let Some(batch) = rx.recv().await {
        metrics.events_in += batch.len() as u64;
        metrics.bytes_in += batch.iter().map(|e| e.payload.len() as u64).sum::<u64>();
        publish_batch(&js, &config, batch, &mut deadline, &mut metrics, &publisher, &log).await;
        publisher.publish(&metrics);
    }
    Ok(metrics)
}

/// Connects and finds or creates the stream.
async fn start(config: &NatsSinkConfig, name: &str) -> std::io::Result<jetstream::Context> {
    let client = crate::nats::connect(&config.url, config.auth.as_ref(), config.tls.as_ref(), name).await?;
    let js = jetstream::new(client);
    ensure_stream(&js, config).await?;
    Ok(js)
}

/// Creates the stream if it is not there (an existing one is used as it is).
async fn ensure_stream(js: &jetstream::Context, config: &NatsSinkConfig) -> std::io::Result<()> {
    let j = &config.jetstream;
    let stream_config = stream::Config {
        name: j.stream.clone(),
        subjects: vec![config.subject.clone()],
        discard: stream::DiscardPolicy::New,
        max_bytes: j.max_bytes.unwrap_or(-1),
        max_age: j.max_age_secs.map_or(Duration::ZERO, Duration::from_secs),
        num_replicas: j.replicas.unwrap_or(1),
        ..stream::Config::default()
    };
    js.get_or_create_stream(stream_config)
        .await
        .map(|_| ())
        .map_err(|e| std::io::Error::other(format!("cannot create or find stream `{}`: {e}", j.stream)))
}

/// The message id of an event: its `$insert_id` (what Mixpanel de-duplicates by), else a
/// digest of its bytes. Not keyed: the id is stored beside the very bytes it is a digest of.
pub fn message_id(payload: &[u8]) -> String {
    const KEY: &[u8] = b"\"$insert_id\":\"";
    if let Some(at) = memchr::memmem::find(payload, KEY) {
        let rest = &payload[at + KEY.len()..];
        if let Some(end) = memchr::memchr(b'"', rest) {
            if end > 0 && end <= 64 && rest[..end].iter().all(u8::is_ascii_alphanumeric) {
                return String::from_utf8_lossy(&rest[..end]).into_owned();
            }
        }
    }
    blake3::hash(payload).to_hex()[..32].to_owned()
}

/// Publishes a batch until the stream acknowledged every event (retrying what failed with a
/// growing delay), or the shutdown deadline passes.
async fn publish_batch(
    js: &jetstream::Context,
    config: &NatsSinkConfig,
    batch: Vec<Event>,
    deadline: &mut watch::Receiver<bool>,
    metrics: &mut Metrics,
    publisher: &Publisher,
    log: &Throttle,
) {
    let started = std::time::Instant::now();
    let budget = Duration::from_secs_f64(config.request.retry_max_duration_secs);
    let mut stuck = false;
    let mut pending: Vec<(Event, String)> =
        batch.into_iter().map(|e| (message_id(&e.payload), e)).map(|(id, e)| (e, id)).collect();
    let mut delay = Duration::from_secs_f64(config.request.retry_initial_backoff_secs);
    let max_delay = Duration::from_secs_f64(config.request.retry_max_backoff_secs);
    loop {
        pending = publish_once(js, &config.subject, pending, metrics).await;
        if pending.is_empty() {
            if stuck {
                publisher.set_stuck(false);
                tracing::info!("publishing again");
            }
            return;
        }
        if !stuck && started.elapsed() > budget {
            stuck = true;
            publisher.set_stuck(true);
            tracing::error!(
                events = pending.len(),
                budget_secs = budget.as_secs_f64(),
                "publishing has failed past its retry budget; still retrying"
            );
        }
        if let Some(held_back) = log.permit("retrying") {
            let delay_ms = delay.as_millis() as u64;
            tracing::warn!(
                events = pending.len(),
                delay_ms,
                lines_held_back = held_back,
                "the stream did not acknowledge every event (full, or the server is away); retrying"
            );
        }
        metrics.add("publish_retries", pending.len() as u64);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = crate::sinks::http::past(deadline.clone()) => {
                // Lost to this process: the senders' acknowledgements fail, so they retry.
                metrics.add("lost_at_shutdown", pending.len() as u64);
                tracing::warn!(events = pending.len(), "shutdown deadline passed before the stream acknowledged; senders are told to retry");
                for (event, _) in &pending {
                    event.fail_ack();
                }
                return;
            }
        }
        delay = (delay * 2).min(max_delay);
    }
}

/// How long one attempt waits for the stream's acknowledgements, all of them together.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// One attempt: sends every pending event, then waits for the acknowledgements, all within
/// [`ACK_WAIT`]; returns the events that were not acknowledged. (Each acknowledgement's own
/// timeout starts only when it is awaited: awaited one after another, the acks a restarted
/// server never sends took five seconds each, minutes for a batch.) Once a send fails (the
/// client's buffer stays full while the server is away), the rest are not tried this time.
async fn publish_once(
    js: &jetstream::Context,
    subject: &str,
    pending: Vec<(Event, String)>,
    metrics: &mut Metrics,
) -> Vec<(Event, String)> {
    let mut sent = Vec::with_capacity(pending.len());
    // Kept in order: the events whose acks fail, then those not sent, come back as they went.
    let mut unsent = Vec::new();
    for (event, id) in pending {
        if !unsent.is_empty() {
            unsent.push((event, id));
            continue;
        }
        let publish = Publish::build().payload(event.payload.clone()).message_id(&id);
        match js.send_publish(subject.to_owned(), publish).await {
            Ok(ack) => sent.push((event, id, ack)),
            Err(_) => unsent.push((event, id)),
        }
    }
    let mut failed = Vec::new();
    let deadline = tokio::time::Instant::now() + ACK_WAIT;
    for (event, id, ack) in sent {
        match tokio::time::timeout_at(deadline, ack.into_future()).await {
            Ok(Ok(ack)) => {
                metrics.events_out += 1;
                metrics.bytes_out += event.payload.len() as u64;
                if ack.duplicate {
                    metrics.add("duplicates", 1);
                }
                // Dropping the event settles it: its acknowledgement group hears `true`.
            }
            _ => failed.push((event, id)),
        }
    }
    failed.extend(unsent);
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_is_the_insert_id_or_a_digest() {
        let shaped = br#"{"event":"e","properties":{"time":1,"$insert_id":"a51309b67cc8e6c33aedae42fcad4850"}}"#;
        assert_eq!(message_id(shaped), "a51309b67cc8e6c33aedae42fcad4850");
        let plain = br#"{"a":1}"#;
        assert_eq!(message_id(plain), message_id(plain));
        assert_ne!(message_id(plain), message_id(br#"{"a":2}"#));
        assert_eq!(message_id(plain).len(), 32);
        let odd = br#"{"$insert_id":"has space"}"#;
        assert_eq!(message_id(odd).len(), 32, "an id that is not plain is not trusted");
    }

    #[test]
    fn core_nats_and_missing_tables_are_refused() {
        let base = "url = \"nats://127.0.0.1:4222\"\nsubject = \"s\"\n";
        let parse = |extra: &str| parse(toml::from_str(&format!("{base}{extra}")).unwrap()).map(|_| ());
        assert!(parse("jetstream = { enabled = false, stream = \"S\" }").unwrap_err().contains("jetstream.enabled"));
        assert!(parse("jetstream = { enabled = true, stream = \"S\" }").is_ok());
        assert!(parse("jetstream = { enabled = true, stream = \"S\" }\nauth = { strategy = \"token\" }").is_err());
        assert!(parse("jetstream = { enabled = true, stream = \"S\", nope = 1 }").is_err());
    }
}
