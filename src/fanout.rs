//! The edge between components: one output feeding every downstream input, over bounded
//! channels of event batches. It lives below both the topology (which wires edges) and the
//! components (which send on them), so neither imports the other.
//!
//! Back-pressure: a send waits until every downstream input has room. A component's [`Input`]
//! fails the acknowledgements of whatever is still queued when it is dropped early.

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

    /// Sends `batch` downstream; fails only when no downstream is left to take it, and then
    /// fails the batch's acknowledgements (its events are lost, never reported delivered).
    pub async fn send(&mut self, batch: Vec<Event>) -> Result<(), Closed> {
        let Some((last, rest)) = self.senders.split_last() else {
            return Ok(());
        };
        let mut delivered = false;
        for sender in rest {
            delivered |= sender.send(batch.clone()).await.is_ok();
        }
        match last.send(batch).await {
            Ok(()) => Ok(()),
            Err(_) if delivered => Ok(()),
            Err(mpsc::error::SendError(lost)) => {
                lost.iter().for_each(Event::fail_ack);
                Err(Closed)
            }
        }
    }

    /// Sends `batch` only if every downstream input has room now (all or nothing).
    pub fn try_send(&mut self, batch: Vec<Event>) -> Result<(), SendError> {
        let mut permits = Vec::with_capacity(self.senders.len());
        for sender in &self.senders {
            match sender.try_reserve() {
                Ok(permit) => permits.push(permit),
                Err(mpsc::error::TrySendError::Full(())) => return Err(SendError::Full(batch)),
                Err(mpsc::error::TrySendError::Closed(())) => {}
            }
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
