//! `/api/peer/*`: the person's side of the peer network (Inbox, Peers,
//! `perch send/inbox/peers`). Thin adapters over `perch_peer::Peer`.

use crate::error::ApiError;
use crate::openapi::{BadBody, Protected, RelayCall};
use crate::routes::{blank_is_none, created, ok, Json, Made, QueryOr, Reply};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use perch_peer::Peer;
use perch_protocol::peer::{
    DeviceLinkCode, InboxQuery, JoinDevice, PeerMessage, PeerOff, PeerStatus, PeersKeys,
    PersonDevices, PinKeys, ReadMarks, SendMessage, Unread,
};
use perch_protocol::List;
use perch_relay_protocol::{Agent, NewMessage, Pair, Task};
use std::sync::Arc;

/// Where Perch's agent on the peer network stands.
#[derive(Clone)]
pub enum PeerLinkState {
    /// The relay and the peer link are still starting (the API answers
    /// before them, so that `perch serve` is ready sooner).
    Starting,
    Joined(Arc<Peer>),
    /// Off; `reason` when that is not the person's choice (the relay's port
    /// is taken), for `/api/peer` and the UI.
    Off {
        reason: Option<String>,
    },
}

/// Perch's agent on the relay, or why there is none, as it becomes known:
/// the server sets it once the network has started.
#[derive(Clone)]
pub struct PeerLink(tokio::sync::watch::Receiver<PeerLinkState>);

impl PeerLink {
    pub fn new(state: tokio::sync::watch::Receiver<PeerLinkState>) -> Self {
        Self(state)
    }

    /// A link that is settled from the start.
    pub fn settled(state: PeerLinkState) -> Self {
        Self(tokio::sync::watch::channel(state).1)
    }

    /// The peer, or why there is none (`None`: the person's choice), once
    /// the network's start settled (a moment after the API answers; the
    /// server stops if it fails).
    pub(crate) async fn wait(&self) -> Result<Arc<Peer>, Option<String>> {
        let mut state = self.0.clone();
        let settled = state
            .wait_for(|s| !matches!(s, PeerLinkState::Starting))
            .await
            .map(|s| s.clone());
        match settled {
            Ok(PeerLinkState::Joined(peer)) => Ok(peer),
            Ok(PeerLinkState::Off { reason }) => Err(reason),
            Ok(PeerLinkState::Starting) | Err(_) => Err(Some("Perch is stopping".into())),
        }
    }

    pub(crate) async fn peer(&self) -> Option<Arc<Peer>> {
        self.wait().await.ok()
    }
}

#[derive(Clone)]
pub struct PeerState {
    pub(crate) link: PeerLink,
}

async fn peer(state: &PeerState) -> Result<Arc<Peer>, ApiError> {
    state.link.wait().await.map_err(|reason| {
        let message = match reason {
            Some(reason) => format!("the peer network is off: {reason}"),
            None => "the peer network is off: set `[peer] enabled = true` and a relay (`[relay] listen` or `url`) in config.toml".into(),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "peer_off", message)
    })
}

/// The peer network: relay, identities, connection, unread count, delivery.
#[utoipa::path(get, path = "/api/peer", tag = "peers",
    responses((status = 200, body = PeerStatus), Protected))]
pub async fn status(State(state): State<PeerState>) -> Reply<PeerStatus> {
    ok(match state.link.wait().await {
        Ok(peer) => peer.status(),
        Err(reason) => PeerStatus::Off(PeerOff {
            enabled: false,
            reason,
        }),
    })
}

/// Agents on the relay with presence, label, tags, capabilities.
#[utoipa::path(get, path = "/api/peer/agents", tag = "peers",
    responses((status = 200, body = List<Agent>), RelayCall, Protected))]
pub async fn agents(State(state): State<PeerState>) -> Reply<List<Agent>> {
    ok(List::of(peer(&state).await?.agents().await?))
}

