//! What became of the events of one batch: delivered, or given up with a reason.

use phi_scrub_core::event::Event;

/// Reason given to events still undelivered when the shutdown grace period ends.
pub const DEADLINE_REASON: &str = "shutdown deadline passed before delivery";

/// Why the sink gave an event up: a stable `label` (the counter in the summary and metrics) and
/// the `detail` written to the dead-letter file (Mixpanel's message, the last status, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiveUp {
    /// Counter label, e.g. `retries exhausted`.
    pub label: &'static str,
    /// Full reason.
    pub detail: String,
}

impl GiveUp {
    /// A reason with its label.
    pub fn new(label: &'static str, detail: impl Into<String>) -> Self {
        Self { label, detail: detail.into() }
    }

    /// The shutdown grace period ended first.
    pub fn deadline() -> Self {
        Self::new(Self::DEADLINE_LABEL, DEADLINE_REASON)
    }

    /// The label of [`GiveUp::deadline`].
    pub const DEADLINE_LABEL: &'static str = "shutdown deadline";
}

/// What became of one batch.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Events Mixpanel accepted.
    pub delivered: Vec<Event>,
    /// Events given up, with the reason.
    pub dead: Vec<(Event, GiveUp)>,
    /// Retries made.
    pub retries: u64,
    /// Requests sent.
    pub requests: u64,
}
