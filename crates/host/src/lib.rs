//! `perch-host`: Perch on a real machine, with no GUI dependency.
//!
//! - [`server`]: the runtime plus the API on a loopback port, shared by
//!   `perch serve` and the desktop app.
//! - [`secrets`]: the OS keyring, or 0600 files with a warning; never memory.
//! - [`autostart`]: login autostart (XDG autostart entry on Linux).
//! - [`notifier`]: OS notifications for runtime events, with actions.
//! - [`logs`]: stderr plus rotating log files.
//! - [`private`]: the data dir and Perch's files, private to the person.
//! - [`embeddings`]: the agent's embeddings client over HTTP.
//! - [`opener`]: the desktop's default application for a file ("Open in editor").
//!
//! Invariant: nothing here blocks an async worker on D-Bus; keyring and
//! notification calls run on blocking threads.

pub mod autostart;
pub mod embeddings;
pub mod logs;
pub mod network;
pub mod notifier;
pub mod opener;
pub mod private;
pub mod secrets;
pub mod server;
