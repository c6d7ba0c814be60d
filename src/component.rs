//! What a source or sink is to the rest of the host, in Vector's terms: a config trait with a
//! `build(cx)` that turns validated options into a running task, the context the topology hands
//! it (its output or input, shutdown signals, its metrics handle, the process's stdio), the
//! resources it claims, and the registry entry a kind exports.
//!
//! Each kind's module owns its config, its validation (in its registry entry's `parse`) and how
//! it runs; adding a source or sink is that module and one line in `sources::SOURCES` or
//! `sinks::SINKS`. This module sits below the config, the topology and the components, so none
//! of them imports another's internals.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use phi_scrub_core::metrics::Metrics;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::fanout::{Fanout, Input};
use crate::metrics::Publisher;

/// A running source or sink: ends with the component's counters, or the error that stopped it.
pub type Task = Pin<Box<dyn Future<Output = std::io::Result<Metrics>> + Send>>;

/// The process's standard input, as a source reads it.
pub type Stdin = Box<dyn AsyncRead + Unpin + Send>;

/// The process's standard output, as a sink writes it.
pub type Stdout = Box<dyn AsyncWrite + Unpin + Send>;

/// Something only one component may hold. The config refuses two claims of the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// The process's standard input.
    Stdin,
    /// The process's standard output.
    Stdout,
}

/// The process's stdin and stdout, each handed to the one component that claims it.
pub struct Stdio {
    stdin: Option<Stdin>,
    stdout: Option<Stdout>,
}

impl fmt::Debug for Stdio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdio").field("stdin", &self.stdin.is_some()).field("stdout", &self.stdout.is_some()).finish()
    }
}

impl Stdio {
    /// Stdio to hand out.
    pub fn new(stdin: Stdin, stdout: Stdout) -> Self {
        Self { stdin: Some(stdin), stdout: Some(stdout) }
    }

    /// Takes stdin; fails if another component took it (the config prevents that).
    pub fn take_stdin(&mut self) -> Result<Stdin, BuildError> {
        self.stdin.take().ok_or(BuildError::Claimed(Resource::Stdin))
    }

    /// Takes stdout; fails if another component took it (the config prevents that).
    pub fn take_stdout(&mut self) -> Result<Stdout, BuildError> {
        self.stdout.take().ok_or(BuildError::Claimed(Resource::Stdout))
    }
}

/// Why a component could not be started. Messages name the option, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An option cannot be used as given.
    #[error("{0}")]
    Invalid(String),
    /// A resource is already held by another component.
    #[error("{0:?} is already used by another component")]
    Claimed(Resource),
}

/// What a source gets when it is spawned.
#[derive(Debug)]
pub struct SourceContext<'a> {
    /// The component's name, as events carry it.
    pub name: Arc<str>,
    /// Everything downstream of the source.
    pub out: Fanout,
    /// Flips when the source must stop reading.
    pub shutdown: watch::Receiver<bool>,
    /// The component's handle on the live metrics.
    pub publisher: Publisher,
    /// The process's stdio, for the source that claims stdin.
    pub stdio: &'a mut Stdio,
}

/// What a sink gets when it is spawned.
#[derive(Debug)]
pub struct SinkContext<'a> {
    /// The component's name.
    pub name: String,
    /// Batches from every input of the sink.
    pub input: Input,
    /// Flips when the shutdown grace period is over.
    pub deadline: watch::Receiver<bool>,
    /// The component's handle on the live metrics.
    pub publisher: Publisher,
    /// The process's stdio, for the sink that claims stdout.
    pub stdio: &'a mut Stdio,
}

/// A source's configuration, as deserialised and validated from its `[sources.NAME]` table.
pub trait SourceConfig: fmt::Debug + Send + Sync {
    /// What only this source may hold.
    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }

    /// Starts the source.
    fn build(&self, cx: SourceContext<'_>) -> Result<Task, BuildError>;
}

/// A sink's configuration, as deserialised and validated from its `[sinks.NAME]` table.
pub trait SinkConfig: fmt::Debug + Send + Sync {
    /// What only this sink may hold.
    fn resources(&self) -> Vec<Resource> {
        Vec::new()
    }

    /// Starts the sink.
    fn build(&self, cx: SinkContext<'_>) -> Result<Task, BuildError>;
}

/// A registered component kind: its `type` and how its table becomes a validated config.
pub struct Plugin<C: ?Sized> {
    /// The value of `type` in the config.
    pub type_name: &'static str,
    /// Deserialises and validates the component's options (its table without `type` and
    /// `inputs`). Unknown options are refused with their name; values never appear in errors.
    pub parse: fn(toml::Table) -> Result<Box<C>, String>,
}

impl<C: ?Sized> fmt::Debug for Plugin<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("type_name", &self.type_name).finish()
    }
}

/// A registered source kind.
pub type SourcePlugin = Plugin<dyn SourceConfig>;

/// A registered sink kind.
pub type SinkPlugin = Plugin<dyn SinkConfig>;

/// Deserialises the table of a component of type `type_name` into its config type, with a
/// message that never carries a value (see [`phi_scrub_core::config::safe_message`]) and, for a
/// Vector option phi-scrub does not take, names phi-scrub's equivalent.
pub fn parse_table<T: serde::de::DeserializeOwned>(type_name: &str, table: toml::Table) -> Result<T, String> {
    toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| {
        crate::vector_compat::with_hint(type_name, phi_scrub_core::config::safe_message(&e))
    })
}
