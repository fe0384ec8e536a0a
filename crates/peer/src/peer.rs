//! `Peer`: Perch's agent and the person on one relay. It registers both,
//! keeps their heartbeat, follows the relay's SSE stream (push, not polling)
//! and hands what reaches the agent to the dispatcher; everything that
//! reaches or comes from either of them is published on the runtime's bus
//! (the UI and the notifier listen there).

use crate::client::RelayClient;
use crate::dispatcher::{self, DeliveryStatus, Dispatch};
use crate::error::{PeerError, Result};
use crate::identity::Identity;
use crate::ledger::{Ledger, Pin, DIRECT};
use crate::sealing::{self, Sealing, Standing};
use futures_util::StreamExt;
use perch_agent::AgentState;
use perch_protocol::peer::{
    KeyDevice, KeyStanding, PeerKeys, PeerLink, PeerMessage, PeerStatus, PeersKeys, Seal,
};
use perch_relay_protocol::{
    Agent, AgentStatus, InstanceProof, Message, NewMessage, Pair, RegisterAgent, RelayEvent,
    Target, Task,
};
use perch_runtime::config::PeerConfig;
use perch_runtime::host::SecretStore;
use perch_runtime::model::EventKind;
use perch_runtime::Runtime;
use serde_json::json;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use stdx::MutexExt;
use tokio::sync::mpsc;

const PAGE: usize = 500;
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(10);

pub struct PeerOptions {
    pub relay_url: String,
    pub token: Option<String>,
    /// The relay runs inside this Perch.
    pub embedded: bool,
    pub identity: Identity,
    pub config: PeerConfig,
    /// Where the agent keys of both ids are kept (the OS keyring).
    pub secrets: Arc<dyn SecretStore>,
}

/// One registered identity: its card as the relay last returned it and the
/// proof of this run's instance.
#[derive(Clone)]
pub(crate) struct Member {
    pub card: Agent,
    pub proof: InstanceProof,
}

#[derive(Default)]
struct Link {
    connected: bool,
    last_error: Option<String>,
    agent: Option<Member>,
    person: Option<Member>,
    unread: usize,
}

pub struct Peer {
    pub(crate) client: RelayClient,
    pub(crate) identity: Identity,
    pub(crate) config: PeerConfig,
    pub(crate) embedded: bool,
    pub(crate) runtime: Arc<Runtime>,
    /// Told which session is the peer session.
    pub(crate) agent: Arc<AgentState>,
    pub(crate) ledger: Ledger,
    pub(crate) secrets: Arc<dyn SecretStore>,
    /// This device's keys for both ids and what peers' cards publish.
    pub(crate) sealing: Sealing,
    /// Changed pinned keys already said this run: `(id, fingerprint)`.
    warned: Mutex<std::collections::HashSet<(String, String)>>,
    instance_id: String,
    link: Mutex<Link>,
    /// Ends the link's pause before its next attempt (a device just joined).
    pub(crate) wake: Arc<tokio::sync::Notify>,
    pub(crate) delivery: Mutex<DeliveryStatus>,
    dispatch: mpsc::Sender<Dispatch>,
    /// The link, heartbeat and dispatcher tasks, ended by `stop`.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Peer {
    pub async fn start(agent: Arc<AgentState>, options: PeerOptions) -> Result<Arc<Self>> {
        let runtime = agent.runtime().clone();
        let client = RelayClient::new(&options.relay_url, options.token)?;
        let ledger = Ledger::open(&runtime.data_dir().join("peer.db"))?;
        let instance_id = format!(
            "perch-{}",
            stdx::random_hex(8).map_err(|source| PeerError::Io {
                context: "making an instance id".into(),
                source
            })?
        );
        let keyring = key_scope(&client, options.embedded);
        for id in [&options.identity.agent_id, &options.identity.person_id] {
            if let Some(key) = load_key(&options.secrets, &keyring, id).await? {
                client.set_key(id, key);
            }
        }
        let agent_key = sealing::device_key(&options.secrets, &options.identity.agent_id).await?;
        let person_key = sealing::device_key(&options.secrets, &options.identity.person_id).await?;
        let sealing = Sealing::new(
            (options.identity.agent_id.clone(), agent_key),
            (options.identity.person_id.clone(), person_key),
        );
        let (dispatch, inbox) = mpsc::channel(1024);
        let peer = Arc::new(Self {
            client,
            identity: options.identity,
            config: options.config,
            embedded: options.embedded,
            runtime,
            agent,
            ledger,
            secrets: options.secrets,
            sealing,
            warned: Mutex::new(Default::default()),
            instance_id,
            link: Mutex::new(Link::default()),
            wake: Arc::default(),
            delivery: Mutex::new(DeliveryStatus::default()),
            dispatch,
            tasks: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            dispatcher::spawn(Arc::downgrade(&peer), inbox),
            tokio::spawn(follow(Arc::downgrade(&peer))),
            tokio::spawn(heartbeat(Arc::downgrade(&peer))),
        ];
        *peer.tasks.lock_unpoisoned() = tasks;
        Ok(peer)
    }

    /// Ends the link (its SSE stream closes), the heartbeat and the
    /// dispatcher. Nothing is lost: what was not consumed stays above the
    /// watermarks for the next run.
    pub fn stop(&self) {
        for task in self.tasks.lock_unpoisoned().drain(..) {
            task.abort();
        }
    }

    fn lock_link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock_unpoisoned()
    }

