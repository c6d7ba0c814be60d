//! Recall and false positives of the hipaa preset and its detectors on the labelled corpus,
//! under a realistic allow-list (`tests/data/privacy_corpus.toml`). Fails when recall of the
//! planted identifiers other than names drops under 95%, of names under 85%, or when more than
//! 5% of the benign analytics values are changed. The per-kind table is printed (run with
//! `--nocapture`) and kept in docs/phi_scrub.md.

#[path = "../benches/support/corpus.rs"]
mod corpus;

#[test]
fn the_corpus_is_large_enough_and_labelled() {
    let cases = corpus::load();
    let planted = cases.iter().filter(|c| !c.is_benign()).count();
    let benign = cases.len() - planted;
    assert!(planted >= 300, "{planted} planted identifiers");
    assert!(benign >= 100, "{benign} benign values");
    for c in &cases {
        assert!(c.is_benign() || !c.leak.is_empty(), "case {} has no leak strings", c.id);
        assert!(!c.is_benign() || !c.path.is_empty(), "case {} has no path", c.id);
        let text = serde_json::to_string(&c.event).unwrap();
        assert!(c.leak.iter().all(|l| text.contains(l.as_str())), "case {}: a leak string is not in its event", c.id);
    }
}

#[test]
fn recall_and_false_positives_stay_over_their_lines() {
    let cases = corpus::load();
    let mut t = corpus::transform();
    let mut tally = corpus::Tally::default();
    let mut misses = Vec::new();
    for case in &cases {
        let scored = corpus::score(&mut t, case);
        tally.add(case, scored.ok);
        if !scored.ok {
            misses.push(format!("  {} {} {}: {}", case.id, case.kind, case.group, scored.output));
        }
    }
    println!("{}", tally.table());
    println!("misses:\n{}", misses.join("\n"));
    let (n, ok) = tally.others();
    assert!(corpus::pct(ok, n) >= 95.0, "identifiers other than names: {ok}/{n} caught\n{}", tally.table());
    let (n, ok) = tally.names();
    assert!(corpus::pct(ok, n) >= 85.0, "names: {ok}/{n} caught\n{}", tally.table());
    let (n, bad) = tally.false_positives();
    assert!(corpus::pct(bad, n) <= 5.0, "benign values changed: {bad}/{n}\n{}", tally.table());
}
