//! The relay of Perch's peer network: the Agent Relay HTTP API (agents,
//! messages, claims, pairs, integration tasks, stats, an SSE stream) over one
//! SQLite database, or over a NATS JetStream cluster that any number of
//! frontends serve together. `perch serve` and the desktop app embed it;
//! `perch relay serve` runs it alone. Existing agent-relay plugins for Claude
//! Code and Codex talk to it unchanged.
//!
//! API boundary: [`RelayServer`] (bind, serve, stop), [`Relay`] (the core the
//! routes call), [`RelaySettings`] and [`Storage`]; the wire types are
//! `perch-relay-protocol`'s.
//!
//! Invariants:
//! - Every state change is durable (committed to SQLite, or stored by a
//!   JetStream quorum) before it is answered or published on the event
//!   stream, so a subscriber never sees a message the store could lose, and
//!   a client that reconnects (to any frontend) backfills with
//!   `GET /api/messages?for=&sinceId=` from the last id it processed.
//! - Reads see every change acknowledged before them, on any frontend
//!   (`backend`).
//! - A claim is one conditional write (an `UPDATE` under the connection
//!   lock, or a compare-and-set on the claim's key): at most one holder per
//!   message, and a lease that expired is free to claim.
//! - An agent's `epoch` grows each time a new `instanceId` registers under its
//!   id; calls that carry an older instance or epoch get 409 (fencing).
//! - Serialization happens only at the HTTP edge (`routes`) and at the
//!   cluster's (`backend::nats::records`); errors become
//!   `{"error": message, "code": code}` with a status at the HTTP edge.

mod backend;
pub mod config;
pub mod error;
pub mod events;
mod reaper;
mod relay;
mod routes;
mod server;
mod store;

pub use backend::nats::NatsOptions;
pub use config::{Integration, RelaySettings};
pub use error::RelayError;
pub use relay::Relay;
pub use server::{RelayServer, ServerError, Storage};
pub use store::AgentPatch;