    pub fn relay_url(&self) -> &str {
        self.client.url()
    }

    pub fn agent_id(&self) -> &str {
        &self.identity.agent_id
    }

    pub fn person_id(&self) -> &str {
        &self.identity.person_id
    }

    /// The relay client, for calls the peer network's tools make.
    pub fn client(&self) -> &RelayClient {
        &self.client
    }

    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    pub fn agent_proof(&self) -> InstanceProof {
        self.lock_link()
            .agent
            .as_ref()
            .map(|m| m.proof.clone())
            .unwrap_or_default()
    }

    pub(crate) fn person_proof(&self) -> InstanceProof {
        self.lock_link()
            .person
            .as_ref()
            .map(|m| m.proof.clone())
            .unwrap_or_default()
    }

    /// What `GET /api/peer` answers and `peer.status` carries.
    pub fn status(&self) -> PeerStatus {
        let delivery = self.delivery.lock_unpoisoned().clone();
        let link = self.lock_link();
        let id = &self.identity;
        PeerStatus::On(Box::new(PeerLink {
            enabled: true,
            relay_url: self.client.url().to_string(),
            embedded: self.embedded,
            connected: link.connected,
            agent_id: id.agent_id.clone(),
            person_id: id.person_id.clone(),
            label: id.label.clone(),
            tags: id.tags.clone(),
            capabilities: id.capabilities.clone(),
            channels: id.channels.clone(),
            session_id: self.ledger.get("session").ok().flatten(),
            unread: link.unread,
            last_error: link.last_error.clone(),
            delivery,
        }))
    }

    pub(crate) fn publish_status(&self) {
        self.runtime.events().publish(EventKind::PeerStatus {
            status: self.status(),
        });
    }

    fn set_link(&self, change: impl FnOnce(&mut Link)) {
        change(&mut self.lock_link());
        self.publish_status();
    }

    // ------------------------------------------------------------ the link

    fn card(&self, id: &str, person: bool) -> RegisterAgent {
        let identity = &self.identity;
        let mut meta = identity.meta.clone();
        if person {
            meta.insert("kind".into(), json!("human"));
            meta.insert("agent".into(), json!(identity.agent_id));
        }
        RegisterAgent {
            id: id.to_string(),
            name: None,
            label: if person {
                Some(format!("{} (person)", identity.person_id))
            } else {
                identity.label.clone()
            },
            machine: None,
            rig: Some("perch".into()),
            tags: if person {
                vec!["human".into(), "perch".into()]
            } else {
                identity.tags.clone()
            },
            capabilities: if person {
                vec!["chat".into()]
            } else {
                identity.capabilities.clone()
            },
            channels: if person {
                Vec::new()
            } else {
                identity.channels.clone()
            },
            status: Some(AgentStatus::Online),
            ready: Some(true),
            instance_id: Some(format!(
                "{}{}",
                self.instance_id,
                if person { "-person" } else { "" }
            )),
            meta,
            want_key: true,
            // Each computer holds the id with a key of its own, named after
            // its end-to-end device key (one person on several machines).
            device: self.sealing.key(id).map(|key| key.device().to_string()),
            link_code: None,
        }
    }

    /// Registers both ids, each with its agent key (asked for on the first
    /// registration and kept in the secret store from then on).
    async fn register(&self) -> Result<()> {
        let agent = self
            .register_one(&self.identity.agent_id, false, None)
            .await?;
        let person = self
            .register_one(&self.identity.person_id, true, None)
            .await?;
        let member = |card: Agent| Member {
            proof: InstanceProof {
                instance_id: card.instance_id.clone(),
                epoch: Some(card.epoch),
            },
            card,
        };
        let mut link = self.lock_link();
        link.agent = Some(member(agent));
        link.person = Some(member(person));
        Ok(())
    }

