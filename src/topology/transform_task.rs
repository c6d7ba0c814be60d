//! A function transform as running tasks: `concurrency` workers, each with its own instance,
//! take batches from the transform's one input as they come free, run every event through their
//! instance, and send its primary and `dropped` outputs on downstream. Order is kept within a
//! batch, not across batches (Mixpanel orders events by `time`). Counters are per worker and
//! summed; the live metrics publish the sum.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::fanout::Fanout;
use crate::metrics::{Metrics, Publisher};
use phi_scrub_core::event::Event;
use phi_scrub_core::transform::{FunctionTransform, OutputBuffer, DROPPED_OUTPUT};

/// Where a transform's two outputs go.
#[derive(Debug, Clone)]
pub(super) struct TransformOutputs {
    /// The primary output.
    pub(super) primary: Fanout,
    /// The `dropped` output.
    pub(super) dropped: Fanout,
}

/// The transform's input, shared by its workers: one waits on it at a time.
type SharedInput = Arc<tokio::sync::Mutex<mpsc::Receiver<Vec<Event>>>>;

/// Each worker's latest counters, summed for the live metrics.
#[derive(Debug, Clone)]
struct Counters {
    slots: Arc<Mutex<Vec<Metrics>>>,
    publisher: Publisher,
}

impl Counters {
    fn publish(&self, worker: usize, metrics: Metrics) {
        let Ok(mut slots) = self.slots.lock() else { return };
        slots[worker] = metrics;
        let mut total = Metrics::default();
        slots.iter().for_each(|m| total.merge(m));
        self.publisher.publish(&total);
    }
}

/// Runs `instances` (one per worker) over every batch from `rx` until its inputs close; returns
/// the summed counters, or an error if a worker panicked.
pub(super) async fn run_transform(
    instances: Vec<Box<dyn FunctionTransform>>,
    rx: mpsc::Receiver<Vec<Event>>,
    outputs: TransformOutputs,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let input: SharedInput = Arc::new(tokio::sync::Mutex::new(rx));
    let counters = Counters { slots: Arc::new(Mutex::new(vec![Metrics::default(); instances.len()])), publisher };
    let mut workers = JoinSet::new();
    let runtime = tokio::runtime::Handle::current();
    for (i, instance) in instances.into_iter().enumerate() {
        let (input, outputs, counters, runtime) = (input.clone(), outputs.clone(), counters.clone(), runtime.clone());
        // A thread of its own per worker: transforming is CPU work, and tasks woken by a
        // channel tend to stay on the thread that woke them, which kept workers from running
        // side by side.
        workers.spawn_blocking(move || runtime.block_on(worker(i, instance, input, outputs, counters)));
    }
    drop(outputs);
    let mut total = Metrics::default();
    while let Some(done) = workers.join_next().await {
        total.merge(&done.map_err(|_| std::io::Error::other("a transform worker panicked"))?);
    }
    Ok(total)
}

/// One worker: until the input closes or every consumer of one of its outputs has gone.
async fn worker(
    index: usize,
    mut transform: Box<dyn FunctionTransform>,
    input: SharedInput,
    mut outputs: TransformOutputs,
    counters: Counters,
) -> Metrics {
    let mut out = OutputBuffer::new();
    loop {
        let batch = input.lock().await.recv().await;
        let Some(batch) = batch else { break };
        for event in batch {
            transform.transform(&mut out, event);
        }
        if counters.publisher.enabled() {
            counters.publish(index, transform.metrics());
        }
        let passed = out.take(None);
        let refused = out.take(Some(DROPPED_OUTPUT));
        let primary_gone = !passed.is_empty() && outputs.primary.send(passed).await.is_err();
        let dropped_gone = !refused.is_empty() && outputs.dropped.send(refused).await.is_err();
        if primary_gone || dropped_gone {
            break;
        }
    }
    transform.metrics()
}
