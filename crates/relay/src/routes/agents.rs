//! `/api/agents`: registration, cards, presence.

use super::{AgentKey, AppState, JsonBody, QueryParams};
use crate::error::{RelayError, Result};
use crate::relay::parse_status;
use crate::store::AgentPatch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use perch_relay_protocol::{
    check_list, check_optional, Agent, AgentDevice, InstanceProof, LinkCode, RegisterAgent,
    Registered, Target, MAX_SHORT_CHARS,
};
use serde::Deserialize;
use serde_json::{Map, Value};

pub(super) async fn register(
    State(state): State<AppState>,
    key: AgentKey,
    JsonBody(req): JsonBody<RegisterAgent>,
) -> Result<Json<Registered>> {
    Ok(Json(state.relay.register(req, key.as_deref()).await?))
}

#[derive(Deserialize, Default)]
pub(super) struct AgentFilter {
    status: Option<String>,
    tag: Option<String>,
    cap: Option<String>,
    label: Option<String>,
    channel: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    QueryParams(filter): QueryParams<AgentFilter>,
) -> Result<Json<Vec<Agent>>> {
    let status = filter.status.as_deref().map(parse_status).transpose()?;
    let tag = filter.tag.map(Target::Tag);
    let cap = filter.cap.map(Target::Capability);
    let label = filter.label.map(Target::Label);
    let agents = state
        .relay
        .agents()
        .await?
        .into_iter()
        .filter(|a| status.is_none_or(|s| a.status == s))
        .filter(|a| {
            [&tag, &cap, &label]
                .into_iter()
                .flatten()
                .all(|t| t.matches(a))
        })
        .filter(|a| {
            filter
                .channel
                .as_ref()
                .is_none_or(|c| a.channels.is_empty() || a.channels.contains(c))
        })
        .collect();
    Ok(Json(agents))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Agent>> {
    Ok(Json(state.relay.agent(&id).await?))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
) -> Result<StatusCode> {
    state.relay.authorize(&id, key.as_deref()).await?;
    state.relay.remove_agent(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A one-time code another machine registers the id with (`linkCode`).
pub(super) async fn link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
) -> Result<(StatusCode, Json<LinkCode>)> {
    let code = state.relay.link_device(&id, key.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(code)))
}

pub(super) async fn devices(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
) -> Result<Json<Vec<AgentDevice>>> {
    Ok(Json(state.relay.devices(&id, key.as_deref()).await?))
}

pub(super) async fn remove_device(
    State(state): State<AppState>,
    Path((id, device)): Path<(String, String)>,
    key: AgentKey,
) -> Result<StatusCode> {
    state
        .relay
        .remove_device(&id, key.as_deref(), &device)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn heartbeat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(proof): JsonBody<InstanceProof>,
) -> Result<Json<Agent>> {
    state.relay.authorize(&id, key.as_deref()).await?;
    Ok(Json(state.relay.heartbeat(&id, &proof).await?))
}

/// Any subset of the card's mutable fields, plus the instance proof.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct AgentUpdate {
    status: Option<String>,
    ready: Option<bool>,
    /// `null` clears the label.
    #[serde(default, deserialize_with = "present")]
    label: Option<Option<String>>,
    tags: Option<Vec<String>>,
    capabilities: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    meta: Option<Map<String, Value>>,
    instance_id: Option<String>,
    epoch: Option<i64>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl AgentUpdate {
    fn into_parts(self) -> Result<(AgentPatch, InstanceProof)> {
        let patch = AgentPatch {
            status: self.status.as_deref().map(parse_status).transpose()?,
            ready: self.ready,
            label: self
                .label
                .map(|l| check_optional("label", l, MAX_SHORT_CHARS))
                .transpose()?,
            tags: self.tags.map(|t| check_list("tags", t)).transpose()?,
            capabilities: self
                .capabilities
                .map(|c| check_list("capabilities", c))
                .transpose()?,
            channels: self
                .channels
                .map(|c| check_list("channels", c))
                .transpose()?,
            meta: self.meta,
        };
        Ok((
            patch,
            InstanceProof {
                instance_id: self.instance_id,
                epoch: self.epoch,
            },
        ))
    }

    fn has(&self, field: &str) -> bool {
        match field {
            "status" => self.status.is_some(),
            "ready" => self.ready.is_some(),
            "label" => self.label.is_some(),
            "tags" => self.tags.is_some(),
            "capabilities" => self.capabilities.is_some(),
            "channels" => self.channels.is_some(),
            "meta" => self.meta.is_some(),
            _ => false,
        }
    }
}

pub(super) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    key: AgentKey,
    JsonBody(update): JsonBody<AgentUpdate>,
) -> Result<Json<Agent>> {
    state.relay.authorize(&id, key.as_deref()).await?;
    let (patch, proof) = update.into_parts()?;
    Ok(Json(state.relay.update_agent(&id, &proof, patch).await?))
}

/// `PATCH /api/agents/{id}/status` (`ready`, `label`, `tags`,
/// `capabilities`, `channels`, `meta`): the body must carry that field.
pub(super) async fn patch_field(
    State(state): State<AppState>,
    Path((id, field)): Path<(String, String)>,
    key: AgentKey,
    JsonBody(update): JsonBody<AgentUpdate>,
) -> Result<Json<Agent>> {
    const FIELDS: [&str; 7] = [
        "status",
        "ready",
        "label",
        "tags",
        "capabilities",
        "channels",
        "meta",
    ];
    if !FIELDS.contains(&field.as_str()) {
        return Err(RelayError::NotFound(format!(
            "no route PATCH /api/agents/{id}/{field}; fields: {}",
            FIELDS.join(", ")
        )));
    }
    if !update.has(&field) {
        return Err(RelayError::Invalid(format!("the body needs `{field}`")));
    }
    state.relay.authorize(&id, key.as_deref()).await?;
    let (patch, proof) = update.into_parts()?;
    Ok(Json(state.relay.update_agent(&id, &proof, patch).await?))
}