/// Relay messages for the Inbox, oldest first; `hasMore` when older exist.
#[utoipa::path(get, path = "/api/peer/messages", tag = "peers", params(InboxQuery),
    responses((status = 200, body = List<PeerMessage>),
        (status = 400, body = perch_protocol::errors::ErrorBody, description = "A query parameter is wrong"),
        RelayCall, Protected))]
pub async fn messages(
    State(state): State<PeerState>,
    query: QueryOr<InboxQuery>,
) -> Reply<List<PeerMessage>> {
    let Query(q) = query?;
    let (messages, has_more) = peer(&state)
        .await?
        .inbox(
            blank_is_none(q.channel),
            blank_is_none(q.agent),
            q.before_id,
            q.limit.map_or(200, |n| n as usize),
        )
        .await?;
    ok(List {
        data: messages,
        total: None,
        has_more: Some(has_more),
    })
}

/// Send a relay message as the person.
#[utoipa::path(post, path = "/api/peer/messages", tag = "peers", request_body = SendMessage,
    responses((status = 201, body = PeerMessage), BadBody, RelayCall, Protected))]
pub async fn send(
    State(state): State<PeerState>,
    Json(out): Json<SendMessage>,
) -> Made<PeerMessage> {
    if out.to.trim().is_empty() || out.body.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "`to` and `body` must not be empty",
        ));
    }
    let message = NewMessage {
        from: String::new(),
        to: out.to.trim().to_string(),
        body: out.body,
        subject: blank_is_none(out.subject),
        channel: blank_is_none(out.channel),
        reply_to: out.reply_to,
        claimable: out.claimable,
        kind: None,
        meta: Default::default(),
        urgent: out.urgent,
    };
    created(peer(&state).await?.send_as_person(message).await?)
}

/// Mark messages read by the person.
#[utoipa::path(post, path = "/api/peer/read", tag = "peers", request_body = ReadMarks,
    responses((status = 200, body = Unread), BadBody, RelayCall, Protected))]
pub async fn read(State(state): State<PeerState>, Json(marks): Json<ReadMarks>) -> Reply<Unread> {
    ok(Unread {
        unread: peer(&state).await?.mark_read(&marks.ids).await?,
    })
}

/// Pairs on the relay.
#[utoipa::path(get, path = "/api/peer/pairs", tag = "peers",
    responses((status = 200, body = List<Pair>), RelayCall, Protected))]
pub async fn pairs(State(state): State<PeerState>) -> Reply<List<Pair>> {
    ok(List::of(peer(&state).await?.pairs().await?))
}

/// Integration tasks on the relay.
#[utoipa::path(get, path = "/api/peer/tasks", tag = "peers",
    responses((status = 200, body = List<Task>), RelayCall, Protected))]
pub async fn tasks(State(state): State<PeerState>) -> Reply<List<Task>> {
    ok(List::of(peer(&state).await?.tasks().await?))
}

/// The device keys every card on the relay publishes, with the person's pins.
#[utoipa::path(get, path = "/api/peer/keys", tag = "peers",
    responses((status = 200, body = PeersKeys), RelayCall, Protected))]
pub async fn keys(State(state): State<PeerState>) -> Reply<PeersKeys> {
    ok(peer(&state).await?.keys().await?)
}

/// Pin every device key a peer's card lists now, after comparing the
/// fingerprints with the peer another way.
#[utoipa::path(post, path = "/api/peer/keys/pin", tag = "peers", request_body = PinKeys,
    responses((status = 200, body = PeersKeys), BadBody,
        (status = 404, body = perch_protocol::errors::ErrorBody, description = "No such agent on the relay"),
        RelayCall, Protected))]
pub async fn pin(State(state): State<PeerState>, Json(body): Json<PinKeys>) -> Reply<PeersKeys> {
    let id = checked_id(&body.id)?;
    ok(peer(&state).await?.pin(id).await?)
}

/// Forget the pins of a peer: its card is believed again.
#[utoipa::path(post, path = "/api/peer/keys/unpin", tag = "peers", request_body = PinKeys,
    responses((status = 200, body = PeersKeys), BadBody, RelayCall, Protected))]
