//! The crate graph's invariants (ARCHITECTURE.md), read from `cargo
//! metadata`: what each crate may link, counted over its normal and build
//! dependencies, transitively (dev-dependencies are the tests' business).

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

type Result<T> = std::result::Result<T, String>;

struct Graph {
    /// Package id → (name, normal and build dependencies' ids).
    nodes: HashMap<String, (String, Vec<String>)>,
    /// Workspace package name → id.
    members: HashMap<String, String>,
}

impl Graph {
    fn load() -> Result<Self> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
        let output = std::process::Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--manifest-path",
                manifest,
            ])
            .output()
            .map_err(|e| format!("running cargo metadata: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let metadata: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
        let names: HashMap<&str, &str> = metadata["packages"]
            .as_array()
            .ok_or("no packages")?
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
            .collect();
        let mut nodes = HashMap::new();
        for node in metadata["resolve"]["nodes"]
            .as_array()
            .ok_or("no resolve graph")?
        {
            let id = node["id"].as_str().ok_or("a node without id")?;
            let linked = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|kind| kind["kind"].as_str() != Some("dev"))
                })
                .filter_map(|dep| dep["pkg"].as_str().map(String::from))
                .collect();
            let name = names.get(id).ok_or_else(|| format!("no package {id}"))?;
            nodes.insert(id.to_string(), (name.to_string(), linked));
        }
        let members = metadata["workspace_members"]
            .as_array()
            .ok_or("no workspace members")?
            .iter()
            .filter_map(|id| id.as_str())
            .filter_map(|id| Some((names.get(id)?.to_string(), id.to_string())))
            .collect();
        Ok(Self { nodes, members })
    }

    /// The names of every crate `package` links, itself excluded.
    fn linked_by(&self, package: &str) -> Result<BTreeSet<String>> {
        let root = self
            .members
            .get(package)
            .ok_or_else(|| format!("{package} is not in the workspace"))?;
        let mut seen = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut todo = vec![root.clone()];
        while let Some(id) = todo.pop() {
            let (_, deps) = &self.nodes[&id];
            for dep in deps {
                if seen.insert(dep.clone()) {
                    names.insert(self.nodes[dep].0.clone());
                    todo.push(dep.clone());
                }
            }
        }
        Ok(names)
    }

    fn assert_links_none(&self, package: &str, forbidden: &[&str], why: &str) -> Result<()> {
        let linked = self.linked_by(package)?;
        let found: Vec<&str> = forbidden
            .iter()
            .copied()
            .filter(|name| linked.contains(*name))
            .collect();
        if found.is_empty() {
            Ok(())
        } else {
            Err(format!("{package} links {found:?}, but {why}"))
        }
    }

    fn perch_crates(&self) -> Vec<&str> {
        self.members
            .keys()
            .map(String::as_str)
            .filter(|name| name.starts_with("perch-"))
            .collect()
    }
}

const HTTP_SERVERS: &[&str] = &["axum", "hyper", "tower-http", "rmcp"];
const HTTP_CLIENTS: &[&str] = &["reqwest", "hyper", "hyper-util", "ureq", "isahc"];
const GUI: &[&str] = &[
    "tauri",
    "wry",
    "tao",
    "gtk",
    "webkit2gtk",
    "ksni",
    "tray-icon",
    "muda",
    "notify-rust",
];
const PEER: &[&str] = &["perch-peer", "perch-relay", "rmcp", "eventsource-stream"];

#[test]
fn codex_knows_nothing_of_perch() -> Result<()> {
    let graph = Graph::load()?;
    graph.assert_links_none(
        "perch-codex",
        &graph.perch_crates(),
        "the Codex layer knows nothing of Perch",
    )
}

#[test]
fn the_engine_links_no_http_gui_or_peer_crate() -> Result<()> {
    let graph = Graph::load()?;
    let why =
        "the engine core reaches HTTP, the desktop and the peer network only through its host";
    graph.assert_links_none("perch-runtime", HTTP_SERVERS, why)?;
    graph.assert_links_none("perch-runtime", HTTP_CLIENTS, why)?;
    graph.assert_links_none("perch-runtime", GUI, why)?;
    graph.assert_links_none("perch-runtime", PEER, why)?;
    // Features unify across the workspace: an HTTP client in stdx would
    // reach every crate.
    graph.assert_links_none(
        "stdx",
        HTTP_CLIENTS,
        "every crate uses stdx; HTTP clients are stdx-http's",
    )
}

