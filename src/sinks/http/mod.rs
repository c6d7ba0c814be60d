//! The `http` sink, with presets for Mixpanel's `/import` and `/track`.
//!
//! Events are batched by count, bytes and time; up to `request.concurrency` batches are in
//! flight, and while all slots are busy the sink stops reading its input, so back-pressure
//! reaches the sources. Every event ends delivered or as a dead letter with a reason: when the
//! input closes, the last partial batch is sent and every request in flight is awaited.

mod config;
mod deliver;

use std::sync::Arc;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use config::{HttpSettings, HttpSinkConfig, Preset, Region, ResponseMode};
pub use deliver::{deliver, encode, past, BatchOutcome, GiveUp, DEADLINE_REASON};

use crate::component::{parse_table, BuildError, SinkConfig, SinkContext, SinkPlugin, Task};
use crate::metrics::{Metrics, Publisher};
use crate::sinks::dead_letter::DeadLetterWriter;
use phi_scrub_core::event::Event;

/// Events waiting to be sent, with their encoded size.
struct Pending {
    events: Vec<Event>,
    bytes: usize,
    deadline: Option<Instant>,
}

impl Pending {
    fn new() -> Self {
        Self { events: Vec::new(), bytes: 2, deadline: None }
    }

    fn take(&mut self) -> Vec<Event> {
        self.bytes = 2;
        self.deadline = None;
        std::mem::take(&mut self.events)
    }
}

