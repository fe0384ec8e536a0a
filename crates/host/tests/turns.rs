//! When a turn cannot run, or cannot finish (issue 15): not signed in, a
//! model endpoint that cannot be reached, HTTP errors, a Codex child that
//! stops answering. Perch says so at once, in words, and ends what cannot
//! finish with the reason recorded. The real pinned Codex and the scripted
//! model; the tests check the order of events, never deadlines.

mod common;

use common::{start_with_config, until, TestResult};
use perch_protocol::events::{ProblemKind, TurnProblem};
use perch_runtime::model::{EventKind, NewSession};
use perch_test_support::{CodexEnv, Script, ScriptedModel};

/// The end of `turn`: its status and recorded error.
fn turn_end(turn: &str) -> impl Fn(&EventKind) -> Option<(String, Option<String>)> + '_ {
    move |kind| match kind {
        EventKind::TurnCompleted {
            turn_id,
            status,
            error,
            ..
        } if turn_id == turn => Some((status.as_str().to_string(), error.clone())),
        _ => None,
    }
}

fn problem(kind: &EventKind) -> Option<TurnProblem> {
    match kind {
        EventKind::TurnProblem { problem, .. } => Some(problem.clone()),
        _ => None,
    }
}

/// A Perch over the scripted model (its config edited by `edit`), one new
/// session, and the live events from before anything happened in it.
struct Scene {
    _env: CodexEnv,
    model: ScriptedModel,
    server: perch_host::server::Server,
    rt: std::sync::Arc<perch_runtime::Runtime>,
    session: String,
    live: tokio::sync::broadcast::Receiver<std::sync::Arc<perch_runtime::Published>>,
}

impl Scene {
    async fn start(
        edit: impl FnOnce(String) -> String,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let env = CodexEnv::new()?;
        let model = ScriptedModel::start().await?;
        let config = edit(env.perch_config(&model.base_url(), "guarded"));
        let server = start_with_config(&env, &config, "off").await?;
        let rt = server.runtime.clone();
        let session = rt.create_session(NewSession::default()).await?.id;
        let live = rt.events().subscribe(None).live;
        Ok(Self {
            _env: env,
            model,
            server,
            rt,
            session,
            live,
        })
    }
}

/// Kills the Codex child (SIGKILL) and waits until a new one is ready.
async fn crash_codex(scene: &mut Scene) -> TestResult {
    let pid = scene.rt.codex_status().pid.ok_or("no Codex pid")?;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    assert!(killed.success());
    let rt = scene.rt.clone();
    until(&mut scene.live, "Codex ready again", |kind| match kind {
        EventKind::CodexState {
            state: perch_runtime::CodexState::Ready,
            ..
        } if rt.codex_status().pid != Some(pid) => Some(()),
        _ => None,
    })
    .await?;
    Ok(())
}

/// Codex on its own OpenAI provider with a fresh Codex home has no sign-in:
/// a message is refused with `NotSignedIn` (409 `not_signed_in` in the
/// API), naming `perch login`, before Codex or the model is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_sign_in_a_turn_is_refused_before_codex_is_asked() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let with_provider = env.perch_config(&model.base_url(), "guarded");
    let config = with_provider
        .split("\n[provider]")
        .next()
        .ok_or("no config")?;
    let server = start_with_config(&env, config, "off").await?;
    let rt = server.runtime.clone();
    let account = rt.account().await?;
    assert!(account.needs_sign_in(), "{account:?}");
    assert!(
        !account.shared_with_codex_cli,
        "Perch gave Codex a home of its own here"
    );
    let status = rt.status()?;
    assert_eq!(
        status
            .account
            .as_ref()
            .map(perch_runtime::model::AccountState::needs_sign_in),
        Some(true),
        "status shows it without asking Codex"
    );
    let session = rt.create_session(NewSession::default()).await?.id;
    let refused = rt.send_message(&session, "Say hi").await;
    let message = match refused {
        Err(err @ perch_runtime::Error::NotSignedIn) => err.to_string(),
        other => return Err(format!("expected NotSignedIn, got {other:?}").into()),
    };
    assert!(message.contains("perch login"), "{message}");
    assert!(model.requests().is_empty(), "the model was asked");
    server.stop().await;
    Ok(())
}

