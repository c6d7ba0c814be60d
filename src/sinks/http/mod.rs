//! The `http` sink, with presets for Mixpanel's `/import` and `/track`.
//!
//! Events are batched by count, bytes and time; up to `request.concurrency` batches are in
//! flight, and while all slots are busy the sink stops reading its input, so back-pressure
//! reaches the sources. Every event ends delivered or as a dead letter with a reason: when the
//! input closes, the last partial batch is sent and every request in flight is awaited.
//!
//! This file is the sink's loop (batching, slots, settling); beside it: [`config`] (options and
//! presets), [`encode`] (the request body), [`deliver`] (sending and retries), [`response`]
//! (what Mixpanel's answers mean) and [`outcome`] (what became of each event).

mod config;
mod deliver;
mod encode;
mod outcome;
mod response;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

pub use config::{HttpSettings, HttpSinkConfig, Preset, ProxyConfig, Region, ResponseMode};
pub use deliver::{deliver, past};
pub use encode::encode;
pub use outcome::{BatchOutcome, GiveUp, DEADLINE_REASON};

use crate::component::{parse_table, BuildError, SinkConfig, SinkContext, SinkPlugin, Task};
use crate::fanout::Input;
use crate::logging::Throttle;
use crate::metrics::{Metrics, Publisher};
use crate::sinks::dead_letter::DeadLetterWriter;
use phi_scrub_core::event::{AckGroup, Event};

