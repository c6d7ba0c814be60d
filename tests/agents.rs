//! The README's recipes for the agents in front of phi-scrub, pinned with requests shaped as
//! those agents send them at their default settings: Fluent Bit's `http` output with
//! `Format json_lines` (one request per chunk, a leading `date` key; the real request body of
//! Fluent Bit 5.1 is in the shared fixtures) and Vector's `http` sink with newline-delimited
//! JSON at its default 10,000,000-byte batch. Every event must reach the Mixpanel emulator.
//! Agents drop what is refused with a 4xx, so what cannot be taken now must be a 503.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/procs.rs"]
mod procs;
use procs::{free_port, mixpanel_import_sink, temp_dir, Emulator, Phi};

const KEY: &str = "agents-test-key-0123456789abcdef";
const FLUENT_BIT_BODY: &str = "../shared/fixtures/fluent-bit-5.1/http-json_lines-2000.ndjson.gz";

/// http_server (generic endpoint `/events`) -> phi_scrub (Mixpanel shape) -> mixpanel_import.
fn start_pipeline(dir: &Path, port: u16, emulator: &Emulator, source_settings: &str) -> Phi {
    let sink = mixpanel_import_sink(
        "phi",
        &emulator.address,
        "svc-secret",
        &dir.join("dead.ndjson").display().to_string(),
        "",
    );
    let config = format!(
        r#"
[sources.agents]
type = "http_server"
address = "127.0.0.1:{port}"
{source_settings}

[transforms.phi]
type = "phi_scrub"
inputs = ["agents"]
key = "{KEY}"
drop = ["properties.firstname", "context"]
hash = ["properties.email"]
[transforms.phi.mixpanel]
token = "agents-token"
{sink}"#
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, config).unwrap();
    Phi::serve(&path, port)
}

/// One HTTP/1.1 request over a fresh connection; the status and headers of the answer.
fn post(port: u16, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("POST /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

/// Fluent Bit's headers for a `json_lines` body (`request.json` in the fixtures).
fn fluent_bit_headers(len: usize) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Length", len.to_string()),
        ("Content-Type", "application/x-ndjson".into()),
        ("User-Agent", "Fluent-Bit".into()),
    ]
}

fn wait_accepted(emulator: &Emulator, expected: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let accepted = emulator.stats()["accepted_unique"].as_u64().unwrap();
        if accepted >= expected || Instant::now() > deadline {
            return accepted;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn fixture_body() -> Vec<u8> {
    let gz = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FLUENT_BIT_BODY)).unwrap();
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut body).unwrap();
    body
}

#[test]
fn fluent_bits_real_chunk_of_2000_records_is_delivered_whole() {
    let body = fixture_body();
    assert_eq!(body.len(), 636_450, "the request body as Fluent Bit 5.1 sent it");
    let dir = temp_dir("agents-fluent-bit");
    let (emulator, port) = (Emulator::start(&[]), free_port());
    let _phi = start_pipeline(&dir, port, &emulator, "");
    let (status, answer) = post(port, &fluent_bit_headers(body.len()), &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(wait_accepted(&emulator, 2000), 2000);
    let events = emulator.get("/_emulator/events");
    assert!(!events.contains("fake.person") && !events.contains("Fakefirst"), "scrubbed");
}

/// Segment events as Fluent Bit or Vector forward them, `extra` keys first: `n` of them, or
/// as many as fit in `max_bytes`. Returns the body and the number of events.
fn agent_events(n: usize, max_bytes: usize, prefix: &str, extra: Value) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    let mut count = 0;
    for i in 0..n {
        let mut event = extra.as_object().unwrap().clone();
        let segment = json!({"type": "track", "event": "Provider Search", "userId": format!("u-{i}"),
            "messageId": format!("{prefix}-{i}"), "timestamp": "2026-11-01T10:00:00.000Z",
            "context": {"ip": "198.51.100.9", "page": {"url": "https://care.example.org/search?q=x"},
                        "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"},
            "properties": {"specialty": "oncology", "email": format!("p{i}@example.com"), "firstname": "Fake",
                           "filters": {"distance": 10, "insurance": "any", "language": "en"}, "page": i % 40}});
        event.extend(segment.as_object().unwrap().clone());
        let line = serde_json::to_vec(&event).unwrap();
        if body.len() + line.len() + 1 > max_bytes {
            break;
        }
        body.extend_from_slice(&line);
        body.push(b'\n');
        count += 1;
    }
    (body, count)
}

