//! Memory, planner and wakeups end to end: Perch's host `Server` with its
//! MCP server, the real pinned Codex and the scripted model. The model calls
//! Perch's tools; the tests look at the store, the event bus and what the
//! model was sent.

use perch_agent::memory::{MemoryAction, MemoryPatch, MemoryQuery, NewMemory};
use perch_agent::planner::NewPlan;
use perch_agent::wakeups::{
    CreatedBy, MillisOrText, Misfire, NewSchedule, NewWakeup, RunStatus, Target, WakeupRun,
};
use perch_host::server::Server;
use perch_runtime::model::{EventKind, NewSession};
use perch_runtime::settings::{MemorySettingsPatch, SettingsPatch};
use perch_test_support::{CodexEnv, Script, ScriptedModel};
use serde_json::json;

mod common;

use common::{start_with_config, until, TestResult, WAIT};

/// A Perch with the relay off (these tests are about the agent's own state).
async fn start(
    env: &CodexEnv,
    model: &ScriptedModel,
) -> Result<Server, Box<dyn std::error::Error>> {
    start_with(env, model, "guarded", "off").await
}

/// A Perch with this approval policy and relay address, Codex ready.
async fn start_with(
    env: &CodexEnv,
    model: &ScriptedModel,
    policy: &str,
    relay_listen: &str,
) -> Result<Server, Box<dyn std::error::Error>> {
    start_with_config(
        env,
        &env.perch_config(&model.base_url(), policy),
        relay_listen,
    )
    .await
}

fn turn_completed(turn: &str) -> impl Fn(&EventKind) -> Option<String> + '_ {
    move |kind| match kind {
        EventKind::TurnCompleted {
            turn_id, status, ..
        } if turn_id == turn => Some(status.as_str().to_string()),
        _ => None,
    }
}

/// The ids of a `memory.changed` whose vectors were made.
fn embedded(kind: &EventKind) -> Option<Vec<i64>> {
    match kind {
        EventKind::MemoryChanged {
            action: MemoryAction::Embedded,
            ids,
        } => Some(ids.clone()),
        _ => None,
    }
}

