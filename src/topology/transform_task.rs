//! A function transform as running tasks: `concurrency` workers, each with its own instance,
//! take batches from the transform's one input as they come free, run every event through their
//! instance, and send its primary and `dropped` outputs on downstream. Order is kept within a
//! batch, not across batches (Mixpanel orders events by `time`). Counters are per worker and
//! summed; the live metrics publish the sum.

use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use crate::fanout::{Fanout, Input};
use crate::metrics::{Metrics, Publisher};
use phi_scrub_core::event::{AckGroup, Event};
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
type SharedInput = Arc<tokio::sync::Mutex<Input>>;

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
    rx: Input,
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
    let mut failed = false;
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(Ok(metrics)) => total.merge(&metrics),
            _ => failed = true,
        }
    }
    // Batches no worker will take (every consumer of an output has gone) are lost: their
    // acknowledgements fail rather than report them delivered.
    while let Ok(batch) = input.lock().await.try_recv() {
        batch.iter().for_each(Event::fail_ack);
    }
    if failed {
        return Err(std::io::Error::other("a transform worker panicked; its batch was not acknowledged"));
    }
    Ok(total)
}

/// One worker: until the input closes or every consumer of one of its outputs has gone. A
/// panic in the transform ends the worker with the batch's acknowledgements failed.
async fn worker(
    index: usize,
    mut transform: Box<dyn FunctionTransform>,
    input: SharedInput,
    mut outputs: TransformOutputs,
    counters: Counters,
) -> Result<Metrics, ()> {
    let mut out = OutputBuffer::new();
    loop {
        let batch = input.lock().await.recv().await;
        let Some(batch) = batch else { break };
        let groups = AckGroup::of_batch(&batch);
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for event in batch {
                transform.transform(&mut out, event);
            }
        }));
        if ran.is_err() {
            groups.iter().for_each(|g| g.fail());
            out.clear();
            return Err(());
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
    Ok(transform.metrics())
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use bytes::Bytes;

    use super::*;

    /// Passes events on; panics on an event whose payload is `panic`.
    #[derive(Debug, Default)]
    struct Echo(Metrics);

    impl FunctionTransform for Echo {
        fn transform(&mut self, output: &mut OutputBuffer, event: Event) {
            assert!(&event.payload[..] != b"panic", "a transform bug");
            self.0.events_in += 1;
            output.push(event);
        }

        fn metrics(&self) -> Metrics {
            self.0.clone()
        }
    }

    fn acked_batch(payloads: &[&'static str]) -> (Vec<Event>, std_mpsc::Receiver<bool>) {
        let (tx, rx) = std_mpsc::channel();
        let group = AckGroup::new(move |ok| tx.send(ok).unwrap());
        let batch = payloads
            .iter()
            .map(|p| Event::new(Bytes::from_static(p.as_bytes()), "t".into()).with_ack(&group))
            .collect();
        (batch, rx)
    }

    async fn run_one(
        batch: Vec<Event>,
        consumer: bool,
    ) -> (std::io::Result<Metrics>, Option<tokio::sync::mpsc::Receiver<Vec<Event>>>) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let (out_tx, out_rx) = tokio::sync::mpsc::channel(4);
        let mut primary = Fanout::default();
        primary.push(out_tx);
        let out_rx = if consumer {
            Some(out_rx)
        } else {
            drop(out_rx);
            None
        };
        tx.send(batch).await.unwrap();
        drop(tx);
        let outputs = TransformOutputs { primary, dropped: Fanout::default() };
        let instances: Vec<Box<dyn FunctionTransform>> = vec![Box::new(Echo::default()), Box::new(Echo::default())];
        (
            run_transform(
                instances,
                Input::new(rx),
                outputs,
                crate::metrics::Registry::default().publisher("transform", "t"),
            )
            .await,
            out_rx,
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn delivered_events_are_acknowledged_once_settled() {
        let (batch, acked) = acked_batch(&["a", "b"]);
        let (result, out) = run_one(batch, true).await;
        assert_eq!(result.unwrap().events_in, 2);
        let received = out.unwrap().recv().await.unwrap();
        assert_eq!(received.len(), 2, "forwarded");
        assert!(acked.try_recv().is_err(), "not settled while downstream holds them");
        drop(received);
        assert_eq!(acked.recv_timeout(std::time::Duration::from_secs(5)), Ok(true));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_transform_fails_the_batchs_acknowledgement() {
        let (batch, acked) = acked_batch(&["a", "panic", "c"]);
        let (result, _out) = run_one(batch, true).await;
        assert!(result.is_err());
        assert_eq!(acked.recv_timeout(std::time::Duration::from_secs(5)), Ok(false));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_no_consumer_takes_fail_their_acknowledgement() {
        let (batch, acked) = acked_batch(&["a"]);
        let (_result, _) = run_one(batch, false).await;
        assert_eq!(acked.recv_timeout(std::time::Duration::from_secs(5)), Ok(false));
    }
}
