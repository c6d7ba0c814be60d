//! The real `phi-scrub` binary on files: the quickstart, the hostile corpus, over-long lines,
//! `validate`, secrets in output, and SIGTERM.

use std::io::Write;
use std::process::{Command, Output};

use serde_json::Value;

#[path = "support/procs.rs"]
mod procs;
use procs::{proc_kib, run_phi, sigterm, PHI as BIN};
const KEY: &str = "cli-test-key-SECRET-0123456789abcdef";
const TOKEN: &str = "cli-test-token-SECRET-42";

fn root(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn run(config: &str, input: &[u8]) -> Output {
    let config = root(config);
    run_phi(&["run", "--config", &config], &[("PHI_HMAC_KEY", KEY), ("MIXPANEL_TOKEN", TOKEN)], input.to_vec())
}

/// Starts `run` on the test config with stdin, stdout and stderr piped.
fn spawn_run() -> std::process::Child {
    procs::spawn_piped(&["run", "--config", &root("tests/data/mixpanel.toml")], &[("PHI_HMAC_KEY", KEY)])
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn quickstart_scrubs_the_example_events() {
    let input = std::fs::read(root("examples/events.ndjson")).unwrap();
    let out = run("examples/quickstart.toml", &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = lines(&out);
    assert_eq!(events.len(), 4);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    for phi in [
        "Jane", "jane.doe", "Doe", "203.0.113.7", "chest pain", "user-1001", "555 0100", "1980-02-29", "leak@b.com",
        "x@y.org",
    ] {
        assert!(!text.contains(phi), "{phi} leaked: {text}");
    }
    for e in &events {
        let top: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(top, vec!["event", "properties"]);
        let p = &e["properties"];
        for k in ["token", "distinct_id", "time", "$insert_id", "ip"] {
            assert!(p.get(k).is_some(), "missing {k} in {e}");
        }
    }
    let err = stderr(&out);
    assert!(err.contains("in 7") && err.contains("out 4") && err.contains("dropped 3"), "{err}");
    assert!(
        err.contains("[duplicate key: 1]")
            && err.contains("[unsupported type: 1]")
            && err.contains("[truncated json: 1]"),
        "{err}"
    );
}

#[test]
fn hostile_corpus_is_dead_lettered_with_exact_reasons_in_order() {
    let input = std::fs::read(root("tests/data/hostile.ndjson")).unwrap();
    let expected: Vec<String> =
        std::fs::read_to_string(root("tests/data/hostile.expected")).unwrap().lines().map(str::to_owned).collect();
    let out = run("tests/data/mixpanel.toml", &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<String> = lines(&out)
        .iter()
        .map(|l| {
            assert_eq!(l["dead_letter"], Value::Bool(true), "forwarded instead of dead-lettered: {l}");
            l["reason"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(got, expected);
    assert!(stderr(&out).contains(&format!("dropped {}", expected.len())), "{}", stderr(&out));
}

#[test]
fn over_long_line_is_skipped_and_counted_and_the_next_line_survives() {
    let good = r#"{"type":"track","event":"E","userId":"u-1","messageId":"m","timestamp":"2026-11-28T10:00:00Z","properties":{"specialty":"x"}}"#;
    let long = format!(r#"{{"event":"{}"}}"#, "a".repeat(100_000));
    let input = format!("{good}\n{long}\n{good}\n");
    let out = run("tests/data/mixpanel.toml", input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out).len(), 2);
    assert!(stderr(&out).contains("[line too long: 1]"), "{}", stderr(&out));
}

#[test]
fn secrets_never_reach_stderr_and_the_key_never_reaches_stdout() {
    let input = std::fs::read(root("tests/data/hostile.ndjson")).unwrap();
    let out = run("tests/data/mixpanel.toml", &input);
    let all_out = String::from_utf8_lossy(&out.stdout);
    assert!(!all_out.contains(KEY));
    assert!(!stderr(&out).contains(KEY) && !stderr(&out).contains(TOKEN));
    let validate = Command::new(BIN)
        .args(["validate", "--config", &root("tests/data/mixpanel.toml")])
        .env("PHI_HMAC_KEY", KEY)
        .env("MIXPANEL_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(validate.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&validate.stdout), stderr(&validate));
    assert!(!text.contains(KEY) && !text.contains(TOKEN), "{text}");
    assert!(text.contains("transform phi (phi_scrub) <- in"), "{text}");
}

#[test]
fn validate_reports_bad_configs_with_component_and_option() {
    let dir = std::env::temp_dir().join(format!("phi-scrub-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(root("tests/data/mixpanel.toml")).unwrap();
    let cases = [
        (good.replace("inputs = [\"in\"]", "inputs = [\"nowhere\"]"), "nowhere"),
        (good.replace("drop = [", "dorp = ["), "dorp"),
        (good.replace("${PHI_HMAC_KEY}", "${NOT_SET_ANYWHERE}"), "NOT_SET_ANYWHERE"),
        (good.replace("${PHI_HMAC_KEY}", "too-short"), "16 bytes"),
        (good.replace("drop = [\"properties.firstname\"]", "drop = [\"properties\"]"), "both `drop` and `allow`"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out =
            Command::new(BIN).args(["validate", "--config"]).arg(&path).env("PHI_HMAC_KEY", KEY).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "case {i}");
        let err = stderr(&out);
        assert!(err.contains(needle), "case {i}: {err}");
        assert!(!err.contains(KEY), "case {i} leaked the key: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_stops_reading_flushes_and_prints_the_summary() {
    let mut child = spawn_run();
    let mut stdin = child.stdin.take().unwrap();
    let good = r#"{"type":"track","event":"E","userId":"u-1","messageId":"m","timestamp":"2026-11-28T10:00:00Z","properties":{"specialty":"x"}}"#;
    for _ in 0..10 {
        writeln!(stdin, "{good}").unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    sigterm(&child);
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out).len(), 10);
    assert!(stderr(&out).contains("phi-scrub summary"), "{}", stderr(&out));
}

#[test]
fn a_line_of_64_mib_is_skipped_without_being_buffered() {
    let mut child = spawn_run();
    let mut stdin = child.stdin.take().unwrap();
    let chunk = vec![b'a'; 1 << 20];
    stdin.write_all(b"{\"event\":\"").unwrap();
    for _ in 0..64 {
        stdin.write_all(&chunk).unwrap();
    }
    stdin.write_all(b"\"}\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let peak_kib = proc_kib(child.id(), "VmHWM:");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(peak_kib < 32 * 1024, "peak RSS {peak_kib} KiB while reading a 64 MiB line");
    assert!(stderr(&out).contains("[line too long: 1]"), "{}", stderr(&out));
    assert_eq!(out.stdout, b"");
}

#[test]
fn config_tests_of_the_hipaa_example_pass() {
    let config = root("examples/hipaa.toml");
    let out = run_phi(&["test", "--config", &config], &[("PHI_HMAC_KEY", KEY)], Vec::new());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_failing_config_test_fails_the_command_and_says_why() {
    let text = std::fs::read_to_string(root("examples/hipaa.toml")).unwrap();
    // A team lifts a preset rule it should not have: the pinned test must catch it.
    let lift = "  { path = \"properties.phone\", action = \"allow\", reason = \"call-back flow\" },\n";
    let loosened = text.replace("preset_overrides = [\n", &format!("preset_overrides = [\n{lift}"));
    let loosened = loosened.replacen("allow = [\"properties\"]\n", "", 1);
    let path = std::env::temp_dir().join(format!("phi-scrub-loosened-{}.toml", std::process::id()));
    std::fs::write(&path, loosened).unwrap();
    let out = run_phi(&["test", "--config", path.to_str().unwrap()], &[("PHI_HMAC_KEY", KEY)], Vec::new());
    std::fs::remove_file(&path).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("test identifiers never reach Mixpanel ... failed"), "{stdout}");
    assert!(stdout.contains("`properties.phone` is present"), "{stdout}");
    assert!(!stdout.contains(KEY), "the key never appears");
}

#[test]
fn audit_reports_per_field_outcomes_without_sending_or_showing_values() {
    let config = root("examples/hipaa.toml");
    let events = std::fs::read(root("examples/events.ndjson")).unwrap();
    let out = run_phi(&["audit", "--config", &config, "--json"], &[("PHI_HMAC_KEY", KEY)], events.clone());
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["events"], 7);
    assert_eq!(report["forwarded"], 4);
    let fields = &report["fields"];
    assert_eq!(fields["properties.dob"]["outcomes"]["generalised: year"], 1);
    assert_eq!(fields["properties.firstname"]["outcomes"]["dropped by rule"], 1);
    assert_eq!(fields["context.ip"]["outcomes"]["not forwarded: mixpanel shape"], 2);
    let text = String::from_utf8_lossy(&out.stdout);
    for value in ["Jane", "203.0.113.7", "chest pain", "1980-02-29", KEY] {
        assert!(!text.contains(value), "{value} in the report");
    }
    let table = run_phi(&["audit", "--config", &config], &[("PHI_HMAC_KEY", KEY)], events);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("phi-scrub audit: 7 events read, 4 forwarded, 3 dropped"), "{table}");
}

#[test]
fn lifted_preset_rules_are_listed_by_validate_run_and_audit() {
    let text = std::fs::read_to_string(root("examples/hipaa.toml")).unwrap();
    let reason = "regional dashboards need five-digit ZIPs (privacy office ticket 812)";
    let lift = format!("  {{ path = \"properties.zip\", action = \"allow\", reason = \"{reason}\" }},\n");
    let lifted = text.replace("preset_overrides = [\n", &format!("preset_overrides = [\n{lift}"));
    let path = std::env::temp_dir().join(format!("phi-scrub-lifted-{}.toml", std::process::id()));
    std::fs::write(&path, lifted).unwrap();
    let config = path.to_str().unwrap();
    let line = format!("preset rule lifted at `properties.zip`: zip3 -> allow (reason: {reason})");
    let env = [("PHI_HMAC_KEY", KEY)];

    let validate = run_phi(&["validate", "--config", config], &env, Vec::new());
    assert!(String::from_utf8_lossy(&validate.stdout).contains(&line), "{validate:?}");

    let event = br#"{"type":"track","event":"Search","userId":"u1","timestamp":"2026-11-28T10:00:00Z","properties":{"zip":"94110"}}"#;
    let run = run_phi(&["run", "--config", config], &env, [&event[..], b"\n"].concat());
    assert!(stderr(&run).contains(&line), "{}", stderr(&run));

    let audit = run_phi(&["audit", "--config", config, "--json"], &env, event.to_vec());
    let report: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let listed = report["lifted_preset_rules"].as_array().unwrap();
    assert!(listed.iter().any(|l| l == &Value::from(line.clone())), "{listed:?}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn several_transform_workers_forward_every_event_once_with_exact_counters() {
    // 30,000 events are hundreds of stdin batches, spread over the workers.
    let events: String = (0..30_000)
        .map(|i| {
            let bad = if i % 1000 == 7 { "\"event\":\"a\"," } else { "" };
            format!("{{{bad}\"event\":\"e\",\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(200))
        })
        .collect();
    for workers in [1, 2, 4] {
        let dir = std::env::temp_dir().join(format!("phi-scrub-workers-{workers}-{}", std::process::id()));
        let config = format!(
            "[sources.in]\ntype = \"stdin\"\n[transforms.phi]\ntype = \"phi_scrub\"\ninputs = [\"in\"]\nconcurrency = {workers}\nkey = \"{KEY}\"\ndrop = [\"pad\"]\n[sinks.out]\ntype = \"console\"\ninputs = [\"phi\"]\n"
        );
        std::fs::write(&dir, config).unwrap();
        let out = run_phi(&["run", "--config", dir.to_str().unwrap()], &[], events.clone().into_bytes());
        std::fs::remove_file(&dir).unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let mut seen: Vec<u64> = lines(&out).iter().map(|v| v["n"].as_u64().unwrap()).collect();
        seen.sort_unstable();
        let expected: Vec<u64> = (0..30_000).filter(|i| i % 1000 != 7).collect();
        assert_eq!(seen, expected, "{workers} workers: every valid event exactly once");
        let summary = stderr(&out);
        assert!(summary.contains("transform phi: in 30000"), "{summary}");
        assert!(summary.contains("[duplicate key: 30]"), "{summary}");
    }
}

#[test]
fn a_sink_that_fails_stops_the_pipeline_and_its_drain_ends_after_the_grace_period() {
    // Found in review: the rest ran on, every later event failing its acknowledgement; and once
    // it did stop, a sink retrying a dead Mixpanel drained for ever (only a signal started the
    // grace period).
    let dir = procs::temp_dir("cli-failing-sink");
    let config = dir.join("three-sinks.toml");
    let dead = dir.join("dead.ndjson");
    let patient = "batch.timeout_secs = 0.05\nrequest.retry_attempts = 1000\nrequest.retry_max_duration_secs = 3600";
    let mixpanel = procs::mixpanel_import_sink(
        "in",
        &format!("127.0.0.1:{}", procs::free_port()),
        "svc-secret",
        dead.to_str().unwrap(),
        patient,
    );
    // /dev/full opens, then fails the first write (ENOSPC).
    let text = format!(
        "[sources.in]\ntype = \"stdin\"\n[sinks.out]\ntype = \"console\"\ninputs = [\"in\"]\n\
         [sinks.archive]\ntype = \"file\"\ninputs = [\"in\"]\npath = \"/dev/full\"\n{mixpanel}"
    );
    std::fs::write(&config, text).unwrap();
    let mut child = procs::spawn_piped(&["run", "--config", config.to_str().unwrap(), "--grace-period-secs", "1"], &[]);
    // stdin stays open: only the failing sink can end the run.
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..5 {
        writeln!(
            stdin,
            r#"{{"event":"e","properties":{{"time":1795856400000,"distinct_id":"d{i}","$insert_id":"i{i}"}}}}"#
        )
        .unwrap();
    }
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 20 s after a sink failed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("archive"), "the failing sink is named: {}", stderr(&out));
    assert!(stderr(&out).contains("the pipeline stops"), "{}", stderr(&out));
    // What the patient sink held became dead letters when the grace period ended.
    let letters = std::fs::read_to_string(&dead).unwrap_or_default();
    assert_eq!(letters.lines().count(), 5, "{}", stderr(&out));
    assert!(letters.contains("shutdown deadline"), "{letters}");
}
