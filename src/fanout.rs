//! The edge between components: one output feeding every downstream input, over bounded
//! channels of event batches. It lives below both the topology (which wires edges) and the
//! components (which send on them), so neither imports the other.
//!
//! Back-pressure: a send waits until every downstream input has room.

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
