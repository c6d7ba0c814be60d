//! Operator logs, through `tracing` as Vector does: levels from `PHI_SCRUB_LOG` (`RUST_LOG`
//! syntax, default `info`), lines as text or JSON on stderr, and a [`Throttle`] so that a storm of
//! one condition (Mixpanel answering 429 for an hour) writes a line now and then with the count
//! it held back, not a line per request.
//!
//! What a line may hold: component names and types, counts, statuses, durations, our own error
//! messages. Never a value from an event, never a secret: the call sites log labels and numbers
//! only, and the libraries underneath (hyper, reqwest, rustls, async-nats), whose debug and trace
//! lines can carry headers and payloads, are held at `warn` whatever `PHI_SCRUB_LOG` asks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The environment variable holding the log directives.
pub const LOG_ENV: &str = "PHI_SCRUB_LOG";

/// How often one condition of one component may write a line.
pub const THROTTLE_EVERY: Duration = Duration::from_secs(10);

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per record.
    #[default]
    Text,
    /// One JSON object per line, the fields flattened beside `message`.
    Json,
}

/// `PHI_SCRUB_LOG` could not be read as directives.
#[derive(Debug, thiserror::Error)]
#[error("{LOG_ENV} is not a valid filter (RUST_LOG syntax, e.g. `info` or `phi_scrub=debug`): {0}")]
pub struct LogFilterError(String);

/// Installs the process's log subscriber, writing to stderr.
pub fn init(format: LogFormat) -> Result<(), LogFilterError> {
    let directives = std::env::var(LOG_ENV).unwrap_or_else(|_| "info".to_owned());
    let ours = EnvFilter::builder().parse(&directives).map_err(|e| LogFilterError(e.to_string()))?;
    let filter = ours.and(filter_fn(libraries_at_warn));
    let lines = || tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    let layer = match format {
        LogFormat::Text => lines().with_target(false).boxed(),
        LogFormat::Json => lines().json().flatten_event(true).with_current_span(true).with_span_list(false).boxed(),
    };
    // A second init (tests running several pipelines) keeps the first subscriber. `try_init`
    // also routes the `log` crate's records (reqwest, rustls) through the same filter.
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
    Ok(())
}

/// Our own records pass at any level; a library's only at `warn` and `error`.
fn libraries_at_warn(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("phi_scrub") || *meta.level() <= Level::WARN
}

/// At most one line per condition per [`THROTTLE_EVERY`]; one per component, shared by its
/// tasks.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    windows: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug)]
struct Window {
    written: Instant,
    held: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::every(THROTTLE_EVERY)
    }
}

impl Throttle {
    /// A throttle letting one line per condition through every `every`.
    pub fn every(every: Duration) -> Self {
        Self { every, windows: Mutex::new(HashMap::new()) }
    }

    /// Whether a line about `condition` may be written now: `Some(lines held back since the
    /// last one)`, or `None` (counted as held back).
    pub fn permit(&self, condition: &'static str) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match windows.get_mut(condition) {
            Some(w) if now.duration_since(w.written) < self.every => {
                w.held += 1;
                None
            }
            Some(w) => {
                let held = std::mem::take(&mut w.held);
                w.written = now;
                Some(held)
            }
            None => {
                windows.insert(condition, Window { written: now, held: 0 });
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_writes_one_line_per_window_with_the_count_held_back() {
        let throttle = Throttle::every(Duration::from_millis(200));
        assert_eq!(throttle.permit("retrying"), Some(0));
        assert_eq!((0..50).filter_map(|_| throttle.permit("retrying")).count(), 0);
        assert_eq!(throttle.permit("gave up"), Some(0), "conditions are throttled apart");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(throttle.permit("retrying"), Some(50));
        assert_eq!(throttle.permit("retrying"), None);
    }
}
