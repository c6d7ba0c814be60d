//! Shutdown signals shared by the topology and the components it runs.

use std::time::Duration;

use tokio::sync::watch;

/// Shutdown signals: `stop` tells sources to stop accepting; `deadline` tells sinks that the
/// grace period is over and what is still undelivered must become dead letters.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Flips when sources must stop.
    pub stop: watch::Receiver<bool>,
    /// Flips when the drain time is over.
    pub deadline: watch::Receiver<bool>,
    /// How long the pipeline drains when it stops for a failed component (the process's own
    /// signals time their drain themselves, through `deadline`).
    pub grace: Duration,
}
