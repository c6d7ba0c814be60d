//! The running pipeline: builds a validated [`PipelineConfig`] into components joined by bounded
//! channels, runs until the sources end (or a shutdown signal), drains, and returns the counters
//! of every component. As Vector's `topology/`: the config module says what the graph is, this
//! one makes it run.
//!
//! Back-pressure: every edge is a bounded channel of event batches, and a component waits when
//! its downstream is full, so memory stays bounded whatever the input rate. Shutdown: sources
//! stop reading; what is already in channels flows through and is flushed before `run` returns.

mod builder;
mod metrics_server;
mod transform_task;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::component::Stdio;
use crate::config::PipelineConfig;
use crate::metrics::{Registry, RunSummary};
pub use crate::shutdown::Shutdown;

use builder::{Builder, Edges};

/// Batches queued on one edge before the sender waits.
pub const EDGE_CAPACITY: usize = 16;

/// A running pipeline failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TopologyError {
    #[error("{kind} `{name}` could not be built: {message}")]
    Build { kind: &'static str, name: String, message: String },
    #[error("{kind} `{name}` failed: {source}")]
    Io { kind: &'static str, name: String, source: std::io::Error },
    #[error("a component task panicked")]
    Panicked,
}

/// Runs the pipeline with this process's stdin and stdout. On SIGINT or SIGTERM sources stop,
/// and the pipeline drains for at most `grace`; a second signal ends the grace period at once.
pub async fn run(config: PipelineConfig, grace: std::time::Duration) -> Result<RunSummary, TopologyError> {
    let (stop, stop_rx) = watch::channel(false);
    let (deadline, deadline_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(grace_period_secs = grace.as_secs_f64(), "stop signal: sources stop, the pipeline drains");
        let _ = stop.send(true);
        tokio::select! {
            () = tokio::time::sleep(grace) => {}
            () = wait_for_signal() => {}
        }
        tracing::warn!("grace period over: what is not delivered yet becomes dead letters");
        let _ = deadline.send(true);
    });
    let shutdown = Shutdown { stop: stop_rx, deadline: deadline_rx, grace };
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

/// Runs the pipeline on the given stdin and stdout until the sources end or `shutdown` flips:
/// wire the edges, start the metrics endpoint, spawn sinks, transforms and sources (downstream
/// first, so nothing is sent before its receiver runs), then collect their counters.
pub async fn run_with_io<R, W>(
    config: PipelineConfig,
    stdin: R,
    stdout: W,
    shutdown: Shutdown,
) -> Result<RunSummary, TopologyError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let edges = Edges::wire(&config);
    let registry = if config.metrics.is_some() { Registry::enabled() } else { Registry::default() };
    let signals = builder::Signals::follow(&shutdown);
    let metrics_server = match &config.metrics {
        Some(m) => Some(
            metrics_server::start(m, registry.clone(), signals.stop_receiver())
                .await
                .map_err(|source| TopologyError::Io { kind: "metrics", name: m.address.clone(), source })?,
        ),
        None => None,
    };
    let stdio = Stdio::new(Box::new(stdin), Box::new(stdout));
    let mut builder = Builder::new(edges, stdio, registry.clone(), signals);
    builder.spawn_sinks(&config)?;
    builder.spawn_transforms(&config)?;
    builder.spawn_sources(&config)?;
    registry.mark_started();
    tracing::info!(
        sources = config.sources.len(),
        transforms = config.transforms.len(),
        sinks = config.sinks.len(),
        "pipeline running"
    );
    let summary = builder.collect().await;
    if let Some(server) = metrics_server {
        server.abort();
    }
    summary
}
