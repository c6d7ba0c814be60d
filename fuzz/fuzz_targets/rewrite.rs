//! Differential fuzzing of the zero-copy rewriter against the `serde_json::Value` reference
//! (tests/support/reference.rs): for any input, both reject it, or both accept it and the
//! outputs are equal as JSON values (so no `drop` path and no plaintext `hash` value survives).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use phi_scrub_transform::pseudonym::{Algorithm, Pseudonymizer, SecretBytes};
use phi_scrub_transform::{PhiScrub, PhiScrubConfig};

#[path = "../../tests/support/reference.rs"]
mod reference;
use reference::{resolve_number_markers, segs, strictly_valid, Act, RefPolicy};

const KEY: &str = "fuzz-key-0123456789abcdef0123456789";
const DROP: &[&str] = &["properties.name", "**.ssn", "context.ip", "a.*.name"];
const HASH: &[&str] = &["properties.email", "userId", "a.b"];
const ALLOW: &[&str] = &["properties", "a.x", "event"];
const MAX_DEPTH: usize = 32;

fn build(allow: bool) -> (PhiScrub, RefPolicy) {
    let list = |v: &[&str]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
    let mut text = format!("key = \"{KEY}\"\ndrop = [{}]\nhash = [{}]\n", list(DROP), list(HASH));
    let mut rules: Vec<_> = DROP.iter().map(|p| (segs(p), Act::Drop)).collect();
    rules.extend(HASH.iter().map(|p| (segs(p), Act::Hash)));
    if allow {
        text.push_str(&format!("allow = [{}]\n", list(ALLOW)));
        rules.extend(ALLOW.iter().map(|p| (segs(p), Act::Allow)));
    }
    let config: PhiScrubConfig = toml::from_str(&text).expect("fuzz policy parses");
    let reference = RefPolicy { rules, allow_mode: allow, numbers_hash_as_marker: true };
    (PhiScrub::new(&config).expect("fuzz policy builds"), reference)
}

thread_local! {
    static SETUP: RefCell<Vec<(PhiScrub, RefPolicy)>> = RefCell::new(vec![build(false), build(true)]);
    static PSEUDO: Pseudonymizer =
        Pseudonymizer::new(Algorithm::HmacSha256, &SecretBytes::new(KEY.as_bytes().to_vec())).expect("key");
}

fuzz_target!(|data: &[u8]| {
    let expected_input = strictly_valid(data, MAX_DEPTH);
    SETUP.with(|setup| {
        for (ours, reference) in setup.borrow_mut().iter_mut() {
            match (ours.rewrite(data), &expected_input) {
                (Ok(out), Some(input)) => {
                    let got: Value = serde_json::from_slice(out).expect("output is JSON");
                    let mut want = PSEUDO.with(|p| reference.apply_object(input, &mut Vec::new(), false, p));
                    if let Err(e) = resolve_number_markers(&got, &mut want) {
                        panic!("{e}");
                    }
                    assert_eq!(got, want, "output differs from the reference");
                }
                (Err(_), None) => {}
                (Ok(_), None) => panic!("accepted an input the reference rejects"),
                (Err(r), Some(_)) => panic!("rejected ({}) an input the reference accepts", r.as_str()),
            }
        }
    });
});
