//! The OpenAPI document. Its paths, parameters, bodies and status codes come
//! from the `#[utoipa::path]` of each handler, collected by the same
//! `routes!` table that builds the axum router (`lib.rs`): a route cannot be
//! served without being described, nor described without being served.
//! This module adds what is not per route: the document's head, the two
//! ways to authenticate, the error answers many routes share, and the tag
//! that marks the routes a blind fuzzer must not call.

use perch_protocol::errors::ErrorBody;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement, ServerBuilder, Tag};
use utoipa::IntoResponses;

/// Routes tagged with this are documented but not fuzzed: the endless
/// event stream, restarting Codex (which applies a changed binary or
/// provider), signing in over the network. Each has its own tests.
pub const NOT_FUZZED: &str = "not-fuzzed";

/// What every route behind the token may answer.
#[derive(IntoResponses)]
pub enum Protected {
    /// No token, a wrong one, or no browser session.
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// Perch failed (the message says what; the log has more).
    #[response(status = 500)]
    Internal(#[to_schema] ErrorBody),
}

/// What a route with a JSON body may answer about the body.
#[derive(IntoResponses)]
pub enum BadBody {
    /// The body is not JSON or does not fit the schema (a field missing,
    /// unknown or of the wrong type), or a query parameter is wrong.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// The body is larger than the route accepts (1 MiB; 16 MiB for imports).
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorBody),
    /// The body is not `application/json`.
    #[response(status = 415)]
    NotJson(#[to_schema] ErrorBody),
    /// The body fits the schema but a value is refused (blank, too long,
    /// out of range, a time in the past, a directory that does not exist).
    #[response(status = 422)]
    Invalid(#[to_schema] ErrorBody),
}

/// What a route on one record may answer.
#[derive(IntoResponses)]
pub enum ById {
    /// The id is not a number (where ids are numbers) or the query is wrong.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// No such record.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
}

/// What a route that asks Codex may answer when Codex cannot.
#[derive(IntoResponses)]
pub enum CodexCall {
    /// Codex refused the request in the thread's present state (archived,
    /// nothing to fork yet, a turn running).
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorBody),
    /// Codex answered with an error, or the request failed on the way.
    #[response(status = 502)]
    Refused(#[to_schema] ErrorBody),
    /// Codex is not running (starting, restarting, or failed to start).
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
    /// Codex did not answer in time.
    #[response(status = 504)]
    Timeout(#[to_schema] ErrorBody),
}

/// What a route that asks the relay may answer when it cannot.
#[derive(IntoResponses)]
pub enum RelayCall {
    /// The relay refused a value (an address it does not know how to read).
    #[response(status = 422)]
    Refused(#[to_schema] ErrorBody),
    /// The relay has no such message (or agent, pair, task).
    #[response(status = 404)]
    Unknown(#[to_schema] ErrorBody),
    /// The relay refused the request in its present state.
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorBody),
    /// The relay could not be reached, or answered something unreadable.
    #[response(status = 502)]
    Unreachable(#[to_schema] ErrorBody),
    /// The peer network is off (`[peer] enabled = false`, or no relay).
    #[response(status = 503)]
    Off(#[to_schema] ErrorBody),
}

/// Tagged enums that deny unknown fields: utoipa does not carry
/// `deny_unknown_fields` from the enum to its variants' objects, so
/// [`complete`] does (a test checks that serde refuses what this forbids).
const CLOSED_VARIANTS: &[&str] = &["NewSchedule", "Target"];

/// Finishes the document the route table collected, as JSON.
pub fn complete(doc: OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(head(doc)).unwrap_or_default();
    camel_case_links(&mut doc);
    for name in CLOSED_VARIANTS {
        let variants = doc["components"]["schemas"][name]["oneOf"].as_array_mut();
        for variant in variants.into_iter().flatten() {
            if variant["type"] == "object" {
                variant["additionalProperties"] = false.into();
            }
        }
    }
    doc
}

/// utoipa 5.5 writes a link's `operationId` (and `operationRef`,
/// `requestBody`) in snake_case; OpenAPI readers look for camelCase.
fn camel_case_links(doc: &mut serde_json::Value) {
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let responses = operation["responses"].as_object_mut();
        for response in responses.into_iter().flat_map(|r| r.values_mut()) {
            let links = response.get_mut("links").and_then(|l| l.as_object_mut());
            for link in links.into_iter().flat_map(|l| l.values_mut()) {
                let Some(link) = link.as_object_mut() else {
                    continue;
                };
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_string(), value);
                    }
                }
            }
        }
    }
}

fn head(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "Perch local API".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Perch's local API. Every route but health, this document and signing in needs \
         `Authorization: Bearer <token>` (`perch token`) or a browser session cookie. \
         Every error is `{\"error\": {\"code\", \"message\"}}`. Events and their payloads are \
         described in docs/api.md."
            .into(),
    );
    doc.info.license = None;
    doc.info.contact = None;
    doc.servers = Some(vec![ServerBuilder::new()
        .url("http://127.0.0.1:4860")
        .build()]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
            crate::auth::SESSION_COOKIE,
        ))),
    );
    doc.security = Some(vec![
        SecurityRequirement::new("bearer", Vec::<String>::new()),
        SecurityRequirement::new("cookie", Vec::<String>::new()),
    ]);
    let mut not_fuzzed = Tag::new(NOT_FUZZED);
    not_fuzzed.description = Some(
        "Not for blind fuzzing: the endless event stream, restarting Codex (which applies \
         a changed binary or provider), signing in over the network. Each is exercised by \
         its own tests."
            .into(),
    );
    doc.tags.get_or_insert_with(Vec::new).push(not_fuzzed);
    doc
}
