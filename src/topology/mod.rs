//! The pipeline host: builds a validated [`PipelineConfig`] into running components joined by
//! bounded channels, runs until the sources end (or a shutdown signal), drains, and returns the
//! counters of every component.
//!
//! Back-pressure: every edge is a bounded channel of event batches, and a component waits when
//! its downstream is full, so memory stays bounded whatever the input rate. Shutdown: sources
//! stop reading; what is already in channels flows through and is flushed before `run` returns.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::{split_input, PipelineConfig};
use crate::fanout::Fanout;
use crate::metrics::{Metrics, Publisher, Registry, RunSummary};
pub use crate::shutdown::Shutdown;
use crate::sinks::SinkConfig;
use crate::sources::SourceConfig;
use phi_scrub_core::event::Event;
use phi_scrub_core::transform::{FunctionTransform, OutputBuffer, DROPPED_OUTPUT};

mod metrics_server;

/// Batches queued on one edge before the sender waits.
pub const EDGE_CAPACITY: usize = 16;

/// A running pipeline failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HostError {
    #[error("transform `{name}` could not be built: {message}")]
    Build { name: String, message: String },
    #[error("{kind} `{name}` failed: {source}")]
    Io { kind: &'static str, name: String, source: std::io::Error },
    #[error("a component task panicked")]
    Panicked,
    #[error("this host runs one `stdin` source and one `console` sink at most")]
    SharedStdio,
}

enum Outcome {
    Source(String, std::io::Result<Metrics>),
    Transform(String, Metrics),
    Sink(String, std::io::Result<Metrics>),
}

/// Runs the pipeline with this process's stdin and stdout. On SIGINT or SIGTERM sources stop,
/// and the pipeline drains for at most `grace`; a second signal ends the grace period at once.
pub async fn run(config: PipelineConfig, grace: std::time::Duration) -> Result<RunSummary, HostError> {
    let (stop, stop_rx) = watch::channel(false);
    let (deadline, deadline_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = stop.send(true);
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            () = wait_for_signal() => {}
        }
        let _ = deadline.send(true);
    });
    let shutdown = Shutdown { stop: stop_rx, deadline: deadline_rx };
    run_with_io(config, tokio::io::stdin(), tokio::io::stdout(), shutdown).await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the pipeline on the given stdin and stdout until the sources end or `shutdown` flips.
