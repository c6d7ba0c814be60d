//! Why an event went to the `dropped` output: the transform's one refusal type, with the short
//! stable label that is both the dead-letter reason and its counter's name.

use phi_scrub_json::{JsonError, JsonErrorKind};

/// Why an event went to `dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Not strictly valid JSON.
    Json(JsonErrorKind),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A Segment field has the wrong type (the label names it).
    InvalidField(&'static str),
    /// A track call without a non-empty `event` string.
    MissingEventName,
    /// A Segment type other than track, page and screen.
    UnsupportedType,
    /// Neither `userId` nor `anonymousId` holds a usable identifier.
    MissingDistinctId,
    /// Neither `timestamp` nor `originalTimestamp` is present.
    MissingTimestamp,
    /// The timestamp is not ISO-8601 with an offset.
    BadTimestamp,
    /// The time is before 1971 or more than an hour ahead: Mixpanel would reject it.
    TimestampOutOfRange,
    /// The event breaks one of Mixpanel's per-event limits (the label names it).
    MixpanelLimit(&'static str),
}

impl DropReason {
    /// A short stable label: the `dropped` reason and its counter name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json(kind) => kind.as_str(),
            Self::NotAnObject => "not a json object",
            Self::InvalidField(label) | Self::MixpanelLimit(label) => label,
            Self::MissingEventName => "missing event name",
            Self::UnsupportedType => "unsupported type",
            Self::MissingDistinctId => "no usable userId or anonymousId",
            Self::MissingTimestamp => "missing timestamp",
            Self::BadTimestamp => "unparseable timestamp",
            Self::TimestampOutOfRange => "timestamp out of mixpanel range",
        }
    }
}

impl From<JsonError> for DropReason {
    fn from(e: JsonError) -> Self {
        Self::Json(e.kind)
    }
}
