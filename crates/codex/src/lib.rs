//! `perch-codex`: everything about talking to `codex app-server`, and nothing
//! about Perch.
//!
//! - [`jsonrpc`]: the line-delimited JSON-RPC envelope.
//! - [`protocol`]: typed requests, results, notifications and server requests
//!   of the pinned Codex version, with raw fallbacks for unknown methods.
//! - [`transport`]: one child process on stdio (an adapter; no protocol logic).
//! - [`supervisor`]: keeps a child alive and reports its health.
//! - [`locate`]: finds the binary and checks its version.
//!
//! API boundary: the runtime uses `Supervisor`, `Connection::request::<M>`,
//! `respond`, and the `protocol` types. Serialization happens only here.

pub mod jsonrpc;
pub mod locate;
pub mod protocol;
pub mod supervisor;
pub mod transport;
mod tree;

pub use jsonrpc::RequestId;
pub use protocol::{NEXT_CODEX_VERSION, PINNED_CODEX_VERSION};
pub use supervisor::{Health, HealthState, Supervisor, SupervisorConfig, SupervisorEvent};
pub use transport::{Connection, Error, ServerMessage, SpawnOptions};
