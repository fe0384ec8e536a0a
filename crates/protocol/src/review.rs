//! `/api/sessions/{id}/review`: every file a session changed, against the
//! state before its first change, with revert and "open in editor".

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// `GET /api/sessions/{id}/review`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// The session's working folder: paths are relative to it.
    pub cwd: String,
    /// What the diffs compare with.
    pub base: ReviewBase,
    /// The files, by path.
    pub files: Vec<ReviewFile>,
}

/// What a review's diffs compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ReviewBase {
    /// The commit checked out when the session first changed a file (the
    /// folder is in a git repository): diffs are the working tree against
    /// it, so they include every change since, the session's and others'.
    #[serde(rename_all = "camelCase")]
    Git {
        commit: String,
        /// The first line of its message.
        summary: String,
    },
    /// The folder is not in a git repository (or the session changed
    /// nothing yet): each file shows the session's changes as Codex made
    /// them, and cannot be reverted from here.
    Session {
        /// Why there is no git base, in words.
        reason: String,
    },
}

/// One file a session changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewFile {
    /// Relative to the session's working folder (absolute when outside it).
    pub path: String,
    pub status: ReviewStatus,
    /// A unified diff against the base (empty when the file is as it was).
    pub diff: String,
    #[ts(type = "number")]
    pub additions: u32,
    #[ts(type = "number")]
    pub deletions: u32,
    /// It is inside the session's working folder: revert and "open in
    /// editor" are offered only then.
    pub inside: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReviewStatus {
    Added,
    Modified,
    Deleted,
    /// As it was at the base again (reverted, or changed back).
    Unchanged,
    /// Binary content: no line diff.
    Binary,
}

/// `POST /api/sessions/{id}/review/revert`: put a file (or one hunk of its
/// diff) back as it is in the base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"path": "src/lib.rs", "hunk": 0}))]
pub struct Revert {
    /// As the review names it.
    pub path: String,
    /// Only this hunk (0 is the first `@@` of the file's review diff);
    /// the whole file without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub hunk: Option<u32>,
}

/// `POST /api/sessions/{id}/review/open`: open a file of the session's
/// folder in the person's editor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"path": "src/lib.rs", "line": 42}))]
pub struct OpenFile {
    pub path: String,
    /// The line to show (1-based), where the editor command takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub line: Option<u32>,
}

/// How a file was opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Opened {
    /// `editor` (the configured `[review] editor` command) or `desktop`
    /// (the desktop's default application for the file).
    pub with: String,
}