fn run_reaching(wakeup: i64, status: RunStatus) -> impl Fn(&EventKind) -> Option<WakeupRun> {
    move |kind| match kind {
        EventKind::WakeupRun { run, .. } if run.wakeup_id == wakeup && run.status == status => {
            Some(run.clone())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_remembers_and_a_later_turn_is_given_the_memory() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let server = start(&env, &model).await?;
    let rt = server.runtime.clone();
    let agent = server.agent.clone();
    let session = rt.create_session(NewSession::default()).await?.id;
    let mut live = rt.events().subscribe(None).live;

    let fact = json!({ "text": "The staging database is db-stage-7 in Frankfurt", "tags": ["infra"], "importance": 0.9 });
    model.enqueue(Script::mcp_call("perch", "memory_add", fact, "call_mem"));
    model.enqueue(Script::text("Noted."));
    let turn = rt
        .send_message(&session, "Remember where the staging database lives.")
        .await?
        .turn_id;
    assert_eq!(
        until(&mut live, "the first turn's end", turn_completed(&turn)).await?,
        "completed"
    );

    let found = agent
        .memories(
            MemoryQuery {
                q: Some("staging database".into()),
                limit: 5,
                ..Default::default()
            },
            false,
        )
        .await?;
    let memory = found
        .memories
        .first()
        .ok_or("the memory is not found by search")?;
    assert_eq!(
        memory.text,
        "The staging database is db-stage-7 in Frankfurt"
    );
    assert_eq!(memory.tags, vec!["infra"]);
    assert_eq!(serde_json::to_value(memory.source)?, "session");
    assert_eq!(memory.source_ref.as_deref(), Some(session.as_str()));

    // A later turn, in another session: the model is sent the memory.
    let other = rt.create_session(NewSession::default()).await?.id;
    model.enqueue(Script::text("db-stage-7."));
    let turn = rt
        .send_message(&other, "Which staging database do we deploy to?")
        .await?
        .turn_id;
    assert_eq!(
        until(&mut live, "the second turn's end", turn_completed(&turn)).await?,
        "completed"
    );
    let sent = model
        .requests()
        .last()
        .ok_or("no model request")?
        .input_text();
    assert!(sent.contains("<perch_context>"), "{sent}");
    assert!(
        sent.contains(&format!("#{}", memory.id)) && sent.contains("db-stage-7 in Frankfurt"),
        "{sent}"
    );
    assert!(
        agent.memory(memory.id)?.last_used_at.is_some(),
        "injecting a memory marks it used"
    );

    // People see only what they wrote, live and in the history.
    let history = rt.history(&other).await?;
    let shown = serde_json::to_string(&history)?;
    assert!(shown.contains("Which staging database"), "{shown}");
    assert!(!shown.contains("perch_context"), "{shown}");
    server.stop().await;
    Ok(())
}

/// Memories found by meaning: with an embeddings endpoint configured (the
/// scripted model's `/v1/embeddings`, where "car" and "automobile" point the
/// same way), vectors are made in the background and fused with full-text
/// ranking, in searches and in a turn's context; turned off, search is
/// full text again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_embeddings_configured_memories_are_found_by_meaning() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let server = start(&env, &model).await?;
    let rt = server.runtime.clone();
    let agent = server.agent.clone();
    let person = perch_agent::memory::Origin::person;
    let parked = agent.add_memory(
        NewMemory {
            text: "Parked the automobile in bay 12".into(),
            ..Default::default()
        },
        person(),
    )?;
    let lunch = agent.add_memory(
        NewMemory {
            text: "Lunch is at noon".into(),
            ..Default::default()
        },
        person(),
    )?;
    let search = |q: &str| MemoryQuery {
        q: Some(q.into()),
        limit: 5,
        ..Default::default()
    };
    assert!(
        agent
            .memories(search("where is my car"), false)
            .await?
            .memories
            .is_empty(),
        "no word in common: full-text search alone finds nothing"
    );

    let memory_patch = |url: Option<String>, name: Option<String>| SettingsPatch {
        memory: Some(MemorySettingsPatch {
            embeddings_url: Some(url),
            embeddings_model: Some(name),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut live = rt.events().subscribe(None).live;
    rt.update_settings(memory_patch(
        Some(model.base_url()),
        Some("scripted-embed".into()),
    ))
    .await?;
    // The backfill embeds both memories in the background.
    let mut waiting = vec![parked.id, lunch.id];
    while !waiting.is_empty() {
        let ids = until(&mut live, "both memories embedded", embedded).await?;
        waiting.retain(|id| !ids.contains(id));
    }
    let found = agent
        .memories(search("where is my car"), false)
        .await?
        .memories;
    let texts: Vec<&str> = found.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, vec!["Parked the automobile in bay 12"], "{texts:?}");
    let requests = model.embedding_requests();
    assert!(
        requests.iter().all(|r| r.body["model"] == "scripted-embed"),
        "{:?}",
        requests.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let inputs: Vec<String> = requests
        .iter()
        .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert!(
        inputs.contains(&"Parked the automobile in bay 12".to_string()),
        "{inputs:?}"
    );
    assert!(
        inputs.contains(&"Lunch is at noon".to_string()),
        "{inputs:?}"
    );

    // An edit drops the vector; the backfill makes a new one for the new text.
    agent.update_memory(
        parked.id,
        MemoryPatch {
            text: Some("Parked the sedan in bay 14".into()),
            ..Default::default()
        },
    )?;
    let ids = until(&mut live, "the edited memory embedded again", embedded).await?;
    assert_eq!(ids, vec![parked.id]);
    assert!(
        model
            .embedding_requests()
            .iter()
            .any(|r| r.body["input"][0] == "Parked the sedan in bay 14"),
        "the new text was not what was embedded"
    );

    // A turn's context is found the same way.
    let session = rt.create_session(NewSession::default()).await?.id;
    model.enqueue(Script::text("Bay 14."));
    let turn = rt
        .send_message(&session, "Where did I leave the automobile?")
        .await?
        .turn_id;
    assert_eq!(
        until(&mut live, "the turn's end", turn_completed(&turn)).await?,
        "completed"
    );
    let sent = model
        .requests()
        .last()
        .ok_or("no model request")?
        .input_text();
    assert!(
        sent.contains("<perch_context>") && sent.contains("Parked the sedan in bay 14"),
        "{sent}"
    );

    // Turned off: full text only again, and nothing is sent.
    rt.update_settings(memory_patch(None, None)).await?;
    let before = model.embedding_requests().len();
    assert!(agent
        .memories(search("where is my car"), false)
        .await?
        .memories
        .is_empty());
    assert_eq!(model.embedding_requests().len(), before);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_checks_plan_items_and_the_change_is_on_the_event_stream() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let server = start(&env, &model).await?;
    let rt = server.runtime.clone();
    let agent = server.agent.clone();
    let plan = agent.create_plan(NewPlan {
        name: "Release 1.2".into(),
        items: vec!["Build the .deb".into(), "Tag v1.2".into()],
    })?;
    let build = plan.items[0].id;
    let session = rt.create_session(NewSession::default()).await?.id;
    let mut live = rt.events().subscribe(None).live;

    model.enqueue(Script::mcp_call(
        "perch",
        "planner_check",
        json!({ "plan": "release 1.2", "itemId": build }),
        "call_check",
    ));
    model.enqueue(Script::text("Built and checked."));
    let turn = rt
        .send_message(&session, "Build the package.")
        .await?
        .turn_id;
    let checked = until(
        &mut live,
        "plan.changed with the item checked",
        |kind| match kind {
            EventKind::PlanChanged {
                plan: Some(plan), ..
            } if plan.items.iter().any(|i| i.id == build && i.done) => Some(plan.clone()),
            _ => None,
        },
    )
    .await?;
    assert_eq!(
        checked
            .open_items()
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>(),
        vec!["Tag v1.2"]
    );
    assert_eq!(
        until(&mut live, "the turn's end", turn_completed(&turn)).await?,
        "completed"
    );

    // The turn was given the open items, with their ids.
    let first = model
        .requests()
        .first()
        .ok_or("no model request")?
        .input_text();
    assert!(
        first.contains(&format!("- [Release 1.2] Build the .deb (item {build})")),
        "{first}"
    );
    // The tool's answer reached the model.
    let second = model
        .requests()
        .get(1)
        .ok_or("no second request")?
        .input_text();
    assert!(second.contains("\"done\": true"), "{second}");
    server.stop().await;
    Ok(())
}

fn wakeup(prompt: &str, schedule: NewSchedule, misfire: Misfire) -> NewWakeup {
    NewWakeup {
        prompt: prompt.into(),
        label: None,
        schedule,
        target: Some(Target::New { cwd: None }),
        misfire: Some(misfire),
        grace_ms: Some(60_000),
        notify: Some(true),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wakeup_due_in_two_seconds_produces_a_turn() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let server = start(&env, &model).await?;
    let rt = server.runtime.clone();
    let agent = server.agent.clone();
    let mut live = rt.events().subscribe(None).live;
    model.enqueue(Script::text("The build is green."));
    // Its new session runs in a project folder; one that does not exist is
    // refused when the wakeup is made.
    let project = env.work().join("nightly");
    std::fs::create_dir_all(&project)?;
    let mut due = wakeup(
        "Check whether the nightly build is green.",
        NewSchedule::In { delay: "2s".into() },
        Misfire::Once,
    );
    due.target = Some(Target::New {
        cwd: Some(env.work().join("gone").display().to_string()),
    });
    let refused = agent.create_wakeup(due.clone(), CreatedBy::Person);
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| e.to_string().contains("does not exist")),
        "{refused:?}"
    );
    due.target = Some(Target::New {
        cwd: Some(project.display().to_string()),
    });
    let created = agent.create_wakeup(due, CreatedBy::Person)?;
    let scheduled = created.next_fire_at.ok_or("no next fire time")?;

    let run = until(
        &mut live,
        "the wakeup's run completing",
        run_reaching(created.id, RunStatus::Completed),
    )
    .await?;
    assert_eq!(run.scheduled_at, scheduled);
    assert!(
        run.fired_at.is_some_and(|fired| fired >= scheduled),
        "{run:?}"
    );
    assert_eq!(run.summary.as_deref(), Some("The build is green."));
    let session = rt.session(run.session_id.as_deref().ok_or("no session")?)?;
    assert_eq!(
        session.name.as_deref(),
        Some("Check whether the nightly build is green.")
    );
    assert_eq!(session.cwd, Some(project.display().to_string()));
    let sent = model
        .requests()
        .first()
        .ok_or("no model request")?
        .input_text();
    assert!(
        sent.contains(&format!("[event: wakeup #{} ", created.id)),
        "{sent}"
    );
    assert!(
        sent.contains("Check whether the nightly build is green."),
        "{sent}"
    );
    // A one-time wakeup is done: no next time, exactly one run.
    assert_eq!(agent.wakeup(created.id)?.next_fire_at, None);
    assert_eq!(agent.wakeup_runs(Some(created.id), 10)?.len(), 1);
    server.stop().await;
    Ok(())
}

/// Moves a wakeup's due time into the past, as if Perch had been stopped through it.
fn make_overdue(data: &std::path::Path, id: i64, by_ms: i64) -> Result<(), rusqlite::Error> {
    let db = rusqlite::Connection::open(data.join("perch.db"))?;
    db.execute(
        "UPDATE wakeups SET next_fire_at = ?2,
           schedule = CASE WHEN json_extract(schedule, '$.kind') = 'at' THEN json_set(schedule, '$.at', ?2) ELSE schedule END
         WHERE id = ?1",
        rusqlite::params![id, stdx::now_ms() - by_ms],
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakeups_missed_while_perch_was_stopped_follow_their_policy_after_restart() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let server = start(&env, &model).await?;
    let rt = server.runtime.clone();
    let agent = server.agent.clone();
    let later = || NewSchedule::In { delay: "1h".into() };
    let once = agent.create_wakeup(
        wakeup("Summarize what changed overnight.", later(), Misfire::Once),
        CreatedBy::Person,
    )?;
    let skip = agent.create_wakeup(
        wakeup("Post the market alert.", later(), Misfire::Skip),
        CreatedBy::Person,
    )?;
    let ask = agent.create_wakeup(
        wakeup("Water the plants reminder.", later(), Misfire::Ask),
        CreatedBy::Person,
    )?;
    let hourly = NewSchedule::Every {
        every: MillisOrText::Text("1h".into()),
        anchor: None,
    };
    let crashed = agent.create_wakeup(
        wakeup("Hourly check.", hourly, Misfire::Once),
        CreatedBy::Person,
    )?;
    server.stop().await;
    drop((rt, agent));

    // While Perch was stopped: three came due ten minutes ago (beyond their
    // one-minute grace), and one run had been claimed but never started
    // (Perch died between the claim and the turn).
    for id in [once.id, skip.id, ask.id] {
        make_overdue(&env.data(), id, 600_000)?;
    }
    {
        let db = rusqlite::Connection::open(env.data().join("perch.db"))?;
        db.execute(
            "INSERT INTO wakeup_runs (wakeup_id, label, scheduled_at, fired_at, status) VALUES (?1, 'Hourly check.', 5, 5, 'claimed')",
            [crashed.id],
        )?;
    }

    model.enqueue(Script::text("Overnight: two merges."));
    model.enqueue(Script::text("Hourly: all quiet."));
    let server = start(&env, &model).await?;
    let rt = server.runtime.clone();
    let agent = server.agent.clone();
    let mut live = rt.events().subscribe(None).live;
    let replay = |id: i64, status: RunStatus| -> Option<WakeupRun> {
        agent
            .wakeup_runs(Some(id), 10)
            .ok()?
            .into_iter()
            .find(|r| r.status == status)
    };
    let settled = |id: i64, status: RunStatus| {
        let (rt, agent) = (rt.clone(), agent.clone());
        async move {
            // Subscribed before looking, so a run settling in between is seen.
            let mut live = rt.events().subscribe(None).live;
            if let Some(run) = agent
                .wakeup_runs(Some(id), 10)
                .ok()
                .and_then(|runs| runs.into_iter().find(|r| r.status == status))
            {
                return Ok::<_, String>(run);
            }
            until(&mut live, "a run settling", run_reaching(id, status)).await
        }
    };
    let ran = settled(once.id, RunStatus::Completed).await?;
    let recovered = settled(crashed.id, RunStatus::Completed).await?;
    assert_eq!(recovered.scheduled_at, 5);
    // The two turns start together; the scripted model answers in arrival order.
    let mut answers = [
        ran.summary.unwrap_or_default(),
        recovered.summary.unwrap_or_default(),
    ];
    answers.sort();
    assert_eq!(answers, ["Hourly: all quiet.", "Overnight: two merges."]);
    let skipped =
        replay(skip.id, RunStatus::Skipped).ok_or("the skip policy recorded no skipped run")?;
    assert!(
        skipped
            .summary
            .as_deref()
            .is_some_and(|s| s.contains("skipped by its misfire policy")),
        "{skipped:?}"
    );
    let missed =
        replay(ask.id, RunStatus::Missed).ok_or("the ask policy recorded no missed run")?;

    // The person chooses to run the missed one.
    model.enqueue(Script::text("Reminder sent."));
    agent.decide_missed_run(missed.id, true)?;
    let asked = until(
        &mut live,
        "the asked run completing",
        run_reaching(ask.id, RunStatus::Completed),
    )
    .await?;
    assert_eq!(asked.id, missed.id);

    // Nothing ran twice, and the repeating one is due again in the future.
    for id in [once.id, skip.id, ask.id] {
        assert_eq!(agent.wakeup_runs(Some(id), 10)?.len(), 1, "wakeup {id}");
        assert_eq!(agent.wakeup(id)?.next_fire_at, None);
    }
    assert_eq!(agent.wakeup_runs(Some(crashed.id), 10)?.len(), 1);
    assert!(agent
        .wakeup(crashed.id)?
        .next_fire_at
        .is_some_and(|next| next > stdx::now_ms()));

    // Another restart changes nothing.
    server.stop().await;
    drop((rt, agent));
    let server = start(&env, &model).await?;
    let total: usize = [once.id, skip.id, ask.id, crashed.id]
        .iter()
        .map(|id| {
            server
                .agent
                .wakeup_runs(Some(*id), 10)
                .map(|r| r.len())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(total, 4);
    server.stop().await;
    Ok(())
}

/// Issue 14: the data dir and every file Perch keeps are the person's
/// alone, also in a data dir an earlier Perch made readable by others.
#[cfg(unix)]
#[tokio::test]
async fn perchs_files_are_readable_by_the_person_only() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let data = env.data();
    // As an earlier Perch left it: readable by everyone (and config.toml,
    // which `start_with` writes, 0644 by the umask).
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755))?;
    let server = start_with(&env, &model, "guarded", "127.0.0.1:0").await?;
    let mode =
        |name: &str| std::fs::metadata(data.join(name)).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode("")?, 0o700, "the data dir");
    for file in [
        "config.toml",
        "perch.db",
        "perch.db-wal",
        "relay.db",
        "peer.db",
        "server.json",
        "secrets/api-token",
    ] {
        assert_eq!(mode(file)?, 0o600, "{file}");
    }
    server.stop().await;
    Ok(())
}

/// Issue 14: a turn that runs `env` sees the person's own variables, but
/// none of Perch's, the relay's token, anything named like a secret, or the
/// MCP token Codex holds; neither do Codex's shell snapshots.
#[tokio::test]
async fn the_agents_commands_see_no_secret_of_perchs() -> TestResult {
    std::env::set_var("AGENT_RELAY_TOKEN", "relay-secret-4711");
    std::env::set_var("MY_SERVICE_TOKEN", "service-secret-4711");
    std::env::set_var("MY_PLAIN_SETTING", "plain-value-4711");
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let server = start_with(&env, &model, "open", "off").await?;
    let rt = server.runtime.clone();
    let mcp_token = server.network.mcp.attachment().token;
    let session = rt.create_session(NewSession::default()).await?.id;
    let mut live = rt.events().subscribe(None).live;
    model.enqueue(Script::shell("env", "call_env"));
    model.enqueue(Script::text("That is the environment."));
    let turn = rt
        .send_message(&session, "Show me your environment.")
        .await?
        .turn_id;
    assert_eq!(
        until(&mut live, "the env turn's end", turn_completed(&turn)).await?,
        "completed"
    );

    // What the command printed, as the person sees it and as the model got it.
    let history = rt.history(&session).await?;
    let output: String = history
        .iter()
        .flat_map(|t| &t.items)
        .filter_map(|item| match item {
            perch_protocol::items::Item::CommandExecution {
                aggregated_output, ..
            } => aggregated_output.clone(),
            _ => None,
        })
        .collect();
    assert!(
        output.contains("plain-value-4711"),
        "the person's own variable reaches the command: {output}"
    );
    let sent_to_model: String = model
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    let mut snapshots = String::new();
    if let Ok(dir) = std::fs::read_dir(env.codex_home().join("shell_snapshots")) {
        for file in dir.flatten() {
            snapshots.push_str(&std::fs::read_to_string(file.path()).unwrap_or_default());
        }
    }
    for (place, text) in [
        ("env", &output),
        ("the model's requests", &sent_to_model),
        ("shell snapshots", &snapshots),
    ] {
        for secret in [
            mcp_token.as_str(),
            "relay-secret-4711",
            "service-secret-4711",
            "PERCH_",
        ] {
            assert!(!text.contains(secret), "{secret:?} reached {place}");
        }
    }
    server.stop().await;
    Ok(())
}

/// A tmpfs mounted on a directory for the life of the value; unmounted
/// when dropped. As root (CI), or through passwordless sudo, as
/// scripts/setup installs packages.
struct Tmpfs(std::path::PathBuf);

/// This user's `id -u` or `id -g`.
fn id(flag: &str) -> String {
    std::process::Command::new("id")
        .arg(flag)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

fn as_root(program: &str) -> std::process::Command {
    if id("-u") == "0" {
        std::process::Command::new(program)
    } else {
        let mut sudo = std::process::Command::new("sudo");
        sudo.args(["-n", program]);
        sudo
    }
}

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let status = as_root("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()?;
        if !status.success() {
            return Err(format!(
                "mounting a tmpfs on {} failed ({status}): this test fills a small disk and needs root or passwordless sudo",
                dir.display()
            )
            .into());
        }
        Ok(Self(dir.to_path_buf()))
    }

    /// Writes `file` until the disk refuses more.
    fn fill(&self, file: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut out = std::fs::File::create(self.0.join(file))?;
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0u8; chunk];
            while out.write_all(&block).and_then(|()| out.flush()).is_ok() {}
        }
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = as_root("umount").arg("-l").arg(&self.0).status();
    }
}

