//! Writes N realistic Segment events (NDJSON) to stdout, from a fixed seed, for the end-to-end
//! benchmark: `cargo run --release --example gen_events -- 1000000 > events.ndjson`.

use std::io::Write;

use rand::SeedableRng;

#[path = "../support/segment.rs"]
mod segment;

fn main() -> std::io::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..n {
        serde_json::to_writer(&mut out, &segment::segment_event(&mut rng, i))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
