//! Transforms, one module each. Register new ones in [`crate::plugin::TRANSFORMS`].

pub mod phi_scrub;
