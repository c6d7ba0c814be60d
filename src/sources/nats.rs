//! The `nats` source: events read from a NATS JetStream stream through a durable pull consumer,
//! the delivery tier of a scale-out deployment. Any number of instances with the same consumer
//! share the work.
//!
//! Explicit acknowledgements: a message is acked only once every sink it reached delivered it or
//! wrote it as a dead letter; if one could not, it is nak'ed with a growing delay and comes
//! again. `jetstream.max_ack_pending` bounds the messages in flight across all instances, and
//! what is in flight is redelivered after `jetstream.ack_wait_secs` when an instance dies. The
//! client reconnects on its own after a server restart. Redelivered events reach Mixpanel with
//! the same `$insert_id`, so Mixpanel de-duplicates them: at-least-once delivery, made
//! effectively-once by Mixpanel, not exactly-once.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::PullConsumer, AckKind};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::component::{parse_table, BuildError, SourceConfig, SourceContext, SourcePlugin, Task};
use crate::fanout::Fanout;
use crate::logging::Throttle;
use crate::metrics::{Metrics, Publisher};
use crate::nats::NatsAuth;
use crate::tls::TlsConfig;
use phi_scrub_core::event::{AckGroup, Event};

/// `[sources.NAME] type = "nats"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSourceConfig {
    /// `nats://host:port`.
    pub url: String,
    /// The subject the stream holds (the consumer's filter).
    pub subject: String,
    pub jetstream: JetStreamSource,
    #[serde(default)]
    pub auth: Option<NatsAuth>,
    /// `tls.*`: TLS to the server when `tls.enabled`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `jetstream.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JetStreamSource {
    /// The stream to read (it must exist: the ingest tier's `nats` sink creates it).
    pub stream: String,
    /// The durable pull consumer, created if missing; instances naming the same one share it.
    pub consumer: String,
    /// Messages asked for per fetch.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Messages delivered and not yet acked, across every instance of the consumer.
    #[serde(default = "default_max_ack_pending")]
    pub max_ack_pending: i64,
    /// How long a message may stay unacked before the server delivers it again.
    #[serde(default = "default_ack_wait")]
    pub ack_wait_secs: f64,
}

fn default_batch() -> usize {
    500
}

fn default_max_ack_pending() -> i64 {
    10_000
}

fn default_ack_wait() -> f64 {
    60.0
}

/// The `nats` source's registry entry.
pub const PLUGIN: SourcePlugin = SourcePlugin { type_name: "nats", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SourceConfig>, String> {
    let config = parse_table::<NatsSourceConfig>("nats", table)?;
    let j = &config.jetstream;
    if j.stream.is_empty() || j.consumer.is_empty() || config.subject.is_empty() {
        return Err("`subject`, `jetstream.stream` and `jetstream.consumer` must not be empty".into());
    }
    if j.batch == 0 || j.max_ack_pending <= 0 || !(j.ack_wait_secs.is_finite() && j.ack_wait_secs > 0.0) {
        return Err(
            "`jetstream.batch`, `jetstream.max_ack_pending` and `jetstream.ack_wait_secs` must be positive".into()
        );
    }
    crate::nats::validate(config.auth.as_ref(), config.tls.as_ref())?;
    Ok(Box::new(config))
}

impl SourceConfig for NatsSourceConfig {
    fn build(&self, cx: SourceContext<'_>) -> Result<Task, BuildError> {
        let config = self.clone();
        Ok(Box::pin(async move { run(config, cx.name, cx.out, cx.shutdown, cx.publisher).await }))
    }
}

/// What a settled event tells the acker: the message, and whether every sink kept it.
type Settled = (jetstream::Message, bool);

async fn run(
    config: NatsSourceConfig,
    name: Arc<str>,
    mut out: Fanout,
    mut shutdown: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let client = crate::nats::connect(&config.url, config.auth.as_ref(), config.tls.as_ref(), &name).await?;
    let consumer = consumer(&jetstream::new(client), &config).await?;
    let (settled_tx, settled_rx) = mpsc::unbounded_channel::<Settled>();
    let acker = tokio::spawn(ack_settled(settled_rx));
    let mut metrics = Metrics::default();
    let log = Throttle::default();
    while !*shutdown.borrow_and_update() {
        // Not raced against the shutdown signal: a fetch cancelled half-way would drop events
        // it had made, and an event dropped unsent settles as kept, which would ack messages
        // nobody delivered. A fetch waits at most a second; what it got is sent on (and
        // delivered within the grace period) even when the signal came meanwhile.
        let batch = match fetch(&consumer, &config, &name, &settled_tx).await {
            Ok(batch) if batch.is_empty() => continue,
            Ok(batch) => batch,
            Err(()) => {
                // The server is away: the client reconnects; ask again shortly.
                metrics.add("fetch_errors", 1);
                if let Some(held_back) = log.permit("fetch failed") {
                    tracing::warn!(lines_held_back = held_back, "cannot fetch from the consumer; asking again");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        metrics.events_in += batch.len() as u64;
        metrics.bytes_in += batch.iter().map(|e| e.payload.len() as u64).sum::<u64>();
        let count = batch.len() as u64;
        if out.send(batch).await.is_err() {
            break;
        }
        metrics.events_out += count;
        publisher.publish(&metrics);
    }
    // Downstream closes; the acker ends once every event in flight is settled.
    drop(out);
    drop(settled_tx);
    let _ = acker.await;
    Ok(metrics)
}

/// The durable pull consumer, created if missing.
async fn consumer(js: &jetstream::Context, config: &NatsSourceConfig) -> std::io::Result<PullConsumer> {
    let j = &config.jetstream;
    let stream = js
        .get_stream(&j.stream)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot find stream `{}`: {e}", j.stream)))?;
    let consumer_config = pull::Config {
        durable_name: Some(j.consumer.clone()),
        filter_subject: config.subject.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs_f64(j.ack_wait_secs),
        max_ack_pending: j.max_ack_pending,
        ..pull::Config::default()
    };
    stream
        .get_or_create_consumer(&j.consumer, consumer_config)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot create or find consumer `{}`: {e}", j.consumer)))
}

/// One fetch: up to `jetstream.batch` messages (waiting at most a second for them), each an
/// event whose settling is reported to the acker.
async fn fetch(
    consumer: &PullConsumer,
    config: &NatsSourceConfig,
    name: &Arc<str>,
    settled: &mpsc::UnboundedSender<Settled>,
) -> Result<Vec<Event>, ()> {
    let mut messages = consumer
        .fetch()
        .max_messages(config.jetstream.batch)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .map_err(|_| ())?;
    let mut batch = Vec::new();
    while let Some(message) = messages.next().await {
        let Ok(message) = message else { break };
        let payload = message.payload.clone();
        let settled = settled.clone();
        let group = AckGroup::new(move |ok| {
            // The acker is gone only when the source has ended; the server redelivers then.
            let _ = settled.send((message, ok));
        });
        batch.push(Event::new(payload, name.clone()).with_ack(&group));
    }
    Ok(batch)
}

/// Acks the messages whose events every sink kept, and naks the others with a delay that grows
/// with their delivery count (1 s, 2 s, 4 s… at most a minute), until the source ends and every
/// event in flight is settled.
async fn ack_settled(mut settled: mpsc::UnboundedReceiver<Settled>) {
    while let Some((message, ok)) = settled.recv().await {
        if ok {
            let _ = message.ack().await;
            continue;
        }
        let delivered = message.info().map_or(1, |i| i.delivered).clamp(1, 7);
        let delay = Duration::from_secs(1 << (delivered - 1)).min(Duration::from_secs(60));
        let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
    }
}
