//! The `file` sink: NDJSON appended to a file, each batch handed to the operating system before
//! its events are released, the file synced when the pipeline ends.
//! Refused events (from a `NAME.dropped` output) are written as dead-letter records, as the
//! console sink does.

use std::path::PathBuf;

use crate::component::{parse_table, BuildError, SinkConfig, SinkContext, SinkPlugin, Task};
use crate::fanout::Input;
use crate::metrics::{Metrics, Publisher};
use serde::Deserialize;

/// `[sinks.NAME] type = "file"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// File to append to (created if missing). A plain path: no time templates.
    pub path: PathBuf,
    /// Vector's `encoding.codec`: `json` is accepted (and is what is written).
    #[serde(default)]
    pub encoding: Option<crate::vector_compat::Encoding>,
}

/// The `file` sink's registry entry.
pub const PLUGIN: SinkPlugin = SinkPlugin { type_name: "file", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SinkConfig>, String> {
    let config = parse_table::<FileSinkConfig>("file", table)?;
    if config.path.to_string_lossy().contains('%') {
        // Vector's file sink expands strftime templates (`/tmp/vector-%Y-%m-%d.log`).
        return Err("`path` has a `%` template: phi-scrub writes one plain file path; rotate it with logrotate".into());
    }
    Ok(Box::new(config))
}

impl SinkConfig for FileSinkConfig {
    fn build(&self, cx: SinkContext<'_>) -> Result<Task, BuildError> {
        Ok(Box::pin(run(self.clone(), cx.input, cx.publisher)))
    }
}

/// Appends every event received on `rx` to the file until all inputs close.
pub async fn run(config: FileSinkConfig, rx: Input, publisher: Publisher) -> std::io::Result<Metrics> {
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(&config.path).await?;
    let metrics = super::console::write_all(&mut file, rx, &publisher).await?;
    file.sync_all().await?;
    Ok(metrics)
}
