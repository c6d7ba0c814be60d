//! The real `phi-scrub` binary delivering to the real `mixpanel-emulator` binary on loopback,
//! with exact accounting: events in = unique `$insert_id`s accepted + dead letters.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

#[path = "support/procs.rs"]
mod procs;
use procs::{mixpanel_import_sink, proc_kib, recent_timestamp, run_phi, sigterm, temp_dir, Emulator, PHI};

const KEY: &str = "http-sink-test-key-0123456789abcdef";

/// A pipeline: stdin -> phi_scrub (Mixpanel shape) -> http sink (mixpanel_import) -> emulator.
fn pipeline(emulator: &Emulator, dir: &Path, password: &str, transform: bool) -> PathBuf {
    pipeline_with(emulator, dir, password, transform, "")
}

fn pipeline_with(emulator: &Emulator, dir: &Path, password: &str, transform: bool, extra: &str) -> PathBuf {
    let (inputs, phi) = if transform {
        (
            "phi",
            r#"
[transforms.phi]
type = "phi_scrub"
inputs = ["in"]
key = "${PHI_HMAC_KEY}"
hash = ["userId"]
drop = ["properties.name"]
[transforms.phi.mixpanel]
token = "test-token"
"#,
        )
    } else {
        ("in", "")
    };
    let settings = format!(
        "batch.timeout_secs = 0.05
request.retry_attempts = 50
request.retry_initial_backoff_secs = 0.01
request.retry_max_backoff_secs = 0.05
request.timeout_secs = 2
{extra}"
    );
    let dead = dir.join("dead.ndjson");
    let sink = mixpanel_import_sink(inputs, &emulator.address, password, &dead.display().to_string(), &settings);
    let config = format!("[sources.in]\ntype = \"stdin\"\n{phi}{sink}");
    let config = if extra.contains("batch.max_events") { config } else { config + "batch.max_events = 50\n" };
    let config = if extra.contains("request.concurrency") { config } else { config + "request.concurrency = 4\n" };
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn segment_events(n: usize) -> Vec<u8> {
    let timestamp = recent_timestamp();
    let mut out = Vec::new();
    for i in 0..n {
        let line = serde_json::json!({
            "type": "track", "event": "Provider Searched", "userId": format!("user-{}", i % 37),
            "messageId": format!("msg-{i}"), "timestamp": timestamp,
            "properties": {"specialty": "cardiology", "name": "Pat Doe", "i": i}
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

fn run(config: &Path, input: Vec<u8>) -> Output {
    run_phi(&["run", "--config", config.to_str().unwrap()], &[("PHI_HMAC_KEY", KEY)], input)
}

fn dead_letters(dir: &Path) -> Vec<Value> {
    match std::fs::read_to_string(dir.join("dead.ndjson")) {
        Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
        Err(_) => Vec::new(),
    }
}

fn assert_exact_accounting(emulator: &Emulator, dir: &Path, sent: usize) -> (u64, Vec<Value>) {
    let accepted = emulator.stats()["accepted_unique"].as_u64().unwrap();
    let dead = dead_letters(dir);
    assert_eq!(accepted as usize + dead.len(), sent, "accepted {accepted} + dead {} != sent {sent}", dead.len());
    (accepted, dead)
}

#[test]
fn happy_path_delivers_everything_scrubbed() {
    let emulator = Emulator::start(&[]);
    let dir = temp_dir("happy");
    let out = run(&pipeline(&emulator, &dir, "svc-secret", true), segment_events(500));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (accepted, dead) = assert_exact_accounting(&emulator, &dir, 500);
    assert_eq!((accepted, dead.len()), (500, 0));
    let events = emulator.get("/_emulator/events");
    assert!(!events.contains("Pat Doe") && !events.contains("user-1"), "PHI reached the emulator");
}

#[test]
fn rate_limit_storm_is_retried_until_everything_is_delivered() {
    let emulator = Emulator::start(&["--rate-429", "0.6", "--retry-after-secs", "0"]);
    let dir = temp_dir("storm");
    let out = run(&pipeline(&emulator, &dir, "svc-secret", true), segment_events(1000));
    assert!(out.status.success());
    let (accepted, _) = assert_exact_accounting(&emulator, &dir, 1000);
    assert_eq!(accepted, 1000);
    assert!(emulator.stats()["requests"]["429"].as_u64().unwrap() > 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("retries"));
}

#[test]
fn intermittent_500s_and_dropped_connections_lose_nothing() {
    let emulator = Emulator::start(&["--rate-500", "0.3", "--rate-drop", "0.2"]);
    let dir = temp_dir("flaky");
    // 1000 events in batches of 50: at least 20 requests, so a run without any fault has a
    // probability of 0.5^20 (about one in a million).
    let out = run(&pipeline(&emulator, &dir, "svc-secret", true), segment_events(1000));
    assert!(out.status.success());
    let (accepted, _) = assert_exact_accounting(&emulator, &dir, 1000);
    assert_eq!(accepted, 1000);
    let stats = emulator.stats();
    assert!(stats["requests"]["500"].as_u64().unwrap_or(0) + stats["dropped_connections"].as_u64().unwrap() > 0);
}

#[test]
fn strict_mode_partial_400_dead_letters_only_the_rejected_records() {
    let emulator = Emulator::start(&[]);
    let dir = temp_dir("partial");
    // Raw Mixpanel events straight to the sink: every 10th lacks `$insert_id`.
    let mut input = Vec::new();
    for i in 0..200 {
        let mut props = serde_json::json!({"time": 1_795_856_400_000_i64 + i, "distinct_id": format!("d{i}")});
        if i % 10 != 0 {
            props["$insert_id"] = Value::from(format!("id-{i}"));
        }
        input.extend_from_slice(serde_json::json!({"event": "E", "properties": props}).to_string().as_bytes());
        input.push(b'\n');
    }
    let out = run(&pipeline(&emulator, &dir, "svc-secret", false), input);
    assert!(out.status.success());
    let (accepted, dead) = assert_exact_accounting(&emulator, &dir, 200);
    assert_eq!((accepted, dead.len()), (180, 20));
    for d in &dead {
        assert_eq!(d["sink"], "mixpanel");
        assert!(d["reason"].as_str().unwrap().contains("$insert_id"), "{d}");
        assert!(d["event"]["properties"].get("$insert_id").is_none());
    }
}

#[test]
fn wrong_credentials_dead_letter_without_retrying_forever() {
    let emulator = Emulator::start(&[]);
    let dir = temp_dir("creds");
    let started = std::time::Instant::now();
    let out = run(&pipeline(&emulator, &dir, "wrong-secret", true), segment_events(120));
    assert!(out.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let (accepted, dead) = assert_exact_accounting(&emulator, &dir, 120);
    assert_eq!(accepted, 0);
    assert!(dead.iter().all(|d| d["reason"].as_str().unwrap().contains("check auth")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unauthorized") && !stderr.contains("wrong-secret"), "{stderr}");
    assert_eq!(emulator.stats()["requests"]["401"].as_u64().unwrap(), 3, "one request per batch of 50, no retries");
}

/// `N` from the summary line `  source    NAME: in N (…`.
fn source_count(stderr: &str, name: &str) -> usize {
    let line =
        stderr.lines().find(|l| l.trim_start().starts_with("source") && l.contains(&format!("{name}: in "))).unwrap();
    let rest = line.split(&format!("{name}: in ")).nth(1).unwrap();
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Starts phi-scrub with stdin kept open; a thread writes `input` and records its progress.
fn start_streaming(
    config: &Path,
    input: Vec<u8>,
    grace: &str,
) -> (Child, std::thread::JoinHandle<()>, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let mut child = Command::new(PHI)
        .args(["run", "--grace-period-secs", grace, "--config"])
        .arg(config)
        .env("PHI_HMAC_KEY", KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress = written.clone();
    let writer = std::thread::spawn(move || {
        for chunk in input.chunks(4096) {
            if stdin.write_all(chunk).is_err() {
                return;
            }
            progress.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        }
        // Keep stdin open: the pipeline ends by signal, not by end of input.
        std::thread::sleep(std::time::Duration::from_secs(60));
    });
    (child, writer, written)
}

#[test]
fn sigterm_mid_load_drains_everything_read() {
    let emulator = Emulator::start(&["--rate-slow", "1.0", "--slow-ms", "100"]);
    let dir = temp_dir("drain");
    let config = pipeline_with(&emulator, &dir, "svc-secret", true, "");
    let (child, _writer, _) = start_streaming(&config, segment_events(3000), "30");
    std::thread::sleep(std::time::Duration::from_millis(700));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let read = source_count(&stderr, "in");
    assert!(read > 0, "{stderr}");
    let (accepted, dead) = assert_exact_accounting(&emulator, &dir, read);
    assert_eq!((accepted as usize, dead.len()), (read, 0), "{stderr}");
}

#[test]
fn events_undelivered_at_the_deadline_become_dead_letters() {
    let emulator = Emulator::start(&["--rate-500", "1.0"]);
    let dir = temp_dir("deadline");
    let config = pipeline_with(&emulator, &dir, "svc-secret", true, "");
    let (child, _writer, _) = start_streaming(&config, segment_events(300), "1");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let started = std::time::Instant::now();
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the grace period was not enforced");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let read = source_count(&stderr, "in");
    let (accepted, dead) = assert_exact_accounting(&emulator, &dir, read);
    assert_eq!(accepted, 0);
    assert_eq!(dead.len(), read);
    assert!(dead.iter().all(|d| d["reason"] == "shutdown deadline passed before delivery"), "{stderr}");
    assert!(stderr.contains("[shutdown deadline: "), "{stderr}");
}

#[test]
fn slow_mixpanel_pushes_back_to_the_source_and_memory_stays_bounded() {
    let emulator = Emulator::start(&["--rate-slow", "1.0", "--slow-ms", "50"]);
    let dir = temp_dir("backpressure");
    let config =
        pipeline_with(&emulator, &dir, "svc-secret", true, "batch.max_events = 100\nrequest.concurrency = 2\n");
    let input = segment_events(40_000);
    let total = input.len();
    let (child, _writer, written) = start_streaming(&config, input, "60");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let progress = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(progress < total, "the writer was never held back: no back-pressure");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while written.load(std::sync::atomic::Ordering::Relaxed) < total {
        assert!(std::time::Instant::now() < deadline, "stalled");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Let the tail drain, then stop.
    while emulator.stats()["accepted_unique"].as_u64().unwrap() < 40_000 {
        assert!(std::time::Instant::now() < deadline, "stalled draining");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let rss = proc_kib(child.id(), "VmHWM:");
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(rss > 0 && rss < 100 * 1024, "peak RSS {rss} KiB");
    assert_exact_accounting(&emulator, &dir, 40_000);
}

#[test]
fn track_preset_delivers_with_the_token_in_each_event() {
    let emulator = Emulator::start(&[]);
    let dir = temp_dir("track");
    let config = format!(
        r#"
[sources.in]
type = "stdin"
[transforms.phi]
type = "phi_scrub"
inputs = ["in"]
key = "${{PHI_HMAC_KEY}}"
[transforms.phi.mixpanel]
token = "test-token"
[transforms.second]
type = "phi_scrub"
inputs = ["phi"]
key = "${{PHI_HMAC_KEY}}"
drop = ["properties.i"]
[sinks.mixpanel]
type = "http"
inputs = ["second"]
preset = "mixpanel_track"
uri = "http://{}"
batch.timeout_secs = 0.05
dead_letter.path = "{}"
[sinks.copy]
type = "file"
inputs = ["second"]
path = "{}"
"#,
        emulator.address,
        dir.join("dead.ndjson").display(),
        dir.join("copy.ndjson").display()
    );
    let path = dir.join("track.toml");
    std::fs::write(&path, config).unwrap();
    let out = run(&path, segment_events(100));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (accepted, dead) = assert_exact_accounting(&emulator, &dir, 100);
    assert_eq!((accepted, dead.len()), (100, 0));
    // Chained transforms and fan-out: the file sink got the same 100 events, `i` dropped by the second.
    let copy = std::fs::read_to_string(dir.join("copy.ndjson")).unwrap();
    assert_eq!(copy.lines().count(), 100);
    assert!(copy.lines().all(|l| serde_json::from_str::<Value>(l).unwrap()["properties"].get("i").is_none()));
}

/// `GET` on the metrics address: (status, body).
fn probe(port: u16, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: probe\r\n\r\n").unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned())
}

fn wait_ready(port: u16, want: u16) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = probe(port, "/ready");
        if status == want {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "/ready stayed {status}: {body}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_sink_past_its_retry_budget_is_not_ready_until_it_delivers_again() {
    let dir = temp_dir("http-ready");
    // Mixpanel answers 500 to everything: each batch exhausts its two retries.
    let failing = Emulator::start(&["--rate-500", "1.0"]);
    let address = failing.address.clone();
    let (port, metrics) = (procs::free_port(), procs::free_port());
    let settings = "batch.timeout_secs = 0.05\nrequest.retry_attempts = 2\nrequest.retry_initial_backoff_secs = 0.01
request.retry_max_backoff_secs = 0.02";
    let dead = dir.join("dead.ndjson");
    let sink = mixpanel_import_sink("in", &address, "svc-secret", &dead.display().to_string(), settings);
    let config = format!(
        "[metrics]\naddress = \"127.0.0.1:{metrics}\"\n[sources.in]\ntype = \"http_server\"\naddress = \"127.0.0.1:{port}\"\n{sink}"
    );
    let path = dir.join("ready.toml");
    std::fs::write(&path, config).unwrap();
    let _phi = procs::Phi::serve(&path, port);
    procs::wait_listening(metrics);
    assert_eq!(wait_ready(metrics, 200), "ready\n");
    let post = |i: usize| {
        let body = format!(
            "{{\"event\":\"e\",\"properties\":{{\"time\":{},\"distinct_id\":\"d\",\"$insert_id\":\"id{i}\"}}}}\n",
            time::OffsetDateTime::now_utc().unix_timestamp()
        );
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST /events HTTP/1.0\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"), "{response}");
    };
    post(0);
    // Given up after its retries: not ready, naming the sink; alive all the same.
    assert!(wait_ready(metrics, 503).contains("mixpanel"));
    assert_eq!(probe(metrics, "/health").0, 200);
    // Mixpanel comes back on the same address: the next batch is delivered, and it is ready.
    drop(failing);
    let healthy = Emulator::start(&["--address", &address]);
    post(1);
    assert_eq!(wait_ready(metrics, 200), "ready\n");
    assert_eq!(healthy.stats()["accepted_unique"], 1);
    assert_eq!(dead_letters(&dir).len(), 1);
}
