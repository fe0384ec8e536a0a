//! `perch-runtime`: Perch's agent runtime, with no GUI and no HTTP.
//!
//! - [`Runtime`]: sessions (Codex threads + Perch metadata), turns, approvals,
//!   the stall watchdog, crash recovery. Open it with [`Runtime::open`], then
//!   start Codex with [`Runtime::launch_codex`].
//! - [`EventBus`]: every runtime event, numbered, with replay.
//! - [`store`]: the SQLite database of the data dir.
//! - [`config`]: the `config.toml` keys; [`settings`]: the editable view of them.
//! - [`host`]: the secret store and autostart traits a host implements.
//! - [`transcript`]: each session's text as Perch keeps it.
//! - [`seams`]: how features built on the core (`perch-agent`: memory,
//!   planner, wakeups) join it: turn context, turn ended.
//!
//! Architecture invariant: the core knows nothing of memory, plans, wakeups,
//! embeddings or peers (but the config file's sections for them, which it
//! carries for Settings), links no HTTP client or server, and reads no
//! environment variable but through [`Config`].
//!
//! API boundary: clients call `Runtime` methods and read `model` types; they
//! never see Codex protocol types (their own are `perch-protocol`'s).

mod codex_events;
pub mod command_risk;
pub mod config;
mod error;
pub mod events;
pub mod host;
pub mod model;
mod runtime;
pub mod seams;
pub mod settings;
pub mod store;
pub mod transcript;

pub use config::{ApprovalPolicy, Config};
pub use error::{Error, Result};
pub use events::{Event, EventBus, Published, Replay, Subscription};
pub use perch_codex::Error as CodexError;
pub use perch_protocol::approvals::Decision;
pub use perch_protocol::system::CodexState;
pub use runtime::{McpAttachment, Runtime, RuntimeOptions};
