//! `perch-api`: the local HTTP + SSE API over the runtime, and the web UI.
//!
//! Invariants:
//! - Every request passes the host allow-list; every `/api` route but
//!   health, the OpenAPI document and sign-in needs the token or a session.
//! - Bodies are limited to 1 MiB (an image 20 MiB, a memory import 16);
//!   every error is `{"error":{code,message}}`.
//! - Runtime errors become strings here and nowhere earlier.
//!
//! API boundary: [`router`] and [`ApiOptions`]. One `routes!` table builds
//! the router and the OpenAPI document; docs/api.md says the rest.

mod agent;
mod attachments;
mod auth;
mod body_schemas;
mod changes;
mod document;
mod error;
mod model_servers;
pub mod openapi;
mod peer;
mod projects;
mod review;
mod routes;
mod search;
mod sse;

pub use auth::Auth;
pub use error::ApiError;
pub use peer::{PeerLink, PeerLinkState};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::Router;
use perch_runtime::Runtime;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub const BODY_LIMIT: usize = 1024 * 1024;

pub struct ApiOptions {
    /// The token, the host allow-list and browser sessions. The caller keeps
    /// a handle to mint login codes (the desktop app signs its windows in).
    pub auth: Arc<Auth>,
    /// The built web UI; `None` serves a page that says how to build it.
    pub ui_dir: Option<PathBuf>,
    /// Perch's agent on the peer network, or why it is off, once known.
    pub peer: PeerLink,
    /// Memory, plans and wakeups.
    pub agent: Arc<perch_agent::AgentState>,
}

/// The API and the web UI. The `routes!` table below builds both the axum
/// router and the OpenAPI document (`/api/openapi.json`).
pub fn router(runtime: Arc<Runtime>, options: ApiOptions) -> Router {
    let auth = options.auth;

    let open = OpenApiRouter::new()
        .routes(routes!(routes::health))
        .routes(routes!(routes::open_session, routes::close_session))
        .with_state(auth.clone());

    let protected_auth = OpenApiRouter::new()
        .routes(routes!(routes::login_code))
        .with_state(auth.clone());

    let search_routes = OpenApiRouter::new()
        .routes(routes!(search::search))
        .with_state(search::SearchState {
            runtime: runtime.clone(),
            agent: options.agent.clone(),
            peer: options.peer.clone(),
        });

    let peer_routes = OpenApiRouter::new()
        .routes(routes!(peer::status))
        .routes(routes!(peer::agents))
        .routes(routes!(peer::messages, peer::send))
        .routes(routes!(peer::read))
        .routes(routes!(peer::pairs))
        .routes(routes!(peer::tasks))
        .routes(routes!(peer::keys))
        .routes(routes!(peer::pin))
        .routes(routes!(peer::unpin))
        .routes(routes!(peer::rotate_keys))
        .routes(routes!(peer::devices))
        .routes(routes!(peer::link_device))
        .routes(routes!(peer::join_device))
        .routes(routes!(peer::unlink_device))
        .with_state(peer::PeerState { link: options.peer });

    let agent_routes = OpenApiRouter::new()
        .routes(routes!(agent::list_memories, agent::add_memory))
        .routes(routes!(agent::delete_memories))
        .routes(routes!(agent::export_memories))
        .routes(routes!(agent::import_memories).layer(DefaultBodyLimit::max(agent::IMPORT_LIMIT)))
        .routes(routes!(
            agent::get_memory,
            agent::patch_memory,
            agent::delete_memory
        ))
        .routes(routes!(agent::list_plans, agent::create_plan))
        .routes(routes!(
            agent::get_plan,
            agent::rename_plan,
            agent::delete_plan
        ))
        .routes(routes!(agent::add_plan_item))
        .routes(routes!(agent::patch_plan_item, agent::delete_plan_item))
        .routes(routes!(agent::clear_plan))
        .routes(routes!(changes::list_changes))
        .routes(routes!(changes::get_change))
        .routes(routes!(changes::accept_change))
        .routes(routes!(changes::discard_change))
        .routes(routes!(agent::list_wakeups, agent::create_wakeup))
        .routes(routes!(agent::list_runs))
        .routes(routes!(agent::fire_missed_run))
        .routes(routes!(agent::dismiss_missed_run))
        .routes(routes!(
            agent::get_wakeup,
            agent::patch_wakeup,
            agent::delete_wakeup
        ))
        .routes(routes!(agent::run_wakeup))
        .with_state(options.agent);

    let protected = OpenApiRouter::new()
        .routes(routes!(routes::status))
        .routes(routes!(projects::list_projects, projects::add_project))
        .routes(routes!(projects::remove_project))
        .routes(routes!(routes::list_sessions, routes::create_session))
        .routes(routes!(routes::get_session, routes::patch_session))
        .routes(routes!(routes::fork_session))
        .routes(routes!(routes::compact_session))
        .routes(routes!(routes::history))
        .routes(routes!(routes::send_message))
        .routes(routes!(routes::resend))
        .routes(
            routes!(attachments::upload)
                .layer(DefaultBodyLimit::max(attachments::ATTACHMENT_LIMIT)),
        )
        .routes(routes!(attachments::image))
        .routes(routes!(attachments::files))
        .routes(routes!(review::review))
        .routes(routes!(review::revert))
        .routes(routes!(review::open))
        .routes(routes!(routes::interrupt))
        .routes(routes!(routes::list_approvals))
        .routes(routes!(routes::answer_approval))
        .routes(routes!(routes::account))
        .routes(routes!(routes::usage))
        .routes(routes!(routes::login))
        .routes(routes!(routes::logout))
        .routes(routes!(routes::models))
        .routes(routes!(routes::settings, routes::patch_settings))
        .routes(routes!(
            routes::put_provider_key,
            routes::delete_provider_key
        ))
        .routes(routes!(routes::provider_check))
        .routes(routes!(routes::put_relay_token, routes::delete_relay_token))
        .routes(routes!(routes::restart_codex))
        .routes(routes!(routes::diagnostics))
        .routes(routes!(sse::events))
        .with_state(runtime)
        .merge(protected_auth)
        .merge(agent_routes)
        .merge(peer_routes)
        .merge(search_routes)
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require_auth,
        ));

    let (api, doc) = open.merge(protected).split_for_parts();
    // The document describes itself too, then is rendered once.
    let (_, self_path, openapi_route) = routes!(routes::openapi);
    let mut doc = doc;
    doc.paths.paths.extend(self_path.paths);
    let doc = Arc::new(document::ApiDocument::new(doc));
    doc.warm_up();
    let body_schemas = Arc::new(body_schemas::BodySchemas::new(doc.clone()));
    let api = api
        .layer(axum::Extension(body_schemas))
        .route("/api/openapi.json", openapi_route.with_state(doc))
        // Unknown /api paths get a JSON 404, not the UI page.
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
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(axum::middleware::from_fn_with_state(auth, auth::check_host))
}
