//! Operator logs of the real binary under failures (Mixpanel refusing the credentials, a server
//! answering 500 to everything, senders with a wrong write key, unreadable bodies), with PHI and
//! secrets planted in the failing events: at every level (`PHI_SCRUB_LOG=trace`) and in both
//! formats, the lines an operator needs are there, a storm is throttled, and no line holds a
//! planted value or a secret.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

#[path = "support/procs.rs"]
mod procs;
use procs::{free_port, mixpanel_import_sink, recent_timestamp, sigterm, temp_dir, wait_listening, Emulator, Phi, PHI};

const HMAC_KEY: &str = "logs-test-hmac-key-SECRET-0123456789";
const WRITE_KEY: &str = "logs-test-write-key-SECRET";
const WRONG_WRITE_KEY: &str = "wrong-write-key-SECRET";
const MIXPANEL_SECRET: &str = "svc-secret-SECRET";
const WRONG_MIXPANEL_SECRET: &str = "wrong-mixpanel-secret-SECRET";

/// Values planted in every event: each must stay out of every log line.
const PLANTED: &[&str] =
    &["jane.roe@example.com", "Jane Roe", "123-45-6789", "415-555-0123", "203.0.113.9", "patient-8812", "MRN 00451234"];

const BATCHES: usize = 20;
const PER_BATCH: usize = 10;

fn event(i: usize) -> Value {
    json!({"type": "track", "event": "Appointment Booked", "userId": "patient-8812", "messageId": format!("m-{i}"),
           "timestamp": recent_timestamp(), "context": {"ip": "203.0.113.9"},
           "properties": {"specialty": "cardiology", "email": "jane.roe@example.com", "name": "Jane Roe",
                          "ssn": "123-45-6789", "phone": "415-555-0123", "note": "MRN 00451234 for Jane Roe"}})
}

