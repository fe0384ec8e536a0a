//! Projects: the working folders sessions run in (`/api/projects`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The longest project path taken, in characters.
pub const MAX_PATH_CHARS: usize = 4096;

/// A folder's git state, when it is (in) a git repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitState {
    /// The checked-out branch; `null` when HEAD is detached.
    pub branch: Option<String>,
    /// Files changed, added or untracked that are not committed.
    #[ts(type = "number")]
    pub changed_files: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    #[ts(type = "number")]
    pub id: i64,
    /// Absolute, symbolic links resolved.
    pub path: String,
    /// The folder's name.
    pub name: String,
    /// It is still a folder Perch can read (it may have been moved).
    pub exists: bool,
    /// `null` when it is not in a git repository (or git is not installed).
    pub git: Option<GitState>,
    /// Sessions whose working folder is it or a folder in it.
    #[ts(type = "number")]
    pub sessions: usize,
    /// Milliseconds since 1970.
    #[ts(type = "number")]
    pub added_at: i64,
}

/// `POST /api/projects`: a folder to add to the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"path": "/home/ada/src/parser"}))]
pub struct NewProject {
    /// An absolute path, or one starting with `~/`.
    pub path: String,
}
