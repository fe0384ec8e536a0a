//! Memory: what `/api/memories*` takes and answers (and `memory.changed`
//! carries). Short facts the agent or the person wants kept across sessions.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Who made a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemorySource {
    /// The agent, in a session.
    Session,
    /// The agent, handling peer messages.
    Peer,
    /// The person (UI, CLI, import).
    Person,
}

impl MemorySource {
    const ALL: [Self; 3] = [Self::Session, Self::Peer, Self::Person];

    /// The wire and database word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Peer => "peer",
            Self::Person => "person",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.as_str() == word)
    }
}

/// A memory, as stored (and, in search results, with its score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[ts(type = "number")]
    pub id: i64,
    pub text: String,
    /// Lowercase, without `#`.
    pub tags: Vec<String>,
    pub source: MemorySource,
    /// The session it came from, when known.
    #[schema(required = true)]
    pub source_ref: Option<String>,
    /// For `source: peer`: who wrote the peer messages of the turn that
    /// asked for it (the person accepted it).
    #[serde(default)]
    pub senders: Vec<String>,
    /// 0 to 1.
    pub importance: f64,
    /// Milliseconds since 1970, like every `…At` field.
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    /// When the agent last found it in a search.
    #[ts(type = "number | null")]
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
    /// Only in search results: higher is better.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub score: Option<f64>,
}

/// `POST /api/memories`: a memory to keep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"text": "The build needs Node 20", "tags": ["build"], "importance": 0.7}))]
pub struct NewMemory {
    pub text: String,
    /// Letters, digits and `-_:./`; a leading `#` is dropped, case is lowered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// 0 to 1 (0.5 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub importance: Option<f64>,
}

/// `PATCH /api/memories/{id}`: what changes (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"tags": ["build", "ci"]}))]
pub struct MemoryPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
    /// The new tags, replacing the old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tags: Option<Vec<String>>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub importance: Option<f64>,
}

/// What happened to the memories a `memory.changed` event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemoryAction {
    Added,
    Updated,
    Deleted,
    Imported,
    /// Their vectors were made (embeddings configured); text is unchanged.
    Embedded,
}

/// The file format of a memory export or import (`?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MemoryFormat {
    /// JSON lines, one memory per line (lossless).
    Jsonl,
    /// A Markdown bullet list, one memory per bullet.
    Markdown,
}

/// `POST /api/memories/import`: what the import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Memories added.
    pub imported: usize,
    /// Entries that could not be imported.
    pub skipped: usize,
    /// Why lines were skipped (the first few).
    pub errors: Vec<String>,
}

/// `POST /api/memories/delete`: the memories to delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDelete {
    /// At most 10 000.
    #[ts(type = "Array<number>")]
    pub ids: Vec<i64>,
}

/// How many memories a bulk delete removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Deleted {
    #[ts(type = "number")]
    pub deleted: usize,
}
