//! A function transform as a running task: batches in, each event through the transform, its
//! primary and `dropped` outputs sent on downstream.

use tokio::sync::mpsc;

use crate::fanout::Fanout;
use crate::metrics::{Metrics, Publisher};
use phi_scrub_core::event::Event;
use phi_scrub_core::transform::{FunctionTransform, OutputBuffer, DROPPED_OUTPUT};

/// Where a transform's two outputs go.
#[derive(Debug)]
pub(super) struct TransformOutputs {
    /// The primary output.
    pub(super) primary: Fanout,
    /// The `dropped` output.
    pub(super) dropped: Fanout,
}

/// Runs `transform` over every batch from `rx` until its inputs close or every consumer of one
/// of its outputs has gone; returns its counters.
pub(super) async fn run_transform(
    mut transform: Box<dyn FunctionTransform>,
    mut rx: mpsc::Receiver<Vec<Event>>,
    mut outputs: TransformOutputs,
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
        let primary_gone = !passed.is_empty() && outputs.primary.send(passed).await.is_err();
        let dropped_gone = !refused.is_empty() && outputs.dropped.send(refused).await.is_err();
        if primary_gone || dropped_gone {
            break;
        }
    }
    transform.metrics()
}
