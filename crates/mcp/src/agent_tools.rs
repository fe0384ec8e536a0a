//! The agent's own state: memory, planner and wakeups, the same records the
//! person sees and edits on the Memory, Planner and Wakeups pages.

use super::gate::{quoted, recorded, Caller};
use super::{json_text, PerchTools, ToolResult};
use perch_agent::changes::ProvenanceKind;
use perch_agent::memory::MemorySource;
use perch_agent::memory::Origin;
use perch_agent::memory::{MemoryPatch, MemoryQuery, NewMemory};
use perch_agent::planner::{NewPlan, NewPlanItem, Plan, PlanChange, PlanItemPatch};
use perch_agent::wakeups::{CreatedBy, MillisOrText, Misfire, NewSchedule, NewWakeup, Target};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_router};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct MemoryAdd {
    /// One fact, preference or decision worth keeping, in a sentence or two.
    text: String,
    /// Short lowercase tags (letters, digits, `-_:./`).
    #[serde(default)]
    tags: Vec<String>,
    /// 0 to 1 (default 0.5): how much it matters.
    importance: Option<f64>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct MemorySearch {
    /// Words to look for (full-text, stemmed; best matches first).
    query: String,
    /// Only memories with this tag.
    tag: Option<String>,
    /// At most this many (default 10, at most 50).
    limit: Option<usize>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct MemoryEdit {
    id: i64,
    text: Option<String>,
    tags: Option<Vec<String>>,
    importance: Option<f64>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct MemoryId {
    id: i64,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct PlanCreate {
    /// A short unique name, like "Release 1.2".
    name: String,
    /// The first items, in order.
    #[serde(default)]
    items: Vec<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct PlanAdd {
    /// The plan's name.
    plan: String,
    /// Items to append, in order.
    items: Vec<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlanItemRef {
    /// The plan's name.
    plan: String,
    /// The item's id (shown in planner_list and in your context).
    item_id: i64,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct PlanClear {
    /// The plan's name.
    plan: String,
    /// Remove only the checked items (default: all items).
    #[serde(default)]
    done_only: bool,
    /// Delete the plan itself.
    #[serde(default)]
    delete: bool,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct PlanList {
    /// One plan's name; all plans when absent.
    plan: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct Schedule {
    /// What you will be told when it fires (write it for your future self).
    prompt: String,
    /// A short name for lists.
    label: Option<String>,
    /// Once, at an RFC 3339 time (`2026-11-22T09:00:00+01:00`).
    at: Option<String>,
    /// Once, after a delay: `90s`, `10m`, `2h`, `1d`.
    #[serde(rename = "in")]
    delay: Option<String>,
    /// Repeatedly, every `15m`, `1h`, `1d` (at least 10s), from now.
    every: Option<String>,
    /// Repeatedly, on a cron expression (`0 9 * * 1-5`).
    cron: Option<String>,
    /// The cron expression's IANA time zone (default: the machine's).
    tz: Option<String>,
    /// `here` (default: the session you are in), `new` (a new session each time), `peer` (the peer session), or a session id.
    target: Option<String>,
    /// When it is found late (Perch stopped, machine asleep): `once` (default), `skip` or `ask`.
    misfire: Option<String>,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema)]
pub(super) struct WakeupId {
    id: i64,
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// How a memory the caller adds records where it came from.
fn memory_origin(caller: &Caller) -> Origin {
    let provenance = caller.provenance();
    let source = match provenance.kind {
        ProvenanceKind::Session => MemorySource::Session,
        ProvenanceKind::PeerTurn | ProvenanceKind::Untied => MemorySource::Peer,
    };
    Origin {
        source,
        source_ref: provenance.session_id.clone(),
        senders: provenance.senders.iter().map(|s| s.id.clone()).collect(),
    }
}

impl PerchTools {
    fn plan_change(&self, plan: &str, change: PlanChange) -> Result<Plan, String> {
        let rt = &self.agent;
        let plan = rt.plan_named(plan).map_err(text)?;
        rt.change_plan(plan.id, change).map_err(text)
    }

    async fn check(&self, r: PlanItemRef, done: bool) -> ToolResult {
        let (caller, arguments) = (self.caller(), recorded(&r)?);
        let (tool, verb) = if done {
            ("planner_check", "Check")
        } else {
            ("planner_uncheck", "Uncheck")
        };
        let summary = format!(
            "{verb} item {} of the plan {}",
            r.item_id,
            quoted(&r.plan, 80)
        );
        let run = || async move {
            let patch = PlanItemPatch {
                done: Some(done),
                ..Default::default()
            };
            json_text(self.plan_change(&r.plan, PlanChange::Edit(r.item_id, patch))?)
        };
        self.gated(caller, tool, arguments, summary, run).await
    }
}

impl Schedule {
    fn schedule(&self) -> Result<NewSchedule, String> {
        let given = [
            self.at.is_some(),
            self.delay.is_some(),
            self.every.is_some(),
            self.cron.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of at, in, every or cron".into());
        }
        Ok(if let Some(at) = &self.at {
            NewSchedule::At {
                at: MillisOrText::Text(at.clone()),
            }
        } else if let Some(delay) = &self.delay {
            NewSchedule::In {
                delay: delay.clone(),
            }
        } else if let Some(every) = &self.every {
            NewSchedule::Every {
                every: MillisOrText::Text(every.clone()),
                anchor: None,
            }
        } else {
            NewSchedule::Cron {
                expr: self.cron.clone().unwrap_or_default(),
                tz: self.tz.clone(),
            }
        })
    }

    fn misfire(&self) -> Result<Option<Misfire>, String> {
        match self.misfire.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some("once") => Ok(Some(Misfire::Once)),
            Some("skip") => Ok(Some(Misfire::Skip)),
            Some("ask") => Ok(Some(Misfire::Ask)),
            Some(other) => Err(format!("misfire {other:?} is not once, skip or ask")),
        }
    }

    /// `here` is the session of the turn that asks (`None`: a new one).
    fn target(&self, here: Option<&str>) -> Target {
        match self.target.as_deref().map(str::trim) {
            Some("new") => Target::New { cwd: None },
            Some("peer") => Target::Peer,
            None | Some("") | Some("here") => match here {
                Some(session_id) => Target::Session {
                    session_id: session_id.to_string(),
                },
                None => Target::New { cwd: None },
            },
            Some(id) => Target::Session {
                session_id: id.to_string(),
            },
        }
    }
}

#[tool_router(router = agent_router, vis = "pub(super)")]
impl PerchTools {
    #[tool(
        description = "Remember something across sessions: a fact, preference or decision. Relevant memories are shown to you before each turn."
    )]
    pub(super) async fn memory_add(&self, Parameters(m): Parameters<MemoryAdd>) -> ToolResult {
        let caller = self.caller();
        let (arguments, summary) = (recorded(&m)?, format!("Remember {}", quoted(&m.text, 120)));
        let origin = memory_origin(&caller);
        let run = || async move {
            let new = NewMemory {
                text: m.text,
                tags: m.tags,
                importance: m.importance,
            };
            json_text(self.agent.add_memory(new, origin).map_err(text)?)
        };
        self.gated(caller, "memory_add", arguments, summary, run)
            .await
    }

    #[tool(
        description = "Search your memories (full text, best first). Returns ids for memory_edit and memory_delete."
    )]
    async fn memory_search(&self, Parameters(q): Parameters<MemorySearch>) -> ToolResult {
        let query = MemoryQuery {
            q: Some(q.query),
            tag: q.tag,
            limit: q.limit.unwrap_or(10).clamp(1, 50),
            offset: 0,
        };
        json_text(
            self.agent
                .memories(query, true)
                .await
                .map_err(text)?
                .memories,
        )
    }

    #[tool(description = "Correct a memory: its text, tags or importance.")]
    pub(super) async fn memory_edit(&self, Parameters(e): Parameters<MemoryEdit>) -> ToolResult {
        let summary = match &e.text {
            Some(new) => format!("Change memory #{} to {}", e.id, quoted(new, 120)),
            None => format!("Change the tags or importance of memory #{}", e.id),
        };
        let (caller, arguments) = (self.caller(), recorded(&e)?);
        let run = || async move {
            let patch = MemoryPatch {
                text: e.text,
                tags: e.tags,
                importance: e.importance,
            };
            json_text(self.agent.update_memory(e.id, patch).map_err(text)?)
        };
        self.gated(caller, "memory_edit", arguments, summary, run)
            .await
    }

    #[tool(description = "Forget a memory that is wrong or no longer true.")]
    pub(super) async fn memory_delete(&self, Parameters(m): Parameters<MemoryId>) -> ToolResult {
        let (caller, arguments, id) = (self.caller(), recorded(&m)?, m.id);
        let run = || async move {
            let deleted = self.agent.delete_memories(&[id]).map_err(text)?;
            if deleted.is_empty() {
                return Err(format!("no memory {id}"));
            }
            Ok(format!("memory {id} deleted"))
        };
        let summary = format!("Forget memory #{id}");
        self.gated(caller, "memory_delete", arguments, summary, run)
            .await
    }

    #[tool(
        description = "Start a named todo list. Its open items are shown to you before each turn."
    )]
    pub(super) async fn planner_create(&self, Parameters(p): Parameters<PlanCreate>) -> ToolResult {
        let (caller, arguments) = (self.caller(), recorded(&p)?);
        let summary = format!(
            "Start the plan {} with {} items",
            quoted(&p.name, 80),
            p.items.len()
        );
        let run = || async move {
            let new = NewPlan {
                name: p.name,
                items: p.items,
            };
            json_text(self.agent.create_plan(new).map_err(text)?)
        };
        self.gated(caller, "planner_create", arguments, summary, run)
            .await
    }

    #[tool(description = "Add items to the end of a todo list.")]
    pub(super) async fn planner_add(&self, Parameters(p): Parameters<PlanAdd>) -> ToolResult {
        let (caller, arguments) = (self.caller(), recorded(&p)?);
        let summary = match p.items.as_slice() {
            [one] => format!(
                "Add {} to the plan {}",
                quoted(one, 100),
                quoted(&p.plan, 80)
            ),
            items => format!(
                "Add {} items to the plan {}",
                items.len(),
                quoted(&p.plan, 80)
            ),
        };
        let run = || async move {
            let items = p
                .items
                .into_iter()
                .map(|text| NewPlanItem {
                    text,
                    position: None,
                })
                .collect();
            json_text(self.plan_change(&p.plan, PlanChange::Add(items))?)
        };
        self.gated(caller, "planner_add", arguments, summary, run)
            .await
    }

    #[tool(description = "Check an item off a todo list (it is done).")]
    pub(super) async fn planner_check(&self, Parameters(r): Parameters<PlanItemRef>) -> ToolResult {
        self.check(r, true).await
    }

    #[tool(description = "Uncheck an item of a todo list (it is not done after all).")]
    pub(super) async fn planner_uncheck(
        &self,
        Parameters(r): Parameters<PlanItemRef>,
    ) -> ToolResult {
        self.check(r, false).await
    }

    #[tool(description = "Empty a todo list (or only its checked items), or delete it.")]
    pub(super) async fn planner_clear(&self, Parameters(c): Parameters<PlanClear>) -> ToolResult {
        let (caller, arguments) = (self.caller(), recorded(&c)?);
        let what = if c.delete {
            "Delete"
        } else if c.done_only {
            "Remove the checked items of"
        } else {
            "Empty"
        };
        let summary = format!("{what} the plan {}", quoted(&c.plan, 80));
        let run = || async move {
            if c.delete {
                let rt = &self.agent;
                let plan = rt.plan_named(&c.plan).map_err(text)?;
                rt.delete_plan(plan.id).map_err(text)?;
                return Ok(format!("plan {:?} deleted", plan.name));
            }
            json_text(self.plan_change(
                &c.plan,
                PlanChange::Clear {
                    done_only: c.done_only,
                },
            )?)
        };
        self.gated(caller, "planner_clear", arguments, summary, run)
            .await
    }

    #[tool(
        description = "Your todo lists with their items (ids, text, done), or one list by name."
    )]
    async fn planner_list(
        &self,
        Parameters(PlanList { plan }): Parameters<PlanList>,
    ) -> ToolResult {
        let rt = &self.agent;
        match plan {
            Some(name) => json_text(rt.plan_named(&name).map_err(text)?),
            None => json_text(rt.plans().map_err(text)?),
        }
    }

    #[tool(
        description = "Book a wakeup: a turn Perch starts later with your prompt, once (at / in) or repeatedly (every / cron). \
                          It fires even after a restart; its runs are logged for the person."
    )]
    pub(super) async fn scheduler_schedule(
        &self,
        Parameters(s): Parameters<Schedule>,
    ) -> ToolResult {
        let caller = self.caller();
        let new = NewWakeup {
            schedule: s.schedule()?,
            target: Some(s.target(caller.provenance().session_id.as_deref())),
            misfire: s.misfire()?,
            prompt: s.prompt.clone(),
            label: s.label.clone(),
            grace_ms: None,
            notify: None,
        };
        let created_by = match caller.provenance().kind {
            ProvenanceKind::Session => CreatedBy::Agent,
            ProvenanceKind::PeerTurn | ProvenanceKind::Untied => CreatedBy::Peer,
        };
        let summary = format!("Book a wakeup: {}", quoted(&s.prompt, 120));
        let arguments = recorded(&s)?;
        let run =
            || async move { json_text(self.agent.create_wakeup(new, created_by).map_err(text)?) };
        self.gated(caller, "scheduler_schedule", arguments, summary, run)
            .await
    }

    #[tool(description = "Cancel a wakeup by its id.")]
    pub(super) async fn scheduler_cancel(&self, Parameters(w): Parameters<WakeupId>) -> ToolResult {
        let (caller, arguments, id) = (self.caller(), recorded(&w)?, w.id);
        let run = || async move {
            self.agent.delete_wakeup(id).map_err(text)?;
            Ok(format!("wakeup {id} cancelled"))
        };
        let summary = format!("Cancel wakeup #{id}");
        self.gated(caller, "scheduler_cancel", arguments, summary, run)
            .await
    }

    #[tool(description = "Every wakeup with its schedule, next fire time and last run.")]
    async fn scheduler_list(&self) -> ToolResult {
        json_text(self.agent.wakeups().map_err(text)?)
    }
}