/// The `http` sink's registry entry. Parsing resolves the settings too, so a preset's limits
/// and missing credentials are reported by `validate`.
pub const PLUGIN: SinkPlugin = SinkPlugin { type_name: "http", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SinkConfig>, String> {
    let config = parse_table::<HttpSinkConfig>(table)?;
    config.resolve()?;
    Ok(Box::new(config))
}

impl SinkConfig for HttpSinkConfig {
    fn build(&self, cx: SinkContext<'_>) -> Result<Task, BuildError> {
        let settings = self.resolve().map_err(BuildError::Invalid)?;
        Ok(Box::pin(async move { run(&cx.name, settings, cx.input, cx.deadline, cx.publisher).await }))
    }
}

/// Runs the sink until its input closes and everything in flight is settled. When `deadline`
/// turns true (the shutdown grace period is over), whatever is not delivered yet, in flight,
/// pending or still arriving, becomes a dead letter with [`DEADLINE_REASON`].
pub async fn run(
    name: &str,
    settings: HttpSettings,
    mut rx: mpsc::Receiver<Vec<Event>>,
    deadline: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let client = reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .build()
        .map_err(|e| std::io::Error::other(format!("cannot build the HTTP client: {e}")))?;
    let mut dead_letters = settings.dead_letter.as_ref().map(|c| DeadLetterWriter::open(name, c)).transpose()?;
    let settings = Arc::new(settings);
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    let mut in_flight: JoinSet<BatchOutcome> = JoinSet::new();
    let mut metrics = Metrics::default();
    let mut pending = Pending::new();
    let mut open = true;
    let mut expired = false;
    while open || !pending.events.is_empty() {
        let batch_due = pending.deadline;
        tokio::select! {
            batch = rx.recv(), if open => match batch {
                Some(batch) => {
                    // Events given up here are released only after their dead letters are flushed.
                    let mut settled = Vec::new();
                    for event in batch {
                        metrics.events_in += 1;
                        metrics.bytes_in += event.payload.len() as u64;
                        if expired {
                            dead_letter(&event, &GiveUp::deadline(), &mut metrics, &mut dead_letters)?;
                            settled.push(event);
                            continue;
                        }
                        if let Some(full) = add(&mut pending, event, &settings, &mut metrics, &mut dead_letters, &mut settled)? {
                            launch(full, &client, &settings, &slots, &mut in_flight, &deadline).await;
                        }
                        if pending.events.len() >= settings.max_events {
                            launch(pending.take(), &client, &settings, &slots, &mut in_flight, &deadline).await;
                        }
                    }
                    flush_or_fail(&mut dead_letters, &settled, &mut metrics);
                    drop(settled);
                }
                None => open = false,
            },
            () = past(deadline.clone()), if !expired => {
                expired = true;
                let events = pending.take();
                for event in &events {
                    dead_letter(event, &GiveUp::deadline(), &mut metrics, &mut dead_letters)?;
                }
                flush_or_fail(&mut dead_letters, &events, &mut metrics);
            }
            _ = sleep_until(batch_due), if batch_due.is_some() => {}
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                settle(done.map_err(|_| std::io::Error::other("a delivery task panicked"))?, &mut metrics, &mut dead_letters)?;
            }
        }
        publisher.publish(&metrics);
        let due = pending.deadline.is_some_and(|d| d <= Instant::now());
        if !pending.events.is_empty() && (due || !open) {
            launch(pending.take(), &client, &settings, &slots, &mut in_flight, &deadline).await;
        }
    }
    while let Some(done) = in_flight.join_next().await {
        settle(done.map_err(|_| std::io::Error::other("a delivery task panicked"))?, &mut metrics, &mut dead_letters)?;
    }
    if let Some(writer) = dead_letters {
        // Every batch was flushed already (failures were counted and not acknowledged); a
        // failing final sync is reported, not fatal, so the summary still comes out.
        if let Err(e) = writer.finish() {
            eprintln!("phi-scrub: sink `{name}`: cannot sync the dead-letter file: {e}");
        }
    }
    publisher.publish(&metrics);
    Ok(metrics)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Adds an event; returns a full batch to send when this event does not fit beside it. An event
/// too large for any batch becomes a dead letter and goes to `settled` (released after flush).
fn add(
    pending: &mut Pending,
    event: Event,
    settings: &HttpSettings,
    metrics: &mut Metrics,
    dead_letters: &mut Option<DeadLetterWriter>,
    settled: &mut Vec<Event>,
) -> std::io::Result<Option<Vec<Event>>> {
    let size = event.payload.len() + 1;
    if size + 2 > settings.max_bytes {
        dead_letter(&event, &GiveUp::new("too large", "event larger than batch.max_bytes"), metrics, dead_letters)?;
        settled.push(event);
        return Ok(None);
    }
    let full = if pending.bytes + size > settings.max_bytes { Some(pending.take()) } else { None };
    pending.events.push(event);
    pending.bytes += size;
    pending.deadline.get_or_insert_with(|| Instant::now() + settings.batch_timeout);
    Ok(full)
}

/// Waits for a free request slot, then sends the batch in its own task.
async fn launch(
    events: Vec<Event>,
    client: &reqwest::Client,
    settings: &Arc<HttpSettings>,
    slots: &Arc<Semaphore>,
    in_flight: &mut JoinSet<BatchOutcome>,
    deadline: &watch::Receiver<bool>,
) {
    let Ok(permit) = slots.clone().acquire_owned().await else { return };
    let (client, settings, deadline) = (client.clone(), settings.clone(), deadline.clone());
    in_flight.spawn(async move {
        let outcome = deliver(&client, &settings, events, deadline).await;
        drop(permit);
        outcome
    });
}

fn settle(
    outcome: BatchOutcome,
    metrics: &mut Metrics,
    dead_letters: &mut Option<DeadLetterWriter>,
) -> std::io::Result<()> {
    metrics.add("batches", 1);
    metrics.add("requests", outcome.requests);
    metrics.add("retries", outcome.retries);
    for event in &outcome.delivered {
        metrics.events_out += 1;
        metrics.bytes_out += event.payload.len() as u64;
    }
    for (event, reason) in &outcome.dead {
        dead_letter(event, reason, metrics, dead_letters)?;
    }
    // Written before the events (and any acknowledgement they hold) are released.
    let events: Vec<Event> = outcome.dead.into_iter().map(|(e, _)| e).collect();
    flush_or_fail(dead_letters, &events, metrics);
    Ok(())
}

/// Hands the dead letters to the operating system; if that fails, the events just written are
/// lost and their acknowledgements fail.
fn flush_or_fail(dead_letters: &mut Option<DeadLetterWriter>, events: &[Event], metrics: &mut Metrics) {
    if let Some(w) = dead_letters {
        if let Err(e) = w.flush() {
            for event in events {
                lost(event, &e, metrics);
            }
        }
    }
}

fn dead_letter(
    event: &Event,
    reason: &GiveUp,
    metrics: &mut Metrics,
    dead_letters: &mut Option<DeadLetterWriter>,
) -> std::io::Result<()> {
    metrics.add("dead_letters", 1);
    metrics.drop_one(reason.label);
    if let Some(w) = dead_letters {
        if let Err(e) = w.write(event, &reason.detail) {
            lost(event, &e, metrics);
        }
    }
    Ok(())
}

/// A dead letter could not be kept: count it, say so once per event, and fail its
/// acknowledgement so that a client waiting for it retries instead of being told it is safe.
fn lost(event: &Event, error: &std::io::Error, metrics: &mut Metrics) {
    metrics.add("dead_letters_lost", 1);
    eprintln!("phi-scrub: cannot write a dead letter ({error}); the sender is told to retry");
    event.fail_ack();
}
