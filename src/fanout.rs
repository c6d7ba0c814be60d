//! The edge between components: one output feeding every downstream input, over bounded
//! channels of event batches. It lives below both the topology (which wires edges) and the
//! components (which send on them), so neither imports the other.
//!
//! Back-pressure: a send waits until every downstream input has room. A component's [`Input`]
//! fails the acknowledgements of whatever is still queued when it is dropped early, and a batch
//! sent while some downstream component has already ended fails its acknowledgements too: that
//! component will never deliver its copy.

use tokio::sync::mpsc;

use phi_scrub_core::event::Event;

/// Every downstream input fed by one output. Sends a batch to all of them (cloning `Bytes` is
/// a reference-count increment), waiting for room in each.
#[derive(Debug, Default, Clone)]
pub struct Fanout {
    senders: Vec<mpsc::Sender<Vec<Event>>>,
}

/// Every downstream component has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Why [`Fanout::try_send`] did not send.
#[derive(Debug)]
pub enum SendError {
    /// Some downstream input is full; the batch is handed back.
    Full(Vec<Event>),
    /// Every downstream component has stopped.
    Closed,
}

impl Fanout {
    /// Adds a downstream input.
    pub fn push(&mut self, sender: mpsc::Sender<Vec<Event>>) {
        self.senders.push(sender);
    }

    /// Sends `batch` downstream; fails only when no downstream is left to take it. When any
    /// downstream has ended (early: an error, a panic), the batch's acknowledgements fail, since
    /// that component's copy is lost; the others still get theirs.
    pub async fn send(&mut self, batch: Vec<Event>) -> Result<(), Closed> {
        let Some((last, rest)) = self.senders.split_last() else {
            return Ok(());
        };
        let mut delivered = false;
        for sender in rest {
            delivered |= send_or_fail(sender, batch.clone()).await;
        }
        if send_or_fail(last, batch).await || delivered {
            Ok(())
        } else {
            Err(Closed)
        }
    }

    /// Sends `batch` only if every downstream input has room now (all or nothing).
    pub fn try_send(&mut self, batch: Vec<Event>) -> Result<(), SendError> {
        let mut permits = Vec::with_capacity(self.senders.len());
        let mut closed = false;
        for sender in &self.senders {
            match sender.try_reserve() {
                Ok(permit) => permits.push(permit),
                Err(mpsc::error::TrySendError::Full(())) => return Err(SendError::Full(batch)),
                Err(mpsc::error::TrySendError::Closed(())) => closed = true,
            }
        }
        if closed {
            // A downstream component has ended: its copy is lost (see `send`).
            batch.iter().for_each(Event::fail_ack);
        }
        let Some(last) = permits.pop() else {
            return if self.senders.is_empty() { Ok(()) } else { Err(SendError::Closed) };
        };
        for permit in permits {
            permit.send(batch.clone());
        }
        last.send(batch);
        Ok(())
    }
}

/// Sends one copy; a copy a closed input refuses fails its acknowledgements.
async fn send_or_fail(sender: &mpsc::Sender<Vec<Event>>, batch: Vec<Event>) -> bool {
    match sender.send(batch).await {
        Ok(()) => true,
        Err(mpsc::error::SendError(copy)) => {
            copy.iter().for_each(Event::fail_ack);
            false
        }
    }
}

/// The receiving end of an edge: batches from every output a component names in `inputs`.
///
/// Batches still queued when it is dropped (its component ended early: an error, a panic) fail
/// their acknowledgements. An event dropped unsent would otherwise settle as kept, and a source
/// that acks on settling (a stream) would ack a message nobody delivered.
#[derive(Debug)]
pub struct Input(mpsc::Receiver<Vec<Event>>);

impl Input {
    /// Wraps the channel's receiver.
    pub fn new(receiver: mpsc::Receiver<Vec<Event>>) -> Self {
        Self(receiver)
    }

