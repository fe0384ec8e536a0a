//! Logging: stderr plus, for the long-running processes, a daily-rotated
//! file in `<data dir>/logs` (seven kept). `PERCH_LOG` sets the filter.

use perch_runtime::config::Environment;
use std::path::{Path, PathBuf};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Keeps the file writer flushing; drop it last.
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
    pub dir: Option<PathBuf>,
}

/// `PERCH_LOG` when it is a valid filter (else it says so), else `default`.
fn filter(default: &str, env: &Environment) -> EnvFilter {
    match env.get("PERCH_LOG").map(EnvFilter::try_new) {
        Some(Ok(filter)) => filter,
        Some(Err(e)) => {
            eprintln!("perch: PERCH_LOG is not a log filter ({e}); logging at {default}");
            EnvFilter::new(default)
        }
        None => EnvFilter::new(default),
    }
}

/// Stderr only (client commands), at `default` unless `PERCH_LOG` says otherwise.
pub fn init_stderr(default: &str, env: &Environment) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(default, env))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Log lines waiting for the file writer thread.
const LOG_QUEUE_LINES: usize = 4096;

/// Stderr and `<data dir>/logs/perch.log.YYYY-MM-DD`. If the file cannot be
/// opened, logging goes on to stderr and says why.
pub fn init_with_files(data_dir: &Path, env: &Environment) -> LogGuard {
    let dir = data_dir.join("logs");
    // The appender prunes old files at start and complains if the dir is missing.
    let _ = std::fs::create_dir_all(&dir);
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("perch.log")
        .max_log_files(7)
        .build(&dir);
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match appender {
        Ok(appender) => {
            // The default queue (128 000 lines) is 4 MB allocated at start;
            // a burst beyond these lines is dropped, never waited on.
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .finish(appender);
            let file = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer);
            let _ = tracing_subscriber::registry()
                .with(filter("info", env))
                .with(stderr)
                .with(file)
                .try_init();
            LogGuard {
                _file: Some(guard),
                dir: Some(dir),
            }
        }
        Err(err) => {
            let _ = tracing_subscriber::registry()
                .with(filter("info", env))
                .with(stderr)
                .try_init();
            tracing::warn!(
                "logging to stderr only: cannot write logs in {}: {err}",
                dir.display()
            );
            LogGuard {
                _file: None,
                dir: None,
            }
        }
    }
}
