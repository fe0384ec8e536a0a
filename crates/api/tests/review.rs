//! The review pane's routes: every file a session changed, against the
//! commit checked out before its first change; revert of a hunk and of a
//! whole file (the files on disk change); "open in editor" with the
//! configured command; and nothing outside the session's folder.

// The shared harness; this file needs only part of it.
#[allow(dead_code)]
mod common;

use common::{Harness, TestResult};
use perch_runtime::ApprovalPolicy;
use perch_test_support::Script;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const ORIGINAL: &str =
    "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\ntwelve\n";

fn git(dir: &Path, args: &[&str]) -> TestResult {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output()?;
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn patch(body: &str) -> String {
    format!("apply_patch <<'EOF'\n*** Begin Patch\n{body}*** End Patch\nEOF\n")
}

fn file<'a>(review: &'a Value, path: &str) -> &'a Value {
    review["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["path"] == path))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(windows, ignore = "opens a /bin/sh script as the editor")]
async fn a_sessions_changes_are_reviewed_against_git_and_reverted_by_hunk_and_file() -> TestResult {
    // The editor writes its arguments into a pipe the test reads: the read
    // waits for the editor itself, not for a time.
    let tools = tempfile::tempdir()?;
    let editor_log = tools.path().join("editor.fifo");
    let made = Command::new("mkfifo").arg(&editor_log).status()?;
    assert!(made.success());
    let editor = tools.path().join("editor.sh");
    perch_test_support::write_script(
        &editor,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n",
            editor_log.display()
        ),
    )?;
    let editor_path = editor.display().to_string();
    let h = Harness::start_with(ApprovalPolicy::Open, |config| {
        config.review.editor = Some(vec![editor_path, "--line".into(), "{line}".into()]);
    })
    .await?;
    let repo = tempfile::tempdir()?;
    let repo_path = std::fs::canonicalize(repo.path())?;
    git(&repo_path, &["init", "-q", "-b", "main"])?;
    git(&repo_path, &["config", "user.email", "ada@example.com"])?;
    git(&repo_path, &["config", "user.name", "Ada"])?;
    std::fs::write(repo_path.join("notes.txt"), ORIGINAL)?;
    git(&repo_path, &["add", "."])?;
    git(&repo_path, &["commit", "-q", "-m", "First notes"])?;

    let (status, session) = h
        .post(
            "/api/sessions",
            json!({"cwd": repo_path.display().to_string()}),
        )
        .await?;
    assert_eq!(status, 201, "{session}");
    let session = session["id"].as_str().unwrap_or_default().to_string();
    let review_url = format!("/api/sessions/{session}/review");
    let before = h.get(&review_url).await?;
    assert_eq!(before["files"], json!([]));
    assert_eq!(before["base"]["kind"], "session", "{before}");

    let mut events = h.events(None).await?;
    h.model.enqueue(Script::shell(
        &patch("*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n ten\n-eleven\n+ELEVEN\n twelve\n*** Add File: added.txt\n+alpha\n+beta\n"),
        "call_patch",
    ));
    h.model.enqueue(Script::text("Edited the notes."));
    let sent = h.send(&session, "Edit the notes").await?;
    let turn = sent["turnId"].as_str().unwrap_or_default();
    assert_eq!(events.turn_completed(turn).await["status"], "completed");
    let edited = std::fs::read_to_string(repo_path.join("notes.txt"))?;
    assert!(
        edited.contains("TWO") && edited.contains("ELEVEN"),
        "{edited}"
    );

    let review = h.get(&review_url).await?;
    assert_eq!(review["base"]["kind"], "git", "{review}");
    assert_eq!(review["base"]["summary"], "First notes");
    assert_eq!(review["cwd"], repo_path.display().to_string());
    let notes = file(&review, "notes.txt");
    assert_eq!(notes["status"], "modified", "{review}");
    assert_eq!(
        (notes["additions"].as_u64(), notes["deletions"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(notes["inside"], true);
    let diff = notes["diff"].as_str().unwrap_or_default();
    assert_eq!(
        diff.matches("\n@@ ").count() + usize::from(diff.starts_with("@@")),
        2,
        "{diff}"
    );
    let added = file(&review, "added.txt");
    assert_eq!(
        (added["status"].as_str(), added["additions"].as_u64()),
        (Some("added"), Some(2))
    );

    // Bad input changes nothing.
    let revert_url = format!("/api/sessions/{session}/review/revert");
    for (body, status, words) in [
        (
            json!({"path": "../outside.txt"}),
            422,
            "not inside the session's working folder",
        ),
        (json!({"path": "/etc/passwd"}), 422, "not inside"),
        (
            json!({"path": "never-changed.txt"}),
            422,
            "not a file this session changed",
        ),
        (json!({"path": "notes.txt", "hunk": 7}), 409, "no hunk 7"),
        (
            json!({"path": "added.txt", "hunk": 0}),
            409,
            "revert the whole file",
        ),
        (json!({"hunk": 0}), 400, "\"path\" is a required property"),
    ] {
        let (code, answer) = h.post(&revert_url, body.clone()).await?;
        assert_eq!(code, status, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{body}: {message}");
    }
    assert_eq!(
        std::fs::read_to_string(repo_path.join("notes.txt"))?,
        edited
    );
    let (code, _) = h
        .post(
            "/api/sessions/no-such-session/review/revert",
            json!({"path": "notes.txt"}),
        )
        .await?;
    assert_eq!(code, 404);

    // The second hunk goes back; the first stays.
    let (code, after) = h
        .post(&revert_url, json!({"path": "notes.txt", "hunk": 1}))
        .await?;
    assert_eq!(code, 200, "{after}");
    assert_eq!(
        std::fs::read_to_string(repo_path.join("notes.txt"))?,
        ORIGINAL.replace("two\n", "TWO\n")
    );
    assert_eq!(file(&after, "notes.txt")["additions"], 1);
    // The added file goes as a whole.
    let (code, after) = h.post(&revert_url, json!({"path": "added.txt"})).await?;
    assert_eq!(code, 200, "{after}");
    assert!(!repo_path.join("added.txt").exists());
    assert_eq!(file(&after, "added.txt")["status"], "unchanged");
    // And the whole of the other.
    let (code, _) = h.post(&revert_url, json!({"path": "notes.txt"})).await?;
    assert_eq!(code, 200);
    assert_eq!(
        std::fs::read_to_string(repo_path.join("notes.txt"))?,
        ORIGINAL
    );

    // Open in editor: the configured command, with the absolute path.
    let open_url = format!("/api/sessions/{session}/review/open");
    let (code, opened) = h
        .post(&open_url, json!({"path": "notes.txt", "line": 11}))
        .await?;
    assert_eq!(
        (code, opened["with"].as_str()),
        (200, Some("editor")),
        "{opened}"
    );
    let expected = format!("--line\n11\n{}\n", repo_path.join("notes.txt").display());
    let logged = tokio::time::timeout(
        common::WAIT,
        tokio::task::spawn_blocking(move || std::fs::read_to_string(editor_log)),
    )
    .await???;
    assert_eq!(logged, expected);
    let (code, answer) = h
        .post(&open_url, json!({"path": "../../etc/passwd"}))
        .await?;
    assert_eq!(code, 422, "{answer}");
    let (code, answer) = h.post(&open_url, json!({"path": "missing.txt"})).await?;
    assert_eq!(code, 404, "{answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_git_the_review_shows_codexs_own_diffs_and_offers_no_revert() -> TestResult {
    let h = Harness::start(ApprovalPolicy::Open).await?;
    let folder = tempfile::tempdir()?;
    let folder_path = std::fs::canonicalize(folder.path())?;
    let (_, session) = h
        .post(
            "/api/sessions",
            json!({"cwd": folder_path.display().to_string()}),
        )
        .await?;
    let session = session["id"].as_str().unwrap_or_default().to_string();
    let mut events = h.events(None).await?;
    h.model.enqueue(Script::shell(
        &patch("*** Add File: plan.md\n+# Plan\n+step one\n"),
        "call_add",
    ));
    h.model.enqueue(Script::text("Wrote the plan."));
    let sent = h.send(&session, "Write a plan").await?;
    events
        .turn_completed(sent["turnId"].as_str().unwrap_or_default())
        .await;

    let review = h.get(&format!("/api/sessions/{session}/review")).await?;
    assert_eq!(review["base"]["kind"], "session", "{review}");
    assert!(
        review["base"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not in a git repository"),
        "{review}"
    );
    let plan = file(&review, "plan.md");
    assert_eq!(
        (plan["status"].as_str(), plan["additions"].as_u64()),
        (Some("added"), Some(2)),
        "{review}"
    );
    assert!(plan["diff"]
        .as_str()
        .unwrap_or_default()
        .contains("+step one"));
    let (code, answer) = h
        .post(
            &format!("/api/sessions/{session}/review/revert"),
            json!({"path": "plan.md"}),
        )
        .await?;
    assert_eq!(code, 409, "{answer}");
    assert!(folder_path.join("plan.md").exists());
    Ok(())
}
