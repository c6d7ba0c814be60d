//! phi-scrub: a PHI-safe transform for Segment-style events on their way to Mixpanel.
//!
//! The crate is layered like Vector, and the compiler enforces the layers: `phi_scrub_core` is
//! the plugin API (events, transform traits, output buffers), `phi_scrub_json` a zero-copy
//! scanner that knows nothing of policies, `phi_scrub_transform` the transform (re-exported as
//! [`transforms::phi_scrub`]); none of them knows tokio. This crate is the host: [`config`]
//! reads and validates a Vector-style pipeline config, [`topology`] runs it with the
//! [`sources`] and [`sinks`], and [`audit`] backs `phi-scrub audit`.
//!
//! Rules that hold everywhere: an event that cannot be scrubbed is never forwarded as it came
//! (it goes to a `dropped` output with a reason), and no key or token appears in any log,
//! error or `Debug` output.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod component;
pub mod config;
pub mod fanout;
pub mod gzip;
pub mod logging;
pub mod metrics;
pub mod nats;
pub mod shutdown;
pub mod sinks;
pub mod sources;
pub mod tls;
pub mod topology;
pub mod transforms;
pub mod vector_compat;
