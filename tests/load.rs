//! Load with faults: events pushed through http_server -> phi_scrub -> http sink -> the Mixpanel
//! emulator, which answers 429s, 500s and slowly, drops connections, and is restarted (SIGKILL)
//! in the middle. Asserts exact accounting (unique events accepted + dead letters = sent) and
//! bounded memory. CI runs 20,000 events; `LOAD_EVENTS=1000000 cargo test --release --test load`
//! is the long run recorded in SECURITY.md.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

#[path = "support/procs.rs"]
mod procs;
use procs::{free_port, mixpanel_import_sink, proc_kib, wait_listening, Emulator, PHI};

const KEY: &str = "load-test-key-0123456789abcdef0123";
const PER_REQUEST: usize = 100;

fn start_emulator(port: u16, journal: &Path) -> Emulator {
    let address = format!("127.0.0.1:{port}");
    let journal = journal.to_str().unwrap();
    Emulator::start(&[
        "--address", &address, "--journal", journal, "--rate-429", "0.05", "--retry-after-secs", "0", "--rate-500",
        "0.05", "--rate-drop", "0.03", "--rate-slow", "0.05", "--slow-ms", "200",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_an_emulator_restart_lose_nothing_and_memory_stays_flat() {
    let total: usize = std::env::var("LOAD_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("phi-scrub-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal.ndjson");
    let (emulator_port, phi_port) = (free_port(), free_port());
    let mut emulator = start_emulator(emulator_port, &journal);
    let config = format!(
        r#"[sources.web]
type = "http_server"
address = "127.0.0.1:{phi_port}"
[transforms.phi]
type = "phi_scrub"
inputs = ["web"]
key = "${{PHI_HMAC_KEY}}"
allow = ["properties.specialty"]
hash = ["userId"]
[transforms.phi.mixpanel]
token = "test-token"
{sink}"#,
        sink = mixpanel_import_sink(
            "phi",
            &format!("127.0.0.1:{emulator_port}"),
            "svc-secret",
            &dir.join("dead.ndjson").display().to_string(),
            "request.concurrency = 8
request.timeout_secs = 5
request.retry_attempts = 1000
request.retry_initial_backoff_secs = 0.01
request.retry_max_backoff_secs = 0.2
request.retry_max_duration_secs = 600",
        )
    );
    std::fs::write(dir.join("load.toml"), config).unwrap();
    let phi = Command::new(PHI)
        .args(["run", "--grace-period-secs", "300", "--config"])
        .arg(dir.join("load.toml"))
        .env("PHI_HMAC_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(phi_port);

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("http://127.0.0.1:{phi_port}/v1/batch");
    let requests = total.div_ceil(PER_REQUEST);
    let next = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (client, url, next, refused) = (client.clone(), url.clone(), next.clone(), refused.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let r = next.fetch_add(1, Ordering::Relaxed) as usize;
                if r >= requests {
                    return;
                }
                let items: Vec<Value> = (r * PER_REQUEST..((r + 1) * PER_REQUEST).min(total))
                    .map(|i| {
                        json!({"type": "track", "event": "Load", "userId": format!("u-{}", i % 1000),
                                    "messageId": format!("load-{i}"), "timestamp": "2026-11-28T10:00:00Z",
                                    "properties": {"specialty": "x", "name": "Pat Doe"}})
                    })
                    .collect();
                let body = json!({"batch": items}).to_string();
                loop {
                    let sent =
                        client.post(&url).header("content-type", "application/json").body(body.clone()).send().await;
                    if matches!(sent, Ok(ref resp) if resp.status() == 200) {
                        break;
                    }
                    refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    // Watch memory, and restart the emulator (SIGKILL) once a third of the requests are in.
    let mut peak_rss = 0;
    let mut restarted = false;
    while workers.iter().any(|w| !w.is_finished()) {
        peak_rss = peak_rss.max(proc_kib(phi.id(), "VmRSS:"));
        if !restarted && next.load(Ordering::Relaxed) as usize > requests / 3 {
            drop(emulator);
            tokio::time::sleep(Duration::from_millis(300)).await;
            emulator = start_emulator(emulator_port, &journal);
            restarted = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in workers {
        w.await.unwrap();
    }
    assert!(restarted);
    assert!(Command::new("kill").args(["-TERM", &phi.id().to_string()]).status().unwrap().success());
    let out = phi.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats: Value = client
        .get(format!("http://127.0.0.1:{emulator_port}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted = stats["accepted_unique"].as_u64().unwrap() as usize;
    let dead = std::fs::read_to_string(dir.join("dead.ndjson")).unwrap_or_default().lines().count();
    drop(emulator);
    eprintln!(
        "load: {total} events, accepted {accepted}, dead letters {dead}, client retries {}, peak RSS {} MiB\n{}",
        refused.load(Ordering::Relaxed),
        peak_rss / 1024,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(accepted + dead, total, "accepted {accepted} + dead {dead} != sent {total}; {stats}");
    assert_eq!(dead, 0, "with retries this generous nothing should be given up");
    assert!(peak_rss < 100 * 1024, "peak RSS {peak_rss} KiB");
    let _ = std::fs::remove_dir_all(&dir);
}
