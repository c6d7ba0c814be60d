//! Events a sink has taken off its input and not yet settled. Dropped without
//! [`Held::release`] (the sink returned an error, a task was cancelled), they fail their
//! acknowledgements: an event dropped on such a path would otherwise settle as kept, and a
//! source would tell its sender (or its stream) that nobody needs to send it again.

use phi_scrub_core::event::Event;

/// A batch in a sink's hands.
#[derive(Debug)]
pub struct Held(Vec<Event>);

impl Held {
    /// Holds `events` until they are released.
    pub fn new(events: Vec<Event>) -> Self {
        Self(events)
    }

    /// The events held.
    pub fn events(&self) -> &[Event] {
        &self.0
    }

    /// The events are settled (written, delivered or kept as dead letters): they are dropped
    /// with their acknowledgements intact.
    pub fn release(mut self) {
        drop(std::mem::take(&mut self.0));
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.iter().for_each(Event::fail_ack);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use phi_scrub_core::event::AckGroup;

    use super::*;

    fn held_event(settled: tokio::sync::oneshot::Sender<bool>) -> Held {
        let group = AckGroup::new(move |ok| {
            let _ = settled.send(ok);
        });
        Held::new(vec![Event::new(Bytes::from_static(b"{}"), Arc::from("s")).with_ack(&group)])
    }

    #[test]
    fn released_events_settle_kept_and_dropped_ones_fail() {
        let (tx, mut kept) = tokio::sync::oneshot::channel();
        held_event(tx).release();
        assert_eq!(kept.try_recv().ok(), Some(true));
        let (tx, mut failed) = tokio::sync::oneshot::channel();
        drop(held_event(tx));
        assert_eq!(failed.try_recv().ok(), Some(false));
    }
}
