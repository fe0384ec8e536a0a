//! The `perch` binary as a person uses it: `perch serve` in one process,
//! client commands in others, the real Codex and the scripted model.

use perch_test_support::{codex_bin, sign_in, CodexEnv, Script, ScriptedModel};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn perch(env: &CodexEnv) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_perch"));
    command
        .arg("--data-dir")
        .arg(env.data())
        .env_remove("PERCH_URL")
        .env_remove("PERCH_API_TOKEN")
        .env("PERCH_SECRET_STORE", "file");
    command
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `perch serve` on the scripted model with its relay on a free port;
/// returns it and the relay URL.
fn serve(
    env: &CodexEnv,
    model: &ScriptedModel,
) -> Result<(Server, String), Box<dyn std::error::Error>> {
    serve_with(
        env,
        &format!(
            "[provider]\nid = \"scripted\"\nbase_url = {:?}\n",
            model.base_url()
        ),
        &[],
    )
}

/// `perch serve` with `provider` (a `[provider]` table, or nothing: Codex's
/// own OpenAI provider) and `vars` in its environment.
fn serve_with(
    env: &CodexEnv,
    provider: &str,
    vars: &[(&str, String)],
) -> Result<(Server, String), Box<dyn std::error::Error>> {
    let config = format!(
        "[codex]\nbin = {:?}\nhome = {:?}\ncwd = {:?}\napproval_policy = \"guarded\"\nmodel = \"mock-model\"\n\n{provider}\n\
         [peer]\nagent_id = \"perch-cli\"\nperson_id = \"cli-person\"\nretry_secs = 1\n",
        codex_bin().display().to_string(),
        env.codex_home().display().to_string(),
        env.work().display().to_string(),
    );
    std::fs::write(env.data().join("config.toml"), config)?;
    let mut child = perch(env)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--relay-listen",
            "127.0.0.1:0",
        ])
        .env("TMPDIR", env.tmp())
        .envs(vars.iter().map(|(name, value)| (name, value)))
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let server = Server(child);
    let mut lines = BufReader::new(stderr).lines();
    let mut relay = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(url) = line.strip_prefix("peer network: relay at ") {
            relay = Some(url.to_string());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    Ok((
        server,
        relay.ok_or("perch serve did not say where its relay is")?,
    ))
}

/// The running `perch serve` of `env`, as a client of its API.
struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    fn of(env: &CodexEnv) -> Result<Self, Box<dyn std::error::Error>> {
        let server: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(env.data().join("server.json"))?)?;
        let url = server["url"]
            .as_str()
            .ok_or("no url in server.json")?
            .to_string();
        let token = std::fs::read_to_string(env.data().join("secrets/api-token"))?
            .trim()
            .to_string();
        Ok(Self {
            http: stdx_http::client_builder().build()?,
            url,
            token,
        })
    }

    /// Perch's event stream: what to wait on instead of a clock.
    async fn events(&self) -> Result<reqwest::Response, reqwest::Error> {
        self.http
            .get(format!("{}/api/events", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
    }
}

/// Perch's peer status (`GET /api/peer`) once `done` holds: looked at again
/// on every event of Perch's stream, for at most 60 s.
async fn until_peer(
    env: &CodexEnv,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let api = Api::of(env)?;
    let mut events = api.events().await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status: serde_json::Value = api
            .http
            .get(format!("{}/api/peer", api.url))
            .bearer_auth(&api.token)
            .send()
            .await?
            .json()
            .await?;
        if done(&status) {
            return Ok(status);
        }
        match tokio::time::timeout_at(deadline, events.chunk()).await {
            Ok(Ok(Some(_))) => {}
            _ => return Err(format!("the peer status never matched: {status}").into()),
        }
    }
}

/// A client command that must succeed: its stdout.
fn ok(env: &CodexEnv, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = perch(env).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "perch {args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Runs `args` until its stdout satisfies `done`: again on every event of
/// Perch's stream (opened first, so none is missed), for at most 60 s.
/// For the synchronous tests (inside `block_in_place`).
fn until(
    env: &CodexEnv,
    args: &[&str],
    done: impl Fn(&str) -> bool,
) -> Result<String, Box<dyn std::error::Error>> {
    tokio::runtime::Handle::current().block_on(async {
        let mut events = Api::of(env)?.events().await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let out = ok(env, args)?;
            if done(&out) {
                return Ok(out);
            }
            match tokio::time::timeout_at(deadline, events.chunk()).await {
                Ok(Ok(Some(_))) => {}
                _ => return Err(format!("perch {args:?} never matched: {out}").into()),
            }
        }
    })
}

