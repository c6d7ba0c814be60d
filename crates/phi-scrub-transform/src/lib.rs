//! The `phi_scrub` transform: applies a compiled drop / hash / allow policy to each event in one
//! pass over its bytes and, with a `mixpanel` table, reshapes it into a Mixpanel event.
//!
//! Fail closed: an event that is not strictly valid JSON, or that cannot be shaped, goes to the
//! `dropped` output with a reason and is counted; nothing is forwarded as it came. The key never
//! leaves [`crate::pseudonym`]; errors and `Debug` output show neither it nor event content.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod action;
mod config;
pub mod detect;
mod drop_reason;
mod fold;
mod generalise;
pub mod hmac_sha256;
mod key_table;
mod key_words;
pub mod mixpanel;
mod mixpanel_event;
pub mod path;
mod policy;
mod preset;
pub mod pseudonym;
mod rewrite;

use bytes::Bytes;

pub use config::{
    HashEntry, MixpanelConfig, OverrideAction, PageNaming, PhiScrubConfig, Preset, PresetOverride, TimeResolution,
};
pub use drop_reason::DropReason;
pub use generalise::Generaliser;
pub use generalise::{REDACTED, RESTRICTED_ZIP3};
pub use policy::Policy;
pub use preset::markdown_table as preset_table;

use crate::detect::{Detector, Detectors};
use crate::pseudonym::{read_key_file, Pseudonymizer};
use phi_scrub_core::event::Event;
use phi_scrub_core::transform::{
    BuildError, FunctionTransform, Metrics, OutputBuffer, TransformConfig, TransformPlugin,
};
use phi_scrub_json::{ScanState, Scanner, ValueKind};

use generalise::GeneraliseContext;
use mixpanel_event::MixpanelEvent;
use policy::NodeId;
pub use rewrite::{AuditTrail, Outcome};
use rewrite::{Scratch, ValueRules, WalkCounts, Walker};

/// The registry entry for `type = "phi_scrub"`.
pub const PLUGIN: TransformPlugin = TransformPlugin { type_name: "phi_scrub", parse: parse_config };

/// The option names of a `phi_scrub` block, as `plugin.toml` lists them: read from
/// [`PhiScrubConfig`] itself, so the list cannot drift from the options accepted.
pub fn options() -> &'static [&'static str] {
    phi_scrub_core::config::option_names::<PhiScrubConfig>()
}

fn parse_config(table: toml::Table) -> Result<Box<dyn TransformConfig>, String> {
    let config: PhiScrubConfig =
        table.try_into().map_err(|e: toml::de::Error| phi_scrub_core::config::safe_message(&e))?;
    Ok(Box::new(config))
}

impl TransformConfig for PhiScrubConfig {
    fn build(&self) -> Result<Box<dyn FunctionTransform>, BuildError> {
        Ok(Box::new(PhiScrub::new(self)?))
    }