/// A model endpoint nobody listens on: Codex retries; each retry is a
/// `turn.problem` (unreachable, retrying) on the stream, and once the model
/// stayed unreachable for `unreachable_timeout_secs` (2 here) Perch ends the
/// turn, with that reason recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_cannot_be_reached_is_said_live_and_the_turn_ends_with_the_reason(
) -> TestResult {
    let env = CodexEnv::new()?;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let config = env
        .perch_config(&format!("http://{closed}/v1"), "guarded")
        .replacen("[codex]\n", "[codex]\nunreachable_timeout_secs = 2\n", 1)
        // Codex says each stream retry ("Reconnecting... n/50"); request
        // retries it makes silently.
        + "request_max_retries = 0\nstream_max_retries = 50\n";
    let server = start_with_config(&env, &config, "off").await?;
    let rt = server.runtime.clone();
    let session = rt.create_session(NewSession::default()).await?.id;
    let mut live = rt.events().subscribe(None).live;
    let turn = rt.send_message(&session, "Hello?").await?.turn_id;
    // (Codex's warning that the scripted model has no metadata comes first.)
    let said = until(&mut live, "the model's trouble", |kind| {
        problem(kind).filter(|p| p.kind == ProblemKind::Unreachable)
    })
    .await?;
    assert!(said.will_retry, "{said:?}");
    let (status, error) = until(&mut live, "the turn's end", turn_end(&turn)).await?;
    assert_eq!(status, "interrupted");
    let error = error.ok_or("no reason recorded")?;
    assert!(error.contains("could not be reached for 2 s"), "{error}");
    let history = rt.history(&session).await?;
    let recorded = history.last().and_then(|t| t.error.clone());
    assert_eq!(recorded.as_deref(), Some(error.as_str()));
    server.stop().await;
    Ok(())
}

/// The model answers HTTP 500: the problem names the status and the turn
/// fails with Codex's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_error_from_the_model_is_said_with_its_status() -> TestResult {
    let Scene {
        _env,
        model,
        server,
        rt,
        session,
        mut live,
    } = Scene::start(|c| c).await?;
    // Codex retries the request, then the stream, once each: every try fails.
    for _ in 0..4 {
        model.enqueue(Script::http_error(500));
    }
    let turn = rt.send_message(&session, "Hello?").await?.turn_id;
    let said = until(&mut live, "the HTTP error", |kind| {
        problem(kind).filter(|p| p.kind == ProblemKind::HttpError)
    })
    .await?;
    assert_eq!(said.http_status, Some(500), "{said:?}");
    let (status, error) = until(&mut live, "the turn's end", turn_end(&turn)).await?;
    assert_eq!(status, "failed");
    assert!(error.is_some());
    server.stop().await;
    Ok(())
}

/// Stops `pid` (a child of this process: Perch runs in it) and returns once
/// all its threads have stopped. kill(2) returns before that: the signal
/// wakes one thread, which stops the others when it runs, and until then
/// another thread may still read and answer a request.
#[cfg(unix)]
async fn stop_process(pid: u32) -> TestResult {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP)?;
    // WUNTRACED: returns once the whole child has stopped (a child that
    // died instead fails the assertion rather than hanging here).
    let status =
        tokio::task::spawn_blocking(move || waitpid(pid, Some(WaitPidFlag::WUNTRACED))).await??;
    assert!(matches!(status, WaitStatus::Stopped(..)), "{status:?}");
    Ok(())
}

/// A Codex child that stops answering (SIGSTOP) while a turn runs: the
/// next request times out, a health check gets no answer, and the child is
/// killed and restarted as after a crash; the turn is interrupted with the
/// reason.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_that_stops_answering_is_restarted_and_its_turn_says_why() -> TestResult {
    let Scene {
        _env,
        model,
        server,
        rt,
        session,
        mut live,
    } = Scene::start(|c| c.replacen("[codex]\n", "[codex]\nrequest_timeout_secs = 2\n", 1)).await?;
    model.enqueue(Script::hanging());
    let turn = rt.send_message(&session, "Think slowly.").await?.turn_id;
    assert_eq!(model.wait_for_requests(1, common::WAIT).await.len(), 1);
    // The child running the turn (read now: on a loaded machine a 2 s
    // request timeout may have restarted an earlier one).
    let pid = rt.codex_status().pid.ok_or("no Codex pid")?;
    stop_process(pid).await?;
    // A request to the stopped child times out: Perch checks it is alive.
    // (Its answer is not asserted: on a loaded machine an earlier timeout
    // may have started that check already, and a restarted child answers.)
    let _ = rt.models().await;
    let (status, error) = until(&mut live, "the turn's end", turn_end(&turn)).await?;
    assert_eq!(status, "interrupted");
    let error = error.ok_or("no reason recorded")?;
    assert!(error.contains("Codex stopped answering"), "{error}");
    // The restarted child's `ready` comes after the turn's end.
    until(&mut live, "Codex ready again", |kind| match kind {
        EventKind::CodexState {
            state: perch_runtime::CodexState::Ready,
            ..
        } => Some(()),
        _ => None,
    })
    .await?;
    let ready = rt.codex_status();
    assert_ne!(ready.pid, Some(pid), "a new child: {ready:?}");
    assert!(ready.restarts >= 1, "{ready:?}");
    // The session goes on in the new child (its thread is resumed).
    model.enqueue(Script::text("Back again."));
    let next = rt.send_message(&session, "Still there?").await?.turn_id;
    let (status, _) = until(&mut live, "the next turn's end", turn_end(&next)).await?;
    assert_eq!(status, "completed");
    server.stop().await;
    Ok(())
}

