//! Sources: where events enter a pipeline. Each reads frames, wraps them as [`phi_scrub_core::event::Event`]s
//! and sends them downstream in batches, waiting when downstream is full (back-pressure).

pub mod http_server;
pub mod segment;
pub mod stdin;

use serde::Deserialize;

pub use http_server::HttpServerConfig;
pub use stdin::StdinConfig;

/// A `[sources.NAME]` table, by its `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceConfig {
    /// Newline-delimited JSON on standard input.
    Stdin(StdinConfig),
    /// Segment's tracking API and generic NDJSON / JSON-array bodies over HTTP.
    HttpServer(HttpServerConfig),
}

impl SourceConfig {
    /// The `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Stdin(_) => "stdin",
            Self::HttpServer(_) => "http_server",
        }
    }
}
