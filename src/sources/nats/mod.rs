//! The `nats` source: events read from a NATS JetStream stream through a durable pull consumer,
//! the delivery tier of a scale-out deployment. Any number of instances with the same consumer
//! share the work.
//!
//! Explicit acknowledgements: a message is acked only once every sink it reached delivered it or
//! wrote it as a dead letter; if one could not, it is nak'ed with a growing delay and comes
//! again (a sink stopping at the shutdown deadline fails it rather than dead-lettering it, so it
//! comes back to a running instance). While a message is held (a sink retrying), it is sent
//! "in progress" every quarter of `jetstream.ack_wait_secs`, so it is not delivered to another
//! instance meanwhile; when an instance dies, what it held is redelivered after
//! `jetstream.ack_wait_secs`. `jetstream.max_ack_pending` bounds the messages in flight across
//! all instances. A message delivered more than `jetstream.max_deliver` times is written to
//! `dead_letter.path` with the reason and acked: never dropped silently, never retried forever. The
//! client reconnects on its own after a server restart. Redelivered events reach Mixpanel with
//! the same `$insert_id`, so Mixpanel de-duplicates them: at-least-once delivery, made
//! effectively-once by Mixpanel, not exactly-once.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::PullConsumer, AckKind};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::watch;

use crate::component::{parse_table, BuildError, SourceConfig, SourceContext, SourcePlugin, Task};
use crate::fanout::Fanout;
use crate::logging::Throttle;
use crate::metrics::{Metrics, Publisher};
use crate::nats::NatsAuth;
use crate::sinks::dead_letter::{DeadLetterConfig, DeadLetterWriter};
use crate::tls::TlsConfig;
use phi_scrub_core::event::Event;

mod acker;
use acker::Acks;

/// How long one fetch may take, its request included, before it is asked again (the server
/// answers within a second; a full client buffer while the server is away would not).
const FETCH_WAIT: Duration = Duration::from_secs(5);

/// How long the last acknowledgements may take to reach the server when the source stops.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

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
    /// Where messages delivered more than `jetstream.max_deliver` times are written; required
    /// unless `jetstream.max_deliver = 0`.
    #[serde(default)]
    pub dead_letter: Option<DeadLetterConfig>,
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
    /// Deliveries after which a message becomes a dead letter; 0 retries without a limit.
    #[serde(default = "default_max_deliver")]
    pub max_deliver: i64,
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