#[test]
fn client_commands_without_a_server_say_how_to_start_one() -> TestResult {
    let env = CodexEnv::new()?;
    let out = perch(&env).args(["status"]).output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("perch serve"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_the_answer_and_exits_by_the_turns_outcome() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let _server = serve(&env, &model)?.0;
    let wait_ready = perch(&env).args(["status", "--json"]).output()?;
    assert!(
        wait_ready.status.success(),
        "{}",
        String::from_utf8_lossy(&wait_ready.stderr)
    );

    model.enqueue(Script::text("Hello from the CLI."));
    let env_ref = &env;
    let out = tokio::task::block_in_place(|| {
        perch(env_ref)
            .args(["run", "--session", "new", "Say hello"])
            .output()
    })?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Hello from the CLI."
    );

    // A failing model turn exits 1, with the reason on stderr.
    model.enqueue(Script::http_error(400));
    let out = tokio::task::block_in_place(|| {
        perch(env_ref)
            .args(["run", "--format", "ndjson", "fail please"])
            .output()
    })?;
    assert_eq!(out.status.code(), Some(1));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(events
        .iter()
        .any(|e| e["type"] == "turn.completed" && e["status"] == "failed"));

    let list = perch(&env).args(["sessions", "list", "--json"]).output()?;
    let sessions: serde_json::Value = serde_json::from_slice(&list.stdout)?;
    assert_eq!(
        sessions.as_array().map(Vec::len),
        Some(1),
        "--session latest reused the session"
    );
    let id = sessions[0]["id"].as_str().unwrap_or_default().to_string();
    let renamed = perch(&env)
        .args(["sessions", "rename", &id, "CLI session"])
        .output()?;
    assert!(renamed.status.success());
    let bad = perch(&env)
        .args(["approvals", "answer", "ap_nope", "accept"])
        .output()?;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("404"));

    let wrong_token = perch(&env)
        .args(["status"])
        .env("PERCH_API_TOKEN", "wrong")
        .output()?;
    assert_eq!(wrong_token.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_token.stderr).contains("token was refused"));
    Ok(())
}

