//! Runs the labelled privacy corpus through phi-scrub and prints the recall and false-positive
//! table and the speed (events per second over repeated passes, one thread), for
//! `benches/privacy/presidio.sh` to show beside Presidio's on the same corpus.

// The scorer is shared with tests/privacy_corpus.rs, which reads the parts this tool does not.
#[allow(dead_code)]
#[path = "../support/corpus.rs"]
mod corpus;

use std::time::{Duration, Instant};

fn main() {
    let cases = corpus::load();
    let mut t = corpus::transform();
    let mut tally = corpus::Tally::default();
    let mut missed = Vec::new();
    for case in &cases {
        let scored = corpus::score(&mut t, case);
        tally.add(case, scored.ok);
        if !scored.ok {
            missed.push(format!("{} ({})", case.id, case.kind));
        }
    }
    println!("{}", tally.table());
    println!("missed or changed: {}\n", missed.join(", "));
    let inputs: Vec<Vec<u8>> = cases.iter().map(|c| serde_json::to_vec(&c.event).expect("serialisable")).collect();
    let started = Instant::now();
    let mut events = 0usize;
    while started.elapsed() < Duration::from_secs(2) {
        for input in &inputs {
            std::hint::black_box(t.rewrite(input).map(<[u8]>::len).unwrap_or(0));
        }
        events += inputs.len();
    }
    let secs = started.elapsed().as_secs_f64();
    println!("speed: {:.0} events/s ({events} events in {secs:.2} s, one thread)", events as f64 / secs);
}
