//! The `stdin` source: newline-delimited JSON, one event per line, with a maximum line length.
//!
//! Lines are framed by [`LineFramer`] with a maximum length: whole buffers are searched with
//! `memchr`, a line longer than `max_length` is counted and skipped without ever being held
//! whole in memory. Blank lines are ignored. Frames are split off the read buffer as `Bytes`:
//! no copy, no UTF-8 check here (the transform validates).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::framing::LineFramer;
use crate::component::{parse_table, BuildError, Resource, SourceConfig, SourceContext, SourcePlugin, Task};
use crate::fanout::Fanout;
use crate::metrics::{Metrics, Publisher};
use phi_scrub_core::event::Event;

/// Default maximum line length: 1 MiB (Mixpanel refuses events of 1 MB and more anyway).
pub const fn default_max_length() -> usize {
    1024 * 1024
}

/// Size of the read buffer; also bounds a batch.
const READ_CHUNK: usize = 1024 * 1024;

/// `[sources.NAME] type = "stdin"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// Longest accepted line in bytes; longer lines are skipped and counted as `line too long`.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// Vector's `decoding.codec`: `json` is accepted (and is what is read).
    #[serde(default)]
    pub decoding: Option<crate::vector_compat::Decoding>,
    /// Vector's `framing.method`: `newline_delimited` is accepted (and is how lines are read).
    #[serde(default)]
    pub framing: Option<crate::vector_compat::Framing>,
}

/// The `stdin` source's registry entry.
pub const PLUGIN: SourcePlugin = SourcePlugin { type_name: "stdin", parse };

fn parse(table: toml::Table) -> Result<Box<dyn SourceConfig>, String> {
    Ok(Box::new(parse_table::<StdinConfig>("stdin", table)?))
}

impl SourceConfig for StdinConfig {
    fn resources(&self) -> Vec<Resource> {
        vec![Resource::Stdin]
    }

    fn build(&self, cx: SourceContext<'_>) -> Result<Task, BuildError> {
        let reader = cx.stdio.take_stdin()?;
        Ok(Box::pin(run(reader, cx.name, self.clone(), cx.out, cx.shutdown, cx.publisher)))
    }
}

/// Reads `reader` until end of input or shutdown, sending batches to `out`.
pub async fn run<R: AsyncRead + Unpin>(
    mut reader: R,
    name: Arc<str>,
    config: StdinConfig,
    mut out: Fanout,
    mut shutdown: watch::Receiver<bool>,
    publisher: Publisher,
) -> std::io::Result<Metrics> {
    let mut framer = LineFramer::new(config.max_length);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut metrics = Metrics::default();
    let mut batch = Vec::new();
    loop {
        while let Some(frame) = framer.next(&mut buf, false, &mut metrics) {
            push_frame(frame, &name, &mut batch, &mut metrics);
        }
        if !batch.is_empty() {
            publisher.publish(&metrics);
            if out.send(std::mem::take(&mut batch)).await.is_err() {
                break;
            }
        }
        buf.reserve(READ_CHUNK);
        let read = tokio::select! {
            r = reader.read_buf(&mut buf) => r?,
            _ = shutdown.changed() => {
                // Complete lines already read are passed on; a partial last line is not an event.
                while let Some(frame) = framer.next(&mut buf, false, &mut metrics) {
                    push_frame(frame, &name, &mut batch, &mut metrics);
                }
                if !batch.is_empty() {
                    let _ = out.send(batch).await;
                }
                break;
            }
        };
        if read == 0 {
            while let Some(frame) = framer.next(&mut buf, true, &mut metrics) {
                push_frame(frame, &name, &mut batch, &mut metrics);
            }
            if !batch.is_empty() {
                let _ = out.send(batch).await;
            }
            break;
        }
    }
    Ok(metrics)
}

fn push_frame(frame: Bytes, name: &Arc<str>, batch: &mut Vec<Event>, metrics: &mut Metrics) {
    if frame.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    metrics.events_in += 1;
    metrics.bytes_in += frame.len() as u64;
    metrics.events_out += 1;
    metrics.bytes_out += frame.len() as u64;
    batch.push(Event::new(frame, name.clone()));
}
