//! `/api/projects`: folders are checked before they are listed, each shows
//! its git branch and uncommitted files, sessions are counted and listed by
//! project, and a session started in a project runs there.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use serde_json::{json, Value};
use std::process::Command;

fn git(dir: &std::path::Path, args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Perch",
            "-c",
            "user.email=perch@example.com",
        ])
        .args(args)
        .status()?;
    assert!(status.success(), "git {args:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "runs a /bin/sh script as git's fsmonitor")]
async fn a_project_is_a_checked_folder_with_its_git_state_and_sessions() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let root = tempfile::tempdir()?;
    let repo = root.path().join("parser");
    std::fs::create_dir_all(repo.join("src"))?;
    git(&repo, &["init", "-q", "-b", "main"])?;
    std::fs::write(repo.join("README"), "parser\n")?;
    git(&repo, &["add", "README"])?;
    git(&repo, &["commit", "-q", "-m", "first"])?;
    // A repository whose config would run a program on `git status`:
    // listing it must not.
    let ran = root.path().join("fsmonitor-ran");
    let script = root.path().join("fsmonitor.sh");
    perch_test_support::write_script(&script, &format!("#!/bin/sh\ntouch {}\n", ran.display()))?;
    git(
        &repo,
        &["config", "core.fsmonitor", &script.display().to_string()],
    )?;
    std::fs::write(repo.join("README"), "parser, changed\n")?;
    std::fs::write(repo.join("new.txt"), "untracked\n")?;
    let plain = root.path().join("notes");
    std::fs::create_dir(&plain)?;
    let file = root.path().join("a-file");
    std::fs::write(&file, "x")?;

    assert_eq!(h.get("/api/projects").await?["data"], json!([]));
    let missing = root.path().join("nope");
    for (path, words) in [
        (missing.display().to_string(), "no such folder"),
        ("src/parser".to_string(), "not an absolute path"),
        (file.display().to_string(), "is a file, not a folder"),
        ("   ".to_string(), "the path is empty"),
        (format!("/{}", "a".repeat(5000)), "longer than 4096"),
    ] {
        let (status, body) = h.post("/api/projects", json!({ "path": path })).await?;
        assert_eq!(status, 422, "{path:.40}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{path:.40}: {message}");
    }
    let (status, body) = h.post("/api/projects", json!({ "folder": "/tmp" })).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        h.get("/api/projects").await?["data"],
        json!([]),
        "nothing added"
    );

    // Symbolic links and a trailing slash resolve to the folder itself.
    let (status, project) = h
        .post(
            "/api/projects",
            json!({ "path": format!("{}/", repo.display()) }),
        )
        .await?;
    assert_eq!(status, 201, "{project}");
    let path = std::fs::canonicalize(&repo)?.display().to_string();
    assert_eq!(project["path"], path.as_str());
    assert_eq!(project["name"], "parser");
    assert_eq!(project["exists"], true);
    assert_eq!(project["git"], json!({"branch": "main", "changedFiles": 2}));
    assert!(!ran.exists(), "git status ran the repository's fsmonitor");
    let (status, again) = h.post("/api/projects", json!({ "path": path })).await?;
    assert_eq!((status, &again["id"]), (200, &project["id"]), "listed once");
    let (status, notes) = h
        .post(
            "/api/projects",
            json!({ "path": plain.display().to_string() }),
        )
        .await?;
    assert_eq!(status, 201, "{notes}");
    assert_eq!(notes["git"], Value::Null, "not a repository");

    // A session started in a folder of the project belongs to it.
    let src = format!("{path}/src");
    let (status, session) = h.post("/api/sessions", json!({ "cwd": src })).await?;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["cwd"], src.as_str());
    h.new_session().await?;
    let listed = h.get("/api/projects").await?;
    let parser = listed["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "parser")
        .ok_or("parser is not listed")?;
    assert_eq!(parser["sessions"], 1);
    let in_project = h
        .get(&format!("/api/sessions?project={}", urlencode(&path)))
        .await?;
    assert_eq!(in_project["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(in_project["data"][0]["id"], session["id"]);

    // Removing it keeps its sessions and its folder.
    let id = project["id"].as_i64().ok_or("no id")?;
    let removed = h
        .http
        .delete(h.url(&format!("/api/projects/{id}")))
        .bearer_auth(&h.token)
        .send()
        .await?;
    assert_eq!(removed.status(), 204);
    let again = h
        .http
        .delete(h.url(&format!("/api/projects/{id}")))
        .bearer_auth(&h.token)
        .send()
        .await?;
    assert_eq!(again.status(), 404);
    assert!(repo.join("README").exists());
    let session_id = session["id"].as_str().ok_or("no session id")?;
    assert_eq!(
        h.get(&format!("/api/sessions/{session_id}")).await?["cwd"],
        src.as_str()
    );
    Ok(())
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
