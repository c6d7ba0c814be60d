//! Dead letters: events a sink gave up on, appended as NDJSON with the reason and the sink's name,
//! `{"sink":…,"reason":…,"event":<the event>}`. The file is flushed and synced when the sink ends.
//! A source that gives a message up (the `nats` source, after `jetstream.max_deliver`
//! deliveries) writes `{"source":…,"reason":…,"event":…}` the same way.
//!
//! A sink without a `dead_letter.path` still counts its dead letters (they appear in the summary
//! by reason); it only has nowhere to keep them.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde::Deserialize;

use phi_scrub_core::event::Event;
use phi_scrub_json::write_escaped_str;

/// `dead_letter.path` on any sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// NDJSON file, opened for append.
    pub path: PathBuf,
}

/// Appends dead letters to a file.
#[derive(Debug)]
pub struct DeadLetterWriter {
    /// `"sink"` or `"source"`: the key naming the component.
    kind: &'static [u8],
    name: String,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl DeadLetterWriter {
    /// Opens (creating if needed) the dead-letter file for the sink `sink`.
    pub fn open(sink: &str, config: &DeadLetterConfig) -> std::io::Result<Self> {
        Self::open_as(b"{\"sink\":", sink, config)
    }

    /// Opens (creating if needed) the dead-letter file for the source `source`.
    pub fn open_for_source(source: &str, config: &DeadLetterConfig) -> std::io::Result<Self> {
        Self::open_as(b"{\"source\":", source, config)
    }

    fn open_as(kind: &'static [u8], name: &str, config: &DeadLetterConfig) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&config.path)?;
        Ok(Self { kind, name: name.to_owned(), out: BufWriter::new(file), line: Vec::new() })
    }

    /// Writes one dead letter.
    pub fn write(&mut self, event: &Event, reason: &str) -> std::io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(self.kind);
        write_escaped_str(&mut self.line, &self.name);
        self.line.extend_from_slice(b",\"reason\":");
        write_escaped_str(&mut self.line, reason);
        self.line.extend_from_slice(b",\"event\":");
        if serde_json::from_slice::<serde::de::IgnoredAny>(&event.payload).is_ok() {
            crate::sinks::console::extend_one_line(&mut self.line, &event.payload);
        } else {
            write_escaped_str(&mut self.line, &String::from_utf8_lossy(&event.payload));
        }
        self.line.extend_from_slice(b"}\n");
        self.out.write_all(&self.line)
    }

    /// Hands what was written to the operating system (it survives the process being killed).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Flushes and syncs to disk.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}
