//! `perch-mcp`: Perch's MCP server (`rmcp`, streamable HTTP), the tools
//! Perch gives its agent: memory, planner and wakeups (`agent_tools.rs`),
//! and the peer network (`peer_tools.rs`). It listens on loopback with a
//! token made for this run; Codex gets the URL in its `mcp_servers.perch`
//! config and the token only through its environment, and approves the
//! tools without asking (they are Perch's own).
//!
//! It starts after the runtime is open and the peer link exists, and
//! before Codex starts (Codex needs its URL): every tool has what it serves
//! from the first call. The agent-state tools work with the peer network off.
//!
//! API boundary: [`McpServer`], [`McpError`].

mod agent_tools;
mod gate;
mod peer_tools;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use perch_agent::AgentState;
use perch_peer::Peer;
use perch_runtime::McpAttachment;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool_handler, ServerHandler};
use std::sync::Arc;

pub const SERVER_NAME: &str = "perch";

/// The MCP server could not start.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct McpError {
    context: &'static str,
    source: std::io::Error,
}

pub struct McpServer {
    url: String,
    token: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl McpServer {
    /// Binds `127.0.0.1:0` and serves `/mcp`: the agent-state tools over
    /// `runtime`, the peer tools over `peer` (`None`: the network is off).
    pub async fn start(agent: Arc<AgentState>, peer: Option<Arc<Peer>>) -> Result<Self, McpError> {
        let token = stdx::random_hex(24).map_err(|source| McpError {
            context: "making the MCP token",
            source,
        })?;
        let tools = PerchTools {
            peer,
            agent: agent.clone(),
            accepted: None,
            tool_router: PerchTools::peer_router() + PerchTools::agent_router(),
        };
        agent.set_change_applier(Arc::new(gate::Applier(tools.clone())));
        let service: StreamableHttpService<PerchTools, LocalSessionManager> =
            StreamableHttpService::new(
                move || Ok(tools.clone()),
                Default::default(),
                StreamableHttpServerConfig::default(),
            );
        let router = axum::Router::new().nest_service("/mcp", service).layer(
            axum::middleware::from_fn_with_state(Arc::new(token.clone()), require_token),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| McpError {
                context: "binding the MCP server",
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| McpError {
            context: "the MCP address",
            source,
        })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!("the MCP server stopped: {err}");
            }
        });
        Ok(Self {
            url: format!("http://{addr}/mcp"),
            token,
            stop,
        })
    }

    pub fn attachment(&self) -> McpAttachment {
        McpAttachment {
            name: SERVER_NAME.into(),
            url: self.url.clone(),
            token: self.token.clone(),
        }
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

async fn require_token(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if stdx::ct_eq(given, &token) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "Perch's MCP server needs this run's token",
        )
            .into_response()
    }
}

#[derive(Clone)]
struct PerchTools {
    peer: Option<Arc<Peer>>,
    agent: Arc<AgentState>,
    /// Set when running a change the person accepted: its provenance.
    accepted: Option<perch_agent::changes::Provenance>,
    tool_router: ToolRouter<Self>,
}

type ToolResult = std::result::Result<String, String>;

fn json_text(value: impl serde::Serialize) -> ToolResult {
    serde_json::to_string_pretty(&value).map_err(|e| e.to_string())
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PerchTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Perch's tools: durable memory (memory_*), named todo lists shown to you each turn (planner_*), \
                 wakeups that start a turn later (scheduler_*), and the agent relay: read and answer messages \
                 from other agents, pair, claim work, update tasks.",
            )
    }
}
