//! Perch's API contract: the types of `/api/*` requests and responses and
//! of the event stream, shared by the server (`perch-api`) and its clients
//! (the CLI; the web UI through generated TypeScript).
//!
//! Invariants:
//! - Derives only (serde, ts-rs): no Perch crate, no IO, no HTTP. A client
//!   and the server agree on a request because it is this type.
//! - The web UI's copy is generated: `ui/src/lib/generated/protocol.ts` is
//!   what `tests/typescript.rs` renders from these types, and that test
//!   fails when the checked-in file differs (`UPDATE_GENERATED=1` rewrites
//!   it).
//! - Field names are the wire's (camelCase); validation that needs state
//!   (a relay, a store) stays in the server.
//!
//! One module per domain; [`List`] is the envelope every list route
//! answers with; [`items`] is what a session shows.

pub mod account;
pub mod approvals;
pub mod attachments;
pub mod auth;
pub mod changes;
pub mod errors;
pub mod events;
pub mod items;
pub mod memory;
pub mod peer;
pub mod plans;
pub mod projects;
pub mod review;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod system;
pub mod wakeups;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// What every list route answers: the items, and where the route has them,
/// how many match in all (`total`) and whether older ones exist (`hasMore`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub total: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub has_more: Option<bool>,
}

impl<T> List<T> {
    /// Just the items.
    pub fn of(data: Vec<T>) -> Self {
        Self {
            data,
            total: None,
            has_more: None,
        }
    }
}
