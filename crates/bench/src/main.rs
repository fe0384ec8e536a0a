//! `perch-bench`: every benchmark of Perch, on this machine. Each prints
//! figures and asserts nothing (docs/bench.md). They drive the real Codex
//! against the scripted model, which is why they live here and not in the
//! shipped `perch` binary.

mod delivery;
mod relay;
mod search;
mod state;
mod turns;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "perch-bench",
    version,
    about = "Perch's benchmarks (docs/bench.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start-up, idle cost, added latency and SSE fan-out of `perch serve`.
    Turns {
        /// How many prompts to time for the added-latency figure.
        #[arg(long, default_value_t = 30)]
        prompts: usize,
        /// How many SSE clients for the fan-out figure.
        #[arg(long, default_value_t = 50)]
        clients: usize,
    },
    /// Peer message -> turn/start (and -> notifier) latency through a whole Perch.
    Delivery {
        #[arg(long, default_value_t = 50)]
        messages: usize,
    },
    /// The relay alone: durable throughput, push latency and RSS with many agents.
    Relay {
        #[arg(long, default_value_t = 100)]
        agents: usize,
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
        #[arg(long, default_value_t = 16)]
        senders: usize,
        /// Only the SQLite relay, not the NATS cluster setups.
        #[arg(long)]
        sqlite_only: bool,
    },
    /// Memory insert throughput and search latency on a throwaway store.
    Memory {
        #[arg(long, default_value_t = 100_000)]
        memories: usize,
    },
    /// `GET /api/search` latency over many sessions' transcripts.
    Search {
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        /// Transcript lines per session.
        #[arg(long, default_value_t = 50)]
        lines: usize,
    },
    /// How late wakeups fire (in-process Perch, scripted model).
    Wakeups {
        #[arg(long, default_value_t = 20)]
        wakeups: usize,
        /// Between due times.
        #[arg(long, default_value_t = 400)]
        spacing_ms: i64,
    },
}

#[derive(Debug)]
struct BenchError(String);

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "perch-bench: {}", self.0)
    }
}

/// The `perch` binary the benchmarks start: `PERCH_BIN`, else the one
/// beside this binary (both are built into the same target dir).
fn perch_bin() -> Result<PathBuf, BenchError> {
    if let Some(bin) = std::env::var_os("PERCH_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let beside = std::env::current_exe()
        .map_err(err)?
        .with_file_name("perch");
    if beside.is_file() {
        Ok(beside)
    } else {
        Err(err(format!(
            "no perch binary at {}; build it (cargo build --release --bin perch) or set PERCH_BIN",
            beside.display()
        )))
    }
}

fn err(e: impl std::fmt::Display) -> BenchError {
    BenchError(e.to_string())
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A process's RSS split as `/proc/PID/status` splits it: private
/// anonymous memory (heap, stacks) and file-backed pages (its binary and
/// libraries, shared with the page cache), for the figures that name both.
fn rss_split(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<f64> {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(format!(
        "anonymous {:.1} MB, file-backed {:.1} MB",
        kb("RssAnon:")? / 1024.0,
        kb("RssFile:")? / 1024.0
    ))
}

/// (RSS in kB, CPU ticks) of a process, from /proc.
fn proc_usage(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((rss, ticks))
}

async fn run(command: Command) -> Result<(), BenchError> {
    let at_least_one = |n: usize, flag: &str| {
        if n == 0 {
            Err(err(format!("{flag} must be at least 1")))
        } else {
            Ok(())
        }
    };
    match command {
        Command::Turns { prompts, clients } => turns::run(prompts, clients).await,
        Command::Search { sessions, lines } => {
            at_least_one(sessions, "--sessions")?;
            at_least_one(lines, "--lines")?;
            search::run(sessions, lines).await
        }
        Command::Delivery { messages } => {
            at_least_one(messages, "--messages")?;
            delivery::run(messages).await
        }
        Command::Relay {
            agents,
            messages,
            senders,
            sqlite_only,
        } => {
            at_least_one(agents, "--agents")?;
            at_least_one(senders, "--senders")?;
            relay::run(relay::RelayBenchArgs {
                agents,
                messages,
                senders,
                sqlite_only,
            })
            .await
        }
        Command::Memory { memories } => {
            at_least_one(memories, "--memories")?;
            state::memory(memories).await
        }
        Command::Wakeups {
            wakeups,
            spacing_ms,
        } => {
            at_least_one(wakeups, "--wakeups")?;
            if spacing_ms < 0 {
                return Err(err("--spacing-ms must not be negative"));
            }
            state::wakeups(wakeups, spacing_ms).await
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