/// Codex dies (SIGKILL) while the agent's answer streams: the turn is
/// interrupted with the reason, and its history keeps the text streamed
/// before the crash, which the model never finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_streamed_before_a_codex_crash_stays_in_the_history() -> TestResult {
    let mut scene = Scene::start(|c| c).await?;
    let (rt, session) = (scene.rt.clone(), scene.session.clone());
    scene.model.enqueue(Script {
        hang: true,
        ..Script::chunks(&["The answer ", "begins here"], 0)
    });
    let turn = rt.send_message(&session, "Tell me.").await?.turn_id;
    let mut streamed = String::new();
    until(&mut scene.live, "the whole streamed text", |kind| {
        if let EventKind::ItemDelta { delta, .. } = kind {
            streamed.push_str(delta);
        }
        (streamed == "The answer begins here").then_some(())
    })
    .await?;
    // The turn's end comes before the new child's ready: both are kept.
    let mut ends = rt.events().subscribe(None).live;
    crash_codex(&mut scene).await?;
    let (status, error) = until(&mut ends, "the turn's end", turn_end(&turn)).await?;
    assert_eq!(status, "interrupted");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("stopped")),
        "{error:?}"
    );
    let history = rt.history(&session).await?;
    let cut = history
        .iter()
        .find(|t| t.id == turn)
        .ok_or_else(|| format!("the turn is not in the history: {history:?}"))?;
    assert_eq!(
        cut.status,
        perch_protocol::sessions::TurnStatus::Interrupted,
        "{cut:?}"
    );
    let said: Vec<&str> = cut
        .items
        .iter()
        .filter_map(|item| match item {
            perch_protocol::items::Item::AgentMessage { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(said, ["The answer begins here"], "{cut:?}");
    scene.server.stop().await;
    Ok(())
}

/// A session made but not yet written to survives a Codex restart: Perch
/// names the new thread so Codex keeps it, and the restarted child resumes
/// it when the first message comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_messages_survives_a_codex_restart() -> TestResult {
    let mut scene = Scene::start(|c| c).await?;
    crash_codex(&mut scene).await?;
    scene.model.enqueue(Script::text("Still here."));
    let turn = scene
        .rt
        .send_message(&scene.session, "First words.")
        .await?
        .turn_id;
    let (status, error) = until(&mut scene.live, "the turn's end", turn_end(&turn)).await?;
    assert_eq!(status, "completed", "{error:?}");
    scene.server.stop().await;
    Ok(())
}

/// Signing out while a turn runs would cut it off mid-answer: refused, in
/// words, and the turn goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_while_a_turn_runs_is_refused() -> TestResult {
    let Scene {
        _env,
        model,
        server,
        rt,
        session,
        mut live,
    } = Scene::start(|c| c).await?;
    model.enqueue(Script::chunks(&["Still ", "answering."], 400));
    let turn = rt.send_message(&session, "Go on.").await?.turn_id;
    let refused = rt.logout().await;
    match refused {
        Err(perch_runtime::Error::Conflict(why)) => assert!(why.contains("running"), "{why}"),
        other => return Err(format!("signing out mid-turn: {other:?}").into()),
    }
    let (status, _) = until(&mut live, "the turn's end", turn_end(&turn)).await?;
    assert_eq!(status, "completed");
    rt.logout().await?;
    server.stop().await;
    Ok(())
}
