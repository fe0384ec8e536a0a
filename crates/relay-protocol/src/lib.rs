//! The Agent Relay's wire contract, shared by the relay (`perch-relay`), its
//! clients (`perch-peer`, the API, the CLI) and anyone else who speaks it.
//!
//! Invariants:
//! - Depends on serde, serde_json and thiserror only: no Perch crate, no IO,
//!   no HTTP. A relay and a client agree on a type because it is this type.
//!   The `contract` feature (enabled by perch-protocol, never by the relay)
//!   adds ts-rs and utoipa derives to the types Perch's API passes through.
//! - Wire names live here: field names (camelCase, as agent-relay sends),
//!   status words, and the event stream's kinds ([`RelayEvent`]).
//! - The checks ([`check_id`] and friends) are pure; each relay applies them
//!   to what it accepts, and a client may apply them before it sends.

mod events;
mod model;

pub use events::*;
pub use model::*;

/// A value the relay refuses, with why in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

pub type Result<T, E = Invalid> = std::result::Result<T, E>;
