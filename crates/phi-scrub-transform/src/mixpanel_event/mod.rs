//! The Mixpanel event builder: a Segment `track` / `page` / `screen` call becomes
//! `{"event":…,"properties":{…scrubbed properties…,"token","distinct_id","time","$insert_id","ip"}}`.
//!
//! One direction, one pass: the [`envelope`] reader walks the call once (the walker scrubs
//! `properties` and `properties_from` values as it goes), [`fields`] derives what phi-scrub
//! writes itself, and the [`writer`] writes the event. Each calls downward only; an event
//! Mixpanel would reject is dropped with the reason instead of failing later in a batch.

mod envelope;
mod fields;
mod writer;

use phi_scrub_core::secret::SecretBytes;
use phi_scrub_core::transform::BuildError;
use phi_scrub_json::{write_escaped_str, Scanner};

use crate::config::MixpanelConfig;
use crate::drop_reason::DropReason;
use crate::pseudonym::Pseudonymizer;
use crate::rewrite::Walker;

use envelope::EnvelopeReader;
use fields::FieldReader;
use writer::{EventWriter, Parts};

/// The compiled `mixpanel` table plus its per-event buffers.
#[derive(Debug)]
pub(crate) struct MixpanelEvent {
    reader: EnvelopeReader,
    fields: FieldReader,
    writer: EventWriter,
}

impl MixpanelEvent {
    pub(crate) fn compile(config: &MixpanelConfig) -> Result<Self, BuildError> {
        let token = std::str::from_utf8(config.token.expose()).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(BuildError::InvalidOption {
                option: "mixpanel.token",
                message: "the Mixpanel project token is empty; set `token = \"${MIXPANEL_TOKEN}\"`".into(),
            });
        }
        let mut token_json = Vec::new();
        write_escaped_str(&mut token_json, token);
        Ok(Self {
            reader: EnvelopeReader::compile(config.properties_from.iter())?,
            fields: FieldReader::new(config.page_names, config.time_resolution.millis()),
            writer: EventWriter { token_json: SecretBytes::new(token_json) },
        })
    }

    /// Reads the call at the scanner's position (scrubbing it with `walker`) and writes the
    /// Mixpanel event into `out`.
    pub(crate) fn build(
        &mut self,
        sc: &mut Scanner<'_, '_>,
        walker: &mut Walker<'_>,
        pseudonymizer: &Pseudonymizer,
        out: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let env = self.reader.read(sc, walker)?;
        sc.finish()?;
        let buf = sc.buf();
        let fields = self.fields.derive(&env, buf, pseudonymizer)?;
        self.reader.check_limits(&env)?;
        let parts = Parts { env: &env, reader: &self.reader, fields: &fields, built_name: &self.fields.name, buf };
        self.writer.write(&parts, walker, out)
    }
}
