//! `perch-runtime`: Perch's agent runtime, with no GUI and no HTTP.
//!
//! - [`Runtime`]: sessions (Codex threads + Perch metadata), turns, approvals,
//!   the stall watchdog, crash recovery. Open it with [`Runtime::open`], then
//!   start Codex with [`Runtime::launch_codex`].
//! - [`EventBus`]: every runtime event, numbered, with replay.
//! - [`store`]: the SQLite database of the data dir.
//! - [`config`]: the `config.toml` keys; [`settings`]: the editable view of them.
//! - [`host`]: the secret store and autostart traits a host implements.
//! - [`memory`], [`planner`], [`wakeups`]: the agent's durable state, shared
//!   with the person; [`context`]: what of it goes into each turn.
//! - [`transcript`]: each session's text as Perch keeps it.
//! - [`seams`]: how the core reaches those features (turn context, turn ended).
//!
//! API boundary: clients call `Runtime` methods and read `model` types; they
//! never see Codex protocol types (their own are `perch-protocol`'s).

mod codex_events;
pub mod config;
pub mod context;
mod embeddings;
mod error;
pub mod events;
pub mod host;
pub mod memory;
mod memory_index;
mod memory_io;
pub mod model;
pub mod planner;
mod runtime;
pub mod seams;
pub mod settings;
pub mod store;
pub mod transcript;
pub mod wakeups;

pub use config::{ApprovalPolicy, Config};
pub use error::{Error, Result};
pub use events::{Event, EventBus, Replay, Subscription};
pub use perch_codex::Error as CodexError;
pub use perch_protocol::approvals::Decision;
pub use perch_protocol::system::CodexState;
pub use runtime::{McpAttachment, Runtime, RuntimeOptions};