#[test]
fn the_engine_core_knows_nothing_of_its_features() -> Result<()> {
    let graph = Graph::load()?;
    graph.assert_links_none(
        "perch-runtime",
        &["perch-agent", "perch-mcp", "perch-api", "perch-host"],
        "features join the core through its seams; the core links none of them",
    )?;
    // The features' own dependencies (search, schedules) stay out of the core.
    graph.assert_links_none(
        "perch-runtime",
        &["rust-stemmers", "croner", "chrono-tz", "url"],
        "memory search and wakeup schedules are perch-agent's",
    )
}

#[test]
fn the_agent_features_link_no_http_gui_or_peer_crate() -> Result<()> {
    let graph = Graph::load()?;
    let why = "memory, plans and wakeups reach HTTP (embeddings) only through their host";
    graph.assert_links_none("perch-agent", HTTP_SERVERS, why)?;
    graph.assert_links_none("perch-agent", HTTP_CLIENTS, why)?;
    graph.assert_links_none("perch-agent", GUI, why)?;
    graph.assert_links_none("perch-agent", PEER, why)
}

#[test]
fn the_relay_links_no_perch_crate_but_its_wire_types() -> Result<()> {
    let graph = Graph::load()?;
    let others: Vec<&str> = graph
        .perch_crates()
        .into_iter()
        .filter(|name| *name != "perch-relay-protocol")
        .collect();
    graph.assert_links_none(
        "perch-relay",
        &others,
        "the relay stands alone (it may use its wire types, stdx and stdx-http)",
    )?;
    graph.assert_links_none("perch-relay", GUI, "the relay is a server")
}

#[test]
fn the_contracts_are_types_only() -> Result<()> {
    let graph = Graph::load()?;
    let why = "a contract is types any client can link";
    for contract in ["perch-protocol", "perch-relay-protocol"] {
        // The API contract carries relay messages and cards as the relay's own types.
        let perch: Vec<&str> = graph
            .perch_crates()
            .into_iter()
            .filter(|name| *name != "perch-relay-protocol")
            .collect();
        graph.assert_links_none(contract, &perch, why)?;
        graph.assert_links_none(contract, HTTP_CLIENTS, why)?;
        graph.assert_links_none(contract, HTTP_SERVERS, why)?;
        graph.assert_links_none(contract, &["tokio", "rusqlite"], why)?;
    }
    Ok(())
}

#[test]
fn the_peer_network_is_a_client_without_the_mcp_server() -> Result<()> {
    let graph = Graph::load()?;
    let why = "perch-peer speaks to a relay; the agent's tools are perch-mcp's";
    graph.assert_links_none("perch-peer", &["rmcp", "axum", "perch-mcp"], why)
}

#[test]
fn relay_clients_link_the_wire_types_not_the_relay() -> Result<()> {
    let graph = Graph::load()?;
    for client in ["perch-peer", "perch-api"] {
        graph.assert_links_none(
            client,
            &["perch-relay"],
            "a client needs the contract, not the server",
        )?;
    }
    Ok(())
}

#[test]
fn only_the_desktop_shell_links_a_gui_toolkit() -> Result<()> {
    let graph = Graph::load()?;
    for member in graph.members.keys().filter(|name| *name != "perch-desktop") {
        graph.assert_links_none(
            member,
            &["tauri", "wry", "tao", "gtk", "webkit2gtk", "ksni"],
            "only perch-desktop is a desktop shell",
        )?;
    }
    Ok(())
}

#[test]
fn shipped_binaries_link_no_test_support() -> Result<()> {
    let graph = Graph::load()?;
    // perch-cli ships `perch`, perch-desktop ships `perch-desktop` and `perch-window`.
    for shipped in ["perch-cli", "perch-desktop"] {
        graph.assert_links_none(
            shipped,
            &["perch-test-support", "perch-bench"],
            "shipped binaries carry no test harness",
        )?;
    }
    Ok(())
}

#[test]
fn stdx_is_small_and_knows_nothing_of_perch() -> Result<()> {
    let graph = Graph::load()?;
    let why = "stdx is std plus a few tiny crates, usable by every crate";
    graph.assert_links_none("stdx", &graph.perch_crates(), why)?;
    graph.assert_links_none("stdx", HTTP_CLIENTS, why)?;
    graph.assert_links_none("stdx", &["tokio", "serde"], why)
}