    fn notices(&self) -> Vec<String> {
        Policy::compile(self).map(|p| p.lifted_rules().to_vec()).unwrap_or_default()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The runtime transform. Keep one per worker: it owns reusable buffers.
#[derive(Debug)]
pub struct PhiScrub {
    policy: Policy,
    pseudonymizer: Pseudonymizer,
    rules: ValueRules,
    mixpanel: Option<MixpanelEvent>,
    max_depth: usize,
    scan: ScanState,
    sets: Vec<NodeId>,
    text: Vec<u8>,
    scratch: Scratch,
    out: Vec<u8>,
    metrics: Metrics,
    /// The walker's counts so far, folded into named counters only when metrics are read.
    walk_totals: WalkCounts,
    audit: Option<AuditTrail>,
}

impl PhiScrub {
    /// Validates the config, loads the key and compiles the policy.
    pub fn new(config: &PhiScrubConfig) -> Result<Self, BuildError> {
        let key = match (&config.key, &config.key_file) {
            (Some(key), None) => key.clone(),
            (None, Some(path)) => read_key_file(path)
                .map_err(|e| BuildError::InvalidOption { option: "key_file", message: e.to_string() })?,
            (Some(_), Some(_)) => return Err(BuildError::Conflict("set either `key` or `key_file`, not both".into())),
            (None, None) => {
                return Err(BuildError::InvalidOption {
                    option: "key",
                    message: "a hash key is required: set `key = \"${PHI_HMAC_KEY}\"` or `key_file`".into(),
                })
            }
        };
        let pseudonymizer = Pseudonymizer::new(config.algorithm, &key)
            .map_err(|e| BuildError::InvalidOption { option: "key", message: e.to_string() })?;
        if config.max_depth == 0 {
            return Err(BuildError::InvalidOption { option: "max_depth", message: "must be at least 1".into() });
        }
        let policy = Policy::compile(config)?;
        let mixpanel = config.mixpanel.as_ref().map(MixpanelEvent::compile).transpose()?;
        Ok(Self {
            policy,
            pseudonymizer,
            rules: value_rules(config),
            mixpanel,
            max_depth: config.max_depth,
            scan: ScanState::default(),
            sets: Vec::new(),
            text: Vec::new(),
            scratch: Scratch::default(),
            out: Vec::new(),
            metrics: Metrics::default(),
            walk_totals: WalkCounts::default(),
            audit: None,
        })
    }

    /// Rewrites one event; on success the result borrows the transform's output buffer.
    pub fn rewrite(&mut self, payload: &[u8]) -> Result<&[u8], DropReason> {
        self.out.clear();
        self.sets.clear();
        // An event refused half-way leaves the keys it had entered; the next starts clean.
        self.scratch.keys.clear();
        if let Some(audit) = &mut self.audit {
            audit.clear();
        }
        let mut walker = Walker {
            policy: &self.policy,
            pseudonymizer: &self.pseudonymizer,
            rules: &self.rules,
            sets: &mut self.sets,
            text: &mut self.text,
            scratch: &mut self.scratch,
            counts: WalkCounts::default(),
            audit: self.audit.as_mut(),
        };
        let mut sc = Scanner::new(payload, &mut self.scan, self.max_depth)?;
        if sc.peek_kind()? != ValueKind::Object {
            return Err(DropReason::NotAnObject);
        }
        let result = match &mut self.mixpanel {
            None => {
                let root = walker.root_set();
                walker.object(&mut sc, root, false, &[], &mut self.out).map(|_| ()).map_err(DropReason::from)
            }
            Some(event) => event.build(&mut sc, &mut walker, &self.pseudonymizer, &mut self.out),
        };
        let counts = walker.counts;
        result?;
        sc.finish()?;
        self.walk_totals.absorb(&counts);
        Ok(&self.out)
    }

    /// Records from now on what the policy decides for each field (see [`Self::audit_trail`]).
    /// Slower: for `phi-scrub audit`, not for pipelines.
    pub fn enable_audit(&mut self) {
        self.audit = Some(AuditTrail::default());
    }

    /// Every preset rule lifted by `preset_overrides`, one line each with its reason.
    pub fn lifted_rules(&self) -> &[String] {
        self.policy.lifted_rules()
    }

    /// What was decided for each field of the last event, when auditing.
    pub fn audit_trail(&self) -> Option<&AuditTrail> {
        self.audit.as_ref()
    }

    /// The counters so far.
    pub fn counters(&self) -> Metrics {
        let mut metrics = self.metrics.clone();
        self.walk_totals.publish(&mut metrics);
        metrics
    }
}

/// The detectors and generaliser settings of a config; a preset turns every detector on unless
/// `detect` says otherwise.
fn value_rules(config: &PhiScrubConfig) -> ValueRules {
    let default_detectors: &[Detector] = if config.preset.is_some() { &Detector::ALL } else { &[] };
    let detectors = config.detect.as_deref().unwrap_or(default_detectors);
    ValueRules {
        detectors: Detectors::new(detectors),
        detect_action: config.detect_action,
        context: GeneraliseContext {
            url_keep_params: config.url_keep_params.clone(),
            current_year: time::OffsetDateTime::now_utc().year(),
        },
    }
}

impl FunctionTransform for PhiScrub {
    fn transform(&mut self, output: &mut OutputBuffer, event: Event) {
        self.metrics.events_in += 1;
        self.metrics.bytes_in += event.payload.len() as u64;
        match self.rewrite(&event.payload) {
            Ok(bytes) => {
                let payload = Bytes::copy_from_slice(bytes);
                self.metrics.events_out += 1;
                self.metrics.bytes_out += payload.len() as u64;
                output.push(event.with_payload(payload));
            }
            Err(reason) => {
                let label = reason.as_str();
                self.metrics.drop_one(label);
                output.push_dropped(event, label);
            }
        }
    }

    fn metrics(&self) -> Metrics {
        self.counters()
    }
}

#[cfg(test)]
mod privacy_tests;
#[cfg(test)]
mod tests;
