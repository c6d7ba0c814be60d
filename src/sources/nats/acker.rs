//! The `nats` source's acknowledgements, in one task: it holds every message whose event is in
//! the pipeline, acks it once every sink kept the event, naks it with a growing delay when one
//! could not, and meanwhile tells the server the message is still in progress, so a message held
//! by a sink that is retrying is not delivered to another instance.
//!
//! An ack waits at most [`SEND_WAIT`] for room in the client's outgoing buffer, and once one
//! could not get in (the server is away and the buffer is full), the next ones are tried without
//! waiting until one gets in again: an ack that is not sent only means the server delivers the
//! message again, while waiting on each would keep the process from stopping.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use phi_scrub_core::event::{AckGroup, Event};

/// What the acker hears, in order: a message is held (its event is about to enter the pipeline),
/// then settled (whether every sink kept it).
enum Note {
    Held(u64, Box<jetstream::Message>),
    Settled(u64, bool),
}

/// The source's side: turns messages into events whose settling the acker hears.
#[derive(Debug)]
pub(super) struct Acks {
    notes: mpsc::UnboundedSender<Note>,
    next_id: u64,
}

/// How long an ack may wait for room in the client's outgoing buffer.
pub(super) const SEND_WAIT: Duration = Duration::from_secs(1);

/// What the acker did, for the source's counters.
#[derive(Debug, Default)]
pub(super) struct AckCounts {
    pub acked: u64,
    pub naked: u64,
    pub in_progress: u64,
    /// Acks, naks and progress notes that could not be handed to the client.
    pub unsent: u64,
}

/// Sends acks, bounded in time (see the module docs).
#[derive(Debug, Default)]
struct Sender {
    counts: AckCounts,
    /// The last ack could not get into the client's buffer.
    away: bool,
}

impl Sender {
    async fn send(&mut self, message: &jetstream::Message, kind: AckKind) -> bool {
        let sent = if self.away {
            // One try (a timer, even of zero, would wait for the timer's next millisecond),
            // outside the task's cooperative budget, which could refuse a send that has room.
            tokio::task::unconstrained(message.ack_with(kind)).now_or_never()
        } else {
            tokio::time::timeout(SEND_WAIT, message.ack_with(kind)).await.ok()
        };
        self.away = sent.is_none();
        let ok = matches!(sent, Some(Ok(())));
        if !ok {
            self.counts.unsent += 1;
        }
        ok
    }
}

impl Acks {
    /// Starts the acker; it sends "in progress" for what it holds every `progress_every`.
    pub(super) fn start(progress_every: Duration) -> (Self, tokio::task::JoinHandle<AckCounts>) {
        let (notes, rx) = mpsc::unbounded_channel();
        (Self { notes, next_id: 0 }, tokio::spawn(run(rx, progress_every)))
    }

    /// The message's event, acknowledged through the acker. The event's source delivers it
    /// again if it fails (see [`AckGroup::redelivering`]).
    pub(super) fn event(&mut self, message: jetstream::Message, source: &Arc<str>) -> Event {
        let id = self.next_id;
        self.next_id += 1;
        let payload = message.payload.clone();
        // The acker is gone only when the source has ended; the server redelivers then.
        let _ = self.notes.send(Note::Held(id, Box::new(message)));
        let notes = self.notes.clone();
        let group = AckGroup::redelivering(move |ok| {
            let _ = notes.send(Note::Settled(id, ok));
        });
        Event::new(payload, source.clone()).with_ack(&group)
    }
}

/// A message held, and when the server last heard of it.
struct Held {
    message: jetstream::Message,
    heard: Instant,
}

/// Runs until the source and every event in flight are gone.
async fn run(mut notes: mpsc::UnboundedReceiver<Note>, progress_every: Duration) -> AckCounts {
    let mut held: HashMap<u64, Held> = HashMap::new();
    let mut sender = Sender::default();
    let mut tick = tokio::time::interval(progress_every / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            note = notes.recv() => match note {
                Some(Note::Held(id, message)) => drop(held.insert(id, Held { message: *message, heard: Instant::now() })),
                Some(Note::Settled(id, ok)) => {
                    if let Some(h) = held.remove(&id) {
                        settle(&h.message, ok, &mut sender).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => keep_in_progress(&mut held, progress_every, &mut sender).await,
        }
    }
    sender.counts
}

/// Acks a message every sink kept; naks the others with a delay that grows with their delivery
/// count (1 s, 2 s, 4 s… at most a minute).
async fn settle(message: &jetstream::Message, ok: bool, sender: &mut Sender) {
    if ok {
        if sender.send(message, AckKind::Ack).await {
            sender.counts.acked += 1;
        }
    } else if sender.send(message, AckKind::Nak(Some(nak_delay(message)))).await {
        sender.counts.naked += 1;
    }
}

/// The delay before a failed message comes again.
pub(super) fn nak_delay(message: &jetstream::Message) -> Duration {
    let delivered = message.info().map_or(1, |i| i.delivered).clamp(1, 7);
    Duration::from_secs(1 << (delivered - 1)).min(Duration::from_secs(60))
}

/// Tells the server that messages held for `every` or longer are still being worked on.
async fn keep_in_progress(held: &mut HashMap<u64, Held>, every: Duration, sender: &mut Sender) {
    let now = Instant::now();
    for h in held.values_mut().filter(|h| now.duration_since(h.heard) >= every) {
        if sender.send(&h.message, AckKind::Progress).await {
            sender.counts.in_progress += 1;
            h.heard = now;
        }
    }
}
