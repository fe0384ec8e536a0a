//! `perch-api`: the local HTTP + SSE API over the runtime, and the web UI.
//!
//! Invariants:
//! - Every request passes the host allow-list; every `/api` route but
//!   health, the OpenAPI document and sign-in needs the token or a session.
//! - Bodies are limited to 1 MiB; every error is `{"error":{code,message}}`.
//! - Runtime errors become strings here and nowhere earlier.
//!
//! API boundary: [`router`] and [`ApiOptions`]; the routes are listed in
//! [`openapi::ROUTES`] and documented in docs/api.md.

mod agent;
mod auth;
mod error;
pub mod openapi;
mod peer;
mod routes;
mod sse;

pub use auth::Auth;
pub use error::ApiError;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, patch, post};
use axum::Router;
use perch_runtime::Runtime;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub const BODY_LIMIT: usize = 1024 * 1024;

pub struct ApiOptions {
    /// The token, the host allow-list and browser sessions. The caller keeps
    /// a handle to mint login codes (the desktop app signs its windows in).
    pub auth: Arc<Auth>,
    /// The built web UI; `None` serves a page that says how to build it.
    pub ui_dir: Option<PathBuf>,
    /// Perch's agent on the peer network; `None` when it is off.
    pub peer: Option<Arc<perch_peer::Peer>>,
}

pub fn router(runtime: Arc<Runtime>, options: ApiOptions) -> Router {
    let auth = options.auth;

    let open = Router::new()
        .route("/api/health", get(routes::health))
        .route("/api/openapi.json", get(routes::openapi))
        .route(
            "/api/auth/session",
            post(routes::open_session).delete(routes::close_session),
        )
        .with_state(auth.clone());

    let protected_auth = Router::new()
        .route("/api/auth/login-codes", post(routes::login_code))
        .with_state(auth.clone());

    let peer_routes = Router::new()
        .route("/api/peer", get(peer::status))
        .route("/api/peer/agents", get(peer::agents))
        .route("/api/peer/messages", get(peer::messages).post(peer::send))
        .route("/api/peer/read", post(peer::read))
        .route("/api/peer/pairs", get(peer::pairs))
        .route("/api/peer/tasks", get(peer::tasks))
        .with_state(options.peer);

    let protected = Router::new()
        .route("/api/status", get(routes::status))
        .route(
            "/api/sessions",
            get(routes::list_sessions).post(routes::create_session),
        )
        .route(
            "/api/sessions/{id}",
            get(routes::get_session).patch(routes::patch_session),
        )
        .route("/api/sessions/{id}/fork", post(routes::fork_session))
        .route("/api/sessions/{id}/compact", post(routes::compact_session))
        .route("/api/sessions/{id}/history", get(routes::history))
        .route("/api/sessions/{id}/messages", post(routes::send_message))
        .route("/api/sessions/{id}/interrupt", post(routes::interrupt))
        .route("/api/approvals", get(routes::list_approvals))
        .route("/api/approvals/{id}", post(routes::answer_approval))
        .route("/api/account", get(routes::account))
        .route("/api/account/login", post(routes::login))
        .route("/api/models", get(routes::models))
        .route(
            "/api/settings",
            get(routes::settings).patch(routes::patch_settings),
        )
        .route(
            "/api/settings/provider-key",
            axum::routing::put(routes::put_provider_key).delete(routes::delete_provider_key),
        )
        .route(
            "/api/settings/relay-token",
            axum::routing::put(routes::put_relay_token).delete(routes::delete_relay_token),
        )
        .route("/api/codex/restart", post(routes::restart_codex))
        .route("/api/diagnostics", get(routes::diagnostics))
        .route("/api/events", get(sse::events))
        .route(
            "/api/memories",
            get(agent::list_memories).post(agent::add_memory),
        )
        .route("/api/memories/delete", post(agent::delete_memories))
        .route("/api/memories/export", get(agent::export_memories))
        .route(
            "/api/memories/import",
            post(agent::import_memories).layer(DefaultBodyLimit::max(agent::IMPORT_LIMIT)),
        )
        .route(
            "/api/memories/{id}",
            get(agent::get_memory)
                .patch(agent::patch_memory)
                .delete(agent::delete_memory),
        )
        .route(
            "/api/plans",
            get(agent::list_plans).post(agent::create_plan),
        )
        .route(
            "/api/plans/{id}",
            get(agent::get_plan)
                .patch(agent::rename_plan)
                .delete(agent::delete_plan),
        )
        .route("/api/plans/{id}/items", post(agent::add_plan_item))
        .route(
            "/api/plans/{id}/items/{itemId}",
            patch(agent::patch_plan_item).delete(agent::delete_plan_item),
        )
        .route("/api/plans/{id}/clear", post(agent::clear_plan))
        .route(
            "/api/wakeups",
            get(agent::list_wakeups).post(agent::create_wakeup),
        )
        .route("/api/wakeups/runs", get(agent::list_runs))
        .route("/api/wakeups/runs/{id}/fire", post(agent::fire_missed_run))
        .route(
            "/api/wakeups/runs/{id}/dismiss",
            post(agent::dismiss_missed_run),
        )
        .route(
            "/api/wakeups/{id}",
            get(agent::get_wakeup)
                .patch(agent::patch_wakeup)
                .delete(agent::delete_wakeup),
        )
        .route("/api/wakeups/{id}/run", post(agent::run_wakeup))
        .with_state(runtime)
        .merge(protected_auth)
        .merge(peer_routes)
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require_auth,
        ));

    // Unknown /api paths get a JSON 404, not the UI page.
    let api = open
        .merge(protected)
        .route("/api/{*rest}", axum::routing::any(routes::not_found))
        .layer(axum::middleware::from_fn(error::errors_as_json));

    let ui = match options.ui_dir.filter(|d| d.join("index.html").is_file()) {
        Some(dir) => Router::new().fallback_service(ServeDir::new(&dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => Router::new().fallback(|| async {
            axum::response::Html(
                "<!doctype html><title>Perch</title><p>The web UI is not built. Run <code>scripts/setup</code> \
                 (or <code>npm --prefix ui run build</code>) and restart Perch.</p>",
            )
        }),
    };

    api.merge(ui)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(axum::middleware::from_fn_with_state(auth, auth::check_host))
}
