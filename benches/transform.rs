//! Throughput of the phi_scrub transform alone, beside the obvious alternative in the same run:
//! a `serde_json::Value` implementation of the same job (parse, drop / hash / allow, Mixpanel
//! shape, serialise). Also two floors: a validating `IgnoredAny` skip and a plain copy.
//!
//! The `privacy` group measures the `hipaa` preset and the free-text detectors (with and
//! without), and `detectors` compares the hand-written detectors with one `regex` doing the same
//! search over every string value of the sample.
//!
//! Run: `cargo bench --bench transform`. Events are generated from a fixed seed: realistic
//! Segment `track` calls, median about 1 KB, with nested `context`, escaped strings and unicode.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

use sha2::Sha256;

use phi_scrub_transform::{PhiScrub, PhiScrubConfig};

#[path = "support/segment.rs"]
mod segment;
use segment::segment_event;
#[path = "support/mixpanel_reference.rs"]
mod mixpanel_reference;
use mixpanel_reference::Reference;

const KEY: &str = "bench-key-0123456789abcdef0123456789";
const EVENTS: usize = 2000;

const POLICY: &str = r#"
allow = ["properties.specialty", "properties.plan", "properties.results_count", "properties.appointment_type",
         "properties.filters", "properties.page", "properties.sort", "properties.distance_miles"]
hash = ["userId", { path = "properties.email", trim = true, lowercase = true }]
drop = ["properties.firstname", "properties.lastname"]
"#;

/// The hipaa preset as a team would use it: analytics properties allowed, the rest refined away.
const PRESET_POLICY: &str = r#"
preset = "hipaa"
allow = ["properties"]
"#;

const DETECT_ALL: &str = r#"detect = ["email", "phone", "ssn", "ip", "credit_card", "url_query"]"#;

const DENY_POLICY: &str = r#"
hash = ["userId", "anonymousId", { path = "properties.email", trim = true, lowercase = true }]
drop = ["properties.firstname", "properties.lastname", "context.ip", "context.traits", "context.page.search",
        "context.device.advertisingId"]
"#;

fn events() -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    (0..EVENTS).map(|i| serde_json::to_vec(&segment_event(&mut rng, i)).unwrap()).collect()
}

fn build(policy: &str, mixpanel: bool) -> PhiScrub {
    let mut text = format!("key = \"{KEY}\"\n{policy}");
    if mixpanel {
        text.push_str("[mixpanel]\ntoken = \"bench-token\"\n");
    }
    let config: PhiScrubConfig = toml::from_str(&text).unwrap();
    PhiScrub::new(&config).unwrap()
}

// ---------- the serde_json::Value reference doing the same job ----------

fn bench(c: &mut Criterion) {
    let events = events();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mut sizes: Vec<usize> = events.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    eprintln!(
        "{} events, {} bytes, median {} B, p90 {} B",
        events.len(),
        bytes,
        sizes[sizes.len() / 2],
        sizes[sizes.len() * 9 / 10]
    );
    let reference = Reference { mac: Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap() };

    for (group_name, policy, mixpanel) in [("mixpanel_shape", POLICY, true), ("scrub_deny_list", DENY_POLICY, false)] {
        let mut group = c.benchmark_group(group_name);
        for throughput in [Throughput::Elements(events.len() as u64), Throughput::Bytes(bytes as u64)] {
            let unit = if matches!(throughput, Throughput::Elements(_)) { "events" } else { "bytes" };
            group.throughput(throughput);
            let mut t = build(policy, mixpanel);
            group.bench_function(BenchmarkId::new("phi_scrub_zero_copy", unit), |b| {
                b.iter(|| {
                    let mut out = 0usize;
                    for e in &events {
                        out += t.rewrite(black_box(e)).map(<[u8]>::len).unwrap_or(0);
                    }
                    out
                })
            });
            group.bench_function(BenchmarkId::new("serde_value_reference", unit), |b| {
                b.iter(|| {
                    let mut out = 0usize;
                    for e in &events {
                        let r = if mixpanel {
                            reference.mixpanel(black_box(e))
                        } else {
                            reference.scrub_deny(black_box(e))
                        };
                        out += r.map(|v| v.len()).unwrap_or(0);
                    }
                    out
                })
            });
        }
        group.finish();
    }

    bench_privacy(c, &events, bytes);

    let mut group = c.benchmark_group("parts");
    let stamps: Vec<String> =
        (0..64).map(|i| format!("2026-11-{:02}T10:{:02}:11.{:03}Z", 1 + i % 28, i % 60, i * 7 % 1000)).collect();
    group.throughput(Throughput::Elements(stamps.len() as u64));
    group.bench_function("parse_timestamp_ms", |b| {
        b.iter(|| {
            stamps.iter().filter_map(|s| phi_scrub_transform::mixpanel::parse_timestamp_ms(black_box(s))).sum::<i64>()
        })
    });
    let pseudonymizer = phi_scrub_transform::pseudonym::Pseudonymizer::new(
        phi_scrub_transform::pseudonym::Algorithm::HmacSha256,
        &phi_scrub_transform::pseudonym::SecretBytes::new(KEY.as_bytes().to_vec()),
    )
    .unwrap();
    group.bench_function("hmac_sha256_hex", |b| {
        b.iter(|| stamps.iter().map(|s| pseudonymizer.hash_hex(black_box(s.as_bytes()))[0] as u64).sum::<u64>())
    });
    group.finish();

    let mut group = c.benchmark_group("floors");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("serde_ignored_any_validate", |b| {
        b.iter(|| {
            events.iter().filter(|e| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(e)).is_ok()).count()
        })
    });
    // The SIMD-class parsers (simd-json, sonic-rs), on the same events: sonic-rs validating without
    // building anything, simd-json building its tape (it parses in place, so each event is copied
    // into a reused buffer first, as the transform would have to).
    group.bench_function("sonic_rs_ignored_any_validate", |b| {
        b.iter(|| events.iter().filter(|e| sonic_rs::from_slice::<serde::de::IgnoredAny>(black_box(e)).is_ok()).count())
    });
    let mut simd_input = Vec::with_capacity(8192);
    let mut simd_buffers = simd_json::Buffers::default();
    let mut simd_tape = simd_json::Tape::null();
    group.bench_function("simd_json_tape_reused_buffers", |b| {
        b.iter(|| {
            let mut ok = 0;
            for e in &events {
                simd_input.clear();
                simd_input.extend_from_slice(black_box(e));
                let mut tape = std::mem::replace(&mut simd_tape, simd_json::Tape::null()).reset();
                ok += usize::from(simd_json::fill_tape(&mut simd_input, &mut simd_buffers, &mut tape).is_ok());
                simd_tape = tape.reset();
            }
            ok
        })
    });
    let mut untouched = build("drop = [\"no.such.field\"]", false);
    group.bench_function("phi_scrub_validate_and_copy_no_rules", |b| {
        b.iter(|| events.iter().filter(|e| untouched.rewrite(black_box(e)).is_ok()).count())
    });
    group.bench_function("copy_line", |b| {
        let mut out = Vec::with_capacity(8192);
        b.iter(|| {
            let mut n = 0;
            for e in &events {
                out.clear();
                out.extend_from_slice(black_box(e));
                n += out.len();
            }
            n
        })
    });
    group.finish();
}

