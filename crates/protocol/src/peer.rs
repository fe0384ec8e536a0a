//! `/api/peer/*`: the person's side of the peer network.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `POST /api/peer/messages`: a message the person sends (`perch send`, the Inbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    /// An agent id, `tag:…`, `cap:…`, `label:…` or `broadcast`.
    pub to: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub reply_to: Option<i64>,
    /// Optional on the wire (false when absent); the UI always sends it.
    #[serde(default)]
    pub urgent: bool,
    #[serde(default)]
    pub claimable: bool,
}

/// `POST /api/peer/read`: messages the person has read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ReadMarks {
    #[ts(type = "Array<number>")]
    pub ids: Vec<i64>,
}
