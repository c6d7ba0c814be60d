//! Turns a validated config into running tasks: one bounded channel per consuming component,
//! one [`Fanout`] per output feeding every consumer that names it, and one task per component,
//! each spawned through its kind's `build(cx)`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::component::{SinkContext, SourceContext, Stdio, Task};
use crate::config::{split_input, PipelineConfig};
use crate::fanout::{Fanout, Input};
use crate::metrics::{Metrics, Registry, RunSummary};
use crate::shutdown::Shutdown;
use phi_scrub_core::transform::DROPPED_OUTPUT;

use super::transform_task::{run_transform, TransformOutputs};
use super::{TopologyError, EDGE_CAPACITY};

/// An output, as `inputs` name it: a component and, for a named output, its name.
type OutputId = (String, Option<String>);

/// The channels of the graph before the components take them.
#[derive(Debug, Default)]
pub(super) struct Edges {
    fanouts: BTreeMap<OutputId, Fanout>,
    receivers: BTreeMap<String, Input>,
}

impl Edges {
    /// One channel per transform and sink, its sender added to the fan-out of every input.
    pub(super) fn wire(config: &PipelineConfig) -> Self {
        let mut edges = Self::default();
        let transforms = config.transforms.iter().map(|(n, t)| (n, &t.inputs));
        let consumers = transforms.chain(config.sinks.iter().map(|(n, s)| (n, &s.inputs)));
        for (name, inputs) in consumers {
            let (tx, rx) = mpsc::channel(EDGE_CAPACITY);
            for input in inputs {
                let (component, output) = split_input(input);
                let id = (component.to_owned(), output.map(str::to_owned));
                edges.fanouts.entry(id).or_default().push(tx.clone());
            }
            edges.receivers.insert(name.clone(), Input::new(rx));
        }
        edges
    }

    fn take_output(&mut self, name: &str, output: Option<&str>) -> Fanout {
        self.fanouts.remove(&(name.to_owned(), output.map(str::to_owned))).unwrap_or_default()
    }

    fn take_input(&mut self, name: &str) -> Result<Input, TopologyError> {
        self.receivers.remove(name).ok_or(TopologyError::Panicked)
    }
}

/// What a finished component task reports.
struct Outcome {
    kind: &'static str,
    name: String,
    result: std::io::Result<Metrics>,
}

/// Spawns the components of one pipeline and collects what they report.
pub(super) struct Builder {
    edges: Edges,
    stdio: Stdio,
    registry: Registry,
    signals: Signals,
    tasks: JoinSet<Outcome>,
}

/// The pipeline's own shutdown signals: they flip with the process's, and when a component
/// fails (stop at once, the deadline a grace period later; see [`Builder::collect`]).
pub(super) struct Signals {
    stop: Arc<watch::Sender<bool>>,
    deadline: Arc<watch::Sender<bool>>,
    grace: Duration,
}

impl Signals {
    pub(super) fn follow(shutdown: &Shutdown) -> Self {
        Self { stop: follow(shutdown.stop.clone()), deadline: follow(shutdown.deadline.clone()), grace: shutdown.grace }
    }

    /// A receiver of the stop signal, for a component or `/ready`.
    pub(super) fn stop_receiver(&self) -> watch::Receiver<bool> {
        receiver(&self.stop)
    }

    /// Stops the sources now and ends the drain after the grace period (once).
    fn stop_for_failure(&self) {
        if self.stop.send_replace(true) {
            return;
        }
        tracing::error!(
            grace_period_secs = self.grace.as_secs_f64(),
            "a component failed: the pipeline stops and drains"
        );
        let (deadline, grace) = (self.deadline.clone(), self.grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if !deadline.send_replace(true) {
                tracing::warn!("grace period over: what is not delivered yet becomes dead letters");
            }
        });
    }
}

/// A signal of our own that flips when `outer` does.
fn follow(mut outer: watch::Receiver<bool>) -> Arc<watch::Sender<bool>> {
    let signal = Arc::new(watch::channel(false).0);
    let forward = signal.clone();
    tokio::spawn(async move {
        while !*outer.borrow_and_update() {
            if outer.changed().await.is_err() {
                return;
            }
        }
        forward.send_replace(true);
    });
    signal
}

/// A receiver whose `changed()` fires even if the signal flipped before it was made (a plain
/// `subscribe` marks the current value as seen, and a source waiting on `changed()` would
/// never stop).
fn receiver(signal: &watch::Sender<bool>) -> watch::Receiver<bool> {
    let mut rx = signal.subscribe();
    if *rx.borrow() {
        rx.mark_changed();
    }
    rx
}

