//! The options of a `type = "phi_scrub"` transform block. The `///` docs here are the user docs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::detect::{DetectAction, Detector};
use crate::pseudonym::{Algorithm, SecretBytes};

/// Nesting limit when `max_depth` is not set: far deeper than any real Segment event.
pub(crate) const fn default_max_depth() -> usize {
    32
}

/// `[transforms.NAME]` with `type = "phi_scrub"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhiScrubConfig {
    /// The pseudonym key, usually `"${PHI_HMAC_KEY}"`. At least 16 bytes. Exactly one of
    /// `key` and `key_file` is required.
    #[serde(default)]
    pub key: Option<SecretBytes>,
    /// A file holding the key (one trailing newline is ignored).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `hmac_sha256` (default) or `blake3` (keyed).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Paths removed from the event.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Paths whose value is replaced by its keyed hash: a path string, or
    /// `{ path = "...", trim = true, lowercase = true }` to normalise before hashing.
    #[serde(default)]
    pub hash: Vec<HashEntry>,
    /// Default-deny: when set, every field not under an `allow` or `hash` path (or a
    /// generalising action) is removed.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// A ready-made default-deny policy: `"hipaa"`. It is a floor: the other rules can make it
    /// stricter, never looser (`allow` never lifts one of its rules); see `preset_overrides`.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Preset rules lifted on purpose, each for one exact path and with the reason:
    /// `[{ path = "properties.zip", action = "allow", reason = "…" }]`. `validate`, `audit` and
    /// the startup log list every one.
    #[serde(default)]
    pub preset_overrides: Vec<PresetOverride>,
    /// Paths whose value is replaced by the marker `"[redacted]"`.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Paths holding a date: kept as its year (years more than 89 years ago pooled).
    #[serde(default)]
    pub year: Vec<String>,
    /// Paths holding an age: ages of 90 and over become `"90+"`.
    #[serde(default)]
    pub age: Vec<String>,
    /// Paths holding a US ZIP code: kept as its first three digits (`000` for small areas).
    #[serde(default)]
    pub zip3: Vec<String>,
    /// Paths holding a URL: query, fragment, user info and id-like path segments removed.
    #[serde(default)]
    pub url_strip: Vec<String>,
    /// Query parameters that `url_strip` keeps, e.g. `["utm_source", "utm_campaign"]`.
    #[serde(default)]
    pub url_keep_params: Vec<String>,
    /// Paths holding a user-agent string: kept as browser family and major version.
    #[serde(default)]
    pub user_agent: Vec<String>,
    /// Strings cut to at most N characters: `{ "properties.query" = 20 }`.
    #[serde(default)]
    pub truncate: BTreeMap<String, u32>,
    /// Detectors run on every string, number, key and event name that survives the policy:
    /// `email`, `phone`, `ssn`, `ip`, `credit_card`, `url_query`, `date`, `zip`,
    /// `street_address`, `record_number`, `person_name`. With a preset, all of them unless set.
    #[serde(default)]
    pub detect: Option<Vec<Detector>>,
    /// What a detector does to a match: `redact` (default, `[redacted:email]`) or `hash`.
    #[serde(default)]
    pub detect_action: DetectAction,
    /// Deepest nesting of objects and arrays accepted; deeper events are dropped.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Reshape into a Mixpanel event.
    #[serde(default)]
    pub mixpanel: Option<MixpanelConfig>,
}

/// A ready-made policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Default-deny for Segment events, covering the HIPAA Safe Harbor identifiers as they show
    /// up in Segment payloads (docs/hipaa-preset.md lists every rule).
    Hipaa,
}

/// A preset rule lifted for one exact path, with the reason (shown by `validate`, `audit` and
/// the startup log).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetOverride {
    /// The exact path (no `*` or `**`) whose preset rule is lifted.
    pub path: String,
    /// What to do there instead of the preset's rule.
    pub action: OverrideAction,
    /// Why: required, and printed wherever lifted rules are listed.
    pub reason: String,
}

/// What a lifted preset rule becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideAction {
    /// Keep the value as it is.
    Allow,
    /// Replace it by its keyed hash (after trimming and lowercasing).
    Hash,
    /// Replace it by the redaction marker.
    Redact,
    /// Keep the year of a date.
    Year,
    /// Pool ages of 90 and over.
    Age,
    /// Keep the first three digits of a ZIP code.
    Zip3,
    /// Strip a URL's query, fragment and id-like segments.
    UrlStrip,
    /// Reduce a user agent to browser family and major version.
    UserAgent,
}

/// One `hash` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashEntry {
    /// The path whose value is hashed.
    pub path: String,
    /// Trim surrounding whitespace before hashing.
    pub trim: bool,
    /// Lowercase before hashing.
    pub lowercase: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HashEntryTable {
    path: String,
    #[serde(default)]
    trim: bool,
    #[serde(default)]
    lowercase: bool,
}

impl<'de> Deserialize<'de> for HashEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = HashEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path string or a table { path, trim, lowercase }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HashEntry, E> {
                Ok(HashEntry { path: v.to_owned(), trim: false, lowercase: false })
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<HashEntry, M::Error> {
                let t = HashEntryTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(HashEntry { path: t.path, trim: t.trim, lowercase: t.lowercase })
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// How page and screen calls are named, following Segment's Mixpanel (Legacy) destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageNaming {
    /// Segment's default: every page call is `Loaded a Page`, every screen `Loaded a Screen`.
    #[default]
    Consolidated,
    /// `Viewed {name} Page` / `Viewed {name} Screen` when the call has a name.
    Named,
    /// `Viewed {category} Page` when the call has a category, else as `named`.
    Categorized,
}

/// How precisely the Mixpanel `time` is kept: event times are analytics, but a coarser time is
/// harder to link to a visit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeResolution {
    #[default]
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
}

impl TimeResolution {
    /// The unit in milliseconds.
    pub const fn millis(self) -> i64 {
        match self {
            Self::Millisecond => 1,
            Self::Second => 1_000,
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }
}

/// `[transforms.NAME.mixpanel]`: output Mixpanel events instead of scrubbed Segment events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixpanelConfig {
    /// The Mixpanel project token, written into `properties.token`.
    pub token: SecretBytes,
    /// Event names for page and screen calls.
    #[serde(default)]
    pub page_names: PageNaming,
    /// Coarsens `time`: `millisecond` (default), `second`, `minute`, `hour` or `day` (UTC).
    #[serde(default)]
    pub time_resolution: TimeResolution,
    /// Extra properties taken from outside `properties`: `{ NAME = "path" }`. The value is
    /// scrubbed by the policy at its path first (a dropped value is not forwarded).
    #[serde(default)]
    pub properties_from: BTreeMap<String, String>,
}
