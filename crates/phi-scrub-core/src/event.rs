//! The unit that flows through a pipeline: one JSON object as raw bytes, plus metadata.
//!
//! The payload stays `Bytes` end to end; components that do not change it pass it on without
//! copying. Metadata never holds payload content, so it is safe to log.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;

/// What an [`AckGroup`] calls once, when all its events are settled: `true` if every one was
/// kept (delivered or dead-lettered), `false` otherwise.
pub type OnSettled = Box<dyn FnOnce(bool) + Send>;

/// End-to-end acknowledgement of a group of events (one request of a source). Every event of
/// the group holds a clone; when the last one is dropped, which happens only once a sink has
/// settled it (delivered or dead-lettered) or a transform refused it, the group's callback gets
/// `true`, or `false` if any event of the group could not be kept (see [`AckGroup::fail`]).
/// The callback is how a source learns the outcome without this crate knowing its runtime (a
/// source on tokio sends on a oneshot channel from it).
pub struct AckGroup {
    done: Mutex<Option<OnSettled>>,
    failed: AtomicBool,
    /// The source gets the events again when they fail (a stream that redelivers them).
    redelivers: bool,
}

impl fmt::Debug for AckGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckGroup").field("failed", &self.failed.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

impl AckGroup {
    /// A new group that calls `on_settled` once all its events are settled.
    pub fn new(on_settled: impl FnOnce(bool) + Send + 'static) -> Arc<Self> {
        Arc::new(Self {
            done: Mutex::new(Some(Box::new(on_settled))),
            failed: AtomicBool::new(false),
            redelivers: false,
        })
    }

    /// A group whose source delivers its events again when they fail (a stream with a durable
    /// consumer): a sink that would give such an event up only because the process is
    /// stopping fails it instead, so it comes back to an instance that is running.
    pub fn redelivering(on_settled: impl FnOnce(bool) + Send + 'static) -> Arc<Self> {
        Arc::new(Self {
            done: Mutex::new(Some(Box::new(on_settled))),
            failed: AtomicBool::new(false),
            redelivers: true,
        })
    }

    /// The groups of a batch's events, each once where its events sit together (the events of
    /// one request do), so that whoever holds a batch can fail them all if the batch is lost
    /// with no event left to fail (a panic). A group listed twice is failed twice: harmless.
    pub fn of_batch(events: &[Event]) -> Vec<Arc<Self>> {
        let mut groups: Vec<Arc<Self>> = Vec::new();
        for group in events.iter().filter_map(|e| e.metadata.ack.as_ref()) {
            if !groups.last().is_some_and(|last| Arc::ptr_eq(last, group)) {
                groups.push(group.clone());
            }
        }
        groups
    }

    /// Marks the group as not settled: an event was neither delivered nor kept as a dead
    /// letter (say, the dead-letter file could not be written), so the sender must retry.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }
}

impl Drop for AckGroup {
    fn drop(&mut self) {
        let callback = self.done.get_mut().map(Option::take).unwrap_or_else(|e| e.into_inner().take());
        if let Some(on_settled) = callback {
            on_settled(!self.failed.load(Ordering::Relaxed));
        }
    }
}

/// Where an event came from and what happened to it, never its content.
#[derive(Debug, Clone)]
pub struct EventMetadata {
    /// Name of the source component that produced the event.
    pub source: Arc<str>,
    /// When the source received it.
    pub received_at: SystemTime,
    /// Set on events sent to a `dropped` output: why the transform refused it.
    pub drop_reason: Option<&'static str>,
    /// Held until the event is settled, when its source asked for acknowledgements.
    pub ack: Option<Arc<AckGroup>>,
}

/// One event: the raw bytes of one JSON object, and metadata.
#[derive(Debug, Clone)]
pub struct Event {
    /// The JSON bytes, exactly as received or as rewritten.
    pub payload: Bytes,
    /// Where it came from.
    pub metadata: EventMetadata,
}

impl Event {
    /// A new event from `source`, received now.
    pub fn new(payload: Bytes, source: Arc<str>) -> Self {
        Self {
            payload,
            metadata: EventMetadata { source, received_at: SystemTime::now(), drop_reason: None, ack: None },
        }
    }

    /// The same event, acknowledged as part of `group`.
    pub fn with_ack(mut self, group: &Arc<AckGroup>) -> Self {
        self.metadata.ack = Some(group.clone());
        self
    }

    /// Tells the event's acknowledgement group, if any, that this event was lost.
    pub fn fail_ack(&self) {
        if let Some(group) = &self.metadata.ack {
            group.fail();
        }
    }

    /// Whether its source delivers it again if it fails (see [`AckGroup::redelivering`]).
    pub fn redelivered_on_failure(&self) -> bool {
        self.metadata.ack.as_ref().is_some_and(|group| group.redelivers)
    }

    /// The same event with a new payload (metadata kept).
    pub fn with_payload(self, payload: Bytes) -> Self {
        Self { payload, metadata: self.metadata }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn group() -> (Arc<AckGroup>, mpsc::Receiver<bool>) {
        let (tx, rx) = mpsc::channel();
        (AckGroup::new(move |ok| tx.send(ok).unwrap()), rx)
    }

    #[test]
    fn ack_fires_only_when_the_last_event_is_dropped() {
        let (group, done) = group();
        let a = Event::new(Bytes::from_static(b"{}"), "t".into()).with_ack(&group);
        let b = a.clone();
        drop(group);
        drop(a);
        assert!(done.try_recv().is_err(), "one event is still in flight");
        drop(b);
        assert_eq!(done.try_recv().ok(), Some(true));
    }

    #[test]
    fn a_failed_event_fails_its_group() {
        let (group, done) = group();
        let a = Event::new(Bytes::from_static(b"{}"), "t".into()).with_ack(&group);
        drop(group);
        a.fail_ack();
        drop(a);
        assert_eq!(done.try_recv().ok(), Some(false));
    }

    #[test]
    fn only_a_redelivering_group_says_its_events_come_back() {
        let plain = AckGroup::new(|_| {});
        let again = AckGroup::redelivering(|_| {});
        let event = |g: &Arc<AckGroup>| Event::new(Bytes::from_static(b"{}"), "t".into()).with_ack(g);
        assert!(!event(&plain).redelivered_on_failure());
        assert!(event(&again).redelivered_on_failure());
        assert!(!Event::new(Bytes::from_static(b"{}"), "t".into()).redelivered_on_failure());
    }
}
