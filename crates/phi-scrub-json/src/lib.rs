//! Zero-copy JSON: a validating, borrowing scanner and the few writers the rewriter needs.
//!
//! This crate knows nothing of policies, configs or I/O. It reads one JSON document from a byte
//! slice and tells its caller where things are (byte offsets), decoding a string only when the
//! caller asks. It validates everything it passes over (grammar, escapes, surrogate pairs,
//! control characters, duplicate keys, nesting depth), because phi-scrub fails closed: a document
//! that is not strictly valid JSON is rejected, never forwarded.
//!
//! It never allocates per value: the scratch buffers live in [`ScanState`], which the caller
//! keeps and reuses across documents. UTF-8 is validated once per document, up front, with the
//! standard library's vectorised validator; after that the scanner works on bytes.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]
#![deny(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod error;
mod scanner;
mod span;
mod strings;
mod writer;

pub use error::{JsonError, JsonErrorKind};
pub use scanner::{fingerprint, KeyRef, ScanState, Scanner, Shape, ValueKind};
pub use span::StrSpan;
pub use strings::decode_string_into;
pub use writer::write_escaped_str;
