//! Realistic Segment `track` calls from a seeded generator, shared by the benchmarks and the
//! `gen_events` example: median about 1.1 KB, nested `context`, escaped quotes and tabs,
//! non-ASCII names and an em dash.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

fn word(rng: &mut StdRng, min: usize, max: usize) -> String {
    let len = rng.gen_range(min..=max);
    (0..len).map(|_| (b'a' + rng.gen_range(0..26)) as char).collect()
}

/// One realistic Segment track call.
pub fn segment_event(rng: &mut StdRng, i: usize) -> Value {
    let first = pick(rng, &["Jane", "José", "Zoë", "Mohammed", "Li", "Ólafur", "Anaïs"]);
    let last = pick(rng, &["Doe", "García", "O'Brien", "Nguyễn", "Müller", "Smith"]);
    let email = format!("{}.{}@{}.com", first.to_lowercase(), word(rng, 3, 8), word(rng, 4, 9));
    let mut props = Map::new();
    props.insert("specialty".into(), json!(pick(rng, &["cardiology", "dermatology", "oncology", "pédiatrie"])));
    props.insert("results_count".into(), json!(rng.gen_range(0..200)));
    props.insert("email".into(), json!(format!(" {email} ")));
    props.insert("firstname".into(), json!(first));
    props.insert("lastname".into(), json!(last));
    props.insert("plan".into(), json!(pick(rng, &["gold", "silver", "medicaid"])));
    props.insert("filters".into(), json!({"in_network": rng.gen_bool(0.5), "languages": ["en", "es"]}));
    props.insert(
        "search_text".into(),
        json!(format!("{} \"{}\"\t{}", word(rng, 4, 10), word(rng, 3, 8), "douleur thoracique")),
    );
    if rng.gen_bool(0.5) {
        props.insert("distance_miles".into(), json!(rng.gen_range(1.0..50.0)));
    }
    let padding = rng.gen_range(0..3);
    for p in 0..padding {
        props.insert(format!("extra_{p}"), json!(word(rng, 5, 25)));
    }
    json!({
        "type": "track",
        "event": pick(rng, &["Provider Searched", "Appointment Booked", "Profile Viewed"]),
        "userId": format!("user-{}", rng.gen_range(1000..999_999)),
        "anonymousId": format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", rng.gen::<u32>(), rng.gen::<u16>(), rng.gen_range(0..4096), rng.gen_range(0..4096), rng.gen::<u64>() & 0xffff_ffff_ffff),
        "messageId": format!("ajs-next-{}-{}", 1_732_870_000_000u64 + i as u64, word(rng, 10, 16)),
        "timestamp": format!("2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z", rng.gen_range(1..28), rng.gen_range(0..24), rng.gen_range(0..60), rng.gen_range(0..60), rng.gen_range(0..1000)),
        "sentAt": "2026-11-28T14:03:11.500Z",
        "properties": props,
        "context": {
            "ip": format!("203.0.{}.{}", rng.gen_range(0..255), rng.gen_range(0..255)),
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/605.1.15",
            "page": {"path": "/search", "referrer": "https://www.google.com/", "search": format!("?q={}&name={first}", word(rng, 4, 9)),
                      "title": "Find a Doctor \u{2014} Example", "url": format!("https://care.example.org/search?q={}", word(rng, 4, 12))},
            "traits": {"email": email, "firstName": first, "lastName": last, "phone": "+1 555 0100"},
            "device": {"advertisingId": format!("{:032x}", rng.gen::<u128>())}
        },
        "integrations": {"All": true, "Mixpanel": true}
    })
}
