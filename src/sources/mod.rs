//! Sources: where events enter a pipeline. Each reads frames, wraps them as
//! [`phi_scrub_core::event::Event`]s and sends them downstream in batches, waiting when
//! downstream is full (back-pressure). Each kind's module owns its config, its validation and
//! how it runs; this registry is the one line per kind.

mod framing;
mod http_body;
pub mod http_server;
pub mod nats;
pub mod segment;
pub mod stdin;

pub use http_server::HttpServerConfig;
pub use stdin::StdinConfig;

use crate::component::SourcePlugin;

/// Every source type this build knows.
pub const SOURCES: &[SourcePlugin] = &[stdin::PLUGIN, http_server::PLUGIN, nats::PLUGIN];

/// Looks a source type up by its `type` string.
pub fn find_source(type_name: &str) -> Option<&'static SourcePlugin> {
    SOURCES.iter().find(|p| p.type_name == type_name)
}
