//! phi-scrub: a PHI-safe transform for Segment-style events on their way to Mixpanel.
//!
//! The crate is layered like Vector: [`json`] is a zero-copy scanner that knows nothing of
//! policies; [`transforms::phi_scrub`] compiles a drop / hash / allow policy and drives the
//! scanner; [`plugin`] is the vector-lib-like API the host uses; [`config`] reads and validates a
//! Vector-style pipeline config and [`topology`] runs it.
//!
//! Rules that hold everywhere: an event that cannot be scrubbed is never forwarded as it came
//! (it goes to a `dropped` output with a reason), and no key or token appears in any log,
//! error or `Debug` output.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod audit;
pub mod config;
pub mod detect;
pub mod event;
pub mod fanout;
pub mod gzip;
pub mod hmac_sha256;
pub mod json;
pub mod metrics;
pub mod mixpanel;
pub mod path;
pub mod plugin;
pub mod pseudonym;
pub mod shutdown;
pub mod sinks;
pub mod sources;
pub mod topology;
pub mod transforms;
