//! What phi-scrub knows about Mixpanel's ingestion API, in one place: hosts, limits, reserved
//! properties, the `distinct_id` values Mixpanel refuses, and how `time` is computed.
//!
//! Sources: docs.mixpanel.com `reference/import-events`,
//! `reference/track-event`, `reference/event-deduplication` and the ingestion OpenAPI spec.
//! Where they disagree (request size: 10 MB vs 2 MiB), the safer number is used.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Most events in one `/import` or `/track` request.
pub const MAX_EVENTS_PER_REQUEST: usize = 2000;
/// Largest uncompressed request body we send (the older, stricter documented limit).
pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;
/// Each event must be under 1 MB.
pub const MAX_EVENT_BYTES: usize = 1_000_000;
/// An event must have fewer than 255 properties.
pub const MAX_PROPERTIES: u32 = 254;
/// Nested objects in properties: at most 3 deep.
pub const MAX_OBJECT_DEPTH: u32 = 3;
/// Nested objects: fewer than 255 keys.
pub const MAX_OBJECT_KEYS: u32 = 254;
/// Lists: fewer than 255 elements.
pub const MAX_LIST_LEN: u32 = 254;
/// `$insert_id`: at most 36 bytes of letters, digits and `-`.
pub const MAX_INSERT_ID_BYTES: usize = 36;
/// Hex characters of the `$insert_id` phi-scrub derives (128 bits).
pub const INSERT_ID_HEX_LEN: usize = 32;
/// `/import` rejects events before 1971-01-01T00:00:00Z.
pub const EARLIEST_TIME_MS: i64 = 31_536_000_000;
/// `/import` rejects events more than one hour in the future.
pub const MAX_FUTURE_MS: i64 = 3_600_000;

/// Residency hosts.
pub const HOST_US: &str = "https://api.mixpanel.com";
/// EU residency.
pub const HOST_EU: &str = "https://api-eu.mixpanel.com";
/// India residency.
pub const HOST_IN: &str = "https://api-in.mixpanel.com";

/// Incoming property keys that would let a sender forge or hide Mixpanel's own fields: they
/// are removed from `properties` before the shaped values are added.
pub const RESERVED_INPUT_KEYS: &[&[u8]] =
    &[b"token", b"distinct_id", b"time", b"$insert_id", b"$ignore", b"bucket", b"$bucket", b"ip"];

/// `distinct_id` values Mixpanel refuses (compared case-insensitively): they mark a client bug,
/// and hashing them would merge unrelated people into one pseudonym.
const INVALID_DISTINCT_IDS: &[&str] = &[
    "anon",
    "anonymous",
    "nil",
    "none",
    "null",
    "n/a",
    "na",
    "undefined",
    "unknown",
    "<nil>",
    "0",
    "-1",
    "true",
    "false",
    "[]",
    "{}",
    "00000000-0000-0000-0000-000000000000",
];

/// Whether an identifier (decoded text, or a number's JSON text) can stand for a person.
pub fn is_usable_distinct_id(text: &[u8]) -> bool {
    let trimmed = match std::str::from_utf8(text) {
        Ok(s) => s.trim(),
        Err(_) => return false,
    };
    !trimmed.is_empty() && !INVALID_DISTINCT_IDS.iter().any(|bad| bad.eq_ignore_ascii_case(trimmed))
}

