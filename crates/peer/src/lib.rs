//! `perch-peer`: Perch's agent on the peer network.
//!
//! - [`Peer`] registers Perch's agent and the person on a relay (embedded or
//!   remote), keeps their heartbeat and follows the relay's SSE stream with
//!   reconnects; after each (re)connect it reads the backlog since its
//!   watermarks, so a missed push loses nothing.
//! - The dispatcher (`dispatcher.rs`) delivers what reaches the agent into
//!   one long-lived Codex session, at least once (see its invariants).
//! - The agent's tools on the network (`reply`, `send_message`, ...) are
//!   served by `perch-mcp`, over this crate's [`Peer`].
//!
//! Peer text is untrusted: it only ever enters Codex inside the framed turn
//! text of `prompt.rs`, and nothing a peer sends changes Perch's settings or
//! the approval policy (no code path reads one from a message).
//!
//! API boundary: [`Peer`], [`PeerOptions`], [`Identity`], [`RelayClient`],
//! [`PeerError`].

pub mod client;
mod devices;
mod dispatcher;
mod error;
pub mod identity;
mod ledger;
mod peer;
mod prompt;
mod sealing;

pub use client::RelayClient;
pub use dispatcher::DeliveryStatus;
pub use error::{PeerError, Result};
pub use identity::Identity;
pub use ledger::{InboxMatch, Pin};
pub use peer::{Peer, PeerOptions};
