//! The transform plugin API, shaped like Vector's (`vector-lib`): a serde config that builds a
//! runtime transform, a `FunctionTransform` that turns one event into zero or more, an
//! `OutputBuffer` with named outputs, and a registry from the config's `type` to its plugin.
//!
//! Adding a transform is one module that exports a [`TransformPlugin`] and one line in the
//! host's registry. The host knows transforms only through this module.

use std::fmt;

use thiserror::Error;

use crate::event::Event;
pub use crate::metrics::Metrics;

/// Version of this plugin API; `plugin.toml` states the version a plugin was built for.
pub const PLUGIN_API_VERSION: u32 = 1;

/// Name of the output that receives events a transform refuses (fail closed).
pub const DROPPED_OUTPUT: &str = "dropped";

/// Where a transform puts its results: the primary output and the `dropped` output.
#[derive(Debug, Default)]
pub struct OutputBuffer {
    primary: Vec<Event>,
    dropped: Vec<Event>,
}

impl OutputBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends an event to the primary output.
    pub fn push(&mut self, event: Event) {
        self.primary.push(event);
    }

    /// Sends an event to the `dropped` output, tagged with the reason.
    pub fn push_dropped(&mut self, mut event: Event, reason: &'static str) {
        event.metadata.drop_reason = Some(reason);
        self.dropped.push(event);
    }

    /// Events on the primary output.
    pub fn primary(&self) -> &[Event] {
        &self.primary
    }

    /// Events on the `dropped` output.
    pub fn dropped(&self) -> &[Event] {
        &self.dropped
    }

    /// Takes the events of one output: `None` is the primary output, `Some("dropped")` the other.
    pub fn take(&mut self, output: Option<&str>) -> Vec<Event> {
        match output {
            None => std::mem::take(&mut self.primary),
            Some(_) => std::mem::take(&mut self.dropped),
        }
    }

    /// Empties both outputs, keeping their allocations.
    pub fn clear(&mut self) {
        self.primary.clear();
        self.dropped.clear();
    }
}

/// A transform at run time: one event in, zero or more out.
pub trait FunctionTransform: Send + fmt::Debug {
    /// Processes one event, pushing results into `output`.
    fn transform(&mut self, output: &mut OutputBuffer, event: Event);

    /// A snapshot of the transform's counters.
    fn metrics(&self) -> Metrics;
}

/// Why a transform config could not be built. Messages name the option, never a secret.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An option has a value the transform cannot use.
    #[error("option `{option}`: {message}")]
    InvalidOption { option: &'static str, message: String },
    /// Options contradict each other.
    #[error("{0}")]
    Conflict(String),
}

/// A transform's configuration, as deserialised from its `[transforms.NAME]` table.
pub trait TransformConfig: fmt::Debug + Send + Sync {
    /// Validates the options and compiles the runtime transform.
    fn build(&self) -> Result<Box<dyn FunctionTransform>, BuildError>;

    /// Named outputs beside the primary one.
    fn named_outputs(&self) -> &'static [&'static str] {
        &[DROPPED_OUTPUT]
    }

    /// What an operator must be told about this config, one line each: safety rules loosened
    /// on purpose, with their reasons. `validate` prints them and the host logs them at start;
    /// never a secret.
    fn notices(&self) -> Vec<String> {
        Vec::new()
    }

    /// The concrete config, for tools that know the type (such as `phi-scrub audit`).
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A registered transform type.
pub struct TransformPlugin {
    /// The value of `type` in the config.
    pub type_name: &'static str,
    /// Deserialises the component's options (its table without `type` and `inputs`).
    /// Unknown options are refused with their name.
    pub parse: fn(toml::Table) -> Result<Box<dyn TransformConfig>, String>,
}

impl fmt::Debug for TransformPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransformPlugin").field("type_name", &self.type_name).finish()
    }
}
