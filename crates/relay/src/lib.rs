//! The relay of Perch's peer network: the Agent Relay HTTP API (agents,
//! messages, claims, pairs, integration tasks, stats, an SSE stream) over one
//! SQLite database. `perch serve` and the desktop app embed it; `perch relay
//! serve` runs it alone. Existing agent-relay plugins for Claude Code and
//! Codex talk to it unchanged.
//!
//! API boundary: [`RelayServer`] (bind, serve, stop), [`Relay`] (the core the
//! routes call), [`RelaySettings`] and the wire types in [`model`].
//!
//! Invariants:
//! - Every state change is committed to SQLite before it is answered or
//!   published on the event stream, so a subscriber never sees a message the
//!   store could lose, and a client that reconnects backfills with
//!   `GET /api/messages?for=&sinceId=` from the last id it processed.
//! - A claim is one conditional `UPDATE` under the connection lock: at most
//!   one holder per message, and a lease that expired is free to claim.
//! - An agent's `epoch` grows each time a new `instanceId` registers under its
//!   id; calls that carry an older instance or epoch get 409 (fencing).
//! - Serialization happens only at the HTTP edge (`routes`); errors become
//!   `{"error": message, "code": code}` with a status there.

pub mod config;
pub mod error;
pub mod events;
pub mod model;
mod reaper;
mod relay;
mod routes;
mod server;
mod store;

pub use config::{Integration, RelaySettings};
pub use error::RelayError;
pub use relay::Relay;
pub use server::{RelayServer, ServerError};

/// Milliseconds since the Unix epoch: the relay's clock for every timestamp.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Random lowercase hex from the OS (pair ids).
pub(crate) fn random_hex(bytes: usize) -> Result<String, RelayError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| RelayError::Internal(format!("the OS random source failed: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