#[tokio::test]
async fn relay_serve_reads_agent_relay_variables_and_refuses_an_open_bind() -> TestResult {
    let env = CodexEnv::new()?;
    // HOST/PORT pick the address; the token is required from then on.
    let mut child = perch(&env)
        .args(["relay", "serve"])
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("AGENT_RELAY_TOKEN", "cli-relay-token")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let line = BufReader::new(stdout).lines().next().ok_or("no output")??;
    let relay = Server(child);
    let url = line.strip_prefix("listening ").ok_or(line.clone())?;
    let http = stdx_http::client_builder().build()?;
    assert_eq!(
        http.get(format!("{url}/api/stats"))
            .send()
            .await?
            .status()
            .as_u16(),
        401
    );
    let registered = http
        .post(format!("{url}/api/agents"))
        .header("X-Agent-Relay-Token", "cli-relay-token")
        .json(&serde_json::json!({"id": "cli-agent", "instanceId": "one"}))
        .send()
        .await?;
    assert_eq!(registered.json::<serde_json::Value>().await?["epoch"], 1);
    assert!(
        env.data().join("relay.db").exists(),
        "the database is in the data dir"
    );
    drop(relay);

    let open = perch(&env)
        .args(["relay", "serve", "--listen", "0.0.0.0:0"])
        .env_remove("AGENT_RELAY_TOKEN")
        .env_remove("AGENT_RELAY_ALLOW_UNAUTH")
        .output()?;
    assert_eq!(open.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&open.stderr).contains("AGENT_RELAY_TOKEN"),
        "{}",
        String::from_utf8_lossy(&open.stderr)
    );
    let bad = perch(&env)
        .args(["relay", "serve"])
        .env("PORT", "lots")
        .output()?;
    assert_eq!(bad.status.code(), Some(2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_message_in_a_turn_killed_with_perch_is_delivered_again_after_restart_and_answered_once(
) -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let (mut server, relay) = serve(&env, &model)?;
    until_peer(&env, |s| s["connected"] == true).await?;
    let http = stdx_http::client_builder().build()?;
    let register = serde_json::json!({ "id": "outside-bot", "instanceId": "o1" });
    assert!(http
        .post(format!("{relay}/api/agents"))
        .json(&register)
        .send()
        .await?
        .status()
        .is_success());

    // The delivery turn hangs at the model; Perch dies with it in flight.
    model.enqueue(Script::hanging());
    let message = serde_json::json!({ "from": "outside-bot", "to": "perch-cli", "channel": "ops", "body": "rotate the keys" });
    let sent: serde_json::Value = http
        .post(format!("{relay}/api/messages"))
        .json(&message)
        .send()
        .await?
        .json()
        .await?;
    let id = sent["id"].as_i64().ok_or("no message id")?;
    assert_eq!(
        model
            .wait_for_requests(1, std::time::Duration::from_secs(60))
            .await
            .len(),
        1
    );
    server.0.kill()?; // SIGKILL: no shutdown, no cleanup
    server.0.wait()?;

    // After a restart the message comes again, and is answered once.
    model.enqueue(Script::mcp_call(
        "perch",
        "reply",
        serde_json::json!({ "messageId": id, "body": "Keys rotated." }),
        "call_1",
    ));
    model.enqueue(Script::text("Done."));
    let (_server, relay) = serve(&env, &model)?;
    let requests = model
        .wait_for_requests(3, std::time::Duration::from_secs(60))
        .await;
    assert_eq!(requests.len(), 3);
    assert!(
        requests[1]
            .input_text()
            .contains("[channel: ops] outside-bot: rotate the keys"),
        "{}",
        requests[1].input_text()
    );
    until_peer(&env, |s| {
        s["delivery"]["state"] == "idle" && s["delivery"]["queued"] == 0
    })
    .await?;
    let replies: Vec<serde_json::Value> = http
        .get(format!("{relay}/api/messages?for=outside-bot"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["replyTo"], id);
    assert_eq!(replies[0]["body"], "Keys rotated.");

    // The person's side: perch send / inbox / peers.
    let out = perch(&env)
        .args([
            "send",
            "outside-bot",
            "thanks for the heads-up",
            "--channel",
            "ops",
        ])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: serde_json::Value = serde_json::from_str(&ok(
        &env,
        &[
            "send",
            "outside-bot",
            "one more",
            "--subject",
            "ps",
            "--json",
        ],
    )?)?;
    assert_eq!(sent["to"], "outside-bot", "{sent}");
    assert_eq!(sent["subject"], "ps", "{sent}");
    assert_eq!(sent["unread"], false, "{sent}");
    let page: serde_json::Value =
        serde_json::from_str(&ok(&env, &["inbox", "--limit", "2", "--json"])?)?;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2), "{page}");
    assert_eq!(page["hasMore"], true, "{page}");
    // The newest two, oldest first: "one more" was sent last.
    assert_eq!(page["data"][1]["body"], "one more", "{page}");
    let inbox = perch(&env)
        .args(["inbox", "--agent", "outside-bot"])
        .output()?;
    let inbox = String::from_utf8_lossy(&inbox.stdout);
    assert!(
        inbox.contains("outside-bot (unauthenticated) -> perch-cli [ops] rotate the keys"),
        "{inbox}"
    );
    assert!(
        inbox.contains("cli-person (signed) -> outside-bot [ops] thanks for the heads-up"),
        "{inbox}"
    );
    assert!(
        inbox.contains("cli-person (signed) -> outside-bot ps: one more"),
        "{inbox}"
    );
    let older = ok(&env, &["inbox", "--limit", "1"])?;
    assert!(
        older.lines().count() == 2 && older.ends_with("\n(older messages: --limit)\n"),
        "{older}"
    );
    let peers = perch(&env).args(["peers"]).output()?;
    let peers = String::from_utf8_lossy(&peers.stdout);
    assert!(
        peers.contains("outside-bot") && peers.contains("your agent is perch-cli"),
        "{peers}"
    );
    let peers: serde_json::Value =
        serde_json::from_slice(&perch(&env).args(["peers", "--json"]).output()?.stdout)?;
    assert_eq!(peers["status"]["connected"], true);
    assert!(
        peers["agents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["id"] == "outside-bot")),
        "{peers}"
    );
    // End-to-end keys: this Perch's two ids publish one device each; a
    // plaintext agent has none, so there is nothing to pin.
    let keys = ok(&env, &["peers", "keys"])?;
    assert!(keys.contains("perch-cli (this Perch)"), "{keys}");
    assert!(
        keys.contains("outside-bot: no keys (messages in the clear, unverified)"),
        "{keys}"
    );
    let fingerprint = keys
        .lines()
        .find(|l| l.contains("(this device)"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default();
    assert_eq!(fingerprint.len(), 4, "{keys}");
    let pin = perch(&env).args(["peers", "pin", "outside-bot"]).output()?;
    assert!(!pin.status.success());
    assert!(
        String::from_utf8_lossy(&pin.stderr).contains("outside-bot publishes no device keys"),
        "{}",
        String::from_utf8_lossy(&pin.stderr)
    );
    // The person's computers: this one; a code for another, which this
    // computer cannot use itself (it already holds the id).
    let devices = ok(&env, &["peers", "devices"])?;
    assert!(
        devices.starts_with("cli-person is held by:") && devices.contains("(this computer)"),
        "{devices}"
    );
    let link = ok(&env, &["peers", "link"])?;
    let code = link.lines().next().unwrap_or_default().to_string();
    assert_eq!(code.len(), 24, "{link}");
    assert!(link.contains(&format!("perch peers join {code}")), "{link}");
    let join = perch(&env).args(["peers", "join", &code]).output()?;
    assert!(!join.status.success());
    assert!(
        String::from_utf8_lossy(&join.stderr).contains("already holds cli-person"),
        "{}",
        String::from_utf8_lossy(&join.stderr)
    );
    let empty = perch(&env).args(["send", "outside-bot", "  "]).output()?;
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("must not be empty"));
    // The lines for agent-relay's plugins name this relay.
    let lines = perch(&env).args(["relay", "env"]).output()?;
    let lines = String::from_utf8_lossy(&lines.stdout);
    assert!(
        lines.contains(&format!("export AGENT_RELAY_URL='{relay}'")),
        "{lines}"
    );
    // An agent the relay does not know: said, and nothing sent (--force sends).
    let nobody = perch(&env)
        .args(["send", "nobody-here", "hello?"])
        .output()?;
    assert_eq!(nobody.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("no agent \"nobody-here\""),
        "{}",
        String::from_utf8_lossy(&nobody.stderr)
    );
    assert_eq!(
        model.requests().len(),
        3,
        "the message was not delivered a third time"
    );
    Ok(())
}

/// Issue 15: without a sign-in, `perch status` says so, `perch run` sends
/// nothing and exits 2 naming `perch login`; `perch login --api-key` takes
/// the key from stdin (never argv), and `perch logout` signs out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_sign_in_run_says_perch_login_and_login_and_logout_work() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    // OpenAI's API (which checks the key) is the scripted model.
    let openai = ("OPENAI_BASE_URL", model.base_url());
    let (_server, _) = serve_with(&env, "", &[openai])?;
    let env = &env;
    tokio::task::block_in_place(|| -> TestResult {
        let status = until(env, &["status"], |out| !out.contains("Account: not known"))?;
        assert!(status.contains("Account: not signed in"), "{status}");
        let run = perch(env).args(["run", "Say hi"]).output()?;
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("perch login"), "{stderr}");
        let sessions = ok(env, &["sessions", "list", "--json"])?;
        assert_eq!(sessions.trim(), "[]", "no session was made for it");

        let login_with = |key: &str| -> Result<std::process::Output, Box<dyn std::error::Error>> {
            let mut login = perch(env)
                .args(["login", "--api-key"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            login
                .stdin
                .take()
                .ok_or("no stdin")?
                .write_all(format!("{key}\n").as_bytes())?;
            Ok(login.wait_with_output()?)
        };
        // A key OpenAI refuses is said, and nothing is stored.
        let wrong = login_with("sk-wrong-key")?;
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(!wrong.status.success(), "{stderr}");
        assert!(stderr.contains("OpenAI refused this API key"), "{stderr}");
        let status = ok(env, &["status"])?;
        assert!(status.contains("Account: not signed in"), "{status}");

        let login = login_with("sk-test-perch-login")?;
        let said = String::from_utf8_lossy(&login.stdout);
        assert!(
            login.status.success(),
            "{said} {}",
            String::from_utf8_lossy(&login.stderr)
        );
        assert!(said.contains("signed in with an OpenAI API key"), "{said}");
        let status = ok(env, &["status"])?;
        assert!(
            status.contains("Account: signed in with an OpenAI API key"),
            "{status}"
        );
        let out = ok(env, &["logout"])?;
        assert!(out.contains("Signed out"), "{out}");
        Ok(())
    })
}

/// `perch login` with ChatGPT's device code, end to end against the
/// scripted model's stand-in sign-in (Codex's `CODEX_APP_SERVER_LOGIN_ISSUER`
/// and `chatgpt_base_url` point at it): the code is printed, an expired code
/// fails in words and signs nothing in, an approved one signs in, and
/// `perch usage` then shows the plan's rate limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perch_login_signs_in_with_a_device_code_and_says_when_the_code_expired() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    env.use_sign_in_stand_in(&model.chatgpt_base_url())?;
    let issuer = ("CODEX_APP_SERVER_LOGIN_ISSUER", model.sign_in_issuer());
    let (_server, _) = serve_with(&env, "", &[issuer])?;
    let env = &env;
    tokio::task::block_in_place(|| -> TestResult {
        until(env, &["status"], |out| {
            out.contains("Account: not signed in")
        })?;
        let login = |decision| -> Result<std::process::Output, Box<dyn std::error::Error>> {
            let mut child = perch(env)
                .arg("login")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
            let mut printed = String::new();
            while !printed.contains(sign_in::USER_CODE) {
                if stdout.read_line(&mut printed)? == 0 {
                    return Err(format!("perch login printed no code: {printed}").into());
                }
            }
            assert!(
                printed.contains(&format!("{}/codex/device", model.sign_in_issuer())),
                "{printed}"
            );
            model.decide_sign_in(decision);
            std::io::Read::read_to_string(&mut stdout, &mut printed)?;
            let mut out = child.wait_with_output()?;
            out.stdout = printed.into_bytes();
            Ok(out)
        };
        let expired = login(sign_in::Decision::Expired)?;
        let stderr = String::from_utf8_lossy(&expired.stderr);
        assert_eq!(expired.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("signing in failed") && stderr.contains("perch login"),
            "{stderr}"
        );
        let status = ok(env, &["status"])?;
        assert!(status.contains("Account: not signed in"), "{status}");

        model.decide_sign_in(sign_in::Decision::Pending);
        let approved = login(sign_in::Decision::Approved)?;
        let said = String::from_utf8_lossy(&approved.stdout);
        assert!(
            approved.status.success(),
            "{said} {}",
            String::from_utf8_lossy(&approved.stderr)
        );
        assert!(said.contains(sign_in::EMAIL), "{said}");
        let status = ok(env, &["status"])?;
        assert!(
            status.contains(&format!(
                "Account: signed in with ChatGPT as {}",
                sign_in::EMAIL
            )),
            "{status}"
        );
        // The plan's usage, as the (stand-in) ChatGPT backend reports it.
        let usage = ok(env, &["usage"])?;
        assert!(usage.contains("Plan: plus"), "{usage}");
        assert!(
            usage.contains("5-hour window: 42% used, resets "),
            "{usage}"
        );
        assert!(usage.contains("Weekly window: 10% used"), "{usage}");
        let usage: serde_json::Value = serde_json::from_str(&ok(env, &["usage", "--json"])?)?;
        assert_eq!(usage["primary"]["windowMinutes"], 300, "{usage}");
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_sessions_and_status_print_for_a_person() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let _server = serve(&env, &model)?.0;
    let env = &env;
    tokio::task::block_in_place(|| -> TestResult {
        let status = ok(env, &["status"])?;
        assert!(status.starts_with("Perch "), "{status}");
        assert!(status.contains("\nCodex: "), "{status}");
        assert!(status.contains("\nApproval policy: guarded\n"), "{status}");
        assert!(status.contains("\nPending approvals: 0\n"), "{status}");
        assert_eq!(ok(env, &["approvals", "list"])?, "no pending approvals\n");
        assert_eq!(ok(env, &["approvals", "list", "--json"])?.trim(), "[]");
        let idle = perch(env).args(["interrupt"]).output()?;
        assert_eq!(idle.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&idle.stderr).contains("no turn is running"));

        // A turn that asks before running a command; the person accepts.
        model.enqueue(Script::shell("touch approved.txt", "call_1"));
        model.enqueue(Script::text("Made the file."));
        let turn = perch(env)
            .args(["run", "--session", "new", "make a file"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let pending = until(env, &["approvals", "list"], |out| out.contains("[pending]"))?;
        assert!(pending.contains("touch approved.txt"), "{pending}");
        let id = pending.split_whitespace().next().ok_or("no approval id")?;
        let status = ok(env, &["status"])?;
        assert!(status.contains("\nPending approvals: 1\n"), "{status}");
        assert!(status.contains("\nRunning: turn "), "{status}");
        assert_eq!(
            ok(env, &["approvals", "answer", id, "accept"])?,
            format!("{id}: accept\n")
        );
        let out = turn.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "Made the file."
        );
        assert!(
            stderr.contains("[approval needed] ")
                && stderr.contains(&format!("perch approvals answer {id} accept|decline")),
            "{stderr}"
        );
        assert!(
            stderr.contains("[ran] ") && stderr.contains("touch approved.txt"),
            "{stderr}"
        );
        let all = ok(env, &["approvals", "list", "--all"])?;
        assert!(all.starts_with(&format!("{id}  [accept] ")), "{all}");

        // The session it ran in.
        let sessions: serde_json::Value =
            serde_json::from_str(&ok(env, &["sessions", "list", "--json"])?)?;
        let session = sessions[0]["id"]
            .as_str()
            .ok_or("no session id")?
            .to_string();
        let listed = ok(env, &["sessions", "list"])?;
        assert!(listed.starts_with(&format!("  {session}  ")), "{listed}");
        assert_eq!(listed.lines().count(), 1, "{listed}");
        let shown: serde_json::Value =
            serde_json::from_str(&ok(env, &["sessions", "show", &session])?)?;
        assert_eq!(shown["session"]["id"], session.as_str());
        assert_eq!(shown["turns"].as_array().map(Vec::len), Some(1), "{shown}");
        assert_eq!(
            ok(env, &["sessions", "rename", &session, "Files"])?,
            format!("{session} \n")
        );
        assert_eq!(
            ok(env, &["sessions", "archive", &session])?,
            format!("{session} (archived)\n")
        );
        assert_eq!(ok(env, &["sessions", "list"])?, "");
        assert_eq!(
            ok(env, &["sessions", "list", "--archived"])?,
            format!("  {session}  Files\n")
        );

        // The agent's words in the archived session are found.
        let found = ok(env, &["search", "made", "FILE"])?;
        assert_eq!(
            found.lines().take(2).collect::<Vec<_>>(),
            [
                format!("assistant in session {session} (archived)  Files").as_str(),
                "    *Made* the *file*."
            ],
            "{found}"
        );
        let none = ok(env, &["search", "quokka"])?;
        assert_eq!(none, "Nothing has every word of \"quokka\".\n");
        // A session in a project folder, from the CLI.
        let project = env.work().join("proj");
        std::fs::create_dir_all(&project)?;
        let dir = project.display().to_string();
        model.enqueue(Script::text("In the project."));
        assert_eq!(
            ok(env, &["run", "--session", "new", "--cwd", &dir, "where?"])?.trim(),
            "In the project."
        );
        let listed: serde_json::Value = serde_json::from_str(&ok(
            env,
            &["sessions", "list", "--project", &dir, "--json"],
        )?)?;
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
        assert_eq!(
            listed[0]["cwd"].as_str().map(std::path::PathBuf::from),
            Some(std::fs::canonicalize(&project)?)
        );
        let moved = perch(env)
            .args(["run", "--session", &session, "--cwd", &dir, "x"])
            .output()?;
        assert_eq!(moved.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&moved.stderr).contains("keeps its own"));
        let long = "x".repeat(600);
        let refused = perch(env).args(["search", &long]).output()?;
        assert_eq!(refused.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("at most 500"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_plan_and_wakeup_commands_print_the_records() -> TestResult {
    let env = CodexEnv::new()?;
    let model = ScriptedModel::start().await?;
    let _server = serve(&env, &model)?.0;
    let env = &env;
    tokio::task::block_in_place(|| -> TestResult {
        // Memory.
        assert_eq!(
            ok(
                env,
                &[
                    "memory",
                    "add",
                    "Deploys go to staging first",
                    "--tag",
                    "ops",
                    "--importance",
                    "0.8"
                ]
            )?,
            "remembered #1\n"
        );
        assert_eq!(
            ok(env, &["memory", "add", "two\nlines"])?,
            "remembered #2\n"
        );
        let listed = ok(env, &["memory", "list"])?;
        assert!(
            listed.contains("#1 [ops] Deploys go to staging first\n")
                && listed.contains("#2 two ⏎ lines\n"),
            "{listed}"
        );
        let found: serde_json::Value =
            serde_json::from_str(&ok(env, &["memory", "search", "staging", "--json"])?)?;
        assert_eq!(found["data"][0]["id"], 1, "{found}");
        assert_eq!(found["total"], 1, "{found}");
        assert_eq!(
            ok(env, &["memory", "edit", "1", "--no-tags"])?,
            "updated #1\n"
        );
        assert!(ok(env, &["memory", "list"])?.contains("#1 Deploys go to staging first\n"));
        assert_eq!(ok(env, &["memory", "rm", "1", "99"])?, "deleted 1 of 2\n");
        let exported = env.tmp().join("memories.jsonl");
        let exported_arg = exported.display().to_string();
        ok(env, &["memory", "export", "-o", &exported_arg])?;
        assert_eq!(
            ok(env, &["memory", "import", &exported_arg])?,
            "imported 1, skipped 0\n"
        );
        assert_eq!(ok(env, &["memory", "search", "zebra"])?, "no memories\n");

        // Plans.
        assert_eq!(ok(env, &["plan", "list"])?, "no plans\n");
        let created = ok(
            env,
            &["plan", "create", "Release", "tag the build", "write notes"],
        )?;
        let item = |out: &str, text: &str| -> Option<String> {
            let line = out.lines().find(|l| l.contains(text))?;
            let id = line.rsplit("(item ").next()?.trim_end_matches(')');
            Some(id.to_string())
        };
        let tag = item(&created, "tag the build").ok_or(created.clone())?;
        let notes = item(&created, "write notes").ok_or(created.clone())?;
        assert_eq!(
            created,
            format!(
                "Release\n  [ ] tag the build (item {tag})\n  [ ] write notes (item {notes})\n"
            )
        );
        assert!(ok(env, &["plan", "check", "release", &tag])?.contains("  [x] tag the build"));
        assert!(ok(env, &["plan", "uncheck", "Release", &tag])?.contains("  [ ] tag the build"));
        ok(env, &["plan", "check", "Release", &tag])?;
        let added = ok(env, &["plan", "add", "Release", "ship it"])?;
        assert_eq!(added.lines().count(), 4, "{added}");
        let cleared = ok(env, &["plan", "clear", "Release", "--done"])?;
        assert!(!cleared.contains("tag the build"), "{cleared}");
        let removed = ok(env, &["plan", "rm", "Release", &notes])?;
        assert!(
            removed.starts_with("Release\n  [ ] ship it (item ") && removed.lines().count() == 2,
            "{removed}"
        );
        assert_eq!(ok(env, &["plan", "show", "RELEASE"])?, removed);
        let plans: serde_json::Value =
            serde_json::from_str(&ok(env, &["plan", "list", "--json"])?)?;
        assert_eq!(plans["data"][0]["name"], "Release", "{plans}");
        assert_eq!(
            ok(env, &["plan", "rm", "Release"])?,
            "deleted plan \"Release\"\n"
        );
        let missing = perch(env).args(["plan", "show", "Release"]).output()?;
        assert_eq!(missing.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&missing.stderr).contains("no plan named"));

        // Wakeups.
        assert_eq!(ok(env, &["wakeup", "list"])?, "no wakeups\n");
        let once = ok(
            env,
            &[
                "wakeup",
                "add",
                "Check the deploy",
                "--in",
                "10m",
                "--label",
                "check",
            ],
        )?;
        assert!(once.starts_with("#1 check: once at "), "{once}");
        let every: serde_json::Value = serde_json::from_str(&ok(
            env,
            &[
                "wakeup",
                "add",
                "Tick",
                "--every",
                "1h",
                "--label",
                "tick",
                "--misfire",
                "skip",
                "--grace",
                "10m",
                "--no-notify",
                "--peer",
                "--json",
            ],
        )?)?;
        assert_eq!(every["schedule"]["kind"], "every", "{every}");
        assert_eq!(every["schedule"]["everyMs"], 3_600_000, "{every}");
        assert_eq!(every["misfire"], "skip", "{every}");
        assert_eq!(every["graceMs"], 600_000, "{every}");
        assert_eq!(every["notify"], false, "{every}");
        assert_eq!(every["target"]["kind"], "peer", "{every}");
        let cron = ok(
            env,
            &[
                "wakeup",
                "add",
                "Morning",
                "--cron",
                "0 9 * * 1-5",
                "--tz",
                "Europe/Paris",
                "--label",
                "morning",
            ],
        )?;
        assert!(
            cron.starts_with("#3 morning: cron 0 9 * * 1-5 (Europe/Paris); next "),
            "{cron}"
        );
        assert!(
            ok(env, &["wakeup", "pause", "2"])?.starts_with("#2 tick (paused): every 1h; next -")
        );
        assert!(ok(env, &["wakeup", "resume", "2"])?.starts_with("#2 tick: every 1h; next "));
        assert_eq!(ok(env, &["wakeup", "list"])?.lines().count(), 3);
        assert_eq!(ok(env, &["wakeup", "rm", "3"])?, "deleted wakeup #3\n");
        assert_eq!(ok(env, &["wakeup", "runs"])?, "");

        model.enqueue(Script::text("Deploy checked."));
        let started = ok(env, &["wakeup", "run", "1"])?;
        assert!(
            started.starts_with("run ") && started.ends_with(" started\n"),
            "{started}"
        );
        let runs = until(env, &["wakeup", "runs", "1"], |out| {
            out.contains("completed")
        })?;
        assert!(
            runs.contains(" #1 check: completed +")
                && runs.trim_end().ends_with(" — Deploy checked."),
            "{runs}"
        );
        let runs: serde_json::Value =
            serde_json::from_str(&ok(env, &["wakeup", "runs", "--json"])?)?;
        assert_eq!(runs["data"][0]["wakeupId"], 1, "{runs}");
        Ok(())
    })
}

/// Issue 14: a damaged database names its file and the way out; `perch
/// doctor` finds it and `--repair` keeps a copy and starts it over.
#[test]
fn a_damaged_database_is_named_and_doctor_repairs_it() -> TestResult {
    let env = CodexEnv::new()?;
    let db = env.data().join("perch.db");
    std::fs::write(&db, b"not a database but a shopping list; ".repeat(300))?;

    let serve = perch(&env)
        .args(["serve", "--listen", "127.0.0.1:0", "--relay-listen", "off"])
        .output()?;
    let said = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(2), "{said}");
    assert!(
        said.contains("perch.db is damaged") && said.contains("perch doctor"),
        "{said}"
    );

    let check = perch(&env).arg("doctor").output()?;
    let out = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{out}");
    assert!(out.contains("perch.db: damaged"), "{out}");

    let fix = perch(&env).args(["doctor", "--repair"]).output()?;
    let out = String::from_utf8_lossy(&fix.stdout);
    assert_eq!(
        fix.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&fix.stderr)
    );
    assert!(out.contains("nothing could be read"), "{out}");
    let kept: Vec<String> = std::fs::read_dir(env.data())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("perch.db.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged file is kept");
    assert!(!db.exists(), "Perch starts it empty");
    let again = perch(&env).arg("doctor").output()?;
    assert_eq!(again.status.code(), Some(0));
    Ok(())
}