fn default_max_deliver() -> i64 {
    10
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
    if j.max_deliver < 0 {
        return Err("`jetstream.max_deliver` must be 0 (no limit) or more".into());
    }
    if j.max_deliver > 0 && config.dead_letter.is_none() {
        return Err(format!(
            "a message delivered `jetstream.max_deliver` ({}) times becomes a dead letter: set `dead_letter.path`, \
             or `jetstream.max_deliver = 0` to retry without a limit",
            j.max_deliver
        ));
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

async fn run(
    config: NatsSourceConfig,
    name: Arc<str>,
    mut out: Fanout,
    mut shutdown: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let client = crate::nats::connect(&config.url, config.auth.as_ref(), config.tls.as_ref(), &name).await?;
    let consumer = consumer(&jetstream::new(client.clone()), &config).await?;
    let mut dead_letters =
        config.dead_letter.as_ref().map(|c| DeadLetterWriter::open_for_source(&name, c)).transpose()?;
    // A quarter of ack_wait, checked twice as often: a message fetched up to a second before the
    // acker hears of it still gets its "in progress" within ack_wait (down to ack_wait = 2 s).
    let progress_every = Duration::from_secs_f64(config.jetstream.ack_wait_secs / 4.0).max(Duration::from_millis(50));
    let (mut acks, acker) = Acks::start(progress_every);
    let mut metrics = Metrics::default();
    let log = Throttle::default();
    while !*shutdown.borrow_and_update() {
        // Not raced against the shutdown signal: a fetch cancelled half-way would drop events
        // it had made, and an event dropped unsent settles as kept, which would ack messages
        // nobody delivered. A fetch waits at most a second; what it got is sent on (and
        // delivered within the grace period) even when the signal came meanwhile. One cut short
        // by FETCH_WAIT drops only messages not yet made events: unacked, they come again.
        let Ok(Ok(messages)) = tokio::time::timeout(FETCH_WAIT, fetch(&consumer, config.jetstream.batch)).await else {
            // The server is away: the client reconnects; ask again shortly.
            metrics.add("fetch_errors", 1);
            if let Some(held_back) = log.permit("fetch failed") {
                tracing::warn!(lines_held_back = held_back, "cannot fetch from the consumer; asking again");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let (messages, exhausted) = split_exhausted(messages, config.jetstream.max_deliver);
        give_up(exhausted, config.jetstream.max_deliver, &name, &mut dead_letters, &mut metrics, &log).await;
        if messages.is_empty() {
            publisher.publish(&metrics);
            continue;
        }
        let batch: Vec<Event> = messages.into_iter().map(|m| acks.event(m, &name)).collect();
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
    drop(acks);
    if let Ok(counts) = acker.await {
        metrics.add("acked", counts.acked);
        metrics.add("naked", counts.naked);
        metrics.add("in_progress_sent", counts.in_progress);
        metrics.add("acks_unsent", counts.unsent);
    }
    // What the acker handed the client reaches the server before the process exits; what does
    // not (the server is away) is delivered again.
    if tokio::time::timeout(FLUSH_WAIT, client.flush()).await.is_err() {
        tracing::warn!("cannot flush the last acknowledgements; the server delivers those messages again");
    }
    if let Some(writer) = dead_letters {
        writer.finish()?;
    }
    Ok(metrics)
}

/// Separates the messages delivered more than `max_deliver` times (0: no limit).
fn split_exhausted(
    messages: Vec<jetstream::Message>,
    max_deliver: i64,
) -> (Vec<jetstream::Message>, Vec<(jetstream::Message, i64)>) {
    let mut fresh = Vec::with_capacity(messages.len());
    let mut exhausted = Vec::new();
    for message in messages {
        let delivered = message.info().map_or(1, |i| i.delivered);
        if max_deliver > 0 && delivered > max_deliver {
            exhausted.push((message, delivered));
        } else {
            fresh.push(message);
        }
    }
    (fresh, exhausted)
}

/// Writes messages delivered too often as dead letters, then acks them; one that cannot be
/// written is nak'ed instead, so it is never dropped unrecorded.
async fn give_up(
    exhausted: Vec<(jetstream::Message, i64)>,
    max_deliver: i64,
    name: &Arc<str>,
    dead_letters: &mut Option<DeadLetterWriter>,
    metrics: &mut Metrics,
    log: &Throttle,
) {
    let Some(writer) = dead_letters.as_mut() else { return };
    for (message, delivered) in exhausted {
        let event = Event::new(message.payload.clone(), name.clone());
        let reason = format!(
            "delivered {delivered} times without every sink keeping it (jetstream.max_deliver = {max_deliver})"
        );
        let written = writer.write(&event, &reason).and_then(|()| writer.flush());
        if let Err(e) = written {
            metrics.add("dead_letters_lost", 1);
            if let Some(held_back) = log.permit("dead letter lost") {
                tracing::error!(error = %e, lines_held_back = held_back, "cannot write a dead letter; the message stays in the stream");
            }
            let nak = message.ack_with(AckKind::Nak(Some(acker::nak_delay(&message))));
            let _ = tokio::time::timeout(acker::SEND_WAIT, nak).await;
            continue;
        }
        metrics.add("dead_letters", 1);
        metrics.drop_one("max deliveries");
        if let Some(held_back) = log.permit("max deliveries") {
            tracing::error!(delivered, max_deliver, lines_held_back = held_back, "gave a message up as a dead letter");
        }
        let _ = tokio::time::timeout(acker::SEND_WAIT, message.ack()).await;
    }
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

/// One fetch: up to `batch` messages, waiting at most a second for them.
async fn fetch(consumer: &PullConsumer, batch: usize) -> Result<Vec<jetstream::Message>, ()> {
    let mut stream =
        consumer.fetch().max_messages(batch).expires(Duration::from_secs(1)).messages().await.map_err(|_| ())?;
    let mut messages = Vec::new();
    while let Some(message) = stream.next().await {
        let Ok(message) = message else { break };
        messages.push(message);
    }
    Ok(messages)
}