pub async fn run_with_io<R, W>(
    config: PipelineConfig,
    stdin: R,
    stdout: W,
    shutdown: Shutdown,
) -> Result<RunSummary, HostError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut fanouts: BTreeMap<(String, Option<String>), Fanout> = BTreeMap::new();
    let mut receivers: BTreeMap<String, mpsc::Receiver<Vec<Event>>> = BTreeMap::new();
    let consumers =
        config.transforms.iter().map(|(n, t)| (n, &t.inputs)).chain(config.sinks.iter().map(|(n, s)| (n, &s.inputs)));
    for (name, inputs) in consumers {
        let (tx, rx) = mpsc::channel(EDGE_CAPACITY);
        for input in inputs {
            let (component, output) = split_input(input);
            let key = (component.to_owned(), output.map(str::to_owned));
            fanouts.entry(key).or_default().push(tx.clone());
        }
        receivers.insert(name.clone(), rx);
    }
    let mut take_fanout = |name: &str, output: Option<&str>| {
        fanouts.remove(&(name.to_owned(), output.map(str::to_owned))).unwrap_or_default()
    };

    let registry = if config.metrics.is_some() { Registry::enabled() } else { Registry::default() };
    let metrics_server = match &config.metrics {
        Some(m) => Some(metrics_server::start(&m.address, registry.clone()).await.map_err(|source| HostError::Io {
            kind: "metrics",
            name: m.address.clone(),
            source,
        })?),
        None => None,
    };
    let mut tasks = JoinSet::new();
    let mut stdout = Some(stdout);
    for (name, entry) in &config.sinks {
        let rx = receivers.remove(name).ok_or(HostError::Panicked)?;
        let name = name.clone();
        match &entry.config {
            SinkConfig::Console(_) => {
                let writer = stdout.take().ok_or(HostError::SharedStdio)?;
                let publisher = registry.publisher("sink", &name);
                tasks
                    .spawn(async move { Outcome::Sink(name, crate::sinks::console::run(writer, rx, publisher).await) });
            }
            SinkConfig::File(c) => {
                let c = c.clone();
                let publisher = registry.publisher("sink", &name);
                tasks.spawn(async move { Outcome::Sink(name, crate::sinks::file::run(c, rx, publisher).await) });
            }
            SinkConfig::Http(c) => {
                let settings = c.resolve().map_err(|message| HostError::Build { name: name.clone(), message })?;
                let deadline = shutdown.deadline.clone();
                let publisher = registry.publisher("sink", &name);
                tasks.spawn(async move {
                    Outcome::Sink(name.clone(), crate::sinks::http::run(&name, settings, rx, deadline, publisher).await)
                });
            }
        }
    }
    for (name, entry) in &config.transforms {
        let transform =
            entry.config.build().map_err(|e| HostError::Build { name: name.clone(), message: e.to_string() })?;
        let rx = receivers.remove(name).ok_or(HostError::Panicked)?;
        let primary = take_fanout(name, None);
        let dropped = take_fanout(name, Some(DROPPED_OUTPUT));
        let name = name.clone();
        let publisher = registry.publisher("transform", &name);
        tasks.spawn(async move {
            Outcome::Transform(name, run_transform(transform, rx, primary, dropped, publisher).await)
        });
    }
    let mut stdin = Some(stdin);
    for (name, source) in &config.sources {
        let out = take_fanout(name, None);
        let shutdown = shutdown.stop.clone();
        let publisher = registry.publisher("source", name);
        let label: Arc<str> = Arc::from(name.as_str());
        let name = name.clone();
        match source {
            SourceConfig::Stdin(c) => {
                let reader = stdin.take().ok_or(HostError::SharedStdio)?;
                let c = c.clone();
                tasks.spawn(async move {
                    Outcome::Source(name, crate::sources::stdin::run(reader, label, c, out, shutdown, publisher).await)
                });
            }
            SourceConfig::HttpServer(c) => {
                let c = c.clone();
                tasks.spawn(async move {
                    Outcome::Source(name, crate::sources::http_server::run(label, c, out, shutdown, publisher).await)
                });
            }
        }
    }
    drop(fanouts);
    let summary = collect(tasks).await;
    if let Some(server) = metrics_server {
        server.abort();
    }
    summary
}

async fn collect(mut tasks: JoinSet<Outcome>) -> Result<RunSummary, HostError> {
    let mut summary = RunSummary::default();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|_| HostError::Panicked)? {
            Outcome::Source(name, Ok(m)) => drop(summary.sources.insert(name, m)),
            Outcome::Transform(name, m) => drop(summary.transforms.insert(name, m)),
            Outcome::Sink(name, Ok(m)) => drop(summary.sinks.insert(name, m)),
            Outcome::Source(name, Err(source)) => {
                first_error.get_or_insert(HostError::Io { kind: "source", name, source });
            }
            Outcome::Sink(name, Err(source)) => {
                first_error.get_or_insert(HostError::Io { kind: "sink", name, source });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

async fn run_transform(
    mut transform: Box<dyn FunctionTransform>,
    mut rx: mpsc::Receiver<Vec<Event>>,
    mut primary: Fanout,
    mut dropped: Fanout,
    publisher: Publisher,
) -> Metrics {
    let mut out = OutputBuffer::new();
    while let Some(batch) = rx.recv().await {
        for event in batch {
            transform.transform(&mut out, event);
        }
        if publisher.enabled() {
            publisher.publish(&transform.metrics());
        }
        let passed = out.take(None);
        let refused = out.take(Some(DROPPED_OUTPUT));
        let primary_gone = !passed.is_empty() && primary.send(passed).await.is_err();
        let dropped_gone = !refused.is_empty() && dropped.send(refused).await.is_err();
        if primary_gone || dropped_gone {
            break;
        }
    }
    transform.metrics()
}