/// Milliseconds since the epoch of an RFC 3339 / ISO-8601 timestamp with an offset, such as
/// `2026-11-29T10:00:00.123+01:00` or `...Z`. A timestamp without an offset is ambiguous and
/// is refused.
pub fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Milliseconds since the epoch, now (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whether `/import` accepts an event time, given the current time.
pub fn time_in_range(time_ms: i64, now_ms: i64) -> bool {
    (EARLIEST_TIME_MS..=now_ms.saturating_add(MAX_FUTURE_MS)).contains(&time_ms)
}

/// Checks event times against a clock reading reused across events: reading the wall clock
/// per event cost about 1% of the transform.
#[derive(Debug, Default)]
pub struct RecentClock {
    now_ms: i64,
    checks_since_reading: u32,
}

/// A reading is reused for at most this many checks, which bounds how far a wall clock stepped
/// backwards (NTP) can loosen the future limit.
const CLOCK_REUSE_LIMIT: u32 = 1024;

impl RecentClock {
    /// Whether `/import` accepts an event time now. The clock is re-read when a time looks too
    /// far ahead of the last reading: the clock only moves on, so a time inside the range of an
    /// older reading is inside the range of the current time too, and no event is refused
    /// because the reading was old.
    pub fn time_in_range(&mut self, time_ms: i64) -> bool {
        self.checks_since_reading += 1;
        if self.checks_since_reading > CLOCK_REUSE_LIMIT || !time_in_range(time_ms, self.now_ms) {
            self.now_ms = now_ms();
            self.checks_since_reading = 0;
        }
        time_in_range(time_ms, self.now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_clock_accepts_a_time_ahead_of_a_stale_reading() {
        let mut clock = RecentClock { now_ms: EARLIEST_TIME_MS, checks_since_reading: 0 };
        let now = now_ms();
        assert!(clock.time_in_range(now + MAX_FUTURE_MS / 2), "a stale reading must be refreshed, not trusted");
        assert!(clock.now_ms >= now);
        assert!(!clock.time_in_range(now_ms() + MAX_FUTURE_MS + 60_000));
        assert!(!clock.time_in_range(EARLIEST_TIME_MS - 1));
    }

    #[test]
    fn recent_clock_rereads_after_its_reuse_limit() {
        let now = now_ms();
        let mut clock = RecentClock { now_ms: now - 5, checks_since_reading: 0 };
        for _ in 0..CLOCK_REUSE_LIMIT {
            assert!(clock.time_in_range(now - 10));
        }
        assert_eq!(clock.now_ms, now - 5, "a reading is reused up to {CLOCK_REUSE_LIMIT} times");
        assert!(clock.time_in_range(now - 10));
        assert!(clock.now_ms >= now, "then read again");
    }

    #[test]
    fn parses_utc_with_fraction() {
        assert_eq!(parse_timestamp_ms("2026-11-29T10:00:00.123Z"), Some(1_795_946_400_123));
    }

    #[test]
    fn parses_offsets() {
        assert_eq!(parse_timestamp_ms("2026-11-29T11:00:00+01:00"), parse_timestamp_ms("2026-11-29T10:00:00Z"));
    }

    #[test]
    fn truncates_sub_millisecond_digits() {
        assert_eq!(parse_timestamp_ms("2026-11-29T10:00:00.123999Z"), Some(1_795_946_400_123));
    }

    #[test]
    fn refuses_garbage_and_missing_offset() {
        for text in ["", "yesterday", "2026-11-29", "2026-11-29T10:00:00", "2026-13-01T00:00:00Z"] {
            assert_eq!(parse_timestamp_ms(text), None, "{text}");
        }
    }

    #[test]
    fn placeholder_ids_are_not_usable() {
        for bad in ["", " ", "null", "Undefined", "0", "-1", "00000000-0000-0000-0000-000000000000"] {
            assert!(!is_usable_distinct_id(bad.as_bytes()), "{bad}");
        }
        assert!(is_usable_distinct_id(b"user-42"));
        assert!(is_usable_distinct_id(b"42"));
    }

    #[test]
    fn time_range_follows_import_limits() {
        let now = 1_795_946_400_000;
        assert!(time_in_range(now, now));
        assert!(time_in_range(now + MAX_FUTURE_MS, now));
        assert!(!time_in_range(now + MAX_FUTURE_MS + 1, now));
        assert!(!time_in_range(EARLIEST_TIME_MS - 1, now));
    }
}
