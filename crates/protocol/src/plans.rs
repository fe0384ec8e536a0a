//! The planner: what `/api/plans*` takes and answers (and `plan.changed`
//! carries). Named todo lists the agent and the person share.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// One item of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanItem {
    #[ts(type = "number")]
    pub id: i64,
    pub text: String,
    pub done: bool,
    /// 0-based index in the plan (positions are 0..n without gaps).
    #[ts(type = "number")]
    pub position: i64,
    /// Milliseconds since 1970.
    #[ts(type = "number")]
    pub updated_at: i64,
    /// When it was checked (milliseconds since 1970); null while open.
    #[ts(type = "number | null")]
    #[schema(required = true)]
    pub done_at: Option<i64>,
}

/// A named todo list; its name is unique (case-insensitive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// In their order (by `position`).
    pub items: Vec<PlanItem>,
    /// Milliseconds since 1970.
    #[ts(type = "number")]
    pub created_at: i64,
    /// Milliseconds since 1970; any change to the plan or its items.
    #[ts(type = "number")]
    pub updated_at: i64,
}

impl Plan {
    /// The items not done yet, in order.
    pub fn open_items(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| !i.done)
    }
}

/// `POST /api/plans`: a new plan, with its first items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Release", "items": ["Bump the version", "Tag it"]}))]
pub struct NewPlan {
    /// 1 to 80 characters on one line, unique (case-insensitive).
    pub name: String,
    /// The items' texts, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// `POST /api/plans/{id}/items`: an item to add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"text": "Write the notes"}))]
pub struct NewPlanItem {
    pub text: String,
    /// The 0-based index to insert at; the end when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub position: Option<i64>,
}

/// `PATCH /api/plans/{id}/items/{item}`: what changes (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"done": true}))]
pub struct PlanItemPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub text: Option<String>,
    /// Checks (true) or unchecks (false) the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub done: Option<bool>,
    /// The new 0-based index; the other items shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub position: Option<i64>,
}

/// `PATCH /api/plans/{id}`: the new name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRename {
    pub name: String,
}

/// `POST /api/plans/{id}/clear`: which items go (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanClear {
    /// Only the checked items (default: all).
    #[serde(default)]
    pub done_only: bool,
}
