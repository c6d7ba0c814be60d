//! The `phi-scrub` command: run or validate a Vector-style pipeline config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use phi_scrub::topology::PipelineConfig;

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
    },
    /// Check a pipeline config and print its graph; exit non-zero if it is invalid.
    Validate {
        /// The pipeline config (TOML).
        #[arg(short, long, env = "PHI_SCRUB_CONFIG")]
        config: PathBuf,
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
        Command::Run { config, .. } | Command::Validate { config } | Command::Test { config } => config,
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
        Command::Run { grace_period_secs, .. } => match std::time::Duration::try_from_secs_f64(grace_period_secs) {
            Ok(grace) => run(config, grace),
            Err(_) => {
                eprintln!("phi-scrub: --grace-period-secs must be a non-negative number");
                ExitCode::from(2)
            }
        },
    }
}

fn run_tests(config: &PipelineConfig) -> ExitCode {
    let results = match phi_scrub::topology::unit_tests::run(config) {
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

fn run(config: PipelineConfig, grace: std::time::Duration) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("phi-scrub: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(phi_scrub::host::run(config, grace));
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
