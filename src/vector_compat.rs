//! What Vector's configs say that phi-scrub takes too: the `encoding`, `decoding` and `framing`
//! tables Vector writes on its sinks and sources (phi-scrub only ever reads and writes JSON
//! objects, so each has one accepted value), and, for Vector options phi-scrub has no use for,
//! an error that names phi-scrub's equivalent instead of a bare "unknown field".

use serde::de::{Deserialize, Deserializer, Error as _};

/// A config string that must be one value: `expected`, or an error naming it (never the value
/// given, which could be anything).
fn only<'de, D: Deserializer<'de>>(deserializer: D, expected: &str, why: &str) -> Result<(), D::Error> {
    let given = String::deserialize(deserializer)?;
    if given == expected {
        Ok(())
    } else {
        Err(D::Error::custom(format!("{why}: the only value is `{expected}`")))
    }
}

/// Vector's `encoding.codec` on a sink: phi-scrub writes JSON events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonCodec;

impl<'de> Deserialize<'de> for JsonCodec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        only(deserializer, "json", "phi-scrub writes JSON events").map(|()| Self)
    }
}

/// `encoding = { codec = "json" }`, as Vector requires on its `console`, `file` and `http` sinks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encoding {
    /// Only `json`.
    pub codec: JsonCodec,
}

/// Vector's `decoding.codec` on a source: phi-scrub reads JSON events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonDecoder;

impl<'de> Deserialize<'de> for JsonDecoder {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        only(deserializer, "json", "phi-scrub reads JSON events").map(|()| Self)
    }
}

/// `decoding = { codec = "json" }` on a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decoding {
    /// Only `json`.
    pub codec: JsonDecoder,
}

/// Vector's `framing.method` on a line source: one event per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewlineDelimited;

impl<'de> Deserialize<'de> for NewlineDelimited {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        only(deserializer, "newline_delimited", "phi-scrub reads one event per line").map(|()| Self)
    }
}

/// `framing = { method = "newline_delimited" }` on the `stdin` source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framing {
    /// Only `newline_delimited`.
    pub method: NewlineDelimited,
}

/// Vector's `target` on the `console` sink: phi-scrub writes to stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stdout;

impl<'de> Deserialize<'de> for Stdout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        only(deserializer, "stdout", "the console sink writes to standard output").map(|()| Self)
    }
}

/// Vector options phi-scrub does not take, by component type, with what to write instead.
const HINTS: &[(&str, &str, &str)] = &[
    ("http_server", "auth", "phi-scrub checks Segment write keys: `write_keys = [\"${SEGMENT_WRITE_KEY}\"]`"),
    ("http_server", "encoding", "use `decoding.codec = \"json\"`, or leave it out"),
    ("http_server", "method", "phi-scrub takes POST, as Segment's API and agents' http outputs send"),
    ("http_server", "headers", "phi-scrub adds no request metadata to events (it could carry identifiers)"),
    ("http_server", "query_parameters", "phi-scrub adds no request metadata to events (it could carry identifiers)"),
    ("http_server", "host_key", "phi-scrub adds no request metadata to events (it could carry identifiers)"),
    ("stdin", "host_key", "phi-scrub adds no host field to events"),
    ("file", "compression", "phi-scrub writes plain NDJSON; compress the file afterwards"),
    ("file", "idle_timeout_secs", "phi-scrub keeps the file open until the pipeline ends"),
    ("http", "method", "phi-scrub POSTs, as Mixpanel's ingestion API takes"),
    ("http", "framing", "phi-scrub sends a JSON array of events, as Mixpanel's ingestion API takes"),
    ("http", "headers", "use `preset` and `auth` for Mixpanel's headers"),
];

/// Adds phi-scrub's equivalent to an "unknown field `X`" message for a Vector option it has.
pub fn with_hint(type_name: &str, message: String) -> String {
    let Some(field) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) else {
        return message;
    };
    match HINTS.iter().find(|(t, option, _)| *t == type_name && *option == field) {
        Some((_, option, hint)) => format!("`{option}` is a Vector option phi-scrub does not take: {hint}"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_is_accepted_and_the_error_says_so() {
        let ok: Encoding = toml::from_str("codec = \"json\"").unwrap();
        assert_eq!(ok, Encoding::default());
        let err = toml::from_str::<Encoding>("codec = \"logfmt-secret\"").unwrap_err();
        let err = phi_scrub_core::config::safe_message(&err);
        assert!(err.contains("the only value is `json`") && !err.contains("logfmt-secret"), "{err}");
    }

    #[test]
    fn a_known_vector_option_gets_phi_scrubs_equivalent() {
        let m = with_hint("http_server", "unknown field `auth`, expected one of `address`".into());
        assert!(m.contains("write_keys"), "{m}");
        assert_eq!(with_hint("stdin", "unknown field `x`".into()), "unknown field `x`");
    }
}
