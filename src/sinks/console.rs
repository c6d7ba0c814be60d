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
/// While batches keep coming, a batch's events (and any acknowledgement they hold) are released
/// once the write after it was taken (a blocking writer such as tokio's stdout or file finishes
/// one write before taking the next, and reports its error there), so encoding one batch
/// overlaps writing the one before. When nothing more is queued, the writer is flushed and the
/// last batch released before waiting, so a sender waiting for its acknowledgement gets it. A
/// batch whose write fails fails its acknowledgements.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    out: &mut W,
    mut rx: Input,
    publisher: &Publisher,
) -> std::io::Result<Metrics> {
    let mut metrics = Metrics::default();
    // A whole batch is encoded into one buffer and written with one call.
    let mut lines = Vec::new();
    let mut written: Option<Held> = None;
    loop {
        let next = match rx.try_recv() {
            Ok(batch) => Some(batch),
            Err(_) => {
                settle(out, written.take()).await?;
                rx.recv().await
            }
        };
        let Some(batch) = next else { break };
        // An empty write is not a write: it would release the batch before without waiting.
        if batch.is_empty() {
            continue;
        }
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
    settle(out, written).await?;
    Ok(metrics)
}

/// Flushes the writer, then releases the batch written last.
async fn settle<W: AsyncWrite + Unpin>(out: &mut W, written: Option<Held>) -> std::io::Result<()> {
    out.flush().await?;
    if let Some(batch) = written {
        batch.release();
    }
    Ok(())
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
    use std::sync::Arc;
    use std::time::Duration;

    use phi_scrub_core::event::AckGroup;

    use super::*;
    use crate::metrics::Registry;

    #[tokio::test]
    async fn a_lone_batch_is_acknowledged_while_the_input_stays_open() {
        // Found in review: the last batch was released only by the next write or at the end,
        // so a sender waiting for its acknowledgement waited for the next request.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let sink = tokio::spawn(async move {
            write_all(&mut Vec::new(), Input::new(rx), &Registry::default().publisher("sink", "out")).await
        });
        let (settled, outcome) = tokio::sync::oneshot::channel();
        let group = AckGroup::new(move |ok| {
            let _ = settled.send(ok);
        });
        let event = Event::new(bytes::Bytes::from_static(b"{}"), Arc::from("s")).with_ack(&group);
        drop(group);
        tx.send(vec![]).await.unwrap();
        tx.send(vec![event]).await.unwrap();
        let kept = tokio::time::timeout(Duration::from_secs(5), outcome).await;
        assert_eq!(kept.ok().and_then(Result::ok), Some(true), "not acknowledged while the input is open");
        drop(tx);
        assert_eq!(sink.await.unwrap().unwrap().events_out, 1);
    }

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
