//! Request bodies are checked against the OpenAPI document's own schemas
//! before they are read, so what the document says a body may be is what
//! the API accepts: serde alone would also take an array for an object, or
//! ignore what a schema forbids.

use crate::document::ApiDocument;
use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use stdx::MutexExt;

pub struct BodySchemas {
    /// The OpenAPI document as served, for its schemas and their `$ref`s.
    doc: Arc<ApiDocument>,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl BodySchemas {
    pub fn new(doc: Arc<ApiDocument>) -> Self {
        Self {
            doc,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// 400 when `body` does not fit the schema named `name`.
    pub fn check(&self, name: &str, body: &Value) -> Result<(), ApiError> {
        let validator = self.validator(name)?;
        let Some(error) = validator.iter_errors(body).next() else {
            return Ok(());
        };
        let at = error.instance_path().to_string();
        let at = if at.is_empty() {
            "the body".to_string()
        } else {
            format!("`{at}`")
        };
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{at} does not fit the API's schema ({name}): {error}"),
        ))
    }

    fn validator(&self, name: &str) -> Result<Arc<jsonschema::Validator>, ApiError> {
        if let Some(validator) = self.compiled.lock_unpoisoned().get(name) {
            return Ok(validator.clone());
        }
        let mut root = self.doc.components().clone();
        root["$ref"] = json!(format!("#/components/schemas/{name}"));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map(Arc::new)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    format!("the API's schema for {name} does not compile: {e}"),
                )
            })?;
        self.compiled
            .lock_unpoisoned()
            .insert(name.to_string(), validator.clone());
        Ok(validator)
    }
}