/// The `http` sink's registry entry. Parsing resolves the settings too, so a preset's limits
/// and missing credentials are reported by `validate`.
pub const PLUGIN: SinkPlugin = SinkPlugin { type_name: "http", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SinkConfig>, String> {
    let config = parse_table::<HttpSinkConfig>("http", table)?;
    config.resolve()?;
    config.tls.client_config().map_err(|e| e.to_string())?;
    Ok(Box::new(config))
}

impl SinkConfig for HttpSinkConfig {
    fn build(&self, cx: SinkContext<'_>) -> Result<Task, BuildError> {
        let settings = self.resolve().map_err(BuildError::Invalid)?;
        for weakened in settings.tls.weakened_checks() {
            tracing::warn!(component_kind = "sink", component_id = %cx.name, "{weakened}");
        }
        let tls_set = self.tls.ca_file.is_some() || self.tls.crt_file.is_some();
        if tls_set && settings.url.starts_with("http://") {
            let message = "tls.* is set but `uri` is http://: events go in clear";
            tracing::warn!(component_kind = "sink", component_id = %cx.name, "{message}");
        }
        Ok(Box::pin(async move { run(&cx.name, settings, cx.input, cx.deadline, cx.publisher).await }))
    }
}

/// Events waiting to be sent, with their encoded size. Events still pending when it is dropped
/// (the sink ended early) fail their acknowledgements.
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

impl Drop for Pending {
    fn drop(&mut self) {
        self.events.iter().for_each(Event::fail_ack);
    }
}

/// Runs the sink until its input closes and everything in flight is settled. When `deadline`
/// turns true (the shutdown grace period is over), whatever is not delivered yet, in flight,
/// pending or still arriving, becomes a dead letter with [`DEADLINE_REASON`].
pub async fn run(
    name: &str,
    settings: HttpSettings,
    mut rx: Input,
    deadline: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let mut sink = Running::start(name, settings, deadline)?;
    let mut open = true;
    let mut reported_stuck = false;
    while open || !sink.pending.events.is_empty() {
        let batch_due = sink.pending.deadline;
        let deadline = sink.deadline.clone();
        tokio::select! {
            batch = rx.recv(), if open => match batch {
                Some(batch) => sink.accept(batch).await,
                None => open = false,
            },
            () = past(deadline), if !sink.expired => sink.expire(),
            _ = sleep_until(batch_due), if batch_due.is_some() => {}
            Some(done) = sink.in_flight.join_next(), if !sink.in_flight.is_empty() => sink.settle_joined(done),
        }
        publisher.publish(&sink.metrics);
        if sink.stuck != reported_stuck {
            publisher.set_stuck(sink.stuck);
            reported_stuck = sink.stuck;
        }
        let due = sink.pending.deadline.is_some_and(|d| d <= Instant::now());
        if !sink.pending.events.is_empty() && (due || !open) {
            let batch = sink.pending.take();
            sink.launch(batch).await;
        }
    }
    let metrics = sink.finish(name).await;
    publisher.publish(&metrics);
    Ok(metrics)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The sink while it runs: the batch being filled, the requests in flight and their slots, the
/// dead-letter file and the counters.
struct Running {
    client: reqwest::Client,
    settings: Arc<HttpSettings>,
    slots: Arc<Semaphore>,
    in_flight: JoinSet<BatchOutcome>,
    deadline: watch::Receiver<bool>,
    pending: Pending,
    dead_letters: Option<DeadLetterWriter>,
    metrics: Metrics,
    /// The shutdown grace period is over: everything still arriving becomes a dead letter.
    expired: bool,
    /// The last batch settled gave up after its retry budget or was refused (401/403): what
    /// `/ready` reports until a batch is delivered again.
    stuck: bool,
    /// Keeps a storm of retries or dead letters to a line now and then.
    log: Arc<Throttle>,
}

impl Running {
    fn start(name: &str, settings: HttpSettings, deadline: watch::Receiver<bool>) -> std::io::Result<Self> {
        let client =
            client(&settings).map_err(|e| std::io::Error::other(format!("cannot build the HTTP client: {e}")))?;
        let dead_letters = settings.dead_letter.as_ref().map(|c| DeadLetterWriter::open(name, c)).transpose()?;
        Ok(Self {
            client,
            slots: Arc::new(Semaphore::new(settings.concurrency)),
            settings: Arc::new(settings),
            in_flight: JoinSet::new(),
            deadline,
            pending: Pending::new(),
            dead_letters,
            metrics: Metrics::default(),
            expired: false,
            stuck: false,
            log: Arc::default(),
        })
    }

    /// Takes a batch from the input: each event joins the pending batch (sent when full), or,
    /// past the deadline, becomes a dead letter. Events given up here are released only after
    /// their dead letters are flushed.
    async fn accept(&mut self, batch: Vec<Event>) {
        let mut settled = Vec::new();
        for event in batch {
            self.metrics.events_in += 1;
            self.metrics.bytes_in += event.payload.len() as u64;
            if self.expired {
                self.dead_letter(&event, &GiveUp::deadline());
                settled.push(event);
                continue;
            }
            if let Some(full) = self.add(event, &mut settled) {
                self.launch(full).await;
            }
            if self.pending.events.len() >= self.settings.max_events {
                let full = self.pending.take();
                self.launch(full).await;
            }
        }
        self.flush_or_fail(&settled);
    }

    /// The grace period ended: what is pending becomes dead letters.
    fn expire(&mut self) {
        self.expired = true;
        let events = self.pending.take();
        for event in &events {
            self.dead_letter(event, &GiveUp::deadline());
        }
        self.flush_or_fail(&events);
    }

    /// Adds an event; returns a full batch to send when this event does not fit beside it. An
    /// event too large for any batch becomes a dead letter and goes to `settled` (released
    /// after flush).
    fn add(&mut self, event: Event, settled: &mut Vec<Event>) -> Option<Vec<Event>> {
        let size = event.payload.len() + 1;
        if size + 2 > self.settings.max_bytes {
            self.dead_letter(&event, &GiveUp::new("too large", "event larger than batch.max_bytes"));
            settled.push(event);
            return None;
        }
        let pending = &mut self.pending;
        let full = if pending.bytes + size > self.settings.max_bytes { Some(pending.take()) } else { None };
        pending.events.push(event);
        pending.bytes += size;
        pending.deadline.get_or_insert_with(|| Instant::now() + self.settings.batch_timeout);
        full
    }

    /// Waits for a free request slot, then sends the batch in its own task.
    async fn launch(&mut self, events: Vec<Event>) {
        let Ok(permit) = self.slots.clone().acquire_owned().await else {
            // The slots are never closed; if they were, these events would be lost, not kept.
            events.iter().for_each(Event::fail_ack);
            return;
        };
        let (client, settings, deadline) = (self.client.clone(), self.settings.clone(), self.deadline.clone());
        let log = self.log.clone();
        let groups = AckGroup::of_batch(&events);
        let delivery = async move {
            let outcome = AssertUnwindSafe(deliver(&client, &settings, events, deadline, &log)).catch_unwind().await;
            drop(permit);
            outcome.unwrap_or_else(|_| {
                // A bug: the batch went down with the task, so none of it may settle as kept.
                groups.iter().for_each(|group| group.fail());
                tracing::error!("a delivery task panicked; its events are not acknowledged");
                BatchOutcome::default()
            })
        };
        self.in_flight.spawn(delivery.in_current_span());
    }

    /// Settles a finished delivery task. One that panicked outside its own guard (it cannot,
    /// short of a bug in the guard) is logged, and the sink goes on with the rest.
    fn settle_joined(&mut self, done: Result<BatchOutcome, tokio::task::JoinError>) {
        match done {
            Ok(outcome) => self.settle(outcome),
            Err(e) => tracing::error!(error = %e, "a delivery task ended without an outcome"),
        }
    }

    /// Counts what became of a batch and writes its dead letters.
    fn settle(&mut self, outcome: BatchOutcome) {
        self.metrics.add("batches", 1);
        self.metrics.add("requests", outcome.requests);
        self.metrics.add("retries", outcome.retries);
        for event in &outcome.delivered {
            self.metrics.events_out += 1;
            self.metrics.bytes_out += event.payload.len() as u64;
        }
        let gave_up =
            outcome.dead.iter().any(|(_, r)| matches!(r.label, "retries exhausted" | "refused" | "unauthorized"));
        if gave_up {
            self.stuck = true;
        } else if !outcome.delivered.is_empty() {
            if self.stuck {
                tracing::info!(events = outcome.delivered.len(), "delivering again");
            }
            self.stuck = false;
        }
        tracing::debug!(
            delivered = outcome.delivered.len(),
            dead = outcome.dead.len(),
            requests = outcome.requests,
            "batch settled"
        );
        self.log_dead_letters(&outcome.dead);
        for (event, reason) in &outcome.dead {
            self.dead_letter(event, reason);
        }
        // Written before the events (and any acknowledgement they hold) are released.
        let events: Vec<Event> = outcome.dead.into_iter().map(|(e, _)| e).collect();
        self.flush_or_fail(&events);
    }

    /// One line per reason (throttled) for the events a batch gave up: the reason's label and
    /// the count, never the events or Mixpanel's per-record messages.
    fn log_dead_letters(&self, dead: &[(Event, GiveUp)]) {
        let given_up: Vec<&GiveUp> = dead.iter().filter(|(e, r)| !returned_to_stream(e, r)).map(|(_, r)| r).collect();
        let mut labels: Vec<&'static str> = given_up.iter().map(|r| r.label).collect();
        labels.sort_unstable();
        labels.dedup();
        for label in labels {
            let events = given_up.iter().filter(|r| r.label == label).count();
            if let Some(held_back) = self.log.permit(label) {
                let message = if label == "unauthorized" {
                    "Mixpanel refused the credentials: check auth.user, auth.password and project_id"
                } else {
                    "gave events up as dead letters"
                };
                tracing::error!(reason = label, events, lines_held_back = held_back, "{message}");
            }
        }
    }

    /// Waits for every request in flight, then syncs the dead-letter file.
    async fn finish(mut self, name: &str) -> Metrics {
        while let Some(done) = self.in_flight.join_next().await {
            self.settle_joined(done);
        }
        if let Some(writer) = self.dead_letters {
            // Every batch was flushed already (failures were counted and not acknowledged); a
            // failing final sync is reported, not fatal, so the summary still comes out.
            if let Err(e) = writer.finish() {
                tracing::error!(component_id = %name, error = %e, "cannot sync the dead-letter file");
            }
        }
        self.metrics
    }

    /// Hands the dead letters to the operating system; if that fails, the events just written
    /// are lost and their acknowledgements fail.
    fn flush_or_fail(&mut self, events: &[Event]) {
        if let Some(w) = &mut self.dead_letters {
            if let Err(e) = w.flush() {
                for event in events {
                    lost(event, &e, &mut self.metrics, &self.log);
                }
            }
        }
    }

    /// Writes a dead letter, except for an event given up only because the process is stopping
    /// whose source delivers it again (a stream): that one fails, so it comes back.
    fn dead_letter(&mut self, event: &Event, reason: &GiveUp) {
        if returned_to_stream(event, reason) {
            self.metrics.add("returned_at_shutdown", 1);
            event.fail_ack();
            return;
        }
        self.metrics.add("dead_letters", 1);
        self.metrics.drop_one(reason.label);
        match &mut self.dead_letters {
            Some(w) => {
                if let Err(e) = w.write(event, &reason.detail) {
                    lost(event, &e, &mut self.metrics, &self.log);
                }
            }
            // Given up and kept nowhere: not delivered, so not acknowledged either.
            None => {
                let e = std::io::Error::other("no dead_letter.path is set");
                lost(event, &e, &mut self.metrics, &self.log);
            }
        }
    }
}

/// Given up only because the process is stopping, by a source that delivers it again: failed
/// rather than dead-lettered, so it comes back to an instance that is running.
fn returned_to_stream(event: &Event, reason: &GiveUp) -> bool {
    reason.label == GiveUp::DEADLINE_LABEL && event.redelivered_on_failure()
}

/// The HTTP client: its TLS from `tls.*` (rustls), its proxies from `proxy.*` merged with the
/// environment (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`), or the environment alone.
fn client(settings: &HttpSettings) -> Result<reqwest::Client, String> {
    let tls = settings.tls.client_config().map_err(|e| e.to_string())?;
    let builder = reqwest::Client::builder().timeout(settings.request_timeout).use_preconfigured_tls(tls);
    let proxy = &settings.proxy;
    let configured = proxy.http.is_some() || proxy.https.is_some() || !proxy.no_proxy.is_empty();
    let builder = match (proxy.enabled, configured) {
        (false, _) => builder.no_proxy(),
        // reqwest reads the environment itself.
        (true, false) => builder,
        (true, true) => with_proxies(builder.no_proxy(), proxy)?,
    };
    builder.build().map_err(|e| e.to_string())
}

/// `proxy.*` with the environment filling what it leaves out, and `no_proxy` from both.
fn with_proxies(mut builder: reqwest::ClientBuilder, proxy: &ProxyConfig) -> Result<reqwest::ClientBuilder, String> {
    let env = |names: [&str; 2]| names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()));
    let mut exceptions = proxy.no_proxy.clone();
    exceptions.extend(env(["NO_PROXY", "no_proxy"]));
    let http = proxy.http.clone().or_else(|| env(["HTTP_PROXY", "http_proxy"]));
    let https = proxy.https.clone().or_else(|| env(["HTTPS_PROXY", "https_proxy"]));
    for (url, scheme) in [(http, "http"), (https, "https")] {
        let Some(url) = url else { continue };
        let p = if scheme == "https" { reqwest::Proxy::https(&url) } else { reqwest::Proxy::http(&url) };
        let p = p.map_err(|_| format!("proxy.{scheme}: not a proxy URL"))?;
        builder = builder.proxy(p.no_proxy(reqwest::NoProxy::from_string(&exceptions.join(","))));
    }
    Ok(builder)
}

/// A dead letter could not be kept: count it, say so (throttled), and fail its acknowledgement
/// so that a client waiting for it retries instead of being told it is safe.
fn lost(event: &Event, error: &std::io::Error, metrics: &mut Metrics, log: &Throttle) {
    metrics.add("dead_letters_lost", 1);
    if let Some(held_back) = log.permit("dead letter lost") {
        tracing::error!(error = %error, lines_held_back = held_back, "cannot write a dead letter; the sender is told to retry");
    }
    event.fail_ack();
}