    /// The next batch; `None` once every sender is gone and nothing is queued.
    pub async fn recv(&mut self) -> Option<Vec<Event>> {
        self.0.recv().await
    }

    /// A batch if one is queued now.
    pub fn try_recv(&mut self) -> Result<Vec<Event>, mpsc::error::TryRecvError> {
        self.0.try_recv()
    }

    /// Stops taking batches; those queued can still be received.
    pub fn close(&mut self) {
        self.0.close();
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.0.close();
        while let Ok(batch) = self.0.try_recv() {
            batch.iter().for_each(Event::fail_ack);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use phi_scrub_core::event::AckGroup;

    use super::*;

    #[tokio::test]
    async fn batches_left_in_a_dropped_input_fail_their_acknowledgements() {
        let (tx, rx) = mpsc::channel(4);
        let input = Input::new(rx);
        let (settled, mut outcome) = tokio::sync::oneshot::channel();
        let group = AckGroup::new(move |ok| {
            let _ = settled.send(ok);
        });
        let event = Event::new(Bytes::from_static(b"{}"), Arc::from("s")).with_ack(&group);
        drop(group);
        tx.send(vec![event]).await.unwrap();
        assert!(outcome.try_recv().is_err(), "still queued");
        drop(input);
        assert_eq!(outcome.await.ok(), Some(false));
    }

    /// One event in an ack group, and where the group's outcome arrives.
    fn acked_event() -> (Event, tokio::sync::oneshot::Receiver<bool>) {
        let (settled, outcome) = tokio::sync::oneshot::channel();
        let group = AckGroup::new(move |ok| {
            let _ = settled.send(ok);
        });
        (Event::new(Bytes::from_static(b"{}"), Arc::from("s")).with_ack(&group), outcome)
    }

    #[tokio::test]
    async fn a_batch_sent_past_an_ended_downstream_fails_its_acknowledgements() {
        for with_try_send in [false, true] {
            let mut fanout = Fanout::default();
            let (live_tx, mut live) = mpsc::channel(4);
            let (dead_tx, dead) = mpsc::channel(4);
            fanout.push(live_tx);
            fanout.push(dead_tx);
            drop(dead);
            let (event, outcome) = acked_event();
            if with_try_send {
                assert!(fanout.try_send(vec![event]).is_ok());
            } else {
                assert_eq!(fanout.send(vec![event]).await, Ok(()));
            }
            // The live sink gets its copy and keeps it; the lost copy still fails the group.
            drop(live.recv().await.expect("the live downstream gets the batch"));
            drop(fanout);
            assert_eq!(outcome.await.ok(), Some(false), "try_send: {with_try_send}");
        }
    }

    #[tokio::test]
    async fn a_batch_every_downstream_takes_settles_kept() {
        let mut fanout = Fanout::default();
        let (a_tx, mut a) = mpsc::channel(4);
        let (b_tx, mut b) = mpsc::channel(4);
        fanout.push(a_tx);
        fanout.push(b_tx);
        let (event, outcome) = acked_event();
        assert_eq!(fanout.send(vec![event]).await, Ok(()));
        drop((a.recv().await, b.recv().await, fanout));
        assert_eq!(outcome.await.ok(), Some(true));
    }

    #[tokio::test]
    async fn an_input_drained_to_its_end_fails_nothing() {
        let (tx, rx) = mpsc::channel(4);
        let mut input = Input::new(rx);
        let (settled, outcome) = tokio::sync::oneshot::channel();
        let group = AckGroup::new(move |ok| {
            let _ = settled.send(ok);
        });
        tx.send(vec![Event::new(Bytes::from_static(b"{}"), Arc::from("s")).with_ack(&group)]).await.unwrap();
        drop((tx, group));
        while let Some(batch) = input.recv().await {
            drop(batch);
        }
        drop(input);
        assert_eq!(outcome.await.ok(), Some(true));
    }
}
