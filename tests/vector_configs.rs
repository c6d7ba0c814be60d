//! Configs written the way Vector's documentation writes them, for the sources and sinks
//! phi-scrub has: each loads and runs, or fails with a message naming phi-scrub's equivalent.

use std::io::Write;
use std::process::{Command, Stdio};

use phi_scrub::config::PipelineConfig;

const KEY: &str = "vector-config-test-key-0123456789";

/// A pipeline: the given source and sink blocks around a phi_scrub transform named `phi`.
fn pipeline(source: &str, sink: &str) -> String {
    format!(
        "{source}\n\n[transforms.phi]\ntype = \"phi_scrub\"\ninputs = [\"my_source_id\"]\nkey = \"{KEY}\"\ndrop = [\"properties.email\"]\n\n{sink}\n"
    )
}

const STDIN: &str = "[sources.my_source_id]\ntype = \"stdin\"";
const CONSOLE: &str = "[sinks.my_sink_id]\ntype = \"console\"\ninputs = [\"phi\"]\nencoding.codec = \"json\"";

fn load(text: &str) -> Result<PipelineConfig, String> {
    PipelineConfig::from_toml(text, &|_| None).map_err(|e| e.to_string())
}

#[test]
fn vectors_console_sink_with_encoding_codec_json_runs() {
    let text = pipeline(STDIN, CONSOLE);
    load(&text).unwrap();
    let path = std::env::temp_dir().join(format!("phi-scrub-vector-console-{}.toml", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_phi-scrub"))
        .args(["run", "--config", path.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"event\":\"x\",\"properties\":{\"email\":\"a@b.co\",\"plan\":\"gold\"}}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{\"event\":\"x\",\"properties\":{\"plan\":\"gold\"}}\n");
}

#[test]
fn vectors_stdin_source_with_decoding_and_framing_loads() {
    let source =
        "[sources.my_source_id]\ntype = \"stdin\"\ndecoding.codec = \"json\"\nframing.method = \"newline_delimited\"";
    load(&pipeline(source, CONSOLE)).unwrap();
}

#[test]
fn vectors_file_sink_loads_and_a_time_template_names_the_fix() {
    let sink = "[sinks.my_sink_id]\ntype = \"file\"\ninputs = [\"phi\"]\npath = \"/tmp/vector-out.log\"\nencoding.codec = \"json\"";
    load(&pipeline(STDIN, sink)).unwrap();
    let templated = sink.replace("/tmp/vector-out.log", "/tmp/vector-%Y-%m-%d.log");
    let err = load(&pipeline(STDIN, &templated)).unwrap_err();
    assert!(err.contains("sink `my_sink_id`") && err.contains("plain file path"), "{err}");
}

#[test]
fn vectors_http_server_source_loads_and_its_auth_names_write_keys() {
    let source = "[sources.my_source_id]\ntype = \"http_server\"\naddress = \"0.0.0.0:80\"\ndecoding.codec = \"json\"";
    load(&pipeline(source, CONSOLE)).unwrap();
    let with_auth = format!("{source}\nauth.username = \"user\"\nauth.password = \"hunter2-secret\"");
    let err = load(&pipeline(&with_auth, CONSOLE)).unwrap_err();
    assert!(err.contains("write_keys") && !err.contains("hunter2-secret"), "{err}");
}

#[test]
fn vectors_http_sink_loads() {
    let sink = "[sinks.my_sink_id]\ntype = \"http\"\ninputs = [\"phi\"]\nuri = \"https://10.22.212.22:9000/endpoint\"\nencoding.codec = \"json\"";
    load(&pipeline(STDIN, sink)).unwrap();
}

#[test]
fn another_codec_is_refused_naming_the_one_supported() {
    for (kind, text) in [
        ("sink", pipeline(STDIN, &CONSOLE.replace("\"json\"", "\"text\""))),
        ("source", pipeline(&format!("{STDIN}\ndecoding.codec = \"bytes\""), CONSOLE)),
        ("sink", pipeline(STDIN, &format!("{CONSOLE}\ntarget = \"stderr\""))),
    ] {
        let err = load(&text).unwrap_err();
        assert!(err.contains(kind) && err.contains("the only value is"), "{err}");
    }
}
