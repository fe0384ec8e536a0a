//! The OpenAPI description, built from one route table. The tests request
//! every route in [`ROUTES`], so the document cannot list a route the router
//! does not serve.

use serde_json::{json, Map, Value};

pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: bool,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        auth,
    }
}

pub const ROUTES: &[RouteDoc] = &[
    route("get", "/api/health", "Liveness; needs no token", false),
    route(
        "get",
        "/api/openapi.json",
        "This document; needs no token",
        false,
    ),
    route(
        "post",
        "/api/auth/session",
        "Exchange the token or a one-time login code for a session cookie",
        false,
    ),
    route("delete", "/api/auth/session", "Sign the browser out", true),
    route(
        "post",
        "/api/auth/login-codes",
        "A one-time login code for the browser (60 s)",
        true,
    ),
    route(
        "get",
        "/api/status",
        "Codex state, running turns, pending approvals",
        true,
    ),
    route(
        "get",
        "/api/sessions",
        "Sessions; ?archived=true, ?q=search",
        true,
    ),
    route(
        "post",
        "/api/sessions",
        "Start a session (a new Codex thread)",
        true,
    ),
    route("get", "/api/sessions/{id}", "One session", true),
    route(
        "patch",
        "/api/sessions/{id}",
        "Rename, pin, archive, set model or effort",
        true,
    ),
    route("post", "/api/sessions/{id}/fork", "Fork a session", true),
    route(
        "post",
        "/api/sessions/{id}/compact",
        "Compact a session's context",
        true,
    ),
    route(
        "get",
        "/api/sessions/{id}/history",
        "Turns and items of a session",
        true,
    ),
    route(
        "post",
        "/api/sessions/{id}/messages",
        "Send a message: starts a turn, or steers the running one",
        true,
    ),
    route(
        "post",
        "/api/sessions/{id}/interrupt",
        "Interrupt the running turn",
        true,
    ),
    route(
        "get",
        "/api/approvals",
        "Approvals; ?status=pending|all",
        true,
    ),
    route("post", "/api/approvals/{id}", "Answer an approval", true),
    route("get", "/api/account", "Codex login state", true),
    route(
        "post",
        "/api/account/login",
        "Start an API-key or ChatGPT device-code login",
        true,
    ),
    route("get", "/api/models", "Models and reasoning efforts", true),
    route(
        "get",
        "/api/settings",
        "Settings: Codex, provider, notifications, autostart, secrets, paths",
        true,
    ),
    route(
        "patch",
        "/api/settings",
        "Change settings (partial); saved to config.toml",
        true,
    ),
    route(
        "put",
        "/api/settings/provider-key",
        "Store the custom provider's API key in the keyring",
        true,
    ),
    route(
        "delete",
        "/api/settings/provider-key",
        "Remove the stored provider API key",
        true,
    ),
    route(
        "put",
        "/api/settings/relay-token",
        "Store the relay token in the keyring (used from the next start)",
        true,
    ),
    route(
        "delete",
        "/api/settings/relay-token",
        "Remove the stored relay token",
        true,
    ),
    route(
        "post",
        "/api/codex/restart",
        "Restart Codex to apply binary or provider changes",
        true,
    ),
    route(
        "get",
        "/api/diagnostics",
        "A plain-text diagnostics report (no secrets)",
        true,
    ),
    route(
        "get",
        "/api/events",
        "The event stream (SSE) with Last-Event-ID replay",
        true,
    ),
    route(
        "get",
        "/api/peer",
        "The peer network: relay, identities, connection, unread count, delivery state",
        true,
    ),
    route(
        "get",
        "/api/peer/agents",
        "Agents on the relay with presence, label, tags, capabilities",
        true,
    ),
    route(
        "get",
        "/api/peer/messages",
        "Relay messages for the Inbox; ?channel=&agent=&beforeId=&limit=",
        true,
    ),
    route(
        "post",
        "/api/peer/messages",
        "Send a relay message as the person",
        true,
    ),
    route(
        "post",
        "/api/peer/read",
        "Mark messages read by the person",
        true,
    ),
    route("get", "/api/peer/pairs", "Pairs on the relay", true),
    route(
        "get",
        "/api/peer/tasks",
        "Integration tasks on the relay",
        true,
    ),
    route(
        "get",
        "/api/memories",
        "Memories: newest first, or ranked with ?q=; ?tag=&limit=&offset=",
        true,
    ),
    route(
        "post",
        "/api/memories",
        "Add a memory (as the person)",
        true,
    ),
    route(
        "post",
        "/api/memories/delete",
        "Delete several memories",
        true,
    ),
    route(
        "get",
        "/api/memories/export",
        "Every memory as a file; ?format=jsonl|markdown",
        true,
    ),
    route(
        "post",
        "/api/memories/import",
        "Import memories from a file (up to 16 MiB); ?format=jsonl|markdown",
        true,
    ),
    route("get", "/api/memories/{id}", "One memory", true),
    route(
        "patch",
        "/api/memories/{id}",
        "Edit a memory's text, tags or importance",
        true,
    ),
    route("delete", "/api/memories/{id}", "Delete a memory", true),
    route("get", "/api/plans", "Todo lists with their items", true),
    route("post", "/api/plans", "Create a todo list", true),
    route("get", "/api/plans/{id}", "One todo list", true),
    route("patch", "/api/plans/{id}", "Rename a todo list", true),
    route("delete", "/api/plans/{id}", "Delete a todo list", true),
    route("post", "/api/plans/{id}/items", "Add an item", true),
    route(
        "patch",
        "/api/plans/{id}/items/{itemId}",
        "Edit, check, uncheck or move an item",
        true,
    ),
    route(
        "delete",
        "/api/plans/{id}/items/{itemId}",
        "Remove an item",
        true,
    ),
    route(
        "post",
        "/api/plans/{id}/clear",
        "Remove all items, or only the checked ones",
        true,
    ),
    route(
        "get",
        "/api/wakeups",
        "Wakeups with next fire times and last runs",
        true,
    ),
    route(
        "post",
        "/api/wakeups",
        "Schedule a wakeup (at, in, every or cron)",
        true,
    ),
    route(
        "get",
        "/api/wakeups/runs",
        "The run log, newest first; ?wakeupId=&limit=",
        true,
    ),
    route(
        "post",
        "/api/wakeups/runs/{id}/fire",
        "Run a missed occurrence now (misfire policy ask)",
        true,
    ),
    route(
        "post",
        "/api/wakeups/runs/{id}/dismiss",
        "Dismiss a missed occurrence",
        true,
    ),
    route("get", "/api/wakeups/{id}", "One wakeup", true),
    route(
        "patch",
        "/api/wakeups/{id}",
        "Edit, pause (enabled=false) or resume a wakeup",
        true,
    ),
    route(
        "delete",
        "/api/wakeups/{id}",
        "Delete a wakeup (its runs stay in the log)",
        true,
    ),
    route(
        "post",
        "/api/wakeups/{id}/run",
        "Run a wakeup now, outside its schedule",
        true,
    ),
];

pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let mut operation = json!({
            "summary": r.summary,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !r.auth {
            operation["security"] = json!([]);
        }
        let parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        entry[r.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Perch local API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Shapes and events are described in docs/api.md."
        },
        "servers": [{"url": "http://127.0.0.1:4860"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "perch_session"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
                }
            }
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths
    })
}
