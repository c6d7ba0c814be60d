//! TLS on the way in and out, with certificates made here (rcgen) and real processes: Segment
//! batches through `http_server` over TLS to the emulator, clients that do not trust the CA or
//! bring no certificate refused, plain HTTP on a TLS port refused while serving goes on, SIGHUP
//! serving new certificate files to new connections, and the `http` sink refusing a wrong host
//! or an untrusted certificate and delivering through a CONNECT proxy that sees only ciphertext.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::ExtendedKeyUsagePurpose;
use serde_json::json;

#[path = "support/certs.rs"]
mod certs;
#[path = "support/procs.rs"]
mod procs;
use certs::{ca, leaf, write_server_cert};
use procs::{free_port, mixpanel_import_sink, run_phi, temp_dir, wait_listening, Emulator, Phi};

const KEY: &str = "tls-test-key-0123456789abcdef0123";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// An `http_server` with TLS (`extra` adds tls lines) feeding `sink`.
fn tls_server_config(dir: &Path, port: u16, extra: &str, sink: &str) -> PathBuf {
    let text = format!(
        r#"
[sources.web]
type = "http_server"
address = "127.0.0.1:{port}"
tls.enabled = true
tls.crt_file = "{crt}"
tls.key_file = "{key}"
{extra}
{sink}"#,
        crt = dir.join("server.crt").display(),
        key = dir.join("server.key").display(),
    );
    write(dir, "server.toml", &text)
}

fn batch(n: usize, prefix: &str) -> serde_json::Value {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            json!({"type": "track", "event": "Provider Search", "userId": format!("u{i}"), "messageId": format!("{prefix}{i}"),
                   "timestamp": "2026-11-01T10:00:00.000Z", "properties": {"specialty": "oncology", "email": "ann@x.org"}})
        })
        .collect();
    json!({ "batch": calls })
}

fn client(ca_pem: Option<&str>, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    if let Some((cert, key)) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn post_batch(client: &reqwest::Client, port: u16, body: &serde_json::Value) -> reqwest::Result<u16> {
    let url = format!("https://localhost:{port}/v1/batch");
    client.post(url).json(body).send().await.map(|r| r.status().as_u16())
}

const PHI_TO_EMULATOR: &str = r#"
[transforms.phi]
type = "phi_scrub"
inputs = ["web"]
key = "tls-test-key-0123456789abcdef0123"
hash = ["properties.email"]
[transforms.phi.mixpanel]
token = "tls-token"
"#;

fn wait_accepted(emulator: &Emulator, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = emulator.stats()["accepted_unique"].as_u64().unwrap();
        if got >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn segment_batches_over_tls_reach_the_emulator_and_untrusting_or_plain_clients_are_refused() {
    let dir = temp_dir("tls-in");
    let authority = ca("phi-scrub test CA");
    write_server_cert(&dir, &authority, &["localhost"]);
    let (emulator, port) = (Emulator::start(&[]), free_port());
    let sink = mixpanel_import_sink(
        "phi",
        &emulator.address,
        "svc-secret",
        &dir.join("dead.ndjson").display().to_string(),
        "",
    );
    let _phi = Phi::serve(&tls_server_config(&dir, port, "", &format!("{PHI_TO_EMULATOR}{sink}")), port);

    let trusting = client(Some(&authority.cert.pem()), None);
    assert_eq!(post_batch(&trusting, port, &batch(50, "a")).await.unwrap(), 200);
    assert_eq!(wait_accepted(&emulator, 50), 50);

    // The public roots do not include the test CA: the handshake fails.
    assert!(post_batch(&client(None, None), port, &batch(1, "b")).await.is_err());
    // Plain HTTP on the TLS port: a clean failure, no answer in clear.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(plain, "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"), "{answer:?}");
    // And the server goes on serving.
    assert_eq!(post_batch(&trusting, port, &batch(10, "c")).await.unwrap(), 200);
    assert_eq!(wait_accepted(&emulator, 60), 60);
}

#[tokio::test]
async fn with_client_certificates_required_a_client_without_one_is_refused() {
    let dir = temp_dir("tls-mtls");
    let authority = ca("phi-scrub test CA");
    write_server_cert(&dir, &authority, &["localhost"]);
    let ca_file = write(&dir, "clients-ca.pem", &authority.cert.pem());
    let port = free_port();
    let extra = format!("tls.ca_file = \"{}\"\ntls.verify_certificate = true", ca_file.display());
    let sink = "[sinks.out]\ntype = \"file\"\ninputs = [\"web\"]\npath = \"/dev/null\"";
    let _phi = Phi::serve(&tls_server_config(&dir, port, &extra, sink), port);

    let no_cert = client(Some(&authority.cert.pem()), None);
    assert!(post_batch(&no_cert, port, &batch(1, "a")).await.is_err(), "no client certificate");
    let (cert, key) = leaf(&authority, &["agent-1"], ExtendedKeyUsagePurpose::ClientAuth);
    let with_cert = client(Some(&authority.cert.pem()), Some((&cert, &key)));
    assert_eq!(post_batch(&with_cert, port, &batch(1, "b")).await.unwrap(), 200);
    let stranger = ca("another CA");
    let (cert, key) = leaf(&stranger, &["agent-2"], ExtendedKeyUsagePurpose::ClientAuth);
    let foreign = client(Some(&authority.cert.pem()), Some((&cert, &key)));
    assert!(post_batch(&foreign, port, &batch(1, "c")).await.is_err(), "a certificate from another CA");
}

#[tokio::test]
async fn sighup_serves_new_certificate_files_to_new_connections_and_keeps_open_ones() {
    let dir = temp_dir("tls-reload");
    let (old_ca, new_ca) = (ca("old CA"), ca("new CA"));
    write_server_cert(&dir, &old_ca, &["localhost"]);
    let port = free_port();
    let sink = "[sinks.out]\ntype = \"file\"\ninputs = [\"web\"]\npath = \"/dev/null\"";
    let phi = Phi::serve(&tls_server_config(&dir, port, "", sink), port);
    let kept_open = client(Some(&old_ca.cert.pem()), None);
    assert_eq!(post_batch(&kept_open, port, &batch(1, "a")).await.unwrap(), 200);

    write_server_cert(&dir, &new_ca, &["localhost"]);
    assert!(Command::new("kill").args(["-HUP", &phi.0.id().to_string()]).status().unwrap().success());
    let trusts_new = client(Some(&new_ca.cert.pem()), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while post_batch(&trusts_new, port, &batch(1, "b")).await.is_err() {
        assert!(Instant::now() < deadline, "the new certificate is never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A new connection trusting only the old CA now fails; the pooled one opened before still works.
    assert!(post_batch(&client(Some(&old_ca.cert.pem()), None), port, &batch(1, "c")).await.is_err());
    assert_eq!(post_batch(&kept_open, port, &batch(1, "d")).await.unwrap(), 200);
}

/// A CONNECT proxy on a thread: tunnels each connection and keeps every byte it forwarded.
fn connect_proxy() -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                log.lock().unwrap().extend_from_slice(&head);
                let target = String::from_utf8_lossy(&head).split_whitespace().nth(1).unwrap_or("").to_owned();
                let Ok(mut upstream) = TcpStream::connect(&target) else { return };
                client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").unwrap();
                let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                let up_log = log.clone();
                let up = std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c2.read(&mut buf) {
                        if n == 0 || u2.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        up_log.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = u2.shutdown(std::net::Shutdown::Write);
                });
                let mut buf = [0u8; 16384];
                while let Ok(n) = upstream.read(&mut buf) {
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = up.join();
            });
        }
    });
    (port, seen)
}

