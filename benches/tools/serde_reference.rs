//! The Mixpanel job done the obvious way, as a whole process: each stdin line parsed into a
//! `serde_json::Value`, scrubbed and reshaped (names dropped, e-mail and user id keyed-hashed
//! with the `hmac` crate), serialised to stdout. Single-threaded. `benches/pipelines.sh` runs it
//! beside phi-scrub.

use std::io::{BufRead, Write};

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[path = "../support/mixpanel_reference.rs"]
mod mixpanel_reference;

pub fn main() -> std::io::Result<()> {
    let key = std::env::var("PHI_HMAC_KEY").unwrap_or_else(|_| "bench-key-0123456789abcdef0123456789".into());
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else { return Ok(()) };
    let reference = mixpanel_reference::Reference { mac };
    let mut output = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    for line in std::io::stdin().lock().split(b'\n') {
        if let Some(event) = reference.mixpanel(&line?) {
            output.write_all(&event)?;
            output.write_all(b"\n")?;
        }
    }
    output.flush()
}