/// The preset and the detectors, each beside the same job without them.
fn bench_privacy(c: &mut Criterion, events: &[Vec<u8>], bytes: usize) {
    let mut group = c.benchmark_group("privacy");
    let no_detectors = format!("{PRESET_POLICY}detect = []\n");
    let mixpanel_detect = format!("{POLICY}{DETECT_ALL}\n");
    let cases: [(&str, &str, bool); 4] = [
        ("mixpanel_shape_no_detectors", POLICY, true),
        ("mixpanel_shape_all_detectors", &mixpanel_detect, true),
        ("hipaa_preset_mixpanel_no_detectors", &no_detectors, true),
        ("hipaa_preset_mixpanel_all_detectors", PRESET_POLICY, true),
    ];
    for throughput in [Throughput::Elements(events.len() as u64), Throughput::Bytes(bytes as u64)] {
        let unit = if matches!(throughput, Throughput::Elements(_)) { "events" } else { "bytes" };
        group.throughput(throughput);
        for (name, policy, mixpanel) in cases {
            let mut t = build(policy, mixpanel);
            assert!(events.iter().all(|e| t.rewrite(e).is_ok()), "{name} must not drop the sample");
            group.bench_function(BenchmarkId::new(name, unit), |b| {
                b.iter(|| events.iter().map(|e| t.rewrite(black_box(e)).map(<[u8]>::len).unwrap_or(0)).sum::<usize>())
            });
        }
    }
    group.finish();

    let strings = string_values(events);
    let mut group = c.benchmark_group("detectors");
    group.throughput(Throughput::Elements(strings.len() as u64));
    let detectors = phi_scrub_transform::detect::Detectors::new(&phi_scrub_transform::detect::Detector::ALL);
    let mut matches = Vec::new();
    let mut space = phi_scrub_transform::detect::Workspace::default();
    let cx = phi_scrub_transform::detect::Context::default();
    group.bench_function("hand_written_all", |b| {
        b.iter(|| {
            matches.clear();
            strings.iter().for_each(|s| detectors.find(black_box(s.as_bytes()), &cx, &mut space, &mut matches));
            matches.len()
        })
    });
    let regex = regex::Regex::new(REGEX_DETECTORS).unwrap();
    group.bench_function("regex_crate_all", |b| {
        b.iter(|| strings.iter().map(|s| regex.find_iter(black_box(s)).count()).sum::<usize>())
    });
    group.finish();
}

/// The detectors' patterns as one regex, as a team without phi-scrub would write them.
const REGEX_DETECTORS: &str = concat!(
    r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    r"|\+?\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}",
    r"|\b\d{3}[- ]\d{2}[- ]\d{4}\b",
    r"|\b(?:\d{1,3}\.){3}\d{1,3}\b",
    r"|\b(?:\d[ -]?){13,19}\b",
    r"|[?#][^\s]+",
);

/// Every string value (keys excluded) of the sample.
fn string_values(events: &[Vec<u8>]) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(o) => o.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for e in events {
        walk(&serde_json::from_slice(e).unwrap(), &mut out);
    }
    out
}

criterion_group!(benches, bench);
criterion_main!(benches);
