//! The `http_server` source with a real HTTP client against the real binary: Segment's API,
//! its errors, and end-to-end acknowledgements surviving SIGKILL and a restart.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/procs.rs"]
mod procs;
use procs::{free_port, mixpanel_import_sink, recent_timestamp, sigterm, temp_dir, wait_listening, Emulator, PHI};

const KEY: &str = "segment-api-test-key-0123456789abcdef";
const WRITE_KEY: &str = "wk-test-123";

fn start_phi(config: &Path, stdout: Stdio) -> Child {
    Command::new(PHI)
        .args(["run", "--config"])
        .arg(config)
        .env("PHI_HMAC_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn track(i: usize) -> Value {
    json!({"event": "Provider Searched", "userId": format!("user-{i}"), "messageId": format!("m-{i}"),
           "timestamp": recent_timestamp(), "properties": {"specialty": "x", "email": "pat@example.com"}})
}

const PHI_BLOCK: &str = r#"
[transforms.phi]
type = "phi_scrub"
inputs = ["web"]
key = "${PHI_HMAC_KEY}"
allow = ["properties.specialty"]
[transforms.phi.mixpanel]
token = "test-token"
"#;

fn console_config(dir: &Path, port: u16) -> PathBuf {
    let text = format!(
        "[sources.web]\ntype = \"http_server\"\naddress = \"127.0.0.1:{port}\"\nwrite_keys = [\"{WRITE_KEY}\"]\nmax_body_bytes = 100000\n{PHI_BLOCK}\n[sinks.out]\ntype = \"console\"\ninputs = [\"phi\"]\n"
    );
    let path = dir.join("console.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_endpoints_accept_calls_and_scrub_them() {
    let dir = temp_dir("segment-ok");
    let port = free_port();
    let child = start_phi(&console_config(&dir, port), Stdio::piped());
    wait_listening(port);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let post = |path: &str, body: Value| {
        client.post(format!("{base}{path}")).basic_auth(WRITE_KEY, Some("")).json(&body).send()
    };
    assert_eq!(post("/v1/track", track(1)).await.unwrap().status(), 200);
    let mut page = track(2);
    page.as_object_mut().unwrap().remove("event");
    assert_eq!(post("/v1/page", page).await.unwrap().status(), 200);
    let batch = json!({"batch": [
        {"type": "track", "event": "A", "userId": "u-a", "messageId": "b-1", "timestamp": "2026-11-28T10:00:00Z"},
        {"type": "screen", "userId": "u-b", "messageId": "b-2", "timestamp": "2026-11-28T10:00:00Z"}
    ], "context": {"ip": "10.1.2.3"}});
    assert_eq!(post("/v1/batch", batch).await.unwrap().status(), 200);
    // The write key may also travel in the body instead of Basic auth.
    let mut with_key = track(3);
    with_key["writeKey"] = json!(WRITE_KEY);
    let r = client.post(format!("{base}/v1/track")).json(&with_key).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Generic NDJSON endpoint.
    let ndjson = format!(
        "{}\n{}\n",
        json!({"type":"track"})
            .to_string()
            .replace('}', ",\"event\":\"N1\",\"userId\":\"n\",\"timestamp\":\"2026-11-28T10:00:00Z\"}"),
        track(4)
    );
    let r = client
        .post(format!("{base}/events"))
        .basic_auth(WRITE_KEY, Some(""))
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec![
            "A", "Loaded a Page", "Loaded a Screen", "N1", "Provider Searched", "Provider Searched",
            "Provider Searched"
        ]
    );
    for secret in ["pat@example.com", "10.1.2.3", WRITE_KEY, "user-1"] {
        assert!(!stdout.contains(secret), "{secret} leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_errors_are_clear_json() {
    let dir = temp_dir("segment-err");
    let port = free_port();
    let child = start_phi(&console_config(&dir, port), Stdio::piped());
    wait_listening(port);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/track");
    let send = |body: Vec<u8>, content_type: &'static str, key: Option<&'static str>, gzip: bool| {
        let mut req = client.post(&url).header("content-type", content_type).body(body);
        if let Some(k) = key {
            req = req.basic_auth(k, Some(""));
        }
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        req.send()
    };
    let ok_body = track(1).to_string().into_bytes();
    let cases: Vec<(reqwest::Response, u16)> = vec![
        (send(ok_body.clone(), "application/json", None, false).await.unwrap(), 401),
        (send(ok_body.clone(), "application/json", Some("wrong-key"), false).await.unwrap(), 401),
        (send(b"{\"event\":".to_vec(), "application/json", Some(WRITE_KEY), false).await.unwrap(), 400),
        (send(b"[1,2]".to_vec(), "application/json", Some(WRITE_KEY), false).await.unwrap(), 400),
        (send(ok_body.clone(), "text/plain", Some(WRITE_KEY), false).await.unwrap(), 415),
        (send(vec![b' '; 40_000], "application/json", Some(WRITE_KEY), false).await.unwrap(), 413),
        (send(gzip_bomb(), "application/json", Some(WRITE_KEY), true).await.unwrap(), 413),
    ];
    for (i, (response, expected)) in cases.into_iter().enumerate() {
        assert_eq!(response.status().as_u16(), expected, "case {i}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["success"], json!(false), "case {i}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "case {i}");
    }
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "", "nothing may pass");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[unauthorized: 2]") && stderr.contains("[too large: 2]"), "{stderr}");
}

/// 64 KB of gzip that expands to 64 MB.
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

/// http_server (acknowledgements on) -> phi_scrub -> http sink (`mixpanel_import`) -> emulator.
fn acknowledged_import_config(
    port: u16,
    emulator: &Emulator,
    password: &str,
    dead_letter: &str,
    extra: &str,
) -> String {
    format!(
        r#"[sources.web]
type = "http_server"
address = "127.0.0.1:{port}"
acknowledgements = true
{PHI_BLOCK}{sink}"#,
        sink = mixpanel_import_sink(
            "phi",
            &emulator.address,
            password,
            dead_letter,
            &format!("batch.timeout_secs = 0.05\n{extra}")
        )
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_requests_survive_sigkill_and_restart_exactly_once() {
    // Every answer is slow, so requests are certainly in flight when phi-scrub is killed.
    let emulator = Emulator::start(&["--rate-slow", "1.0", "--slow-ms", "300"]);
    let dir = temp_dir("ack-kill");
    let port = free_port();
    let dead = dir.join("dead.ndjson");
    let text = acknowledged_import_config(
        port,
        &emulator,
        "svc-secret",
        dead.to_str().unwrap(),
        "batch.max_events = 20\nrequest.retry_initial_backoff_secs = 0.01",
    );
    let config = dir.join("ack.toml");
    std::fs::write(&config, text).unwrap();
    let mut phi = start_phi(&config, Stdio::null());
    wait_listening(port);

    const REQUESTS: usize = 40;
    const PER_REQUEST: usize = 10;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/batch");
    let mut tasks = Vec::new();
    for r in 0..REQUESTS {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let items: Vec<Value> = (0..PER_REQUEST)
                .map(|i| {
                    let mut e = track(r * PER_REQUEST + i);
                    e["type"] = json!("track");
                    e
                })
                .collect();
            let body = json!({"batch": items});
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut attempts = 0usize;
            loop {
                // A client that retries until acknowledged, as Segment's libraries do.
                attempts += 1;
                if let Ok(resp) = client.post(&url).json(&body).send().await {
                    if resp.status() == 200 {
                        return attempts;
                    }
                }
                assert!(Instant::now() < deadline, "request {r} never acknowledged");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        if r == REQUESTS / 2 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            phi.kill().unwrap();
            phi.wait().unwrap();
            phi = start_phi(&config, Stdio::null());
            wait_listening(port);
        }
    }
    let mut attempts = 0;
    for t in tasks {
        attempts += t.await.unwrap();
    }
    assert!(attempts > REQUESTS, "the kill interrupted no request; the test proved nothing");
    sigterm(&phi);
    let out = phi.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats: Value = {
        let resp = client.get(format!("http://{}/_emulator/stats", emulator.address)).send().await.unwrap();
        resp.json().await.unwrap()
    };
    let dead = std::fs::read_to_string(dir.join("dead.ndjson")).unwrap_or_default();
    assert_eq!(dead.lines().count(), 0, "{dead}");
    assert_eq!(stats["accepted_unique"].as_u64().unwrap() as usize, REQUESTS * PER_REQUEST, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_serves_prometheus_counters_without_secrets() {
    let dir = temp_dir("metrics");
    let (port, metrics_port) = (free_port(), free_port());
    let config = console_config(&dir, port);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[metrics]\naddress = \"127.0.0.1:{metrics_port}\"\n"));
    std::fs::write(&config, text).unwrap();
    let child = start_phi(&config, Stdio::null());
    wait_listening(port);
    let client = reqwest::Client::new();
    for i in 0..3 {
        let r = client
            .post(format!("http://127.0.0.1:{port}/v1/track"))
            .basic_auth(WRITE_KEY, Some(""))
            .json(&track(i))
            .send();
        assert_eq!(r.await.unwrap().status(), 200);
    }
    let bad = client.post(format!("http://127.0.0.1:{port}/v1/track")).json(&track(9)).send().await.unwrap();
    assert_eq!(bad.status(), 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let body =
            client.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await.unwrap().text().await.unwrap();
        if body.contains("phi_scrub_events_out_total{component_kind=\"sink\",component_id=\"out\"} 3") {
            break body;
        }
        assert!(Instant::now() < deadline, "counters never reached 3:\n{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(body.contains("phi_scrub_events_in_total{component_kind=\"source\",component_id=\"web\"} 3"), "{body}");
    assert!(
        body.contains(
            "phi_scrub_dropped_total{component_kind=\"source\",component_id=\"web\",reason=\"unauthorized\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains("phi_scrub_events_in_total{component_kind=\"transform\",component_id=\"phi\"} 3"), "{body}");
    assert!(!body.contains(KEY) && !body.contains(WRITE_KEY) && !body.contains("test-token"));
    sigterm(&child);
    assert!(child.wait_with_output().unwrap().status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pipeline_answers_503_with_retry_after_instead_of_buffering() {
    // Mixpanel is down (every request 500, long backoff): the sink holds its batches, the
    // channels fill up, and the source must refuse rather than grow.
    let emulator = Emulator::start(&["--rate-500", "1.0"]);
    let dir = temp_dir("full");
    let port = free_port();
    let text = format!(
        r#"[sources.web]
type = "http_server"
address = "127.0.0.1:{port}"
{PHI_BLOCK}
[sinks.mixpanel]
type = "http"
inputs = ["phi"]
preset = "mixpanel_track"
uri = "http://{address}"
batch.max_events = 1
request.concurrency = 1
request.retry_initial_backoff_secs = 30
request.retry_max_backoff_secs = 30
dead_letter.path = "{dead}"
"#,
        address = emulator.address,
        dead = dir.join("dead.ndjson").display()
    );
    let config = dir.join("full.toml");
    std::fs::write(&config, text).unwrap();
    let child = Command::new(PHI)
        .args(["run", "--grace-period-secs", "1", "--config"])
        .arg(&config)
        .env("PHI_HMAC_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(port);
    let client = reqwest::Client::new();
    let mut accepted = 0usize;
    let mut refused = None;
    for i in 0..500 {
        let r = client.post(format!("http://127.0.0.1:{port}/v1/track")).json(&track(i)).send().await.unwrap();
        match r.status().as_u16() {
            200 => accepted += 1,
            503 => {
                refused = Some(r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()));
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refused, Some(Some("1".to_owned())), "never refused after {accepted} events");
    assert!(accepted < 500);
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // Nothing accepted was lost: after the 1 s grace period every one is a dead letter.
    let dead = std::fs::read_to_string(dir.join("dead.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), accepted, "{}", String::from_utf8_lossy(&out.stderr));
}

/// One event sent with acknowledgements to a Mixpanel that refuses the credentials, its dead
/// letter going to `dead_letter` (`None`: no `dead_letter.path`): the status the sender gets and
/// phi-scrub's stderr once stopped.
async fn post_one_refused_event(name: &str, dead_letter: Option<&str>) -> (u16, String) {
    let emulator = Emulator::start(&[]);
    let dir = temp_dir(name);
    let port = free_port();
    let text = acknowledged_import_config(port, &emulator, "wrong-secret", dead_letter.unwrap_or("unused"), "");
    let text: String = match dead_letter {
        Some(_) => text,
        None => text.lines().filter(|l| !l.starts_with("dead_letter.path")).map(|l| format!("{l}\n")).collect(),
    };
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, text).unwrap();
    let child = start_phi(&config, Stdio::null());
    wait_listening(port);
    let client = reqwest::Client::new();
    let r = client.post(format!("http://127.0.0.1:{port}/v1/track")).json(&track(1)).send().await.unwrap();
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    (r.status().as_u16(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_given_up_with_no_dead_letter_file_is_not_acknowledged() {
    // Found in review: with no `dead_letter.path`, an event Mixpanel refused was kept nowhere
    // and its sender still got a 200.
    let (status, stderr) = post_one_refused_event("no-dead-letter", None).await;
    assert_eq!(status, 500, "an event kept nowhere must not be acknowledged");
    assert!(stderr.contains("dead_letters_lost 1") && stderr.contains("no dead_letter.path"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_dead_letter_cannot_be_written_is_not_acknowledged() {
    // Found in review: a failed dead-letter write still let the acknowledgement through.
    // /dev/full accepts the open and fails every write with ENOSPC.
    let (status, stderr) = post_one_refused_event("devfull", Some("/dev/full")).await;
    assert_eq!(status, 500, "a lost event must not be acknowledged");
    assert!(stderr.contains("dead_letters_lost 1"), "{stderr}");
}
