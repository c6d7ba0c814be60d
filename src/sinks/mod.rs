//! Sinks: where events leave a pipeline.

pub mod console;
pub mod dead_letter;
pub mod file;
pub mod http;

use serde::Deserialize;

pub use console::ConsoleConfig;
pub use file::FileSinkConfig;
pub use http::HttpSinkConfig;

/// A `[sinks.NAME]` table, by its `type` (`inputs` is taken off before this is parsed).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SinkConfig {
    /// One JSON object per line on standard output.
    Console(ConsoleConfig),
    /// NDJSON appended to a file.
    File(FileSinkConfig),
    /// Batches POSTed to an HTTP endpoint (Mixpanel presets).
    Http(Box<HttpSinkConfig>),
}

impl SinkConfig {
    /// The `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Console(_) => "console",
            Self::File(_) => "file",
            Self::Http(_) => "http",
        }
    }
}
