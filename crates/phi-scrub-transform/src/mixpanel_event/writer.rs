//! Writing the Mixpanel event: `{"event":…,"properties":{…scrubbed properties…,
//! …properties_from…,"token","distinct_id","time","$insert_id","ip":"0"}}`. Mixpanel's own keys
//! are always written here, never taken from the input (the reader removed them from
//! `properties`). Event names are free text too: with detectors on they are searched.

use phi_scrub_core::secret::SecretBytes;
use phi_scrub_json::write_escaped_str;

use crate::drop_reason::DropReason;
use crate::mixpanel;
use crate::rewrite::Walker;

use super::envelope::{Envelope, EnvelopeReader};
use super::fields::{EventFields, EventName};

/// Writes events for one project.
#[derive(Debug)]
pub(super) struct EventWriter {
    /// The project token as a JSON string.
    pub(super) token_json: SecretBytes,
}

/// What one event is written from.
pub(super) struct Parts<'a> {
    pub(super) env: &'a Envelope,
    pub(super) reader: &'a EnvelopeReader,
    pub(super) fields: &'a EventFields,
    /// A built event name (for [`EventName::Built`]).
    pub(super) built_name: &'a str,
    /// The input document.
    pub(super) buf: &'a [u8],
}

impl EventWriter {
    /// Writes the event into `out`; refuses it when it comes out over Mixpanel's size limit.
    pub(super) fn write(
        &self,
        parts: &Parts<'_>,
        walker: &mut Walker<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        out.extend_from_slice(b"{\"event\":");
        write_event_name(parts, walker, out)?;
        out.extend_from_slice(b",\"properties\":{");
        write_scrubbed(parts, out);
        let fields = parts.fields;
        out.extend_from_slice(b"\"token\":");
        out.extend_from_slice(self.token_json.expose());
        out.extend_from_slice(b",\"distinct_id\":\"");
        out.extend_from_slice(&fields.distinct_id);
        out.extend_from_slice(b"\",\"time\":");
        out.extend_from_slice(itoa::Buffer::new().format(fields.time_ms).as_bytes());
        out.extend_from_slice(b",\"$insert_id\":\"");
        out.extend_from_slice(&fields.insert_id);
        out.extend_from_slice(b"\",\"ip\":\"0\"}}");
        if out.len() >= mixpanel::MAX_EVENT_BYTES {
            return Err(DropReason::MixpanelLimit("event over mixpanel size limit"));
        }
        Ok(())
    }
}

/// The event name, as written or built, with detector matches replaced when detecting.
fn write_event_name(parts: &Parts<'_>, walker: &mut Walker<'_>, out: &mut Vec<u8>) -> Result<(), DropReason> {
    let buf = parts.buf;
    match parts.fields.name {
        EventName::Raw(span) if walker.detecting() && !span.escaped => {
            walker.write_plain_string_detected(span.raw(buf), out);
        }
        EventName::Raw(span) if walker.detecting() => walker.write_decoded_detected(span, buf, out)?,
        EventName::Built if walker.detecting() => walker.write_str_detected(parts.built_name, out),
        EventName::Raw(span) => out.extend_from_slice(span.raw(buf)),
        EventName::Built => write_escaped_str(out, parts.built_name),
    }
    Ok(())
}

/// The scrubbed properties' members (without their braces) and the captured `properties_from`
/// values, each followed by a comma.
fn write_scrubbed(parts: &Parts<'_>, out: &mut Vec<u8>) {
    let reader = parts.reader;
    if parts.env.properties.is_some_and(|p| p.members > 0) {
        out.extend_from_slice(&reader.properties[1..reader.properties.len() - 1]);
        out.push(b',');
    }
    for include in &reader.includes {
        if let Some(range) = include.captured.clone() {
            out.extend_from_slice(&include.key_json);
            out.push(b':');
            out.extend_from_slice(&reader.captures[range]);
            out.push(b',');
        }
    }
}