#[test]
fn fluent_bits_largest_default_chunk_is_delivered_whole() {
    // A chunk grows to 2,048,000 bytes under load (flb_input_chunk.h).
    let (body, n) = agent_events(usize::MAX, 2_048_000, "fb", json!({"date": 1796176359.376231}));
    assert!(body.len() > 2_040_000, "{}", body.len());
    let dir = temp_dir("agents-fluent-bit-2mb");
    let (emulator, port) = (Emulator::start(&[]), free_port());
    let _phi = start_pipeline(&dir, port, &emulator, "");
    let (status, answer) = post(port, &fluent_bit_headers(body.len()), &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(wait_accepted(&emulator, n as u64), n as u64);
}

#[test]
fn vectors_default_batch_of_newline_delimited_json_is_delivered_whole() {
    // Vector's http sink: no event limit, 10,000,000 bytes per batch; a legacy-namespace source
    // adds `source_type`, `host` and `timestamp`-style keys beside the parsed event.
    let extra = json!({"source_type": "http_server", "host": "agent-7"});
    let (body, n) = agent_events(usize::MAX, 10_000_000, "vec", extra);
    assert!(body.len() > 9_990_000, "{}", body.len());
    let dir = temp_dir("agents-vector");
    let (emulator, port) = (Emulator::start(&[]), free_port());
    let _phi = start_pipeline(&dir, port, &emulator, "");
    let headers = vec![("Content-Length", body.len().to_string()), ("Content-Type", "application/x-ndjson".into())];
    let (status, answer) = post(port, &headers, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(wait_accepted(&emulator, n as u64), n as u64);
}

#[test]
fn a_body_that_does_not_fit_now_is_a_503_and_one_no_agent_sends_is_a_413() {
    let dir = temp_dir("agents-limits");
    let (emulator, port) = (Emulator::start(&[]), free_port());
    let settings = "max_body_bytes = 400000\ngeneric_max_body_bytes = 500000\nbody_buffer_bytes = 1000000";
    let _phi = start_pipeline(&dir, port, &emulator, settings);
    // Two clients that declare large bodies and send them slowly hold 900,000 bytes meanwhile.
    let slow: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(slow, "POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 450000\r\n\r\n").unwrap();
            slow.write_all(&[b' '; 1000]).unwrap();
            slow
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let (body, sent) = agent_events(400, usize::MAX, "busy", json!({}));
    assert!(body.len() > 150_000, "more than the 100,000 bytes left: {}", body.len());
    let (status, answer) = post(port, &fluent_bit_headers(body.len()), &body);
    assert_eq!(status, 503, "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    drop(slow);
    std::thread::sleep(Duration::from_millis(300));
    // With the budget back, the same request goes through: nothing was lost meanwhile.
    let (status, answer) = post(port, &fluent_bit_headers(body.len()), &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(wait_accepted(&emulator, sent as u64), sent as u64);
    // Over the per-request limit: 413 as soon as the length is declared, naming the agent
    // options to lower.
    let (status, answer) = post(port, &fluent_bit_headers(500_001), b"");
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("batch.max_bytes") && answer.contains("Fluent Bit"), "{answer}");
}

#[test]
fn an_unknown_basic_auth_key_is_refused_before_the_body_is_read() {
    let dir = temp_dir("agents-auth");
    let (emulator, port) = (Emulator::start(&[]), free_port());
    let _phi = start_pipeline(&dir, port, &emulator, "write_keys = [\"agent-key-1\"]");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // "wrong:" in base64; a large body is declared but never sent.
    write!(stream, "POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Basic d3Jvbmc6\r\nContent-Type: application/x-ndjson\r\nContent-Length: 400000\r\n\r\n").unwrap();
    let mut answer = [0u8; 256];
    let n = stream.read(&mut answer).expect("answered without waiting for the body");
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
}
