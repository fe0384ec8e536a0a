//! Perch's protocol types against the JSON schema that
//! `codex app-server generate-json-schema` printed for the pinned version
//! (`schema/0.169.0/`). Regenerate the files when the pin moves.
//! `PERCH_CODEX_SCHEMA_DIR` points the same checks at another version's
//! generated schema (the README's test command passes the next pin's).

use perch_codex::protocol::*;
use serde::Serialize;
use serde_json::{json, Value};

fn schema(name: &str) -> Value {
    let dir = std::env::var("PERCH_CODEX_SCHEMA_DIR").unwrap_or_else(|_| {
        format!(
            "{}/schema/{PINNED_CODEX_VERSION}",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    let path = format!("{dir}/{name}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn assert_valid(schema: &Value, instance: &Value) {
    let validator = jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{instance} does not match the schema: {errors:#?}"
    );
}

fn request<M: Method>(params: M::Params) -> Value
where
    M::Params: Serialize,
{
    json!({ "id": 1, "method": M::NAME, "params": params })
}

#[test]
fn every_request_perch_sends_matches_the_pinned_schema() {
    let schema = schema("ClientRequest");
    let overrides = ThreadOverrides {
        cwd: Some("/tmp/w".into()),
        model: Some("gpt-5.5".into()),
        model_provider: Some("custom".into()),
        approval_policy: Some(AskForApproval::Untrusted),
        sandbox: Some(SandboxMode::WorkspaceWrite),
        config: Some(json!({"mcp_servers": {}})),
        developer_instructions: Some("be brief".into()),
    };
    let text = || vec![UserInput::Text { text: "hi".into() }];
    let requests = [
        request::<Initialize>(InitializeParams {
            client_info: ClientInfo {
                name: "perch".into(),
                title: "Perch".into(),
                version: "0.1.0".into(),
            },
            capabilities: InitializeCapabilities::default(),
        }),
        request::<ThreadStart>(ThreadStartParams {
            overrides: overrides.clone(),
        }),
        request::<ThreadStart>(ThreadStartParams::default()),
        request::<ThreadResume>(ThreadResumeParams {
            thread_id: "t".into(),
            overrides: overrides.clone(),
        }),
        request::<ThreadFork>(ThreadForkParams {
            thread_id: "t".into(),
            last_turn_id: Some("u".into()),
            overrides,
        }),
        request::<ThreadFork>(ThreadForkParams {
            thread_id: "t".into(),
            ..ThreadForkParams::default()
        }),
        request::<ThreadRevert>(ThreadRevertParams {
            thread_id: "t".into(),
            before_turn_id: "u".into(),
        }),
        request::<ThreadArchive>(ThreadIdParams {
            thread_id: "t".into(),
        }),
        request::<ThreadUnarchive>(ThreadIdParams {
            thread_id: "t".into(),
        }),
        request::<ThreadNameSet>(ThreadNameSetParams {
            thread_id: "t".into(),
            name: "n".into(),
        }),
        request::<ThreadCompactStart>(ThreadIdParams {
            thread_id: "t".into(),
        }),
        request::<ThreadTurnsList>(ThreadTurnsListParams {
            thread_id: "t".into(),
            cursor: None,
            limit: Some(100),
            items_view: "full",
            sort_direction: "asc",
        }),
        request::<ThreadLoadedList>(EmptyParams {}),
        request::<TurnStart>(TurnStartParams {
            thread_id: "t".into(),
            input: text(),
            model: Some("m".into()),
            effort: Some("high".into()),
            approval_policy: Some(AskForApproval::Untrusted),
            sandbox_policy: Some(SandboxPolicy::ReadOnly {
                network_access: false,
            }),
        }),
        request::<TurnSteer>(TurnSteerParams {
            thread_id: "t".into(),
            expected_turn_id: "u".into(),
            input: text(),
        }),
        request::<TurnInterrupt>(TurnInterruptParams {
            thread_id: "t".into(),
            turn_id: "u".into(),
        }),
        request::<ModelList>(ModelListParams::default()),
        request::<AccountRead>(AccountReadParams {
            refresh_token: false,
        }),
        request::<AccountLoginStart>(LoginParams::ApiKey {
            api_key: "sk-x".into(),
        }),
        request::<AccountLoginStart>(LoginParams::ChatgptDeviceCode),
        request::<AccountLogout>(()),
        request::<AccountRateLimitsRead>(()),
        request::<FuzzyFileSearch>(FuzzyFileSearchParams {
            query: "lib".into(),
            roots: vec!["/tmp".into()],
        }),
        request::<TurnStart>(TurnStartParams {
            thread_id: "t".into(),
            input: vec![UserInput::LocalImage {
                path: "/tmp/a.png".into(),
            }],
            model: None,
            effort: None,
            approval_policy: None,
            sandbox_policy: None,
        }),
    ];
    assert_eq!(
        requests
            .iter()
            .map(|r| r["method"].as_str().unwrap_or_default())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        CLIENT_METHODS.len(),
        "every method in CLIENT_METHODS is checked"
    );
    for instance in &requests {
        assert_valid(&schema, instance);
    }
    // The check has teeth: the camelCase spelling the upstream README shows is refused.
    let wrong = json!({"id": 1, "method": "thread/start", "params": {"sandbox": "workspaceWrite"}});
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("schema: {e}"));
    assert!(!validator.is_valid(&wrong));
}

#[test]
fn every_approval_answer_matches_the_pinned_schema() {
    let command = ServerRequest::parse(
        "item/commandExecution/requestApproval",
        json!({"threadId":"t","turnId":"u","itemId":"i","startedAtMs":1,"command":"ls"}),
    );
    let file = ServerRequest::parse(
        "item/fileChange/requestApproval",
        json!({"threadId":"t","turnId":"u","itemId":"i","startedAtMs":1}),
    );
    let elicitation = ServerRequest::parse(
        "mcpServer/elicitation/request",
        json!({"threadId":"t","serverName":"s","mode":"form","message":"m","requestedSchema":{"type":"object","properties":{}}}),
    );
    assert!(matches!(command, ServerRequest::CommandApproval(_)));
    assert!(matches!(file, ServerRequest::FileChangeApproval(_)));
    assert!(matches!(elicitation, ServerRequest::Elicitation(_)));
    let cases = [
        (&command, schema("CommandExecutionRequestApprovalResponse")),
        (&file, schema("FileChangeRequestApprovalResponse")),
        (&elicitation, schema("McpServerElicitationRequestResponse")),
    ];
    for (request, schema) in &cases {
        for decision in [
            Decision::Accept,
            Decision::AcceptForSession,
            Decision::Decline,
            Decision::Cancel,
        ] {
            assert_valid(schema, &decision.response_for(request));
        }
    }
}

#[test]
fn the_notifications_perch_types_exist_in_the_pinned_schema() {
    let text = schema("ServerNotification").to_string();
    for method in [
        "turn/started",
        "turn/completed",
        "item/started",
        "item/completed",
        "item/agentMessage/delta",
        "item/reasoning/summaryTextDelta",
        "item/reasoning/textDelta",
        "item/commandExecution/outputDelta",
        "item/fileChange/outputDelta",
        "turn/diff/updated",
        "thread/tokenUsage/updated",
        "thread/name/updated",
        "serverRequest/resolved",
        "error",
        "warning",
        "account/rateLimits/updated",
    ] {
        assert!(
            text.contains(&format!("\"{method}\"")),
            "{method} is not in ServerNotification.json"
        );
    }
    let requests = schema("ServerRequest").to_string();
    for method in [
        "item/commandExecution/requestApproval",
        "item/fileChange/requestApproval",
        "mcpServer/elicitation/request",
    ] {
        assert!(
            requests.contains(&format!("\"{method}\"")),
            "{method} is not in ServerRequest.json"
        );
    }
}

#[test]
fn the_version_constants_are_the_pins_in_tools() {
    for (constant, file) in [
        (PINNED_CODEX_VERSION, "codex-version"),
        (NEXT_CODEX_VERSION, "codex-next-version"),
    ] {
        let path = format!("{}/../../tools/{file}", env!("CARGO_MANIFEST_DIR"));
        let pinned = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(constant, pinned.trim(), "{path}");
    }
}
