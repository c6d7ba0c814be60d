//! Sinks: where events leave a pipeline. Each kind's module owns its config, its validation and
//! how it runs; this registry is the one line per kind.

pub mod console;
pub mod dead_letter;
pub mod file;
pub mod held;
pub mod http;
pub mod nats;

pub use console::ConsoleConfig;
pub use file::FileSinkConfig;
pub use http::HttpSinkConfig;

use crate::component::SinkPlugin;

/// Every sink type this build knows.
pub const SINKS: &[SinkPlugin] = &[console::PLUGIN, file::PLUGIN, http::PLUGIN, nats::PLUGIN];

/// Looks a sink type up by its `type` string.
pub fn find_sink(type_name: &str) -> Option<&'static SinkPlugin> {
    SINKS.iter().find(|p| p.type_name == type_name)
}
