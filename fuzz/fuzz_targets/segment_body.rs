//! Fuzzing the Segment body parsers: never a panic; what they accept comes out as JSON objects
//! with a `type`, without `writeKey`, within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

use phi_scrub_json::ScanState;
use phi_scrub::sources::segment::{prepare_batch, prepare_call, split_generic};

fn check_event(bytes: &[u8]) {
    let v: Value = serde_json::from_slice(bytes).expect("prepared events are JSON");
    let o = v.as_object().expect("prepared events are objects");
    assert!(o.get("type").is_some_and(Value::is_string), "prepared events have a type");
    assert!(!o.contains_key("writeKey"), "the write key must not travel downstream");
}

fuzz_target!(|data: &[u8]| {
    let mut state = ScanState::default();
    let data = &bytes::Bytes::copy_from_slice(data);
    if let Ok((calls, _)) = prepare_batch(data, 4096, 50, &mut state) {
        assert!(calls.len() <= 50);
        for c in &calls {
            check_event(&c.event);
        }
    }
    if let Ok(call) = prepare_call(data, "page", &mut state) {
        check_event(&call.event);
    }
    if let Ok(events) = split_generic(data, data.first() == Some(&b'\n'), 4096, &mut state) {
        assert!(events.iter().all(|e| e.len() <= 4096));
    }
});
