//! `perch-bench turns`: measures, on this machine, against the scripted model:
//! cold start to API ready and to Codex ready; idle RSS and CPU of perch
//! and of the Codex child apart; prompt → first delta through Perch and
//! straight to the app-server (the difference is what Perch adds); SSE
//! fan-out latency to N clients. It prints figures; it asserts nothing.

use crate::{err, ms, percentile, proc_usage, BenchError};
use futures_util::StreamExt;
use perch_codex::protocol::{
    ThreadStart, ThreadStartParams, TurnStart, TurnStartParams, UserInput,
};
use perch_codex::{ServerMessage, SpawnOptions};
use perch_test_support::{codex_bin, CodexEnv, Script, ScriptedModel};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// `/api/events`'s SSE events.
type RawEvents = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

/// The two fields of an event the fan-out figure reads.
#[derive(serde::Deserialize)]
struct EventHead {
    #[serde(rename = "type")]
    kind: String,
    at: i64,
}

/// `/api/events`, each event as JSON.
type EventStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = Value> + Send>>;

pub(crate) struct Server {
    pub(crate) child: tokio::process::Child,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Server {
    pub(crate) async fn start(
        env: &CodexEnv,
        model: &ScriptedModel,
    ) -> Result<(Self, Duration, Duration), BenchError> {
        Self::start_with(env, model, "").await
    }

    /// As [`Server::start`], with `codex_keys` added to its `[codex]` section.
    async fn start_with(
        env: &CodexEnv,
        model: &ScriptedModel,
        codex_keys: &str,
    ) -> Result<(Self, Duration, Duration), BenchError> {
        let config = env.perch_config(&model.base_url(), "open").replacen(
            "[codex]\n",
            &format!("[codex]\n{codex_keys}"),
            1,
        );
        std::fs::write(env.data().join("config.toml"), config).map_err(err)?;
        let exe = crate::perch_bin()?;
        // Built before the clock starts: a client loads the system's TLS
        // roots (tens of ms), which is the bench's cost, not Perch's.
        let http = stdx_http::client_builder().build().map_err(err)?;
        // A free port chosen here, so that readiness is the first answer
        // from `/api/health`, not a log line printed later.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(err)?
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let mut child = tokio::process::Command::new(exe)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(env.data())
            .env("TMPDIR", env.tmp())
            .env("PERCH_LOG", "warn")
            // A throwaway token: keep it out of the person's keyring.
            .env("PERCH_SECRET_STORE", "file")
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(err)?;
        let api_ready = loop {
            let answered = http.get(format!("{url}/api/health")).send().await;
            if answered.is_ok_and(|r| r.status().is_success()) {
                break started.elapsed();
            }
            if child.try_wait().map_err(err)?.is_some() {
                return Err(err("perch serve exited"));
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        let stderr = child.stderr.take().ok_or_else(|| err("no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let token = std::fs::read_to_string(env.data().join("secrets/api-token"))
            .map_err(err)?
            .trim()
            .to_string();
        let server = Self {
            child,
            url,
            token,
            http,
        };
        let mut events = server.events().await?;
        if server.get("/api/status").await?["codex"]["state"] != "ready" {
            while let Some(event) = events.next().await {
                if event["type"] == "codex.state" && event["state"] == "ready" {
                    break;
                }
            }
        }
        Ok((server, api_ready, started.elapsed()))
    }

    /// Stops it as logout or systemd would (SIGTERM) and waits for it.
    pub(crate) async fn stop(mut self) -> Result<(), BenchError> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        self.child.wait().await.map_err(err)?;
        Ok(())
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, BenchError> {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(err)?;
        r.json().await.map_err(err)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, BenchError> {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(err)?;
        r.json().await.map_err(err)
    }

    /// Sends `text` and times the answer's first delta on `events` (in ms;
    /// `None` when the turn ended without one); returns once it ended.
    async fn first_delta(
        &self,
        session_id: &str,
        text: &str,
        events: &mut EventStream,
    ) -> Result<Option<f64>, BenchError> {
        let sent = Instant::now();
        self.post(
            &format!("/api/sessions/{session_id}/messages"),
            json!({ "text": text }),
        )
        .await?;
        let mut first = None;
        while let Some(event) = events.next().await {
            if first.is_none() && event["type"] == "item.delta" && event["kind"] == "agentMessage" {
                first = Some(ms(sent.elapsed()));
            }
            if event["type"] == "turn.completed" {
                break;
            }
        }
        Ok(first)
    }

    /// `/api/events` as SSE events, unparsed.
    async fn raw_events(&self) -> Result<RawEvents, BenchError> {
        use eventsource_stream::Eventsource;
        let r = self
            .http
            .get(format!("{}/api/events", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(err)?;
        Ok(Box::pin(r.bytes_stream().eventsource()))
    }

    async fn events(&self) -> Result<EventStream, BenchError> {
        Ok(Box::pin(self.raw_events().await?.filter_map(
            |e| async move { e.ok().and_then(|e| serde_json::from_str(&e.data).ok()) },
        )))
    }
}

pub async fn run(prompts: usize, clients: usize) -> Result<(), BenchError> {
    let bin = codex_bin();
    if !bin.is_file() {
        return Err(err(format!(
            "no Codex at {} (run scripts/setup or set PERCH_CODEX_BIN)",
            bin.display()
        )));
    }
    let model = ScriptedModel::start().await.map_err(err)?;
    println!(
        "perch-bench turns (Codex {}, scripted model at {})",
        bin.display(),
        model.base_url()
    );

    // 1. Cold start, 5 runs each: the first start on a new data dir
    // (databases created), and a start on that dir after a clean stop
    // (what a login or a restart is).
    let (mut first, mut again, mut codex) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let env = CodexEnv::new().map_err(err)?;
        let (server, api_ready, _) = Server::start(&env, &model).await?;
        first.push(ms(api_ready));
        server.stop().await?;
        let (server, api_ready, codex_ready) = Server::start(&env, &model).await?;
        again.push(ms(api_ready));
        codex.push(ms(codex_ready));
        server.stop().await?;
    }
    let figure = |samples: &mut Vec<f64>| {
        let p50 = percentile(samples, 50.0);
        format!(
            "p50 {p50:.1} ms (5 runs, min {:.1}, max {:.1})",
            samples[0], samples[4]
        )
    };
    println!(
        "cold start to API ready, existing data dir: {}",
        figure(&mut again)
    );
    println!(
        "cold start to API ready, new data dir:      {}",
        figure(&mut first)
    );
    println!(
        "cold start to Codex ready, existing data dir: {}",
        figure(&mut codex)
    );

    let env = CodexEnv::new().map_err(err)?;
    let (mut server, _, _) = Server::start(&env, &model).await?;
    let session = server.post("/api/sessions", json!({})).await?;
    let session_id = session["id"].as_str().unwrap_or_default().to_string();

    // 2. Prompt → first delta, through Perch and straight to an app-server,
    // alternating so that both see the same machine state.
    let mut direct = Direct::start(&model).await?;
    let (mut through_perch, mut straight) = (Vec::new(), Vec::new());
    for _ in 0..prompts {
        model.enqueue(Script::chunks(&["first ", "delta"], 0));
        straight.extend(direct.first_delta().await?);
        model.enqueue(Script::chunks(&["first ", "delta"], 0));
        let mut events = server.events().await?;
        through_perch.extend(server.first_delta(&session_id, "hi", &mut events).await?);
    }

    // 3. Idle cost, after the turns, with the Codex child reported apart.
    let perch_pid = server.child.id().unwrap_or(0);
    let codex_pid = server.get("/api/status").await?["codex"]["pid"]
        .as_u64()
        .unwrap_or(0) as u32;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = (proc_usage(perch_pid), proc_usage(codex_pid));
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let after = (proc_usage(perch_pid), proc_usage(codex_pid));
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let cpu = |b: Option<(u64, u64)>, a: Option<(u64, u64)>| match (b, a) {
        (Some(b), Some(a)) => format!(
            "{:.2} %",
            (a.1 - b.1) as f64 / ticks_per_sec / window.as_secs_f64() * 100.0
        ),
        _ => "n/a".into(),
    };
    let rss = |u: Option<(u64, u64)>| {
        u.map_or("n/a".into(), |u| format!("{:.1} MB", u.0 as f64 / 1024.0))
    };
    println!(
        "idle perch serve: RSS {} ({}), CPU {} over {} s",
        rss(after.0),
        crate::rss_split(perch_pid).unwrap_or_default(),
        cpu(before.0, after.0),
        window.as_secs()
    );
    println!(
        "idle codex child: RSS {}, CPU {} over {} s",
        rss(after.1),
        cpu(before.1, after.1),
        window.as_secs()
    );

    // 4. SSE fan-out: `clients` streams, three turns of 200 deltas each.
    // Each client reads only what it measures by (`type`, `at`), as a UI
    // that routes events by type would before it reads the rest.
    const FANOUT_TURNS: usize = 3;
    let mut fanout = Vec::new();
    let mut delivered = 0;
    for _ in 0..FANOUT_TURNS {
        let mut streams = Vec::new();
        for _ in 0..clients {
            streams.push(server.raw_events().await?);
        }
        let chunks: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
        let chunk_refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        model.enqueue(Script::chunks(&chunk_refs, 0));
        let readers: Vec<_> = streams
            .into_iter()
            .map(|mut stream| {
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while let Some(event) = stream.next().await {
                        let Ok(event) = event else { break };
                        let Ok(head) = serde_json::from_str::<EventHead>(&event.data) else {
                            continue;
                        };
                        if head.kind == "item.delta" {
                            latencies.push((stdx::now_ms() - head.at) as f64);
                        }
                        if head.kind == "turn.completed" {
                            break;
                        }
                    }
                    latencies
                })
            })
            .collect();
        server
            .post(
                &format!("/api/sessions/{session_id}/messages"),
                json!({"text": "fan out"}),
            )
            .await?;
        for reader in readers {
            let latencies = reader.await.map_err(err)?;
            delivered += latencies.len();
            fanout.extend(latencies);
        }
    }
    println!(
        "SSE fan-out to {clients} clients: {delivered} of {} deltas delivered ({FANOUT_TURNS} turns), latency p50 {:.0} ms, p99 {:.0} ms (ms clock)",
        clients * 200 * FANOUT_TURNS,
        percentile(&mut fanout, 50.0),
        percentile(&mut fanout, 99.0)
    );
    let _ = server.child.kill().await;

    direct.connection.shutdown(Duration::from_secs(2)).await;
    let (mut perch_samples, mut direct_samples) = (through_perch, straight);
    let perch_p50 = percentile(&mut perch_samples, 50.0);
    let direct_p50 = percentile(&mut direct_samples, 50.0);
    println!("prompt to first delta through Perch: p50 {perch_p50:.1} ms, p99 {:.1} ms ({prompts} prompts)", percentile(&mut perch_samples, 99.0));
    println!(
        "prompt to first delta, app-server direct: p50 {direct_p50:.1} ms, p99 {:.1} ms",
        percentile(&mut direct_samples, 99.0)
    );
    println!(
        "added by Perch (p50 difference): {:.1} ms",
        perch_p50 - direct_p50
    );
    wake(&model, perch_p50).await
}

/// Codex asleep (`[codex] sleep_after`): the footprint after the idle
/// period, and what waking adds to the first prompt, beside the native
/// Codex binary's own cold start (spawn → `initialize` → a thread) measured
/// in the same run.
async fn wake(model: &ScriptedModel, awake_p50: f64) -> Result<(), BenchError> {
    const WAKES: usize = 5;
    let mut cold = Vec::new();
    for _ in 0..WAKES {
        let started = Instant::now();
        let direct = Direct::start(model).await?;
        cold.push(ms(started.elapsed()));
        direct.connection.shutdown(Duration::from_secs(2)).await;
    }
    let env = CodexEnv::new().map_err(err)?;
    let (mut server, _, _) = Server::start_with(&env, model, "sleep_after = \"1s\"\n").await?;
    let session = server.post("/api/sessions", json!({})).await?;
    let session_id = session["id"].as_str().unwrap_or_default().to_string();
    let mut woken = Vec::new();
    let mut footprint = None;
    for _ in 0..WAKES {
        let mut events = server.events().await?;
        // Asleep (also after the first turn below: sleep_after is 1 s).
        if server.get("/api/status").await?["codex"]["state"] != "asleep" {
            while let Some(event) = events.next().await {
                if event["type"] == "codex.state" && event["state"] == "asleep" {
                    break;
                }
            }
        }
        // Settled: the sleeper gives freed memory back once Codex stopped.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let pid = server.child.id().unwrap_or(0);
        footprint = proc_usage(pid).map(|u| (u.0, crate::rss_split(pid).unwrap_or_default()));
        model.enqueue(Script::chunks(&["first ", "delta"], 0));
        woken.extend(
            server
                .first_delta(&session_id, "wake up", &mut events)
                .await?,
        );
    }
    let _ = server.child.kill().await;
    let cold_p50 = percentile(&mut cold, 50.0);
    let woken_p50 = percentile(&mut woken, 50.0);
    println!(
        "idle footprint with Codex asleep: perch serve RSS {} (the Codex child stopped)",
        footprint.map_or("n/a".into(), |(kb, split)| format!(
            "{:.1} MB ({split})",
            kb as f64 / 1024.0
        ))
    );
    println!("native Codex cold start (spawn → initialize → thread/start): p50 {cold_p50:.1} ms ({WAKES} runs)");
    println!(
        "prompt to first delta with Codex asleep: p50 {woken_p50:.1} ms, p99 {:.1} ms ({WAKES} wakes); \
         added by waking (p50, against awake): {:.1} ms",
        percentile(&mut woken, 99.0),
        woken_p50 - awake_p50
    );
    Ok(())
}

/// A Codex app-server driven directly, with no Perch in between.
struct Direct {
    _env: CodexEnv,
    connection: std::sync::Arc<perch_codex::Connection>,
    messages: tokio::sync::mpsc::Receiver<ServerMessage>,
    thread_id: String,
}

impl Direct {
    async fn start(model: &ScriptedModel) -> Result<Self, BenchError> {
        let env = CodexEnv::new().map_err(err)?;
        env.use_scripted_provider(&model.base_url()).map_err(err)?;
        let (tx, messages) = tokio::sync::mpsc::channel(1024);
        let options = SpawnOptions {
            bin: codex_bin(),
            args: vec![],
            // The bench's own environment (the child gets no other), with
            // its throwaway Codex home.
            env: std::env::vars()
                .chain([
                    ("CODEX_HOME".into(), env.codex_home().display().to_string()),
                    ("TMPDIR".into(), env.tmp().display().to_string()),
                ])
                .collect(),
            cwd: Some(env.work()),
            request_timeout: Duration::from_secs(30),
        };
        let connection = perch_codex::Connection::spawn(&options, tx).map_err(err)?;
        let init = perch_codex::protocol::InitializeParams {
            client_info: perch_codex::protocol::ClientInfo {
                name: "perch-bench".into(),
                title: "bench".into(),
                version: "0".into(),
            },
            capabilities: Default::default(),
        };
        connection
            .request::<perch_codex::protocol::Initialize>(&init)
            .await
            .map_err(err)?;
        connection.notify("initialized", None).await.map_err(err)?;
        let thread = connection
            .request::<ThreadStart>(&ThreadStartParams::default())
            .await
            .map_err(err)?;
        Ok(Self {
            _env: env,
            connection,
            messages,
            thread_id: thread.thread.id,
        })
    }

    async fn first_delta(&mut self) -> Result<Option<f64>, BenchError> {
        let sent = Instant::now();
        let params = TurnStartParams {
            thread_id: self.thread_id.clone(),
            input: vec![UserInput::Text { text: "hi".into() }],
            model: None,
            effort: None,
            approval_policy: None,
            sandbox_policy: None,
        };
        self.connection
            .request::<TurnStart>(&params)
            .await
            .map_err(err)?;
        let mut first = None;
        while let Some(message) = self.messages.recv().await {
            if let ServerMessage::Notification(n) = message {
                use perch_codex::protocol::ServerNotification::*;
                match n {
                    AgentMessageDelta(_) if first.is_none() => first = Some(ms(sent.elapsed())),
                    TurnCompleted(_) => break,
                    _ => {}
                }
            }
        }
        Ok(first)
    }
}
