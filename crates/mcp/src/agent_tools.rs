//! The agent's own state: memory, planner and wakeups, the same records the
//! person sees and edits on the Memory, Planner and Wakeups pages.

use super::{json_text, PerchTools, ToolResult};
use perch_agent::memory::{MemoryPatch, MemoryQuery, NewMemory};
use perch_agent::planner::{NewPlan, NewPlanItem, Plan, PlanChange, PlanItemPatch};
use perch_agent::wakeups::{CreatedBy, MillisOrText, Misfire, NewSchedule, NewWakeup, Target};
use perch_agent::AgentState;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;

#[derive(Deserialize, schemars::JsonSchema)]
struct MemoryAdd {
    /// One fact, preference or decision worth keeping, in a sentence or two.
    text: String,
    /// Short lowercase tags (letters, digits, `-_:./`).
    #[serde(default)]
    tags: Vec<String>,
    /// 0 to 1 (default 0.5): how much it matters.
    importance: Option<f64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MemorySearch {
    /// Words to look for (full-text, stemmed; best matches first).
    query: String,
    /// Only memories with this tag.
    tag: Option<String>,
    /// At most this many (default 10, at most 50).
    limit: Option<usize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MemoryEdit {
    id: i64,
    text: Option<String>,
    tags: Option<Vec<String>>,
    importance: Option<f64>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct MemoryId {
    id: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct PlanCreate {
    /// A short unique name, like "Release 1.2".
    name: String,
    /// The first items, in order.
    #[serde(default)]
    items: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct PlanAdd {
    /// The plan's name.
    plan: String,
    /// Items to append, in order.
    items: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct PlanItemRef {
    /// The plan's name.
    plan: String,
    /// The item's id (shown in planner_list and in your context).
    item_id: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct PlanClear {
    /// The plan's name.
    plan: String,
    /// Remove only the checked items (default: all items).
    #[serde(default)]
    done_only: bool,
    /// Delete the plan itself.
    #[serde(default)]
    delete: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct PlanList {
    /// One plan's name; all plans when absent.
    plan: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Schedule {
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

#[derive(Deserialize, schemars::JsonSchema)]
struct WakeupId {
    id: i64,
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

impl PerchTools {
    fn plan_change(&self, plan: &str, change: PlanChange) -> Result<Plan, String> {
        let rt = &self.agent;
        let plan = rt.plan_named(plan).map_err(text)?;
        rt.change_plan(plan.id, change).map_err(text)
    }

    fn check(&self, r: PlanItemRef, done: bool) -> ToolResult {
        let patch = PlanItemPatch {
            done: Some(done),
            ..Default::default()
        };
        json_text(self.plan_change(&r.plan, PlanChange::Edit(r.item_id, patch))?)
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

    fn target(&self, rt: &AgentState) -> Target {
        match self.target.as_deref().map(str::trim) {
            Some("new") => Target::New,
            Some("peer") => Target::Peer,
            None | Some("") | Some("here") => match rt.agent_origin().source_ref {
                Some(session_id) => Target::Session { session_id },
                None => Target::New,
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
    async fn memory_add(&self, Parameters(m): Parameters<MemoryAdd>) -> ToolResult {
        let rt = &self.agent;
        let origin = rt.agent_origin();
        json_text(
            rt.add_memory(
                NewMemory {
                    text: m.text,
                    tags: m.tags,
                    importance: m.importance,
                },
                origin,
            )
            .map_err(text)?,
        )
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
    async fn memory_edit(&self, Parameters(e): Parameters<MemoryEdit>) -> ToolResult {
        let patch = MemoryPatch {
            text: e.text,
            tags: e.tags,
            importance: e.importance,
        };
        json_text(self.agent.update_memory(e.id, patch).map_err(text)?)
    }

    #[tool(description = "Forget a memory that is wrong or no longer true.")]
    async fn memory_delete(&self, Parameters(MemoryId { id }): Parameters<MemoryId>) -> ToolResult {
        let deleted = self.agent.delete_memories(&[id]).map_err(text)?;
        if deleted.is_empty() {
            return Err(format!("no memory {id}"));
        }
        Ok(format!("memory {id} deleted"))
    }

    #[tool(
        description = "Start a named todo list. Its open items are shown to you before each turn."
    )]
    async fn planner_create(&self, Parameters(p): Parameters<PlanCreate>) -> ToolResult {
        json_text(
            self.agent
                .create_plan(NewPlan {
                    name: p.name,
                    items: p.items,
                })
                .map_err(text)?,
        )
    }

    #[tool(description = "Add items to the end of a todo list.")]
    async fn planner_add(&self, Parameters(p): Parameters<PlanAdd>) -> ToolResult {
        let items = p
            .items
            .into_iter()
            .map(|text| NewPlanItem {
                text,
                position: None,
            })
            .collect();
        json_text(self.plan_change(&p.plan, PlanChange::Add(items))?)
    }

    #[tool(description = "Check an item off a todo list (it is done).")]
    async fn planner_check(&self, Parameters(r): Parameters<PlanItemRef>) -> ToolResult {
        self.check(r, true)
    }

    #[tool(description = "Uncheck an item of a todo list (it is not done after all).")]
    async fn planner_uncheck(&self, Parameters(r): Parameters<PlanItemRef>) -> ToolResult {
        self.check(r, false)
    }

    #[tool(description = "Empty a todo list (or only its checked items), or delete it.")]
    async fn planner_clear(&self, Parameters(c): Parameters<PlanClear>) -> ToolResult {
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
    async fn scheduler_schedule(&self, Parameters(s): Parameters<Schedule>) -> ToolResult {
        let rt = &self.agent;
        let new = NewWakeup {
            schedule: s.schedule()?,
            target: Some(s.target(rt)),
            misfire: s.misfire()?,
            prompt: s.prompt,
            label: s.label,
            grace_ms: None,
            notify: None,
        };
        json_text(rt.create_wakeup(new, CreatedBy::Agent).map_err(text)?)
    }

    #[tool(description = "Cancel a wakeup by its id.")]
    async fn scheduler_cancel(
        &self,
        Parameters(WakeupId { id }): Parameters<WakeupId>,
    ) -> ToolResult {
        self.agent.delete_wakeup(id).map_err(text)?;
        Ok(format!("wakeup {id} cancelled"))
    }

    #[tool(description = "Every wakeup with its schedule, next fire time and last run.")]
    async fn scheduler_list(&self) -> ToolResult {
        json_text(self.agent.wakeups().map_err(text)?)
    }
}
