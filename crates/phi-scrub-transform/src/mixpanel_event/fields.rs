//! The fields phi-scrub writes itself, derived from the envelope: the event name (Segment's
//! `event`, or "Viewed NAME Page" for page and screen calls), `distinct_id` (the keyed hash of
//! `userId`, else `anonymousId`), `time` in milliseconds, and a deterministic `$insert_id`.
//! An event Mixpanel would reject is refused here with the reason.

use phi_scrub_json::StrSpan;

use crate::config::PageNaming;
use crate::drop_reason::DropReason;
use crate::mixpanel;
use crate::pseudonym::Pseudonymizer;

use super::envelope::{Envelope, Scalar};

/// Tags that keep ids made from a `messageId` apart from ids made from whole events (the id key
/// itself is used for nothing else, so one byte suffices).
const INSERT_ID_DOMAIN: &[u8] = b"m";
const INSERT_ID_FALLBACK_DOMAIN: &[u8] = b"e";

/// The event's name: Segment's `event` string as written, or one built into a buffer.
#[derive(Debug, Clone, Copy)]
pub(super) enum EventName {
    /// The `event` string of a track call.
    Raw(StrSpan),
    /// A page or screen call's name, built by [`FieldReader::event_name`].
    Built,
}

/// The fields of one Mixpanel event that phi-scrub writes itself.
#[derive(Debug)]
pub(super) struct EventFields {
    pub(super) name: EventName,
    pub(super) distinct_id: [u8; 64],
    pub(super) time_ms: i64,
    pub(super) insert_id: [u8; mixpanel::INSERT_ID_HEX_LEN],
}

/// Derives [`EventFields`]: settings, the clock that bounds `time`, and scratch buffers.
#[derive(Debug, Default)]
pub(super) struct FieldReader {
    pub(super) page_names: PageNaming,
    pub(super) time_unit_ms: i64,
    clock: mixpanel::RecentClock,
    /// A built event name.
    pub(super) name: String,
    /// Decoded text of an escaped field.
    text: Vec<u8>,
}

enum CallType {
    Track,
    Page,
    Screen,
}

impl FieldReader {
    pub(super) fn new(page_names: PageNaming, time_unit_ms: i64) -> Self {
        Self { page_names, time_unit_ms, ..Self::default() }
    }

    /// Every field, or the reason Mixpanel could not take the event.
    pub(super) fn derive(
        &mut self,
        env: &Envelope,
        buf: &[u8],
        pseudonymizer: &Pseudonymizer,
    ) -> Result<EventFields, DropReason> {
        let name = self.event_name(env, buf)?;
        let distinct_id = self.distinct_id(env, buf, pseudonymizer)?;
        let time_ms = self.event_time(env, buf)?;
        let time_ms = time_ms - time_ms.rem_euclid(self.time_unit_ms);
        let insert_id = self.insert_id(env, buf, pseudonymizer)?;
        Ok(EventFields { name, distinct_id, time_ms, insert_id })
    }

    fn event_name(&mut self, env: &Envelope, buf: &[u8]) -> Result<EventName, DropReason> {
        let kind = match env.kind {
            Some(span) => match span.text(buf, &mut self.text)? {
                b"track" => CallType::Track,
                b"page" => CallType::Page,
                b"screen" => CallType::Screen,
                _ => return Err(DropReason::UnsupportedType),
            },
            None => CallType::Track,
        };
        let (noun, fallback) = match kind {
            CallType::Track => {
                return match env.event {
                    Some(span) if span.end - span.start > 2 => Ok(EventName::Raw(span)),
                    _ => Err(DropReason::MissingEventName),
                }
            }
            CallType::Page => ("Page", "Loaded a Page"),
            CallType::Screen => ("Screen", "Loaded a Screen"),
        };
        let label = match self.page_names {
            PageNaming::Consolidated => None,
            PageNaming::Named => env.name,
            PageNaming::Categorized => env.category.or(env.name),
        };
        self.name.clear();
        match label {
            Some(span) if span.end - span.start > 2 => {
                let label = span.text(buf, &mut self.text)?;
                self.name.push_str("Viewed ");
                self.name.push_str(&String::from_utf8_lossy(label));
                self.name.push(' ');
                self.name.push_str(noun);
            }
            _ => self.name.push_str(fallback),
        }
        Ok(EventName::Built)
    }

    /// The keyed hash of `userId`, or of `anonymousId` when `userId` is absent or a placeholder.
    fn distinct_id(
        &mut self,
        env: &Envelope,
        buf: &[u8],
        pseudonymizer: &Pseudonymizer,
    ) -> Result<[u8; 64], DropReason> {
        for id in [env.user_id, env.anonymous_id].into_iter().flatten() {
            let id = id.text(buf, &mut self.text)?;
            if mixpanel::is_usable_distinct_id(id) {
                return Ok(pseudonymizer.hash_hex(id));
            }
        }
        Err(DropReason::MissingDistinctId)
    }

    fn event_time(&mut self, env: &Envelope, buf: &[u8]) -> Result<i64, DropReason> {
        let span = env.timestamp.or(env.original_timestamp).ok_or(DropReason::MissingTimestamp)?;
        let parsed = std::str::from_utf8(span.text(buf, &mut self.text)?).ok().and_then(mixpanel::parse_timestamp_ms);
        let time_ms = parsed.ok_or(DropReason::BadTimestamp)?;
        if !self.clock.time_in_range(time_ms) {
            return Err(DropReason::TimestampOutOfRange);
        }
        Ok(time_ms)
    }

    /// 32 hex characters from the keyed hash of `messageId` (or, without one, of the event
    /// bytes `buf`), so a retried event gets the same `$insert_id` and Mixpanel de-duplicates
    /// it.
    fn insert_id(
        &mut self,
        env: &Envelope,
        buf: &[u8],
        pseudonymizer: &Pseudonymizer,
    ) -> Result<[u8; mixpanel::INSERT_ID_HEX_LEN], DropReason> {
        let digest = match env.message_id.map(Scalar::String).filter(|s| s.is_present()) {
            Some(span) => {
                let message_id = span.text(buf, &mut self.text)?;
                pseudonymizer.insert_id_digest(&[INSERT_ID_DOMAIN, message_id])
            }
            None => pseudonymizer.insert_id_digest(&[INSERT_ID_FALLBACK_DOMAIN, buf]),
        };
        let mut hex = [0u8; mixpanel::INSERT_ID_HEX_LEN];
        // Cannot fail: 16 bytes fill 32 hex characters exactly.
        let _ = hex::encode_to_slice(digest, &mut hex);
        Ok(hex)
    }
}
