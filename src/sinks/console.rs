//! The `console` sink: one JSON object per line on standard output.
//!
//! Events that a transform refused (routed here from a `NAME.dropped` output) are written as
//! dead-letter records, `{"dead_letter":true,"reason":…,"source":…,"event":"<original text>"}`,
//! so the output stays one valid JSON object per line whatever the original bytes were.

use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::component::{parse_table, BuildError, Resource, SinkConfig, SinkContext, SinkPlugin, Task};
use crate::fanout::Input;
use crate::metrics::{Metrics, Publisher};
use crate::sinks::held::Held;
use phi_scrub_core::event::Event;
use phi_scrub_json::write_escaped_str;

/// `[sinks.NAME] type = "console"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Vector's `encoding.codec`: `json` is accepted (and is what is written).
    #[serde(default)]
    pub encoding: Option<crate::vector_compat::Encoding>,
    /// Vector's `target`: `stdout` is accepted (and is where events go).
    #[serde(default)]
    pub target: Option<crate::vector_compat::Stdout>,
}

/// The `console` sink's registry entry.
pub const PLUGIN: SinkPlugin = SinkPlugin { type_name: "console", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SinkConfig>, String> {
    Ok(Box::new(parse_table::<ConsoleConfig>("console", table)?))
}

impl SinkConfig for ConsoleConfig {
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Stdout]
    }

    fn build(&self, cx: SinkContext<'_>) -> Result<Task, BuildError> {
        let writer = cx.stdio.take_stdout()?;
        Ok(Box::pin(run(writer, cx.input, cx.publisher)))
    }
}

/// Writes every event received on `rx` to `writer` until all inputs close.
pub async fn run<W: AsyncWrite + Unpin>(mut writer: W, rx: Input, publisher: Publisher) -> std::io::Result<Metrics> {
    write_all(&mut writer, rx, &publisher).await
}

/// Writes events as NDJSON lines until all inputs close. Each batch is one buffer and one write.
/// A batch's events (and any acknowledgement they hold) are released once the write after it
/// was taken (a blocking writer such as tokio's stdout or file finishes one write before taking
/// the next, and reports its error there), the last after the final flush; a batch whose write
/// fails fails its acknowledgements. So encoding one batch overlaps writing the one before.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    out: &mut W,
    mut rx: Input,
    publisher: &Publisher,
) -> std::io::Result<Metrics> {
    let mut metrics = Metrics::default();
    // A whole batch is encoded into one buffer and written with one call.
    let mut lines = Vec::new();
    let mut written: Option<Held> = None;
    while let Some(batch) = rx.recv().await {
        let batch = Held::new(batch);
        lines.clear();
        for event in batch.events() {
            metrics.events_in += 1;
            metrics.bytes_in += event.payload.len() as u64;
            let start = lines.len();
            encode_line(event, &mut lines);
            metrics.events_out += 1;
            metrics.bytes_out += (lines.len() - start) as u64;
            if event.metadata.drop_reason.is_some() {
                metrics.add("dead_letters", 1);
            }
        }
        out.write_all(&lines).await?;
        if let Some(before) = written.replace(batch) {
            before.release();
        }
        publisher.publish(&metrics);
    }
    out.flush().await?;
    if let Some(last) = written {
        last.release();
    }
    Ok(metrics)
}

/// Appends a valid JSON payload on one line: raw CR and LF can only be insignificant
/// whitespace in valid JSON (inside strings they are escaped), so they become spaces.
pub(crate) fn extend_one_line(line: &mut Vec<u8>, payload: &[u8]) {
    if memchr::memchr2(b'\n', b'\r', payload).is_some() {
        line.extend(payload.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    } else {
        line.extend_from_slice(payload);
    }
}

/// The NDJSON line for an event: its payload, or a dead-letter record for a refused one.
pub fn encode_line(event: &Event, line: &mut Vec<u8>) {
    match event.metadata.drop_reason {
        None => extend_one_line(line, &event.payload),
        Some(reason) => {
            line.extend_from_slice(b"{\"dead_letter\":true,\"reason\":");
            write_escaped_str(line, reason);
            line.extend_from_slice(b",\"source\":");
            write_escaped_str(line, &event.metadata.source);
            line.extend_from_slice(b",\"event\":");
            write_escaped_str(line, &String::from_utf8_lossy(&event.payload));
            line.push(b'}');
        }
    }
    line.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pretty_printed_event_stays_on_one_line() {
        // Found in review: verbatim copies keep newlines, which broke NDJSON outputs.
        let event = Event::new(bytes::Bytes::from_static(b"{\n  \"a\": \"x\\ny\"\r\n}"), "t".into());
        let mut line = Vec::new();
        encode_line(&event, &mut line);
        assert_eq!(line, b"{   \"a\": \"x\\ny\"  }\n");
        assert!(serde_json::from_slice::<serde_json::Value>(&line).is_ok());
    }
}