fn config(dir: &Path, port: u16, refusing: &Emulator, failing: &Emulator) -> std::path::PathBuf {
    let settings = "batch.max_events = 10\nbatch.timeout_secs = 0.05\nrequest.retry_attempts = 4
request.retry_initial_backoff_secs = 0.01\nrequest.retry_max_backoff_secs = 0.05\nrequest.timeout_secs = 2";
    let dead = |name: &str| dir.join(name).display().to_string();
    let refused =
        mixpanel_import_sink("phi", &refusing.address, WRONG_MIXPANEL_SECRET, &dead("refused.ndjson"), settings);
    let failing = mixpanel_import_sink("phi", &failing.address, MIXPANEL_SECRET, &dead("failing.ndjson"), settings)
        .replace("[sinks.mixpanel]", "[sinks.failing]");
    let text = format!(
        r#"[sources.web]
type = "http_server"
address = "127.0.0.1:{port}"
write_keys = ["{WRITE_KEY}"]

[transforms.phi]
type = "phi_scrub"
inputs = ["web"]
key = "{HMAC_KEY}"
hash = ["userId"]
allow = ["properties.specialty", "properties.note"]
[transforms.phi.mixpanel]
token = "test-token"
{refused}
{failing}
"#
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the failing pipeline at `PHI_SCRUB_LOG=trace` in `format`; returns its stderr.
async fn failing_run(format: &str) -> String {
    let dir = temp_dir(&format!("logs-{format}"));
    let refusing = Emulator::start(&["--secret", MIXPANEL_SECRET]);
    let failing = Emulator::start(&["--secret", MIXPANEL_SECRET, "--rate-500", "1.0"]);
    let port = free_port();
    let config = config(&dir, port, &refusing, &failing);
    // Killed if the test fails.
    let (mut phi, reader) = Phi::spawn_with_stderr(
        &["run", "--config", config.to_str().unwrap(), "--log-format", format],
        &[("PHI_SCRUB_LOG", "trace")],
    );
    wait_listening(port);
    let url = format!("http://127.0.0.1:{port}/v1/batch");
    let client = reqwest::Client::new();
    let wrong = client.post(&url).basic_auth(WRONG_WRITE_KEY, Some("")).json(&json!({"batch": [event(0)]}));
    assert_eq!(wrong.send().await.unwrap().status(), 401);
    let unreadable = r#"{"batch": [{"email": "jane.roe@example.com", "name": "Jane Roe""#;
    let bad =
        client.post(&url).basic_auth(WRITE_KEY, Some("")).header("content-type", "application/json").body(unreadable);
    assert_eq!(bad.send().await.unwrap().status(), 400);
    for b in 0..BATCHES {
        let batch: Vec<Value> = (b * PER_BATCH..(b + 1) * PER_BATCH).map(event).collect();
        let r = client.post(&url).basic_auth(WRITE_KEY, Some("")).json(&json!({"batch": batch})).send().await;
        assert_eq!(r.unwrap().status(), 200);
    }
    // Both sinks give every event up (one refused, one after its retries): then stop.
    let total = BATCHES * PER_BATCH;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&dir.join("refused.ndjson")) < total || lines(&dir.join("failing.ndjson")) < total {
        assert!(Instant::now() < deadline, "the sinks did not settle every event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sigterm(&phi.0);
    assert!(phi.0.wait().unwrap().success());
    reader.join().unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Every planted value and secret, also as the Basic-auth headers carry them.
fn forbidden() -> Vec<String> {
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let mut all: Vec<String> = PLANTED.iter().map(|s| s.to_string()).collect();
    all.extend([HMAC_KEY, WRITE_KEY, WRONG_WRITE_KEY, MIXPANEL_SECRET, WRONG_MIXPANEL_SECRET].map(String::from));
    all.push("SECRET".into());
    all.push(b64(format!("svc-user:{WRONG_MIXPANEL_SECRET}")));
    all.push(b64(format!("svc-user:{MIXPANEL_SECRET}")));
    all.push(b64(format!("{WRITE_KEY}:")));
    all.push(b64(format!("{WRONG_WRITE_KEY}:")));
    all
}

fn assert_clean(stderr: &str) {
    for line in stderr.lines() {
        for value in forbidden() {
            assert!(!line.contains(&value), "a log line holds `{value}`: {line}");
        }
    }
}

/// The summary printed at exit follows the log lines.
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().take_while(|l| !l.starts_with("phi-scrub summary")).collect()
}

fn summary_count(stderr: &str, sink: &str, counter: &str) -> u64 {
    let line = stderr.lines().find(|l| l.trim_start().starts_with("sink") && l.contains(&format!("{sink}:"))).unwrap();
    let label = format!(", {counter} ");
    let at = line.find(&label).unwrap_or_else(|| panic!("no {counter} in {line}"));
    line[at + label.len()..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_say_what_failed_throttled_and_hold_no_phi_or_secret() {
    let stderr = failing_run("json").await;
    assert_clean(&stderr);
    let records: Vec<Value> = log_lines(&stderr)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let with = |message: &str| records.iter().filter(|r| r["message"].as_str().unwrap_or("").contains(message)).count();
    let component = |r: &Value| r["span"]["component_id"].as_str().or(r["component_id"].as_str()).map(str::to_owned);
    // Every component says it started and stopped, inside its span.
    for name in ["web", "phi", "mixpanel", "failing"] {
        let of = |m: &str| records.iter().any(|r| r["message"] == m && component(r).as_deref() == Some(name));
        assert!(of("started") && of("stopped"), "{name} did not log start and stop:\n{stderr}");
    }
    assert_eq!(with("stop signal"), 1, "{stderr}");
    // The refused credentials: an error naming the fix, with the count, never the secret.
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| r["reason"] == "unauthorized" && component(r).as_deref() == Some("mixpanel"))
        .collect();
    assert!(!refused.is_empty() && refused.iter().all(|r| r["level"] == "ERROR"), "{stderr}");
    assert!(refused[0]["message"].as_str().unwrap().contains("auth.password"), "{stderr}");
    // The failing server: retries logged, but throttled far below the retries made.
    let retries = summary_count(&stderr, "failing", "retries");
    let retry_lines = with("retrying a batch") as u64;
    assert!(
        retries >= (BATCHES * 3) as u64 && (1..=3).contains(&retry_lines),
        "{retries} retries, {retry_lines} lines"
    );
    assert!(records.iter().any(|r| r["reason"] == "retries exhausted" && r["level"] == "ERROR"), "{stderr}");
    // The senders' mistakes: a wrong write key is a warning, an unreadable body a debug line.
    assert!(records.iter().any(|r| r["reason"] == "unauthorized" && r["status"] == 401 && r["level"] == "WARN"));
    assert!(records.iter().any(|r| r["status"] == 400 && r["level"] == "DEBUG"), "{stderr}");
    // Libraries speak at warn and above only, whatever PHI_SCRUB_LOG asks.
    for r in &records {
        let target = r["target"].as_str().unwrap_or("");
        let verbose = matches!(r["level"].as_str(), Some("DEBUG" | "TRACE" | "INFO"));
        assert!(target.starts_with("phi_scrub") || !verbose, "a library logged below warn: {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_hold_no_phi_or_secret_either() {
    let stderr = failing_run("text").await;
    assert_clean(&stderr);
    let logged = log_lines(&stderr);
    assert!(logged.iter().any(|l| l.contains(" ERROR ") && l.contains("auth.password")), "{stderr}");
    assert!(logged.iter().any(|l| l.contains(" WARN ") && l.contains("retrying a batch")), "{stderr}");
}

#[test]
fn an_invalid_log_filter_is_refused_before_anything_runs() {
    let dir = temp_dir("logs-filter");
    let path = dir.join("p.toml");
    std::fs::write(&path, "[sources.in]\ntype = \"stdin\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"in\"]\n")
        .unwrap();
    let out = Command::new(PHI)
        .args(["run", "--config", path.to_str().unwrap()])
        .env("PHI_SCRUB_LOG", "phi_scrub=loud")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PHI_SCRUB_LOG"));
}
