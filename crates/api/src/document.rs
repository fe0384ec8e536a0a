//! The OpenAPI document as served, completed and rendered once, on first
//! use. That work is a third of what building the router costs, and no
//! request but `/api/openapi.json` and a checked body needs it, so the API
//! answers without it and a blocking thread makes it meanwhile.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};
use stdx::MutexExt;
use utoipa::openapi::OpenApi;

pub struct ApiDocument {
    /// As the route table made it; taken by the first use.
    raw: Mutex<Option<OpenApi>>,
    done: OnceLock<Done>,
}

struct Done {
    /// `{"components": {"schemas": …}}`, the root body schemas `$ref` into.
    components: Value,
    rendered: bytes::Bytes,
}

impl ApiDocument {
    pub fn new(raw: OpenApi) -> Self {
        Self {
            raw: Mutex::new(Some(raw)),
            done: OnceLock::new(),
        }
    }

    /// Makes it on a blocking thread now, when there is a runtime (there
    /// always is in a server), so that the first request finds it done.
    pub fn warm_up(self: &Arc<Self>) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let doc = self.clone();
            runtime.spawn_blocking(move || {
                doc.done();
            });
        }
    }

    /// A concurrent first use waits for the one that makes it.
    fn done(&self) -> &Done {
        self.done.get_or_init(|| {
            let raw = self.raw.lock_unpoisoned().take().unwrap_or_default();
            let doc = crate::openapi::complete(raw);
            Done {
                components: json!({ "components": { "schemas": doc["components"]["schemas"] } }),
                rendered: serde_json::to_vec(&doc).unwrap_or_default().into(),
            }
        })
    }

    pub fn rendered(&self) -> bytes::Bytes {
        self.done().rendered.clone()
    }

    pub(crate) fn components(&self) -> &Value {
        &self.done().components
    }
}