    /// Registers one id; `link_code` joins this computer to an id another
    /// one holds (`perch peers join`).
    pub(crate) async fn register_one(
        &self,
        id: &str,
        person: bool,
        link_code: Option<&str>,
    ) -> Result<Agent> {
        let mut card = self.card(id, person);
        card.link_code = link_code.map(String::from);
        // Other devices of the same id stay listed (one person, two machines).
        let current = match self.client.agent(id).await {
            Ok(current) => current.meta,
            Err(PeerError::Relay { status: 404, .. }) => serde_json::Map::new(),
            Err(err) => return Err(err),
        };
        if let Some(list) = self.sealing.key_list(id, &current) {
            card.meta.insert(perch_e2e::META_KEY.into(), list);
        }
        let registered = match self.client.register(&card).await {
            Ok(registered) => registered,
            Err(PeerError::Relay {
                status: 403,
                message,
                ..
            }) if link_code.is_none() => {
                let url = self.client.url();
                let what_to_do = if person {
                    format!("If this is another computer of yours, link it: where Perch already holds {id}, run `perch peers link` (or Peers, \"Link another computer\"), then here `perch peers join CODE`.")
                } else {
                    format!("If this is a second computer of the same person, its agent needs an id of its own: set `[peer] agent_id` (e.g. \"{id}-2\") in this computer's config and restart Perch; the person is linked with `perch peers link` / `perch peers join`.")
                };
                return Err(PeerError::Invalid(format!(
                    "the relay {url} refused {id} ({message}): another Perch or process holds that id with an agent key this one does not have. {what_to_do} If it was an earlier Perch whose key was lost, run `perch relay forget-key {id}` where the relay runs, then restart Perch."
                )));
            }
            Err(err) => return Err(err),
        };
        if let Some(key) = registered.key {
            // Kept before it is used: a key the store lost would lock the id out.
            save_key(
                &self.secrets,
                &key_scope(&self.client, self.embedded),
                id,
                &key,
            )
            .await?;
            self.client.set_key(id, key);
        }
        Ok(registered.agent)
    }

    /// Another process registered `id` (Perch's agent or the person) as a
    /// newer instance: messages to it no longer reach Perch. Said, then
    /// taken back.
    async fn fenced(&self, id: &str) {
        let message = format!(
            "Another process registered {id} on the relay {}, so its messages stopped reaching Perch; Perch registered it again. If this repeats, something on this machine uses Perch's ids: look with `perch peers`, or set a relay token (docs/relay.md, Trust).",
            self.client.url()
        );
        tracing::warn!("{message}");
        self.set_link(|link| {
            link.connected = false;
            link.last_error = Some(message.clone());
        });
        self.runtime.events().publish(EventKind::PeerFenced {
            id: id.to_string(),
            message,
        });
        match self.register().await {
            Ok(()) => self.set_link(|link| link.connected = true),
            Err(err) => tracing::warn!("registering {id} again: {err}"),
        }
    }

    /// Puts this computer's end-to-end key back on a card that lost it: a
    /// registration replaces the card, and another computer of the person
    /// (or an older Perch) may have registered without it.
    async fn keep_listed(&self, card: &Agent, proof: &InstanceProof) {
        let Some(key) = self.sealing.key(&card.id) else {
            return;
        };
        let mine = key.entry(&card.id);
        if perch_e2e::devices_in(&card.meta, &card.id).contains(&mine) {
            return;
        }
        let Some(list) = self.sealing.key_list(&card.id, &card.meta) else {
            return;
        };
        let meta = serde_json::Map::from_iter([(perch_e2e::META_KEY.to_string(), list)]);
        if let Err(err) = self.client.update_meta(&card.id, proof, &meta).await {
            tracing::warn!(
                "putting this computer's key back on {}'s card: {err}",
                card.id
            );
        }
    }

    /// The oldest id the agent may still have to consume.
    async fn floor(&self) -> Result<i64> {
        let floor = match self
            .ledger
            .get("floor")?
            .and_then(|f| f.parse::<i64>().ok())
        {
            Some(floor) => floor,
            None => {
                // The first run starts at the relay's present: a shared relay's
                // history is not replayed into a new agent.
                let latest = self.client.cursor().await?;
                self.ledger.set("floor", &latest.to_string())?;
                latest
            }
        };
        let marks = self.ledger.watermarks()?;
        Ok(marks
            .values()
            .copied()
            .chain([floor])
            .min()
            .unwrap_or(floor))
    }