impl Builder {
    pub(super) fn new(edges: Edges, stdio: Stdio, registry: Registry, signals: Signals) -> Self {
        Self { edges, stdio, registry, signals, tasks: JoinSet::new() }
    }

    pub(super) fn spawn_sinks(&mut self, config: &PipelineConfig) -> Result<(), TopologyError> {
        for (name, entry) in &config.sinks {
            let cx = SinkContext {
                name: name.clone(),
                input: self.edges.take_input(name)?,
                deadline: receiver(&self.signals.deadline),
                publisher: self.registry.publisher("sink", name),
                stdio: &mut self.stdio,
            };
            let task = entry.config.build(cx).map_err(|e| build_error("sink", name, e))?;
            self.tasks.spawn(supervised("sink", name, &entry.type_name, task));
        }
        Ok(())
    }

    pub(super) fn spawn_transforms(&mut self, config: &PipelineConfig) -> Result<(), TopologyError> {
        for (name, entry) in &config.transforms {
            let instances = (0..entry.concurrency.max(1))
                .map(|_| entry.config.build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| build_error("transform", name, e))?;
            for notice in entry.config.notices() {
                tracing::warn!(component_kind = "transform", component_id = %name, "{notice}");
            }
            let rx = self.edges.take_input(name)?;
            let outputs = TransformOutputs {
                primary: self.edges.take_output(name, None),
                dropped: self.edges.take_output(name, Some(DROPPED_OUTPUT)),
            };
            let publisher = self.registry.publisher("transform", name);
            let task: Task = Box::pin(run_transform(instances, rx, outputs, publisher));
            self.tasks.spawn(supervised("transform", name, &entry.type_name, task));
        }
        Ok(())
    }

    pub(super) fn spawn_sources(&mut self, config: &PipelineConfig) -> Result<(), TopologyError> {
        for (name, entry) in &config.sources {
            let cx = SourceContext {
                name: Arc::from(name.as_str()),
                out: self.edges.take_output(name, None),
                shutdown: self.signals.stop_receiver(),
                publisher: self.registry.publisher("source", name),
                stdio: &mut self.stdio,
            };
            let task = entry.config.build(cx).map_err(|e| build_error("source", name, e))?;
            self.tasks.spawn(supervised("source", name, &entry.type_name, task));
        }
        Ok(())
    }

    /// Waits for every task; the counters of all, or the first error. A component that fails
    /// stops the pipeline as a stop signal would (as Vector does): the sources stop, what is in
    /// flight drains, and the process ends with the error instead of running on with a part
    /// missing (every later event would fail its acknowledgement, see [`crate::fanout`]).
    pub(super) async fn collect(self) -> Result<RunSummary, TopologyError> {
        let Self { edges, mut tasks, signals, .. } = self;
        // Senders left unclaimed (outputs nobody consumes) must not keep channels open.
        drop(edges);
        let mut summary = RunSummary::default();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let failure = match joined {
                Ok(Outcome { kind, name, result: Ok(metrics) }) => {
                    summary.insert(kind, name, metrics);
                    continue;
                }
                Ok(Outcome { kind, name, result: Err(source) }) => TopologyError::Io { kind, name, source },
                Err(_) => TopologyError::Panicked,
            };
            signals.stop_for_failure();
            first_error.get_or_insert(failure);
        }
        first_error.map_or(Ok(summary), Err)
    }
}

/// A component's task inside its log span (`component_kind`, `component_id`, `component_type`,
/// as Vector names them), saying when it starts and how it ended.
fn supervised(
    kind: &'static str,
    name: &str,
    type_name: &str,
    task: Task,
) -> impl std::future::Future<Output = Outcome> {
    let span =
        tracing::info_span!("component", component_kind = kind, component_id = %name, component_type = %type_name);
    let name = name.to_owned();
    async move {
        tracing::info!("started");
        let result = task.await;
        match &result {
            Ok(m) => tracing::info!(events_in = m.events_in, events_out = m.events_out, "stopped"),
            Err(e) => tracing::error!(error = %e, "failed"),
        }
        Outcome { kind, name, result }
    }
    .instrument(span)
}

fn build_error(kind: &'static str, name: &str, e: impl std::fmt::Display) -> TopologyError {
    TopologyError::Build { kind, name: name.to_owned(), message: e.to_string() }
}
