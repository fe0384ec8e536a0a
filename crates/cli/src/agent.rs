//! `perch memory`, `perch plan`, `perch wakeup`: the agent's durable state,
//! through the running Perch's API (the records the agent's tools change).

use crate::client::{decode, no_body, print_json, Client};
use crate::peer::urlencode;
use crate::CliError;
use clap::{Subcommand, ValueEnum};
use perch_protocol::memory::{
    BulkDelete, Deleted, ImportReport, Memory, MemoryFormat, MemoryPatch, NewMemory,
};
use perch_protocol::plans::{NewPlan, NewPlanItem, Plan, PlanClear, PlanItemPatch};
use perch_protocol::wakeups::{
    MillisOrText, Misfire, NewSchedule, NewWakeup, Schedule, Target, Wakeup, WakeupPatch, WakeupRun,
};
use perch_protocol::List;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum MemoryCommand {
    /// Remember something (as the person).
    Add {
        text: String,
        /// A tag (repeat for several).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// 0 to 1 (default 0.5).
        #[arg(long, value_parser = importance)]
        importance: Option<f64>,
    },
    /// Ranked full-text search.
    Search {
        query: String,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The newest memories.
    List {
        #[arg(long)]
        tag: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Change a memory's text, tags or importance.
    Edit {
        id: i64,
        #[arg(long)]
        text: Option<String>,
        /// Replaces the tags (repeat for several).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Removes every tag.
        #[arg(long, conflicts_with = "tags")]
        no_tags: bool,
        /// 0 to 1.
        #[arg(long, value_parser = importance)]
        importance: Option<f64>,
    },
    /// Delete memories.
    Rm {
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Print every memory as JSONL or Markdown (or write it to a file).
    Export {
        #[arg(long, value_enum, default_value_t = FileFormat::Jsonl)]
        format: FileFormat,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Add the memories of a JSONL or Markdown file.
    Import {
        file: PathBuf,
        /// Default: from the extension (.md = markdown, else jsonl).
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FileFormat {
    Jsonl,
    Markdown,
}

impl FileFormat {
    /// The `?format=` word.
    fn wire(self) -> String {
        crate::client::wire(&MemoryFormat::from(self))
    }
}

impl From<FileFormat> for MemoryFormat {
    fn from(format: FileFormat) -> Self {
        match format {
            FileFormat::Jsonl => Self::Jsonl,
            FileFormat::Markdown => Self::Markdown,
        }
    }
}

/// `--misfire`.
#[derive(Clone, Copy, ValueEnum)]
pub enum MisfireArg {
    Once,
    Skip,
    Ask,
}

impl From<MisfireArg> for Misfire {
    fn from(arg: MisfireArg) -> Self {
        match arg {
            MisfireArg::Once => Self::Once,
            MisfireArg::Skip => Self::Skip,
            MisfireArg::Ask => Self::Ask,
        }
    }
}

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Every todo list with its items.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One list.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a list, with its first items.
    Create {
        name: String,
        items: Vec<String>,
    },
    /// Append items.
    Add {
        name: String,
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Check an item (by the id `plan show` prints).
    Check {
        name: String,
        item: i64,
    },
    Uncheck {
        name: String,
        item: i64,
    },
    /// Remove one item, or (without ITEM) delete the list.
    Rm {
        name: String,
        item: Option<i64>,
    },
    /// Remove all items, or only the checked ones.
    Clear {
        name: String,
        #[arg(long)]
        done: bool,
    },
}

#[derive(clap::Args)]
pub struct WakeupAdd {
    /// What the agent is told when it fires.
    prompt: String,
    /// Once, at an RFC 3339 time (2026-11-22T09:00:00+01:00).
    #[arg(long, group = "when")]
    at: Option<String>,
    /// Once, after 90s, 10m, 2h, 1d...
    #[arg(long = "in", group = "when")]
    delay: Option<String>,
    /// Every 15m, 1h, 1d..., from now.
    #[arg(long, group = "when")]
    every: Option<String>,
    /// A cron expression (`0 9 * * 1-5`).
    #[arg(long, group = "when")]
    cron: Option<String>,
    /// The cron expression's IANA zone (default: the machine's).
    #[arg(long, requires = "cron")]
    tz: Option<String>,
    #[arg(long)]
    label: Option<String>,
    /// Run in this session (default: a new session each time).
    #[arg(long, conflicts_with = "peer")]
    session: Option<String>,
    /// Run in the peer session.
    #[arg(long)]
    peer: bool,
    /// With a new session each time: start it in this project folder
    /// (default: the default folder).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["session", "peer"])]
    cwd: Option<PathBuf>,
    /// When found late: once (default), skip or ask.
    #[arg(long, value_enum)]
    misfire: Option<MisfireArg>,
    /// How late still counts as on time (default 1h), like 10m.
    #[arg(long)]
    grace: Option<String>,
    /// No notification when its turn finishes.
    #[arg(long)]
    no_notify: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum WakeupCommand {
    /// Schedule a prompt: once (--at, --in) or repeatedly (--every, --cron).
    Add(Box<WakeupAdd>),
    /// Every wakeup with its next fire time.
    List {
        #[arg(long)]
        json: bool,
    },
    Rm {
        id: i64,
    },
    Pause {
        id: i64,
    },
    Resume {
        id: i64,
    },
    /// Run it now, outside its schedule.
    Run {
        id: i64,
    },
    /// The run log, newest first (of one wakeup, or all).
    Runs {
        id: Option<i64>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

/// `--importance`: a number from 0 to 1. Refused here, because JSON has no
/// NaN or infinity: sent, they would arrive as `null`, the default.
fn importance(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a number from 0 to 1")),
    }
}

/// `2026-11-22 10:00:00 (in 5m)` in local time.
pub(crate) fn when(ms: Option<i64>) -> String {
    use chrono::TimeZone;
    let Some(ms) = ms else { return "-".into() };
    let local = chrono::Local
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    let delta = (ms - stdx::now_ms()) / 1000;
    let relative = match delta {
        d if d >= 0 => format!(
            "in {}",
            perch_agent::wakeups::schedule::human_duration(d.max(1) * 1000)
        ),
        d => format!(
            "{} ago",
            perch_agent::wakeups::schedule::human_duration(-d * 1000)
        ),
    };
    format!("{} ({relative})", local.unwrap_or_else(|| ms.to_string()))
}

fn print_memories(page: &List<Memory>) {
    if page.data.is_empty() {
        println!("no memories");
    }
    for m in &page.data {
        let tags = if m.tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.tags.join(", "))
        };
        println!("#{}{tags} {}", m.id, m.text.replace('\n', " ⏎ "));
    }
}

async fn list_memories(
    client: &Client,
    query: String,
    tag: Option<String>,
    limit: usize,
    json: bool,
) -> Result<(), CliError> {
    let mut params = vec![format!("limit={limit}")];
    params.extend((!query.is_empty()).then(|| format!("q={}", urlencode(&query))));
    params.extend(tag.map(|t| format!("tag={}", urlencode(&t))));
    let path = format!("/api/memories?{}", params.join("&"));
    if json {
        print_json(&client.get::<Value>(&path).await?);
    } else {
        print_memories(&client.get(&path).await?);
    }
    Ok(())
}

pub async fn memory(client: &Client, command: MemoryCommand) -> Result<(), CliError> {
    match command {
        MemoryCommand::Add {
            text,
            tags,
            importance,
        } => {
            let new = NewMemory {
                text,
                tags,
                importance,
            };
            let memory: Memory = client.post("/api/memories", &new).await?;
            println!("remembered #{}", memory.id);
        }
        MemoryCommand::Search {
            query,
            tag,
            limit,
            json,
        } => list_memories(client, query, tag, limit, json).await?,
        MemoryCommand::List { tag, limit, json } => {
            list_memories(client, String::new(), tag, limit, json).await?
        }
        MemoryCommand::Edit {
            id,
            text,
            tags,
            no_tags,
            importance,
        } => {
            let patch = MemoryPatch {
                text,
                tags: (!tags.is_empty() || no_tags).then_some(tags),
                importance,
            };
            let memory: Memory = client.patch(&format!("/api/memories/{id}"), &patch).await?;
            println!("updated #{}", memory.id);
        }
        MemoryCommand::Rm { ids } => {
            let deleted: Deleted = client
                .post("/api/memories/delete", &BulkDelete { ids: ids.clone() })
                .await?;
            println!("deleted {} of {}", deleted.deleted, ids.len());
        }
        MemoryCommand::Export { format, output } => {
            let text = client
                .get_text(&format!("/api/memories/export?format={}", format.wire()))
                .await?;
            match output {
                Some(path) => std::fs::write(&path, text)
                    .map_err(|e| CliError::io(format!("writing {}", path.display()), e))?,
                None => print!("{text}"),
            }
        }
        MemoryCommand::Import { file, format } => {
            let format = format.unwrap_or(
                if file
                    .extension()
                    .is_some_and(|e| e == "md" || e == "markdown")
                {
                    FileFormat::Markdown
                } else {
                    FileFormat::Jsonl
                },
            );
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::io(format!("reading {}", file.display()), e))?;
            let report: ImportReport = client
                .post_text(
                    &format!("/api/memories/import?format={}", format.wire()),
                    text,
                )
                .await?;
            println!("imported {}, skipped {}", report.imported, report.skipped);
            for error in &report.errors {
                eprintln!("  {error}");
            }
        }
    }
    Ok(())
}

/// A plan's id by its name (any case).
async fn plan_id(client: &Client, name: &str) -> Result<i64, CliError> {
    let plans: List<Plan> = client.get("/api/plans").await?;
    plans
        .data
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
        .map(|p| p.id)
        .ok_or_else(|| CliError::Usage(format!("no plan named {name:?} (see `perch plan list`)")))
}

fn print_plan(plan: &Plan) {
    println!("{}", plan.name);
    for item in &plan.items {
        let mark = if item.done { "x" } else { " " };
        println!("  [{mark}] {} (item {})", item.text, item.id);
    }
}

pub async fn plan(client: &Client, command: PlanCommand) -> Result<(), CliError> {
    let shown: Plan = match command {
        PlanCommand::List { json } => {
            if json {
                print_json(&client.get::<Value>("/api/plans").await?);
                return Ok(());
            }
            let plans: List<Plan> = client.get("/api/plans").await?;
            if plans.data.is_empty() {
                println!("no plans");
            }
            plans.data.iter().for_each(print_plan);
            return Ok(());
        }
        PlanCommand::Show { name, json } => {
            let path = format!("/api/plans/{}", plan_id(client, &name).await?);
            if json {
                print_json(&client.get::<Value>(&path).await?);
                return Ok(());
            }
            client.get(&path).await?
        }
        PlanCommand::Create { name, items } => {
            client.post("/api/plans", &NewPlan { name, items }).await?
        }
        PlanCommand::Add { name, items } => {
            let id = plan_id(client, &name).await?;
            let mut plan = None;
            for text in items {
                let item = NewPlanItem {
                    text,
                    position: None,
                };
                plan = Some(
                    client
                        .post(&format!("/api/plans/{id}/items"), &item)
                        .await?,
                );
            }
            plan.ok_or_else(|| CliError::Usage("say which items to add".into()))?
        }
        PlanCommand::Check { name, item } => check(client, &name, item, true).await?,
        PlanCommand::Uncheck { name, item } => check(client, &name, item, false).await?,
        PlanCommand::Rm {
            name,
            item: Some(item),
        } => {
            client
                .delete(&format!(
                    "/api/plans/{}/items/{item}",
                    plan_id(client, &name).await?
                ))
                .await?
        }
        PlanCommand::Rm { name, item: None } => {
            client
                .delete::<()>(&format!("/api/plans/{}", plan_id(client, &name).await?))
                .await?;
            println!("deleted plan {name:?}");
            return Ok(());
        }
        PlanCommand::Clear { name, done } => {
            client
                .post(
                    &format!("/api/plans/{}/clear", plan_id(client, &name).await?),
                    &PlanClear { done_only: done },
                )
                .await?
        }
    };
    print_plan(&shown);
    Ok(())
}

async fn check(client: &Client, name: &str, item: i64, done: bool) -> Result<Plan, CliError> {
    let id = plan_id(client, name).await?;
    let patch = PlanItemPatch {
        done: Some(done),
        ..PlanItemPatch::default()
    };
    client
        .patch(&format!("/api/plans/{id}/items/{item}"), &patch)
        .await
}

fn print_wakeup(w: &Wakeup) {
    let state = if w.enabled { "" } else { " (paused)" };
    let described = match &w.schedule {
        Schedule::At { at } => format!("once at {}", when(Some(*at))),
        Schedule::Every { every_ms, .. } => format!(
            "every {}",
            perch_agent::wakeups::schedule::human_duration(*every_ms)
        ),
        Schedule::Cron { expr, tz } => format!("cron {expr} ({tz})"),
    };
    println!(
        "#{} {}{state}: {described}; next {}",
        w.id,
        w.label,
        when(w.next_fire_at)
    );
}

pub async fn wakeup(client: &Client, command: WakeupCommand) -> Result<(), CliError> {
    match command {
        WakeupCommand::Add(add) => {
            let WakeupAdd {
                prompt,
                at,
                delay,
                every,
                cron,
                tz,
                label,
                session,
                peer,
                cwd,
                misfire,
                grace,
                no_notify,
                json,
            } = *add;
            let schedule = match (at, delay, every, cron) {
                (Some(at), ..) => NewSchedule::At {
                    at: MillisOrText::Text(at),
                },
                (_, Some(delay), ..) => NewSchedule::In { delay },
                (_, _, Some(every), _) => NewSchedule::Every {
                    every: MillisOrText::Text(every),
                    anchor: None,
                },
                (.., Some(expr)) => NewSchedule::Cron { expr, tz },
                _ => {
                    return Err(CliError::Usage(
                        "say when: --at, --in, --every or --cron".into(),
                    ))
                }
            };
            let target = match (session, peer) {
                (Some(session_id), _) => Target::Session { session_id },
                (None, true) => Target::Peer,
                (None, false) => Target::New {
                    cwd: cwd
                        .as_deref()
                        .map(crate::commands::absolute_dir)
                        .transpose()?,
                },
            };
            let grace_ms = grace
                .map(|g| perch_agent::wakeups::schedule::parse_duration_ms(&g))
                .transpose()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let new = NewWakeup {
                prompt,
                label,
                schedule,
                target: Some(target),
                misfire: misfire.map(Misfire::from),
                grace_ms,
                notify: Some(!no_notify),
            };
            let created: Value = client.post("/api/wakeups", &new).await?;
            if json {
                print_json(&created);
            } else {
                print_wakeup(&decode(created)?);
            }
        }
        WakeupCommand::List { json } => {
            if json {
                print_json(&client.get::<Value>("/api/wakeups").await?);
                return Ok(());
            }
            let list: List<Wakeup> = client.get("/api/wakeups").await?;
            if list.data.is_empty() {
                println!("no wakeups");
            }
            list.data.iter().for_each(print_wakeup);
        }
        WakeupCommand::Rm { id } => {
            client.delete::<()>(&format!("/api/wakeups/{id}")).await?;
            println!("deleted wakeup #{id}");
        }
        WakeupCommand::Pause { id } => pause(client, id, false).await?,
        WakeupCommand::Resume { id } => pause(client, id, true).await?,
        WakeupCommand::Run { id } => {
            let run: WakeupRun = client
                .post(&format!("/api/wakeups/{id}/run"), &no_body())
                .await?;
            println!("run {} started", run.id);
        }
        WakeupCommand::Runs { id, limit, json } => {
            let filter = id.map(|id| format!("&wakeupId={id}")).unwrap_or_default();
            let path = format!("/api/wakeups/runs?limit={limit}{filter}");
            if json {
                print_json(&client.get::<Value>(&path).await?);
                return Ok(());
            }
            let runs: List<WakeupRun> = client.get(&path).await?;
            for run in &runs.data {
                let late = run
                    .fired_at
                    .map(|fired| format!(" +{} ms", fired - run.scheduled_at))
                    .unwrap_or_default();
                println!(
                    "{} #{} {}: {}{late}{}",
                    when(Some(run.scheduled_at)),
                    run.wakeup_id,
                    run.label,
                    run.status.as_str(),
                    run.summary
                        .as_ref()
                        .map(|s| format!(" — {}", s.replace('\n', " ")))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// Pauses (`enabled: false`) or resumes a wakeup, and prints it.
async fn pause(client: &Client, id: i64, enabled: bool) -> Result<(), CliError> {
    let patch = WakeupPatch {
        enabled: Some(enabled),
        ..WakeupPatch::default()
    };
    let wakeup: Wakeup = client.patch(&format!("/api/wakeups/{id}"), &patch).await?;
    print_wakeup(&wakeup);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn importance_is_a_finite_number_from_0_to_1() {
        assert_eq!(super::importance("0.7"), Ok(0.7));
        assert_eq!(super::importance("1"), Ok(1.0));
        for bad in ["NaN", "nan", "inf", "-inf", "1.5", "-0.1", "high"] {
            assert!(super::importance(bad).is_err(), "{bad}");
        }
    }
}
