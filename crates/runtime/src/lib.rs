//! `perch-runtime`: Perch's agent runtime, with no GUI and no HTTP.
//!
//! - [`Runtime`]: sessions (Codex threads + Perch metadata), turns, approvals,
//!   the stall watchdog, crash recovery. Start it with [`Runtime::start`].
//! - [`EventBus`]: every runtime event, numbered, with replay.
//! - [`store`]: the SQLite database of the data dir.
//! - [`config`]: the `config.toml` keys.
//!
//! API boundary: clients call `Runtime` methods and read `model` types; they
//! never see Codex protocol types except `Decision` and `LoginParams`.

mod codex_events;
pub mod config;
mod error;
pub mod events;
pub mod model;
mod runtime;
pub mod store;

pub use config::{ApprovalPolicy, Config};
pub use error::{Error, Result};
pub use events::{Event, EventBus, Replay, Subscription};
pub use perch_codex::protocol::{Decision, LoginParams};
pub use perch_codex::{Error as CodexError, HealthState};
pub use runtime::{Runtime, RuntimeOptions};

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source failing is not something Perch can work around;
    // fall back to time-derived bytes rather than panic (never used for
    // secrets: the API token generator checks the result itself).
    if getrandom::fill(&mut buf).is_err() {
        let seed = now_ms().to_le_bytes();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed[i % seed.len()] ^ (i as u8);
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
