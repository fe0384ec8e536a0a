//! `perch memory`, `perch plan`, `perch wakeup`: the agent's durable state,
//! through the running Perch's API (the records the agent's tools change).

use crate::client::Client;
use crate::peer::{print_json, urlencode};
use crate::CliError;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
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
        #[arg(long)]
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
        #[arg(long)]
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
    fn wire(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Markdown => "markdown",
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
    /// When found late: once (default), skip or ask.
    #[arg(long, value_parser = ["once", "skip", "ask"])]
    misfire: Option<String>,
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

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

/// `2026-11-22 10:00:00 (in 5m)` in local time.
fn when(ms: Option<i64>) -> String {
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
            perch_runtime::wakeups::schedule::human_duration(d.max(1) * 1000)
        ),
        d => format!(
            "{} ago",
            perch_runtime::wakeups::schedule::human_duration(-d * 1000)
        ),
    };
    format!("{} ({relative})", local.unwrap_or_else(|| ms.to_string()))
}

fn print_memories(page: &Value) {
    let memories = page["data"].as_array().cloned().unwrap_or_default();
    if memories.is_empty() {
        println!("no memories");
    }
    for m in memories {
        let tags: Vec<&str> = m["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", tags.join(", "))
        };
        println!(
            "#{}{tags} {}",
            m["id"],
            str_of(&m, "text").replace('\n', " ⏎ ")
        );
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
    let page = client
        .get(&format!("/api/memories?{}", params.join("&")))
        .await?;
    if json {
        print_json(&page);
    } else {
        print_memories(&page);
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
            let memory = client
                .post(
                    "/api/memories",
                    json!({ "text": text, "tags": tags, "importance": importance }),
                )
                .await?;
            println!("remembered #{}", memory["id"]);
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
            let mut patch = json!({});
            if let Some(text) = text {
                patch["text"] = json!(text);
            }
            if !tags.is_empty() || no_tags {
                patch["tags"] = json!(tags);
            }
            if let Some(importance) = importance {
                patch["importance"] = json!(importance);
            }
            let memory = client.patch(&format!("/api/memories/{id}"), patch).await?;
            println!("updated #{}", memory["id"]);
        }
        MemoryCommand::Rm { ids } => {
            let deleted = client
                .post("/api/memories/delete", json!({ "ids": ids }))
                .await?;
            println!("deleted {} of {}", deleted["deleted"], ids.len());
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
            let report = client
                .post_text(
                    &format!("/api/memories/import?format={}", format.wire()),
                    text,
                )
                .await?;
            println!(
                "imported {}, skipped {}",
                report["imported"], report["skipped"]
            );
            for error in report["errors"].as_array().into_iter().flatten() {
                eprintln!("  {}", error.as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// A plan's id by its name (any case).
async fn plan_id(client: &Client, name: &str) -> Result<i64, CliError> {
    let plans = client.get("/api/plans").await?;
    plans["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| str_of(p, "name").eq_ignore_ascii_case(name.trim()))
        .and_then(|p| p["id"].as_i64())
        .ok_or_else(|| CliError::Usage(format!("no plan named {name:?} (see `perch plan list`)")))
}

fn print_plan(plan: &Value) {
    println!("{}", str_of(plan, "name"));
    for item in plan["items"].as_array().into_iter().flatten() {
        let mark = if item["done"].as_bool() == Some(true) {
            "x"
        } else {
            " "
        };
        println!("  [{mark}] {} (item {})", str_of(item, "text"), item["id"]);
    }
}

pub async fn plan(client: &Client, command: PlanCommand) -> Result<(), CliError> {
    let shown = match command {
        PlanCommand::List { json } => {
            let plans = client.get("/api/plans").await?;
            if json {
                print_json(&plans);
            } else if plans["data"].as_array().is_none_or(Vec::is_empty) {
                println!("no plans");
            } else {
                plans["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .for_each(print_plan);
            }
            return Ok(());
        }
        PlanCommand::Show { name, json } => {
            let plan = client
                .get(&format!("/api/plans/{}", plan_id(client, &name).await?))
                .await?;
            if json {
                print_json(&plan);
                return Ok(());
            }
            plan
        }
        PlanCommand::Create { name, items } => {
            client
                .post("/api/plans", json!({ "name": name, "items": items }))
                .await?
        }
        PlanCommand::Add { name, items } => {
            let id = plan_id(client, &name).await?;
            let mut plan = Value::Null;
            for text in items {
                plan = client
                    .post(&format!("/api/plans/{id}/items"), json!({ "text": text }))
                    .await?;
            }
            plan
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
                .delete(&format!("/api/plans/{}", plan_id(client, &name).await?))
                .await?;
            println!("deleted plan {name:?}");
            return Ok(());
        }
        PlanCommand::Clear { name, done } => {
            client
                .post(
                    &format!("/api/plans/{}/clear", plan_id(client, &name).await?),
                    json!({ "doneOnly": done }),
                )
                .await?
        }
    };
    print_plan(&shown);
    Ok(())
}

async fn check(client: &Client, name: &str, item: i64, done: bool) -> Result<Value, CliError> {
    let id = plan_id(client, name).await?;
    client
        .patch(
            &format!("/api/plans/{id}/items/{item}"),
            json!({ "done": done }),
        )
        .await
}

fn print_wakeup(w: &Value) {
    let state = if w["enabled"].as_bool() == Some(true) {
        ""
    } else {
        " (paused)"
    };
    let schedule = &w["schedule"];
    let described = match str_of(schedule, "kind") {
        "at" => format!("once at {}", when(schedule["at"].as_i64())),
        "every" => format!(
            "every {}",
            perch_runtime::wakeups::schedule::human_duration(
                schedule["everyMs"].as_i64().unwrap_or(0)
            )
        ),
        _ => format!(
            "cron {} ({})",
            str_of(schedule, "expr"),
            str_of(schedule, "tz")
        ),
    };
    println!(
        "#{} {}{state}: {described}; next {}",
        w["id"],
        str_of(w, "label"),
        when(w["nextFireAt"].as_i64())
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
                misfire,
                grace,
                no_notify,
                json,
            } = *add;
            let schedule = match (at, delay, every, cron) {
                (Some(at), ..) => json!({ "kind": "at", "at": at }),
                (_, Some(delay), ..) => json!({ "kind": "in", "delay": delay }),
                (_, _, Some(every), _) => json!({ "kind": "every", "every": every }),
                (.., Some(expr)) => json!({ "kind": "cron", "expr": expr, "tz": tz }),
                _ => {
                    return Err(CliError::Usage(
                        "say when: --at, --in, --every or --cron".into(),
                    ))
                }
            };
            let target = match (session, peer) {
                (Some(id), _) => json!({ "kind": "session", "sessionId": id }),
                (None, true) => json!({ "kind": "peer" }),
                (None, false) => json!({ "kind": "new" }),
            };
            let grace_ms = grace
                .map(|g| perch_runtime::wakeups::schedule::parse_duration_ms(&g))
                .transpose()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let body = json!({
                "prompt": prompt, "label": label, "schedule": schedule, "target": target,
                "misfire": misfire, "graceMs": grace_ms, "notify": !no_notify,
            });
            let created = client.post("/api/wakeups", body).await?;
            if json {
                print_json(&created);
            } else {
                print_wakeup(&created);
            }
        }
        WakeupCommand::List { json } => {
            let list = client.get("/api/wakeups").await?;
            if json {
                print_json(&list);
            } else if list["data"].as_array().is_none_or(Vec::is_empty) {
                println!("no wakeups");
            } else {
                list["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .for_each(print_wakeup);
            }
        }
        WakeupCommand::Rm { id } => {
            client.delete(&format!("/api/wakeups/{id}")).await?;
            println!("deleted wakeup #{id}");
        }
        WakeupCommand::Pause { id } => print_wakeup(
            &client
                .patch(&format!("/api/wakeups/{id}"), json!({ "enabled": false }))
                .await?,
        ),
        WakeupCommand::Resume { id } => print_wakeup(
            &client
                .patch(&format!("/api/wakeups/{id}"), json!({ "enabled": true }))
                .await?,
        ),
        WakeupCommand::Run { id } => {
            let run = client
                .post(&format!("/api/wakeups/{id}/run"), json!({}))
                .await?;
            println!("run {} started", run["id"]);
        }
        WakeupCommand::Runs { id, limit, json } => {
            let filter = id.map(|id| format!("&wakeupId={id}")).unwrap_or_default();
            let runs = client
                .get(&format!("/api/wakeups/runs?limit={limit}{filter}"))
                .await?;
            if json {
                print_json(&runs);
                return Ok(());
            }
            for run in runs["data"].as_array().into_iter().flatten() {
                let late = match (run["firedAt"].as_i64(), run["scheduledAt"].as_i64()) {
                    (Some(fired), Some(scheduled)) => format!(" +{} ms", fired - scheduled),
                    _ => String::new(),
                };
                println!(
                    "{} #{} {}: {}{late}{}",
                    when(run["scheduledAt"].as_i64()),
                    run["wakeupId"],
                    str_of(run, "label"),
                    str_of(run, "status"),
                    run["summary"]
                        .as_str()
                        .map(|s| format!(" — {}", s.replace('\n', " ")))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
