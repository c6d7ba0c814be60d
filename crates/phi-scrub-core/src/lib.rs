//! The plugin API of phi-scrub, what Vector keeps in `lib/vector-core`: the [`event::Event`]
//! that flows through a pipeline (raw JSON bytes plus metadata, with end-to-end
//! acknowledgements), the transform traits and their output buffer, the registry entry a
//! transform exports, a component's [`metrics::Metrics`], and [`secret::SecretBytes`].
//!
//! It knows no runtime: no tokio, hyper or reqwest in its dependency tree, so a transform
//! built on it can be fuzzed, benchmarked and embedded without them.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod event;
pub mod metrics;
pub mod secret;
pub mod transform;
