//! The relay of Perch's peer network: the Agent Relay HTTP API (agents,
//! messages, claims, pairs, integration tasks, stats, an SSE stream) over one
//! SQLite database. `perch serve` and the desktop app embed it; `perch relay
//! serve` runs it alone. Existing agent-relay plugins for Claude Code and
//! Codex talk to it unchanged.
//!
//! API boundary: [`RelayServer`] (bind, serve, stop), [`Relay`] (the core the
//! routes call) and [`RelaySettings`]; the wire types are `perch-relay-protocol`'s.
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
mod reaper;
mod relay;
mod routes;
mod server;
mod store;

pub use config::{Integration, RelaySettings};
pub use error::RelayError;
pub use relay::Relay;
pub use server::{RelayServer, ServerError};
