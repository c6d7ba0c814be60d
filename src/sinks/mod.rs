//! Sinks: where events leave a pipeline.

pub mod console;

use serde::Deserialize;

pub use console::ConsoleConfig;

/// A `[sinks.NAME]` table, by its `type` (`inputs` is taken off before this is parsed).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SinkConfig {
    /// One JSON object per line on standard output.
    Console(ConsoleConfig),
}

impl SinkConfig {
    /// The `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Console(_) => "console",
        }
    }
}