/// `stdin -> http sink` to `https://HOST:PORT/events` with `tls` and `extra` lines; returns the
/// dead letters it wrote.
fn send_through_sink(dir: &Path, host: &str, port: u16, extra: &str, events: &[u8]) -> (String, String) {
    send_with_env(dir, host, port, extra, events, &[])
}

/// [`send_through_sink`] with extra environment variables (`HTTPS_PROXY`, `NO_PROXY`).
fn send_with_env(
    dir: &Path,
    host: &str,
    port: u16,
    extra: &str,
    events: &[u8],
    env: &[(&str, &str)],
) -> (String, String) {
    let dead = dir.join("sink-dead.ndjson");
    let _ = std::fs::remove_file(&dead);
    let text = format!(
        "[sources.in]\ntype = \"stdin\"\n\n[sinks.out]\ntype = \"http\"\ninputs = [\"in\"]\nuri = \"https://{host}:{port}/events\"\nencoding.codec = \"json\"\nrequest.retry_attempts = 0\ndead_letter.path = \"{}\"\n{extra}\n",
        dead.display()
    );
    let config = write(dir, "client.toml", &text);
    let mut envs = vec![("PHI_HMAC_KEY", KEY)];
    envs.extend_from_slice(env);
    let out = run_phi(&["run", "--config", config.to_str().unwrap()], &envs, events.to_vec());
    (std::fs::read_to_string(&dead).unwrap_or_default(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_http_sink_checks_the_server_and_delivers_through_a_connect_proxy() {
    let dir = temp_dir("tls-out");
    let authority = ca("private CA");
    let received = dir.join("received.ndjson");
    let port = free_port();
    let sink = format!("[sinks.out]\ntype = \"file\"\ninputs = [\"web\"]\npath = \"{}\"", received.display());
    write_server_cert(&dir, &authority, &["localhost"]);
    let mut server = Phi::serve(&tls_server_config(&dir, port, "", &sink), port);
    let ca_file = write(&dir, "ca.pem", &authority.cert.pem());
    let trust = format!("tls.ca_file = \"{}\"", ca_file.display());
    let event = |marker: &str| format!("{{\"event\":\"{marker}\",\"n\":1}}\n").into_bytes();

    // Trusting the private CA: delivered.
    let (dead, _) = send_through_sink(&dir, "localhost", port, &trust, &event("trusted-ca"));
    assert!(dead.is_empty(), "{dead}");
    // The public roots alone: refused, and the event is a dead letter, not sent in clear.
    let (dead, _) = send_through_sink(&dir, "localhost", port, "", &event("untrusted"));
    assert!(dead.contains("untrusted"), "{dead}");
    // A certificate for another host: refused; with verify_hostname off, delivered and warned.
    let (dead, _) = send_through_sink(&dir, "127.0.0.1", port, &trust, &event("wrong-host"));
    assert!(dead.contains("wrong-host"), "{dead}");
    let loose = format!("{trust}\ntls.verify_hostname = false");
    let (dead, stderr) = send_through_sink(&dir, "127.0.0.1", port, &loose, &event("any-host"));
    assert!(dead.is_empty() && stderr.contains(" WARN ") && stderr.contains("verify_hostname"), "{dead} {stderr}");

    // Through a CONNECT proxy: delivered, and the proxy saw only the CONNECT line in clear.
    let (proxy_port, seen) = connect_proxy();
    let via = format!("{trust}\nproxy.https = \"http://127.0.0.1:{proxy_port}\"");
    let (dead, stderr) = send_through_sink(&dir, "localhost", port, &via, &event("via-proxy-marker"));
    assert!(dead.is_empty(), "{dead} {stderr}");
    // HTTPS_PROXY is honoured without proxy.* ...
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let connects = || String::from_utf8_lossy(&seen.lock().unwrap()).matches("CONNECT ").count();
    let (dead, _) = send_with_env(
        &dir,
        "localhost",
        port,
        &trust,
        &event("env-proxy"),
        &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", ""), ("no_proxy", "")],
    );
    assert!(dead.is_empty() && connects() == 2, "{dead}");
    // ... and so is NO_PROXY.
    let bypass = [("HTTPS_PROXY", proxy_url.as_str()), ("NO_PROXY", "localhost"), ("no_proxy", "localhost")];
    let (dead, _) = send_with_env(&dir, "localhost", port, &trust, &event("no-proxy"), &bypass);
    assert!(dead.is_empty() && connects() == 2, "{dead}");
    // proxy.no_proxy applies to a proxy taken from the environment too.
    let exempt = format!("{trust}\nproxy.no_proxy = [\"localhost\"]");
    let env = [("HTTPS_PROXY", proxy_url.as_str()), ("NO_PROXY", ""), ("no_proxy", "")];
    let (dead, _) = send_with_env(&dir, "localhost", port, &exempt, &event("config-no-proxy"), &env);
    assert!(dead.is_empty() && connects() == 2, "{dead}");
    // The file sink flushes when its pipeline ends.
    procs::sigterm(&server.0);
    server.0.wait().unwrap();
    let lines = std::fs::read_to_string(&received).unwrap();
    for marker in ["trusted-ca", "any-host", "via-proxy-marker", "env-proxy", "no-proxy", "config-no-proxy"] {
        assert!(lines.contains(marker), "`{marker}` never arrived: {lines}");
    }
    for refused in ["untrusted", "wrong-host"] {
        assert!(!lines.contains(refused), "`{refused}` arrived: {lines}");
    }
    let seen = seen.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with(&format!("CONNECT localhost:{port}")), "{text}");
    assert!(!text.contains("via-proxy-marker") && !text.contains("/events"), "the proxy saw plaintext");
}

#[tokio::test]
async fn the_metrics_endpoint_takes_tls_and_a_bearer_token() {
    let dir = temp_dir("tls-metrics");
    let authority = ca("metrics CA");
    write_server_cert(&dir, &authority, &["localhost"]);
    let (port, metrics_port) = (free_port(), free_port());
    let metrics = format!(
        "[sinks.out]\ntype = \"file\"\ninputs = [\"web\"]\npath = \"/dev/null\"\n\n[metrics]\naddress = \"127.0.0.1:{metrics_port}\"\nauth.strategy = \"bearer\"\nauth.token = \"scrape-token-42\"\ntls.enabled = true\ntls.crt_file = \"{}\"\ntls.key_file = \"{}\"\n",
        dir.join("server.crt").display(),
        dir.join("server.key").display()
    );
    let _phi = Phi::serve(&tls_server_config(&dir, port, "", &metrics), port);
    wait_listening(metrics_port);
    let scraper = client(Some(&authority.cert.pem()), None);
    let url = format!("https://localhost:{metrics_port}/metrics");
    let anonymous = scraper.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = scraper.get(&url).bearer_auth("scrape-token-43").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let scraped = scraper.get(&url).bearer_auth("scrape-token-42").send().await.unwrap();
    assert_eq!(scraped.status().as_u16(), 200);
    assert!(scraped.text().await.unwrap().contains("phi_scrub_events_in_total"));
    // Plain HTTP on the TLS port gets nothing.
    assert!(reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await.is_err());
}
