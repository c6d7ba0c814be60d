//! Fuzzing of the privacy layer: the `hipaa` preset with every detector (redact and hash modes,
//! with and without the Mixpanel shape) on arbitrary input, and the detectors on arbitrary text.
//! Properties: no panic; an accepted event comes out as valid JSON; detector matches are in
//! order, do not overlap, and start and end on character boundaries.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use phi_scrub_transform::detect::{Context, Detector, Detectors, Match, Workspace};
use phi_scrub_transform::{PhiScrub, PhiScrubConfig};

const KEY: &str = "fuzz-key-0123456789abcdef0123456789";

fn build(options: &str) -> PhiScrub {
    let text = format!("key = \"{KEY}\"\npreset = \"hipaa\"\nallow = [\"properties\"]\n{options}");
    let config: PhiScrubConfig = toml::from_str(&text).expect("fuzz policy parses");
    PhiScrub::new(&config).expect("fuzz policy builds")
}

thread_local! {
    static SETUP: RefCell<Vec<PhiScrub>> = RefCell::new(vec![
        build(""),
        build("detect_action = \"hash\"\ntruncate = { \"properties.q\" = 5 }\n"),
        build("[mixpanel]\ntoken = \"t\"\n[mixpanel.properties_from]\nua = \"context.userAgent\"\n"),
    ]);
}

fuzz_target!(|data: &[u8]| {
    SETUP.with(|setup| {
        for t in setup.borrow_mut().iter_mut() {
            if let Ok(out) = t.rewrite(data) {
                serde_json::from_slice::<Value>(out).expect("output is JSON");
            }
        }
    });
    if let Ok(text) = std::str::from_utf8(data) {
        // Every kind of context the walker gives: none, keys that cue, name an id or a version,
        // an event name, and the text as an object key.
        let contexts = [
            Context::default(),
            Context::of_key(b"search_term"),
            Context::of_key(b"appointment_id"),
            Context::of_key(b"app_version"),
            Context::of_key(b"phone"),
            Context::event_name(),
            Context::key(),
        ];
        let mut space = Workspace::default();
        for cx in &contexts {
            let mut matches = Vec::new();
            Detectors::new(&Detector::ALL).find(text.as_bytes(), cx, &mut space, &mut matches);
            check(text, &matches);
        }
        let mut matches = Vec::new();
        Detectors::new(&Detector::ALL).find_in_key(text.as_bytes(), &mut space, &mut matches);
        check(text, &matches);
    }
});

/// Matches are in order, without overlaps, inside the text and on character boundaries.
fn check(text: &str, matches: &[Match]) {
    let mut last_end = 0;
    for m in matches {
        assert!(m.start >= last_end && m.start < m.end && m.end <= text.len(), "{matches:?}");
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end), "{matches:?}");
        last_end = m.end;
    }
}
