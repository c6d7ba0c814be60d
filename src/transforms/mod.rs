//! Transforms this build knows, by their `type`. Each lives in a crate or module of its own
//! and exports a [`TransformPlugin`]; adding one is one line in [`TRANSFORMS`].

use phi_scrub_core::transform::TransformPlugin;

pub use phi_scrub_transform as phi_scrub;

/// Every transform type this build knows.
pub const TRANSFORMS: &[TransformPlugin] = &[phi_scrub::PLUGIN];

/// Looks a transform type up by its `type` string.
pub fn find_transform(type_name: &str) -> Option<&'static TransformPlugin> {
    TRANSFORMS.iter().find(|p| p.type_name == type_name)
}
