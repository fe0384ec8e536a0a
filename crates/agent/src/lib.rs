//! `perch-agent`: what Perch's agent keeps between turns, on the engine
//! core (`perch-runtime`):
//!
//! - [`memory`]: facts kept across sessions, searched by BM25 and, when an
//!   endpoint is configured, embeddings;
//! - [`planner`]: named todo lists the agent and the person share;
//! - [`wakeups`]: prompts sent to the agent on a schedule, with a run log;
//! - [`context`]: what of memory and plans goes into each turn;
//! - [`changes`]: every change the agent makes with Perch's tools, with its
//!   provenance; those a peer-driven turn asks for wait for the person.
//!
//! [`AgentState::attach`] joins them to a runtime: each feature brings its own
//! tables ([`perch_runtime::store::Schema`]) to the runtime's database, and
//! the core reaches them only through its two seams (turn context, turn
//! ended). Clients (the API, the MCP tools, the desktop shell) call
//! [`AgentState`]'s methods.
//!
//! Architecture invariant: no HTTP client or server (embeddings come
//! through the host's [`EmbeddingsClient`]), no peer network (the peer link
//! only tells the agent which session is its peer session), no `impl` on
//! the core's `Store`.

pub mod changes;
mod context;
pub mod memory;
pub mod planner;
pub mod wakeups;

pub use memory::embeddings::{EmbeddingsClient, EmbeddingsRequest};

use changes::{ChangeApplier, ChangeStore, PeerSender};
use memory::store::MemoryStore;
use perch_runtime::{Result, Runtime};
use planner::PlanStore;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use stdx::MutexExt;
use wakeups::WakeupStore;

pub struct AgentOptions {
    /// The embeddings endpoint's client; `None` keeps memory search full text.
    pub embeddings: Option<Arc<dyn EmbeddingsClient>>,
}

pub struct AgentState {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) memory_db: MemoryStore,
    pub(crate) plan_db: PlanStore,
    pub(crate) wakeup_db: WakeupStore,
    pub(crate) change_db: ChangeStore,
    /// Runs accepted changes (the MCP server's tools).
    pub(crate) change_applier: Mutex<Option<Arc<dyn ChangeApplier>>>,
    /// Changes being applied now: accepted once, run once.
    pub(crate) accepting: Mutex<HashSet<i64>>,
    /// Per session: who wrote the peer messages its running turn answers.
    pub(crate) turn_senders: Mutex<HashMap<String, Vec<PeerSender>>>,
    pub(crate) embeddings: Option<Arc<dyn EmbeddingsClient>>,
    /// Wakes the embeddings backfill (`memory/embeddings.rs`).
    pub(crate) embed_wake: Arc<tokio::sync::Notify>,
    /// Wakes the wakeup scheduler when wakeups change.
    pub(crate) scheduler_wake: Arc<tokio::sync::Notify>,
    pub(crate) scheduler_stop: tokio::sync::watch::Sender<bool>,
    /// The session peer messages go to, once the peer network chose it.
    peer_session: Mutex<Option<String>>,
    /// For tasks the agent spawns about itself (wakeup turns).
    pub(crate) me: Weak<AgentState>,
}

impl AgentState {
    /// Brings the features' tables up to date in the runtime's database and
    /// joins them to its seams. Call it before [`Runtime::launch_codex`], so
    /// that the first turn already has its context.
    pub fn attach(runtime: Arc<Runtime>, options: AgentOptions) -> Result<Arc<Self>> {
        let db = runtime.store().database().clone();
        let memory_db = MemoryStore::new(db.clone())?;
        let plan_db = PlanStore::new(db.clone())?;
        let wakeup_db = WakeupStore::new(db.clone())?;
        let change_db = ChangeStore::new(db)?;
        let agent = Arc::new_cyclic(|me| Self {
            runtime: runtime.clone(),
            memory_db,
            plan_db,
            wakeup_db,
            change_db,
            change_applier: Mutex::new(None),
            accepting: Mutex::new(HashSet::new()),
            turn_senders: Mutex::new(HashMap::new()),
            embeddings: options.embeddings,
            embed_wake: Arc::new(tokio::sync::Notify::new()),
            scheduler_wake: Arc::new(tokio::sync::Notify::new()),
            scheduler_stop: tokio::sync::watch::channel(false).0,
            peer_session: Mutex::new(None),
            me: me.clone(),
        });
        let me = Arc::downgrade(&agent);
        // The order they hear a turn end in: the run log first.
        runtime.observe_turns(Arc::new(wakeups::RunsFollowTurns(me.clone())));
        runtime.observe_turns(Arc::new(memory::AutoArchive(me.clone())));
        runtime.provide_context(Arc::new(context::MemoryAndPlans(me.clone())));
        memory::embeddings::spawn_backfill(me, agent.embed_wake.clone(), runtime.watch_config());
        agent.embed_wake.notify_one();
        Ok(agent)
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The session peer messages go to (set by the peer network): memories
    /// written there are marked as from peers, and peer wakeups go there.
    pub fn peer_session(&self) -> Option<String> {
        self.peer_session.lock_unpoisoned().clone()
    }

    /// Sets the peer session, and confines it: what peers write must not
    /// get commands run or files written without the person's approval,
    /// whatever the person's own policy (`Runtime::confine_session`).
    pub fn set_peer_session(&self, id: Option<String>) -> perch_runtime::Result<()> {
        if let Some(id) = &id {
            self.runtime.confine_session(id)?;
        }
        *self.peer_session.lock_unpoisoned() = id;
        Ok(())
    }

    /// Stops the wakeup scheduler (Perch is stopping).
    pub fn stop(&self) {
        self.scheduler_stop.send_replace(true);
    }
}
