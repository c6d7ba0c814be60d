//! The `phi-scrub` command: run or validate a Vector-style pipeline config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use phi_scrub::audit::{render_table, Auditor};
use phi_scrub::config::PipelineConfig;
use phi_scrub::logging::LogFormat;
use phi_scrub::transforms::phi_scrub::{PhiScrub, PhiScrubConfig};

/// mimalloc keeps freed pages for reuse: read buffers and per-event buffers come back without
/// page faults or trips to the kernel (measured in BENCHMARKS.md). Vector ships jemalloc for
/// the same reason. Built without transparent huge pages (`no_thp`): each fault of a huge page
/// zeroes 2 MiB, and pages mimalloc gives back come back as such faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// PHI-safe event pipeline: scrub Segment events and reshape them for Mixpanel.
#[derive(Debug, Parser)]
#[command(name = "phi-scrub", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline until its sources end or SIGINT/SIGTERM; print counts to stderr.
    Run {
        /// The pipeline config (TOML).
        #[arg(short, long, env = "PHI_SCRUB_CONFIG")]
        config: PathBuf,
        /// After SIGINT/SIGTERM, how long to drain before undelivered events become dead letters.
        #[arg(long, default_value_t = 30.0)]
        grace_period_secs: f64,
        /// Log lines as `text` or `json` (levels from PHI_SCRUB_LOG, RUST_LOG syntax, default info).
        #[arg(long, value_enum, default_value_t, env = "PHI_SCRUB_LOG_FORMAT")]
        log_format: LogFormat,
    },
    /// Check a pipeline config and print its graph; exit non-zero if it is invalid.
    Validate {
        /// The pipeline config (TOML).
        #[arg(short, long, env = "PHI_SCRUB_CONFIG")]
        config: PathBuf,
    },
    /// Run a phi_scrub transform over NDJSON events on stdin without sending anything, and
    /// report per field what the policy did and what detectors found in kept values.
    Audit {
        /// The pipeline config (TOML).
        #[arg(short, long, env = "PHI_SCRUB_CONFIG")]
        config: PathBuf,
        /// The phi_scrub transform to audit (needed when the config has several).
        #[arg(short, long)]
        transform: Option<String>,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the config's `[[tests]]`; exit non-zero if any fails (or there are none).
    Test {
        /// The pipeline config (TOML).
        #[arg(short, long, env = "PHI_SCRUB_CONFIG")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = match &cli.command {
        Command::Run { config, .. }
        | Command::Validate { config }
        | Command::Test { config }
        | Command::Audit { config, .. } => config,
    };
    let config = match PipelineConfig::from_file(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("phi-scrub: invalid config: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Validate { .. } => {
            print!("{}", config.summary());
            println!("config is valid");
            ExitCode::SUCCESS
        }
        Command::Test { .. } => run_tests(&config),
        Command::Audit { transform, json, .. } => run_audit(&config, transform.as_deref(), json),
        Command::Run { grace_period_secs, log_format, .. } => {
            match std::time::Duration::try_from_secs_f64(grace_period_secs) {
                Ok(grace) => run(config, grace, log_format),
                Err(_) => {
                    eprintln!("phi-scrub: --grace-period-secs must be a non-negative number");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Longest line `audit` reads: Mixpanel's own limit for one event.
const AUDIT_MAX_LINE: usize = phi_scrub_transform::mixpanel::MAX_EVENT_BYTES;

fn run_audit(config: &PipelineConfig, name: Option<&str>, json: bool) -> ExitCode {
    let transform = match audited_transform(config, name) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("phi-scrub: {e}");
            return ExitCode::from(2);
        }
    };
    let mut auditor = Auditor::new(transform, AUDIT_MAX_LINE);
    let progress = progress_bar();
    let stdin = std::io::stdin().lock();
    let result = auditor.read(stdin, |bytes| progress.set_position(bytes));
    progress.finish_and_clear();
    if let Err(e) = result {
        eprintln!("phi-scrub: cannot read stdin: {e}");
        return ExitCode::FAILURE;
    }
    if json {
        match serde_json::to_string_pretty(auditor.report()) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("phi-scrub: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", render_table(auditor.report()));
    }
    ExitCode::SUCCESS
}

/// The phi_scrub transform named, or the only one in the config.
fn audited_transform(config: &PipelineConfig, name: Option<&str>) -> Result<PhiScrub, String> {
    let candidates: Vec<(&String, &PhiScrubConfig)> = config
        .transforms
        .iter()
        .filter_map(|(n, t)| t.config.as_any().downcast_ref::<PhiScrubConfig>().map(|c| (n, c)))
        .filter(|(n, _)| name.map_or(true, |want| want == n.as_str()))
        .collect();
    match candidates.as_slice() {
        [(_, c)] => PhiScrub::new(c).map_err(|e| e.to_string()),
        [] => Err(format!(
            "no phi_scrub transform{} in the config",
            name.map(|n| format!(" named `{n}`")).unwrap_or_default()
        )),
        _ => Err("the config has several phi_scrub transforms; choose one with --transform NAME".into()),
    }
}

/// A progress bar on stderr, by bytes when stdin is a file of known size; drawn only on a
/// terminal and only for inputs large enough to wait for.
fn progress_bar() -> indicatif::ProgressBar {
    use std::os::fd::AsFd;
    let size = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| std::fs::File::from(fd).metadata().ok())
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len());
    let bar = match size {
        Some(len) if len < 8 << 20 => return indicatif::ProgressBar::hidden(),
        Some(len) => indicatif::ProgressBar::new(len),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let template = if size.is_some() {
        "{bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)"
    } else {
        "{spinner} {bytes} read ({bytes_per_sec})"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    bar
}

fn run_tests(config: &PipelineConfig) -> ExitCode {
    let results = match phi_scrub::config::unit_test::run(config) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("phi-scrub: {e}");
            return ExitCode::FAILURE;
        }
    };
    if results.is_empty() {
        eprintln!("phi-scrub: the config has no [[tests]]");
        return ExitCode::FAILURE;
    }
    println!("Running tests");
    let mut failed = 0;
    for result in &results {
        if result.failures.is_empty() {
            println!("test {} ... passed", result.name);
        } else {
            failed += 1;
            println!("test {} ... failed", result.name);
            for failure in &result.failures {
                println!("  {failure}");
            }
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(config: PipelineConfig, grace: std::time::Duration, log_format: LogFormat) -> ExitCode {
    if let Err(e) = phi_scrub::logging::init(log_format) {
        eprintln!("phi-scrub: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("phi-scrub: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(phi_scrub::topology::run(config, grace));
    // A read of stdin may still be parked in a blocking thread after shutdown; do not wait for
    // it (everything read has been processed and flushed by now).
    runtime.shutdown_background();
    match result {
        Ok(summary) => {
            eprint!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phi-scrub: {e}");
            ExitCode::FAILURE
        }
    }
}
