//! The unit that flows through a pipeline: one JSON object as raw bytes, plus metadata.
//!
//! The payload stays `Bytes` end to end; components that do not change it pass it on without
//! copying. Metadata never holds payload content, so it is safe to log.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

/// Where an event came from and what happened to it, never its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    /// Name of the source component that produced the event.
    pub source: Arc<str>,
    /// When the source received it.
    pub received_at: SystemTime,
    /// Set on events sent to a `dropped` output: why the transform refused it.
    pub drop_reason: Option<&'static str>,
}

/// One event: the raw bytes of one JSON object, and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The JSON bytes, exactly as received or as rewritten.
    pub payload: Bytes,
    /// Where it came from.
    pub metadata: EventMetadata,
}

impl Event {
    /// A new event from `source`, received now.
    pub fn new(payload: Bytes, source: Arc<str>) -> Self {
        Self { payload, metadata: EventMetadata { source, received_at: SystemTime::now(), drop_reason: None } }
    }

    /// The same event with a new payload (metadata kept).
    pub fn with_payload(self, payload: Bytes) -> Self {
        Self { payload, metadata: self.metadata }
    }
}