fn turn_status(data: &std::path::Path, turn: &str) -> Result<String, rusqlite::Error> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("perch.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    db.query_row("SELECT status FROM turns WHERE id = ?1", [turn], |r| {
        r.get(0)
    })
}

/// Issue 14, finding 7: a turn that completes while the disk is full is not
/// lost. Perch keeps its outcome, says so, and writes it once there is room
/// again; after a restart it reads as completed, not interrupted. The data
/// dir is a small tmpfs the test fills while the turn runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_completes_on_a_full_disk_is_recorded_once_there_is_room() -> TestResult {
    let env = CodexEnv::new()?;
    let disk = Tmpfs::mount(&env.data(), "32m")?;
    let model = ScriptedModel::start().await?;
    let server = start_with(&env, &model, "open", "off").await?;
    let rt = server.runtime.clone();
    let session = rt.create_session(NewSession::default()).await?.id;
    let mut live = rt.events().subscribe(None).live;
    // The turn's command waits for `go`, which the test makes once the disk
    // is full: the turn then completes on a full disk.
    let go = env.tmp().join("go");
    model.enqueue(Script {
        function_calls: vec![perch_test_support::FunctionCall {
            name: "exec_command".into(),
            namespace: None,
            arguments: json!({
                "cmd": format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display()),
                "yield_time_ms": 60000
            }),
            call_id: Some("call_wait".into()),
        }],
        ..Script::default()
    });
    model.enqueue(Script::text("Done on a full disk."));
    let turn = rt
        .send_message(&session, "Finish while the disk is full.")
        .await?
        .turn_id;
    assert_eq!(model.wait_for_requests(1, WAIT).await.len(), 1);
    disk.fill("filler")?;
    std::fs::write(&go, "")?;
    // Said first, then the turn's end as usual.
    let warning = until(&mut live, "the warning", |kind| match kind {
        EventKind::Warning { message, .. } if message.contains(&turn) => Some(message.clone()),
        _ => None,
    })
    .await?;
    assert!(warning.contains("free some space"), "{warning}");
    assert_eq!(
        until(&mut live, "the turn's end", turn_completed(&turn)).await?,
        "completed"
    );
    assert_eq!(turn_status(&env.data(), &turn)?, "inProgress");

    // Room again: the kept outcome is written (Perch retries by itself),
    // and Perch says so.
    std::fs::remove_file(env.data().join("filler"))?;
    until(&mut live, "the outcome recorded", |kind| match kind {
        EventKind::Warning { message, .. }
            if message.contains(&turn) && message.contains("recorded") =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    assert_eq!(turn_status(&env.data(), &turn)?, "completed");
    server.stop().await;
    let again = start_with(&env, &model, "open", "off").await?;
    assert_eq!(
        turn_status(&env.data(), &turn)?,
        "completed",
        "a restart does not read it as interrupted"
    );
    again.stop().await;
    drop(disk);
    Ok(())
}