    /// Everything for the agent after its watermarks (the dispatcher drops
    /// what it already has).
    async fn backlog(&self) -> Result<Vec<Message>> {
        let mut since = self.floor().await?;
        let mut all = Vec::new();
        loop {
            let page = self
                .client
                .messages(&[
                    ("for", self.identity.agent_id.clone()),
                    ("sinceId", since.to_string()),
                    ("limit", PAGE.to_string()),
                ])
                .await?;
            let full = page.len() >= PAGE;
            since = page.last().map(|m| m.id).unwrap_or(since);
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }

    /// Indexes what the relay has that the Inbox's index has not yet.
    async fn catch_up_inbox_index(&self) -> Result<()> {
        let mut since = self.ledger.newest_indexed()?;
        loop {
            let page = self
                .client
                .messages(&[("sinceId", since.to_string()), ("limit", PAGE.to_string())])
                .await?;
            let opened = self.open_all(&page).await;
            let shown = opened.iter().filter(|(m, _)| !sealing::is_key_share(m));
            self.ledger.index_messages(shown.map(|(m, _)| m))?;
            let full = page.len() >= PAGE;
            since = page.last().map(|m| m.id).unwrap_or(since);
            if !full {
                return Ok(());
            }
        }
    }

    /// Inbox messages with every word of `terms`, newest first.
    pub fn search_inbox(
        &self,
        terms: &stdx::search::Terms,
        limit: usize,
    ) -> Result<Vec<crate::ledger::InboxMatch>> {
        self.ledger.search_inbox(terms, limit)
    }

    async fn refresh_unread(&self) -> Result<()> {
        let unread = self
            .client
            .messages(&[
                ("for", self.identity.person_id.clone()),
                ("unread", "true".into()),
                ("limit", "1000".into()),
            ])
            .await?
            .iter()
            .filter(|m| !sealing::is_key_share(m))
            .count();
        self.set_link(|link| link.unread = unread);
        Ok(())
    }

    /// Whether the message reaches the member (and was not sent by it).
    fn reaches(member: Option<&Member>, message: &Message) -> bool {
        member.is_some_and(|m| {
            message.from != m.card.id
                && Target::parse(&message.to).is_ok_and(|t| t.matches(&m.card))
        })
    }

    /// The message as the person's side sees it, opened.
    pub(crate) fn for_person(&self, (message, seal): (Message, Seal)) -> PeerMessage {
        let person = self.lock_link().person.clone();
        let unread = Self::reaches(person.as_ref(), &message)
            && !message.read_by.contains(&self.identity.person_id);
        PeerMessage {
            message,
            unread,
            seal,
        }
    }

    // ------------------------------------------------------- end to end

    /// Reads `id`'s card again for its devices (none when it cannot).
    async fn refresh_devices(&self, id: &str) -> Vec<perch_e2e::DeviceEntry> {
        match self.client.agent(id).await {
            Ok(card) => {
                self.learn(&card);
                self.sealing.devices(id).unwrap_or_default()
            }
            Err(err) => {
                tracing::info!("reading {id}'s card for its keys: {err}");
                Vec::new()
            }
        }
    }

    /// Remembers a card's devices; a pin follows a rotation its pinned key
    /// announced.
    fn learn(&self, card: &Agent) {
        self.sealing.learn(card);
        let Ok(pins) = self.ledger.pins(Some(&card.id)) else {
            return;
        };
        if pins.is_empty() {
            return;
        }
        let devices = self.sealing.devices(&card.id).unwrap_or_default();
        for changed in devices
            .iter()
            .filter(|d| sealing::standing(&pins, d) == Standing::Changed)
        {
            // Said once per key and run, where the person looks (the UI's
            // warnings); the Peers page keeps showing it.
            let said = (card.id.clone(), changed.fingerprint());
            if self.warned.lock_unpoisoned().insert(said) {
                let message = format!(
                    "{}'s key on device {} changed since you pinned it (now {}), without an announcement from the pinned key. Perch sends nothing to {} until you compare the fingerprint with its owner and pin it again (Peers page).",
                    card.id,
                    changed.device,
                    changed.fingerprint(),
                    card.id
                );
                tracing::warn!("{message}");
                self.runtime.events().publish(EventKind::Warning {
                    session_id: None,
                    message,
                });
            }
        }
        let mut moved = false;
        let next: Vec<Pin> = pins
            .iter()
            .map(|pin| {
                match devices.iter().find(|d| {
                    d.device == pin.device && sealing::standing(&pins, d) == Standing::Rotated
                }) {
                    Some(device) => {
                        moved = true;
                        Pin {
                            sign: device.sign.clone(),
                            fingerprint: device.fingerprint(),
                            pinned_at: stdx::now_ms(),
                            ..pin.clone()
                        }
                    }
                    None => pin.clone(),
                }
            })
            .collect();
        if moved {
            if let Err(err) = self.ledger.set_pins(&card.id, &next) {
                tracing::warn!("moving {}'s pin to its rotated key: {err}", card.id);
            }
        }
    }

    /// Opens a sealed message or checks a signed one; a message that fails
    /// keeps only its routing and the reason. A channel key's share is kept.
    pub async fn open(&self, message: &Message) -> (Message, Seal) {
        let Some(mark) = message.meta.get(perch_e2e::META_KEY) else {
            return (message.clone(), Seal::default());
        };
        let channel_key = mark
            .get("channel")
            .and_then(serde_json::Value::as_str)
            .and_then(|id| {
                self.ledger
                    .channel_key(Some(id), &message.to)
                    .ok()
                    .flatten()
            })
            .and_then(|row| perch_e2e::ChannelKey::from_secret_text(&row.key_id, &row.secret));
        let pins = self.ledger.pins(Some(&message.from)).unwrap_or_default();
        let devices = match self.sealing.devices(&message.from) {
            Some(devices) => devices,
            None => self.refresh_devices(&message.from).await,
        };
        let opened = match self
            .sealing
            .open(message, &devices, &pins, channel_key.as_ref())
        {
            Ok(opened) => opened,
            Err(perch_e2e::OpenError::UnknownDevice(_)) => {
                // A device added (or a key rotated) since the card was read.
                let devices = self.refresh_devices(&message.from).await;
                self.sealing
                    .open(message, &devices, &pins, channel_key.as_ref())
                    .unwrap_or_else(|err| sealing::withheld(message, &err))
            }
            Err(err) => sealing::withheld(message, &err),
        };
        if sealing::is_key_share(message) && opened.1.withheld.is_none() {
            self.keep_share(message, &opened.0.body);
        }
        opened
    }

    /// Keeps the channel key a member shared with this device.
    fn keep_share(&self, message: &Message, body: &str) {
        let Ok(share) = serde_json::from_str::<perch_e2e::ChannelShare>(body) else {
            return tracing::warn!("message {} carries no readable channel key", message.id);
        };
        if share.group != message.to || perch_e2e::ChannelKey::from_share(&share).is_none() {
            return tracing::warn!(
                "message {} carries a channel key for another group",
                message.id
            );
        }
        let row = crate::ledger::ChannelKeyRow {
            key_id: share.id,
            group: share.group,
            secret: share.key,
            members: share.members,
            created_at: message.created_at,
        };
        if let Err(err) = self.ledger.keep_channel_key(&row) {
            tracing::error!("keeping the channel key of {}: {err}", row.group);
        }
    }

    pub(crate) async fn open_all(&self, messages: &[Message]) -> Vec<(Message, Seal)> {
        let mut opened = Vec::with_capacity(messages.len());
        for message in messages {
            opened.push(self.open(message).await);
        }
        opened
    }

    /// Messages as Perch shows them: opened, with their seal; channel key
    /// shares are kept, not shown.
    pub async fn shown(&self, messages: &[Message]) -> Vec<PeerMessage> {
        let mut shown = Vec::with_capacity(messages.len());
        for opened in self.open_all(messages).await {
            if !sealing::is_key_share(&opened.0) {
                shown.push(self.for_person(opened));
            }
        }
        shown
    }

    /// Sends as one of Perch's ids: sealed to every device the target
    /// reaches when all of them publish keys, else signed in the clear.
    pub async fn send(&self, message: NewMessage) -> Result<PeerMessage> {
        let cards = self.client.agents().await?;
        for card in &cards {
            self.learn(card);
        }
        let pins = sealing::pins_by_id(&self.ledger)?;
        let current = match Target::parse(&message.to) {
            Ok(Target::Agent(_)) | Err(_) => None,
            Ok(group) => self.ledger.channel_key(None, &group.to_wire())?,
        };
        let outgoing = self.sealing.outgoing(message, &cards, &pins, current)?;
        // Kept before anything is posted: a message under a key this device
        // lost would be unreadable to it.
        if let Some(keep) = &outgoing.keep {
            self.ledger.keep_channel_key(keep)?;
        }
        if let Some(share) = &outgoing.share {
            self.client.send(share).await?;
        }
        let sent = self.client.send(&outgoing.message).await?;
        let opened = self.open(&sent).await;
        Ok(self.for_person(opened))
    }

    /// Pair chat from Perch's agent, sealed to the other member as any
    /// direct message is.
    pub async fn pair_message(&self, pair_id: &str, body: String) -> Result<PeerMessage> {
        let pair = self.client.pair(pair_id).await?;
        let me = self.agent_id().to_string();
        let other = if pair.from == me { pair.to } else { pair.from };
        let message = NewMessage {
            from: me.clone(),
            to: other,
            body,
            subject: None,
            channel: Some(format!("pair:{pair_id}")),
            reply_to: None,
            claimable: false,
            kind: None,
            meta: serde_json::Map::new(),
            urgent: false,
        };
        let cards = self.client.agents().await?;
        for card in &cards {
            self.learn(card);
        }
        let pins = sealing::pins_by_id(&self.ledger)?;
        let outgoing = self.sealing.outgoing(message, &cards, &pins, None)?.message;
        let sent = self
            .client
            .pair_message(pair_id, &me, &outgoing.body, &outgoing.meta)
            .await?;
        let opened = self.open(&sent).await;
        Ok(self.for_person(opened))
    }

    /// This Perch's devices and every peer's, with what the person pinned.
    pub async fn keys(&self) -> Result<PeersKeys> {
        let cards = self.client.agents().await?;
        for card in &cards {
            self.learn(card);
        }
        let pins = sealing::pins_by_id(&self.ledger)?;
        let device = |id: &str, entry: &perch_e2e::DeviceEntry, standing| KeyDevice {
            device: entry.device.clone(),
            fingerprint: entry.fingerprint(),
            created: entry.created,
            this_device: self
                .sealing
                .key(id)
                .is_some_and(|k| k.device() == entry.device),
            standing,
        };
        let mut peers = Vec::new();
        for card in &cards {
            let devices = self.sealing.devices(&card.id).unwrap_or_default();
            let pinned = pins.get(&card.id).cloned().unwrap_or_default();
            let ours = [self.agent_id(), self.person_id()].contains(&card.id.as_str());
            peers.push(PeerKeys {
                id: card.id.clone(),
                ours,
                pinned: !pinned.is_empty(),
                devices: devices
                    .iter()
                    .map(|d| {
                        let standing = match sealing::standing(&pinned, d) {
                            Standing::Unpinned => KeyStanding::Unpinned,
                            Standing::Pinned => KeyStanding::Pinned,
                            Standing::Rotated => KeyStanding::Rotated,
                            Standing::NewDevice => KeyStanding::NewDevice,
                            Standing::Changed => KeyStanding::Changed,
                        };
                        device(&card.id, d, standing)
                    })
                    .collect(),
                // A pinned device no longer on the card.
                missing: pinned
                    .iter()
                    .filter(|p| !devices.iter().any(|d| d.device == p.device))
                    .map(|p| p.fingerprint.clone())
                    .collect(),
            });
        }
        Ok(PeersKeys { peers })
    }

    /// Pins every device `id`'s card lists now (the person compared the
    /// fingerprints another way); answers the keys after.
    pub async fn pin(&self, id: &str) -> Result<PeersKeys> {
        let card = self.client.agent(id).await?;
        self.sealing.learn(&card);
        let devices = self.sealing.devices(id).unwrap_or_default();
        if devices.is_empty() {
            return Err(PeerError::Invalid(format!(
                "{id} publishes no device keys (it is not a Perch, or an older one): there is nothing to pin, and its messages stay unverified"
            )));
        }
        let now = stdx::now_ms();
        let pins: Vec<Pin> = devices
            .iter()
            .map(|d| Pin {
                id: id.to_string(),
                device: d.device.clone(),
                sign: d.sign.clone(),
                fingerprint: d.fingerprint(),
                pinned_at: now,
            })
            .collect();
        self.ledger.set_pins(id, &pins)?;
        self.keys().await
    }

    pub async fn unpin(&self, id: &str) -> Result<PeersKeys> {
        self.ledger.set_pins(id, &[])?;
        self.keys().await
    }

    /// Replaces this device's keys for both ids with new ones that the old
    /// keys announce, and publishes them.
    pub async fn rotate_keys(&self) -> Result<PeersKeys> {
        for id in [self.agent_id().to_string(), self.person_id().to_string()] {
            let Some(old) = self.sealing.key(&id) else {
                continue;
            };
            let next = sealing::rotate_device_key(&self.secrets, &id, &old).await?;
            self.sealing.set_key(&id, next);
        }
        self.register().await?;
        self.keys().await
    }

    async fn on_event(
        &self,
        event: RelayEvent,
        reconnected_after: &mut Option<Duration>,
    ) -> Result<()> {
        match event {
            RelayEvent::Ready(_) | RelayEvent::Resync(_) => {
                let backlog = self.backlog().await?;
                // Searchable before its turn starts; the rest of the
                // relay's messages are caught up below. Opening keeps the
                // channel keys the backlog shares, before what they open.
                let opened = self.open_all(&backlog).await;
                let backlog: Vec<Message> = backlog
                    .into_iter()
                    .filter(|m| !sealing::is_key_share(m))
                    .collect();
                let shown = opened.iter().filter(|(m, _)| !sealing::is_key_share(m));
                if let Err(err) = self.ledger.index_messages(shown.map(|(m, _)| m)) {
                    tracing::warn!("indexing the missed messages for search: {err}");
                }
                let note = reconnected_after
                    .take()
                    .filter(|_| !backlog.is_empty())
                    .map(|gap| {
                        format!(
                            "reconnected after {}s; missed messages follow",
                            gap.as_secs().max(1)
                        )
                    });
                self.hand_over(backlog, note).await;
                self.refresh_unread().await?;
                if let Err(err) = self.catch_up_inbox_index().await {
                    tracing::warn!("indexing the Inbox for search: {err}");
                }
            }
            RelayEvent::MessageNew(message) if sealing::is_key_share(&message) => {
                self.open(&message).await;
            }
            RelayEvent::MessageNew(message) => {
                let opened = self.open(&message).await;
                if let Err(err) = self.ledger.index_messages([&opened.0]) {
                    tracing::warn!("indexing message {} for search: {err}", message.id);
                }
                let (to_agent, to_person, ours) = {
                    let link = self.lock_link();
                    let ours = [&self.identity.agent_id, &self.identity.person_id]
                        .contains(&&message.from);
                    (
                        Self::reaches(link.agent.as_ref(), &message),
                        Self::reaches(link.person.as_ref(), &message),
                        ours,
                    )
                };
                if to_agent || to_person || ours {
                    if to_person {
                        self.set_link(|link| link.unread += 1);
                    }
                    let value = self.for_person(opened);
                    // The person's own words to the agent do not notify the person.
                    let by_person = message.from == self.identity.person_id;
                    let event = EventKind::PeerMessage {
                        message: value,
                        to_person,
                        to_agent: to_agent && !by_person,
                    };
                    self.runtime.events().publish(event);
                }
                if to_agent {
                    self.hand_over(vec![message], None).await;
                }
            }
            RelayEvent::AgentRegistered(card)
            | RelayEvent::AgentUpdated(card)
            | RelayEvent::AgentStatus(card) => {
                self.learn(&card);
                let mut link = self.lock_link();
                let slot = if card.id == self.identity.agent_id {
                    &mut link.agent
                } else if card.id == self.identity.person_id {
                    &mut link.person
                } else {
                    return Ok(());
                };
                if let Some(member) = slot {
                    member.card = card;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn hand_over(&self, messages: Vec<Message>, note: Option<String>) {
        if messages.is_empty() {
            return;
        }
        // Bounded: a dispatcher that is behind slows the stream, nothing is dropped.
        let _ = self.dispatch.send(Dispatch { messages, note }).await;
    }

    /// One connection: register, subscribe, follow until the stream ends.
    /// `down_since`: when the link went down; cleared once it is back.
    async fn follow_once(&self, down_since: &mut Option<Instant>) -> Result<()> {
        self.register().await?;
        let mut events = self.client.events().await?;
        self.set_link(|link| {
            link.connected = true;
            link.last_error = None;
        });
        let mut reconnected_after = down_since.take().map(|since| since.elapsed());
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                // A new message Perch cannot read ends this connection: the
                // next one reads the backlog from the store instead. Any
                // other kind only updates what Perch shows, so it is skipped.
                Err(PeerError::UnreadableEvent { url, kind, reason }) if kind != "message.new" => {
                    tracing::warn!(
                        "skipping a {kind} event from {url} that Perch cannot read: {reason}"
                    );
                    continue;
                }
                Err(err) => return Err(err),
            };
            self.on_event(event, &mut reconnected_after).await?;
        }
        Err(PeerError::Invalid(
            "the relay closed the event stream".into(),
        ))
    }

    // ------------------------------------------------- what the person does

    pub async fn agents(&self) -> Result<Vec<Agent>> {
        self.client.agents().await
    }

    /// Messages for the Inbox, oldest first: the newest `limit` before
    /// `before_id`, optionally in one channel and/or from or to one agent.
    pub async fn inbox(
        &self,
        channel: Option<String>,
        agent: Option<String>,
        before_id: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<PeerMessage>, bool)> {
        let limit = limit.clamp(1, 500);
        let mut base: Vec<(&str, String)> = vec![("limit", (limit + 1).to_string())];
        base.extend(channel.map(|c| ("channel", c)));
        // `beforeId` makes the relay page back from the newest; without one
        // it would answer the oldest `limit` messages.
        let before_id = before_id.unwrap_or(i64::MAX);
        base.push(("beforeId", before_id.to_string()));
        let mut messages = match agent {
            Some(agent) => {
                let mut from = base.clone();
                from.push(("from", agent.clone()));
                let mut to = base;
                to.push(("to", agent));
                let mut both = self.client.messages(&from).await?;
                both.extend(self.client.messages(&to).await?);
                both.sort_by_key(|m| m.id);
                both.dedup_by_key(|m| m.id);
                both
            }
            None => self.client.messages(&base).await?,
        };
        let has_more = messages.len() > limit;
        if has_more {
            messages.drain(..messages.len() - limit);
        }
        Ok((self.shown(&messages).await, has_more))
    }

    /// Sends as the person (the Inbox, `perch send`).
    pub async fn send_as_person(&self, mut message: NewMessage) -> Result<PeerMessage> {
        message.from = self.identity.person_id.clone();
        self.send(message).await
    }

    pub async fn mark_read(&self, ids: &[i64]) -> Result<usize> {
        if ids.len() > 1000 {
            return Err(PeerError::Invalid("at most 1000 ids at a time".into()));
        }
        for id in ids {
            self.client.mark_read(*id, &self.identity.person_id).await?;
        }
        self.refresh_unread().await?;
        Ok(self.lock_link().unread)
    }

    pub async fn pairs(&self) -> Result<Vec<Pair>> {
        self.client.pairs(None).await
    }

    pub async fn tasks(&self) -> Result<Vec<Task>> {
        self.client.tasks(None, 200).await
    }

    /// The watermark key of a message.
    pub(crate) fn channel_key(message: &Message) -> String {
        message
            .channel
            .clone()
            .unwrap_or_else(|| DIRECT.to_string())
    }
}

/// Which relay a key belongs to: the embedded one (its port may change
/// between runs, its database stays), or the relay at that URL.
fn key_scope(client: &RelayClient, embedded: bool) -> String {
    if embedded {
        "embedded".into()
    } else {
        client.url().to_string()
    }
}

/// The secret-store name of the agent key of `id` on the relay `scope`.
fn key_name(scope: &str, id: &str) -> String {
    let digest = stdx::sha256_hex(&format!("{scope}\n{id}"));
    format!("relay-key-{}", &digest[..32])
}

async fn load_key(secrets: &Arc<dyn SecretStore>, scope: &str, id: &str) -> Result<Option<String>> {
    let (secrets, name) = (secrets.clone(), key_name(scope, id));
    tokio::task::spawn_blocking(move || secrets.get(&name))
        .await
        .map_err(|e| PeerError::Invalid(format!("reading the agent key of {id}: {e}")))?
        .map_err(|e| PeerError::Invalid(format!("reading the agent key of {id}: {e}")))
}

async fn save_key(secrets: &Arc<dyn SecretStore>, scope: &str, id: &str, key: &str) -> Result<()> {
    let (secrets, name, key) = (secrets.clone(), key_name(scope, id), key.to_string());
    tokio::task::spawn_blocking(move || secrets.set(&name, &key))
        .await
        .map_err(|e| PeerError::Invalid(format!("keeping the agent key of {id}: {e}")))?
        .map_err(|e| PeerError::Invalid(format!("keeping the agent key of {id}: {e}")))
}

/// Follows the relay for the life of the peer: reconnects with a growing
/// pause and remembers how long it was away (for the backfill's frame).
async fn follow(peer: Weak<Peer>) {
    let mut pause = Duration::from_millis(250);
    let mut down_since: Option<Instant> = None;
    loop {
        let Some(p) = peer.upgrade() else { return };
        let started = Instant::now();
        let err = match p.follow_once(&mut down_since).await {
            Ok(()) => continue,
            Err(err) => err,
        };
        tracing::warn!("peer link to {}: {err}", p.client.url());
        p.set_link(|link| {
            link.connected = false;
            link.last_error = Some(err.to_string());
        });
        let wake = p.wake.clone();
        drop(p);
        down_since.get_or_insert_with(Instant::now);
        if started.elapsed() > Duration::from_secs(30) {
            pause = Duration::from_millis(250);
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = wake.notified() => pause = Duration::from_millis(250),
        }
        pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
    }
}

/// Keeps both identities present. A relay that forgot them (pruned, or a
/// new database) gets them registered again. An id another process took
/// over (a newer instance: 409, "fenced"; only a holder of its key can) is
/// said loudly, reported as not connected, and registered again with the key.
async fn heartbeat(peer: Weak<Peer>) {
    let period = match peer.upgrade() {
        Some(p) => Duration::from_secs(p.config.heartbeat_secs.max(1)),
        None => return,
    };
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticker.tick().await;
        let Some(p) = peer.upgrade() else { return };
        let members = {
            let link = p.lock_link();
            [link.agent.clone(), link.person.clone()]
        };
        for member in members.into_iter().flatten() {
            match p.client.heartbeat(&member.card.id, &member.proof).await {
                Ok(card) => p.keep_listed(&card, &member.proof).await,
                Err(PeerError::Relay { status: 404, .. }) => {
                    if let Err(err) = p.register().await {
                        tracing::warn!("re-registering {}: {err}", member.card.id);
                    }
                }
                Err(PeerError::Relay { status: 409, .. }) => p.fenced(&member.card.id).await,
                Err(err) => {
                    tracing::warn!("heartbeat of {}: {err}", member.card.id);
                    p.set_link(|link| link.last_error = Some(err.to_string()));
                }
            }
        }
    }
}