pub async fn unpin(State(state): State<PeerState>, Json(body): Json<PinKeys>) -> Reply<PeersKeys> {
    let id = checked_id(&body.id)?;
    ok(peer(&state).await?.unpin(id).await?)
}

/// Replace this Perch's device keys (both ids) with new ones the old keys
/// announce, so peers that pinned them follow without a warning.
#[utoipa::path(post, path = "/api/peer/keys/rotate", tag = "peers",
    responses((status = 200, body = PeersKeys), RelayCall, Protected))]
pub async fn rotate_keys(State(state): State<PeerState>) -> Reply<PeersKeys> {
    ok(peer(&state).await?.rotate_keys().await?)
}

/// The computers that hold the person's id on the relay, each with a key
/// of its own (one person on several machines).
#[utoipa::path(get, path = "/api/peer/devices", tag = "peers",
    responses((status = 200, body = PersonDevices), RelayCall, Protected))]
pub async fn devices(State(state): State<PeerState>) -> Reply<PersonDevices> {
    ok(peer(&state).await?.person_devices().await?)
}

/// A one-time code (ten minutes) that lets another computer of the person
/// join the person's id: `perch peers join CODE` there.
#[utoipa::path(post, path = "/api/peer/devices/link", tag = "peers",
    responses((status = 201, body = DeviceLinkCode), RelayCall, Protected))]
pub async fn link_device(State(state): State<PeerState>) -> Made<DeviceLinkCode> {
    created(peer(&state).await?.link_device().await?)
}

/// Join this computer to the person's id with a code from another one.
#[utoipa::path(post, path = "/api/peer/devices/join", tag = "peers", request_body = JoinDevice,
    responses((status = 200, body = PersonDevices), BadBody,
        (status = 403, body = perch_protocol::errors::ErrorBody, description = "The relay does not know the code (mistyped, used or expired)"),
        RelayCall, Protected))]
pub async fn join_device(
    State(state): State<PeerState>,
    Json(body): Json<JoinDevice>,
) -> Reply<PersonDevices> {
    let code = body.code.trim();
    if code.is_empty() || code.chars().count() > 64 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "`code` must be the code another computer showed (`perch peers link`), e.g. 3f9a-c21b-07de-55a0-9b1c",
        ));
    }
    ok(peer(&state).await?.join_device(code).await?)
}

/// Take another computer's key of the person's id away (and its end-to-end
/// key off the person's card).
#[utoipa::path(delete, path = "/api/peer/devices/{device}", tag = "peers",
    params(("device" = String, Path, description = "The device's name, from GET /api/peer/devices")),
    responses((status = 200, body = PersonDevices),
        (status = 404, body = perch_protocol::errors::ErrorBody, description = "No such device of the person"),
        (status = 409, body = perch_protocol::errors::ErrorBody, description = "The person's only device"),
        RelayCall, Protected))]
pub async fn unlink_device(
    State(state): State<PeerState>,
    axum::extract::Path(device): axum::extract::Path<String>,
) -> Reply<PersonDevices> {
    let device = checked_id(&device)?;
    ok(peer(&state).await?.unlink_device(device).await?)
}

fn checked_id(id: &str) -> Result<&str, ApiError> {
    let id = id.trim();
    if id.is_empty() || id.chars().count() > perch_relay_protocol::MAX_ID_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            format!(
                "`id` must be a relay id of 1 to {} characters",
                perch_relay_protocol::MAX_ID_CHARS
            ),
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_route_waits_for_the_network_start_to_settle() {
        let (settle, state) = tokio::sync::watch::channel(PeerLinkState::Starting);
        let link = PeerLink::new(state);
        let waiting = tokio::spawn({
            let link = link.clone();
            async move { link.wait().await.err() }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "answered while the network started");
        settle.send_replace(PeerLinkState::Off {
            reason: Some("the relay's port is taken".into()),
        });
        assert_eq!(
            waiting.await.ok().flatten().flatten().as_deref(),
            Some("the relay's port is taken")
        );
        drop(settle);
        assert!(
            link.wait().await.is_err(),
            "a settled link answers at once, even once the server is gone"
        );
    }
}
