//! Turns a validated config into running tasks: one bounded channel per consuming component,
//! one [`Fanout`] per output feeding every consumer that names it, and one task per component,
//! each spawned through its kind's `build(cx)`.

use std::collections::BTreeMap;
use std::sync::Arc;

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
    shutdown: Shutdown,
    /// What the sources see as their stop signal: the process's, or a component failing.
    stop: Arc<watch::Sender<bool>>,
    tasks: JoinSet<Outcome>,
}

/// The pipeline's own stop signal: flips with the process's (`outer`), and when a component
/// fails (see [`Builder::collect`]). Sources and `/ready` read it.
pub(super) fn stop_signal(mut outer: watch::Receiver<bool>) -> Arc<watch::Sender<bool>> {
    let stop = Arc::new(watch::channel(false).0);
    let forward = stop.clone();
    tokio::spawn(async move {
        while !*outer.borrow_and_update() {
            if outer.changed().await.is_err() {
                return;
            }
        }
        forward.send_replace(true);
    });
    stop
}

impl Builder {
    pub(super) fn new(
        edges: Edges,
        stdio: Stdio,
        registry: Registry,
        shutdown: Shutdown,
        stop: Arc<watch::Sender<bool>>,
    ) -> Self {
        Self { edges, stdio, registry, shutdown, stop, tasks: JoinSet::new() }
    }

    pub(super) fn spawn_sinks(&mut self, config: &PipelineConfig) -> Result<(), TopologyError> {
        for (name, entry) in &config.sinks {
            let cx = SinkContext {
                name: name.clone(),
                input: self.edges.take_input(name)?,
                deadline: self.shutdown.deadline.clone(),
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
                shutdown: self.stop.subscribe(),
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
        let Self { edges, mut tasks, stop, .. } = self;
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
            if first_error.is_none() && !*stop.borrow() {
                tracing::error!("a component failed: the pipeline stops and drains");
            }
            stop.send_replace(true);
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
