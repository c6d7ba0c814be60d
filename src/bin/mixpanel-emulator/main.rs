//! `mixpanel-emulator`: a loopback stand-in for Mixpanel's `/import` and `/track`, for tests.
//! Prints `listening on ADDR` once it accepts connections. See `emulator.rs` beside this file.

use clap::Parser;

mod emulator;

use emulator::{serve, EmulatorConfig};

/// A Mixpanel ingestion emulator with injectable faults.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    address: String,
    /// Service-account user required by `/import`.
    #[arg(long, default_value = "svc-user")]
    user: String,
    /// Service-account secret required by `/import`.
    #[arg(long, default_value = "svc-secret")]
    secret: String,
    /// Project id required by `/import`.
    #[arg(long, default_value = "12345")]
    project_id: String,
    /// Project token required by `/track`.
    #[arg(long, default_value = "test-token")]
    token: String,
    /// Largest uncompressed request body (413 above).
    #[arg(long, default_value_t = phi_scrub_transform::mixpanel::MAX_REQUEST_BYTES)]
    max_body_bytes: usize,
    /// Fraction of requests answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    rate_429: f64,
    /// Retry-After seconds on a 429.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Fraction of requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    rate_500: f64,
    /// Fraction of connections dropped without an answer.
    #[arg(long, default_value_t = 0.0)]
    rate_drop: f64,
    /// Fraction of requests answered slowly.
    #[arg(long, default_value_t = 0.0)]
    rate_slow: f64,
    /// Delay of a slow answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    slow_ms: u64,
    /// Journal of accepted events, reloaded at start (state survives a restart).
    #[arg(long)]
    journal: Option<std::path::PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let a = Args::parse();
    let listener = tokio::net::TcpListener::bind(&a.address).await?;
    println!("listening on {}", listener.local_addr()?);
    let config = EmulatorConfig {
        user: a.user,
        secret: a.secret,
        project_id: a.project_id,
        token: a.token,
        max_body_bytes: a.max_body_bytes,
        rate_429: a.rate_429,
        retry_after_secs: a.retry_after_secs,
        rate_500: a.rate_500,
        rate_drop: a.rate_drop,
        rate_slow: a.rate_slow,
        slow_ms: a.slow_ms,
        journal: a.journal,
    };
    serve(listener, config).await
}
