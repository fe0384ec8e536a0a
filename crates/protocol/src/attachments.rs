//! `/api/attachments`: images the person pastes or drops into the composer,
//! kept in Perch's data dir and sent to Codex as local images.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The largest image taken, in bytes (the route's own body limit).
pub const MAX_ATTACHMENT_BYTES: usize = 20 * 1024 * 1024;
/// The most images one message takes.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;
/// The image types taken (by their bytes, not only by `Content-Type`).
pub const ATTACHMENT_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// `POST /api/attachments` (the image's bytes as the body): the kept image.
/// Its id names it in a message's `attachments`; a sent message's
/// `localImage` path ends in `attachments/<id>.<extension>`, and
/// `GET /api/attachments/{id}` answers the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// 32 hexadecimal digits, from the image's content.
    pub id: String,
    /// One of [`ATTACHMENT_TYPES`].
    pub mime: String,
    #[ts(type = "number")]
    pub size: u64,
}

/// `GET /api/sessions/{id}/files?q=`: a file of the session's working
/// folder whose path matches the words (for `@` mentions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileMatch {
    /// Relative to the session's working folder.
    pub path: String,
    pub file_name: String,
    /// Characters of `path` that matched, for highlighting.
    #[serde(default)]
    pub indices: Vec<u32>,
}

/// The query of `GET /api/sessions/{id}/files`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct FileQuery {
    /// What the person typed after `@` (at most 200 characters; empty
    /// answers nothing).
    pub q: String,
    /// At most this many matches (1–50, default 20).
    #[serde(default)]
    #[ts(optional, type = "number")]
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}
