//! Real processes and sockets for the integration tests: the two binaries, free loopback ports,
//! temporary folders, signals and memory readings. Shared by the test files that include it.
#![allow(dead_code)] // each includer uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PHI: &str = env!("CARGO_BIN_EXE_phi-scrub");
pub const EMULATOR: &str = env!("CARGO_BIN_EXE_mixpanel-emulator");

/// A running `mixpanel-emulator`, killed and reaped when dropped.
pub struct Emulator {
    child: Child,
    pub address: String,
}

impl Emulator {
    /// Starts the emulator on a free port with extra arguments.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(EMULATOR).args(args).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().strip_prefix("listening on ").unwrap().to_owned();
        Self { child, address }
    }

    /// A plain HTTP/1.0 GET over a real socket.
    pub fn get(&self, path: &str) -> String {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: emulator\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
        body.to_owned()
    }

    /// `/_emulator/stats` as JSON.
    pub fn stats(&self) -> Value {
        serde_json::from_str(&self.get("/_emulator/stats")).unwrap()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `phi-scrub run --config CONFIG` serving on `port` (quiet), killed and reaped when dropped,
/// also when a test fails.
pub struct Phi(pub Child);

impl Phi {
    /// Starts it and waits until `port` accepts connections.
    pub fn serve(config: &std::path::Path, port: u16) -> Self {
        let child = Command::new(PHI)
            .args(["run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(port);
        Self(child)
    }
}

impl Phi {
    /// Starts `phi-scrub ARGS` with `envs`, its stderr drained by a thread as it comes (a full
    /// pipe would stall the process); the thread gives the whole of it once the process ends.
    pub fn spawn_with_stderr(args: &[&str], envs: &[(&str, &str)]) -> (Self, std::thread::JoinHandle<String>) {
        let mut child = Command::new(PHI)
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).unwrap();
            text
        });
        (Self(child), reader)
    }
}

impl Drop for Phi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An empty folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phi-scrub-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until something accepts connections on the port.
pub fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM.
pub fn sigterm(child: &Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`), 0 when the process is gone.
pub fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or("x: 0 kB");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Starts `phi-scrub ARGS` with `envs`, its stdin, stdout and stderr piped.
pub fn spawn_piped(args: &[&str], envs: &[(&str, &str)]) -> std::process::Child {
    Command::new(PHI)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `phi-scrub ARGS` with `envs`, writes `input` to its stdin from a thread, and waits.
pub fn run_phi(args: &[&str], envs: &[(&str, &str)], input: Vec<u8>) -> Output {
    let mut child = spawn_piped(args, envs);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// An hour ago, RFC 3339: recent enough for `/track`, which drops events older than 5 days.
pub fn recent_timestamp() -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// The `[sinks.mixpanel]` block the delivery tests share: an `http` sink with the
/// `mixpanel_import` preset, basic auth as `svc-user`, reading `inputs`, sending to `address`
/// (`host:port`), with dead letters in `dead_letter`. `settings` adds the test's own lines
/// (batching, retries, timeouts).
pub fn mixpanel_import_sink(inputs: &str, address: &str, password: &str, dead_letter: &str, settings: &str) -> String {
    format!(
        r#"
[sinks.mixpanel]
type = "http"
inputs = ["{inputs}"]
preset = "mixpanel_import"
uri = "http://{address}"
project_id = "12345"
auth.strategy = "basic"
auth.user = "svc-user"
auth.password = "{password}"
dead_letter.path = "{dead_letter}"
{settings}
"#
    )
}
