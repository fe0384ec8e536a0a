//! A session's review: every file it changed, diffed against the commit
//! checked out before its first change (where its folder is in a git
//! repository), revert of a file or of one hunk, and "open in editor".
//!
//! Invariants:
//! - The base is recorded when Codex starts the session's first file
//!   change, before the change is applied; git only reads (no repository
//!   program runs, no index lock is taken) and never commits or checks out.
//! - Revert and open touch only files inside the session's working folder.
//! - A hunk is reverted against the diff computed now: the person's edits
//!   since the review was read move hunks, and an index past the last one
//!   is refused rather than guessed.

use super::projects::git_read;
use super::*;
use crate::store::BaseRow;
use perch_protocol::review::{Opened, Review, ReviewBase, ReviewFile, ReviewStatus};
use similar::{DiffTag, TextDiff};

/// Lines of context around each hunk, as git shows them.
const CONTEXT_LINES: usize = 3;

impl Runtime {
    /// Codex started a file change in the session: records what its review
    /// compares with, unless it has a base already.
    pub(crate) fn file_change_started(&self, session_id: &str) {
        match self.store.has_review_base(session_id) {
            Ok(false) => {}
            Ok(true) => return,
            Err(err) => return tracing::warn!("reading the review base: {err}"),
        }
        let Ok(session) = self.session(session_id) else {
            return;
        };
        let me = self.me.clone();
        let session_id = session_id.to_string();
        tokio::spawn(async move {
            let base = match session.cwd.as_deref() {
                Some(cwd) => git_base(Path::new(cwd)).await,
                None => BaseRow::NoGit {
                    reason: "The session has no working folder.".into(),
                },
            };
            let Some(runtime) = me.upgrade() else { return };
            if let Err(err) = runtime.store.keep_review_base(&session_id, &base, now_ms()) {
                tracing::warn!("recording the review base: {err}");
            }
        });
    }

    /// Codex applied a file change in the session: its files join the review.
    pub(crate) fn file_change_applied(&self, session_id: &str, changes: &[FileUpdateChange]) {
        let at = now_ms();
        for change in changes {
            let diff = match change.kind {
                PatchChangeKind::Add => whole_file_hunk(&change.diff, '+'),
                PatchChangeKind::Delete => whole_file_hunk(&change.diff, '-'),
                PatchChangeKind::Update { .. } => change.diff.clone(),
            };
            let mut paths = vec![change.path.as_str()];
            if let PatchChangeKind::Update {
                move_path: Some(to),
            } = &change.kind
            {
                paths.push(to);
            }
            for path in paths {
                if let Err(err) = self.store.add_changed_file(session_id, path, &diff, at) {
                    tracing::warn!("recording a changed file: {err}");
                }
            }
        }
    }

    /// Every file the session changed, against its base.
    pub async fn review(&self, id: &str) -> Result<Review> {
        let session = self.session(id)?;
        let cwd = session.cwd.clone().unwrap_or_default();
        let folder = canonical_folder(&cwd);
        let base = self.store.review_base(id)?;
        let mut files = Vec::new();
        for (path, diffs) in self.store.changed_files(id)? {
            let inside = folder
                .as_deref()
                .is_some_and(|f| is_inside(Path::new(&path), f));
            let shown = match (&folder, inside) {
                (Some(folder), true) => relative(Path::new(&path), folder),
                _ => path.clone(),
            };
            let file = match &base {
                Some(BaseRow::Git { root, commit, .. }) => {
                    let (old, new) = git_versions(Path::new(root), commit, Path::new(&path)).await;
                    file_against(shown, &old, &new, inside)
                }
                _ => recorded_file(shown, &diffs, Path::new(&path).exists(), inside),
            };
            files.push(file);
        }
        Ok(Review {
            cwd,
            base: match base {
                Some(BaseRow::Git {
                    commit, summary, ..
                }) => ReviewBase::Git { commit, summary },
                Some(BaseRow::NoGit { reason }) => ReviewBase::Session { reason },
                None => ReviewBase::Session {
                    reason: "The session has not changed any files yet.".into(),
                },
            },
            files,
        })
    }

    /// Puts a file (or one hunk of it) back as it is in the base commit.
    pub async fn revert(&self, id: &str, shown: &str, hunk: Option<u32>) -> Result<Review> {
        let session = self.session(id)?;
        let Some(BaseRow::Git { root, commit, .. }) = self.store.review_base(id)? else {
            return Err(Error::Conflict(
                "this session's folder is not in a git repository, so Perch has no earlier version to put back"
                    .into(),
            ));
        };
        let path = self.changed_path(&session, shown)?;
        let (old, new) = git_versions(Path::new(&root), &commit, &path).await;
        let replacement = match hunk {
            None => old,
            Some(index) => {
                let (Some(old), Some(new)) = (old.as_deref(), new.as_deref()) else {
                    return Err(Error::Conflict(format!(
                        "{shown} was added or deleted as a whole: revert the whole file"
                    )));
                };
                let (Ok(old), Ok(new)) = (std::str::from_utf8(old), std::str::from_utf8(new))
                else {
                    return Err(Error::Conflict(format!(
                        "{shown} is not text: revert the whole file"
                    )));
                };
                Some(revert_hunk(old, new, index as usize).ok_or_else(|| {
                    Error::Conflict(format!(
                        "{shown} has no hunk {index} now (it changed since the review was read): read the review again"
                    ))
                })?.into_bytes())
            }
        };
        let written = match &replacement {
            Some(bytes) => std::fs::create_dir_all(path.parent().unwrap_or(&path))
                .and_then(|()| std::fs::write(&path, bytes)),
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        written.map_err(|e| Error::io(format!("reverting {}", path.display()), e))?;
        self.review(id).await
    }

    /// Opens a file of the session's folder in the configured editor, else
    /// with the desktop's default application for it.
    pub async fn open_file(&self, id: &str, shown: &str, line: Option<u32>) -> Result<Opened> {
        let session = self.session(id)?;
        let path = inside_path(&session, shown)?;
        if !path.exists() {
            return Err(Error::NotFound(format!(
                "{shown} does not exist (any more)"
            )));
        }
        let path_text = path.to_string_lossy().into_owned();
        if let Some(command) = self.config().review.editor.filter(|c| !c.is_empty()) {
            let line = line.unwrap_or(1).to_string();
            let mut args: Vec<String> = command[1..]
                .iter()
                .map(|a| a.replace("{path}", &path_text).replace("{line}", &line))
                .collect();
            if !command[1..].iter().any(|a| a.contains("{path}")) {
                args.push(path_text.clone());
            }
            let mut child = tokio::process::Command::new(&command[0])
                .args(&args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| {
                    Error::Invalid(format!(
                        "the editor command {:?} could not start ({e}); fix [review] editor in config.toml (docs/config.md)",
                        command[0]
                    ))
                })?;
            // The editor outlives the request; its exit is collected here.
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            return Ok(Opened {
                with: "editor".into(),
            });
        }
        let opener = self.opener.clone().ok_or_else(|| {
            Error::Conflict(
                "this Perch has no desktop to open files with; set [review] editor in config.toml (docs/config.md)"
                    .into(),
            )
        })?;
        tokio::task::spawn_blocking(move || opener.open(&path))
            .await
            .map_err(|e| Error::Invalid(format!("opening the file: {e}")))??;
        Ok(Opened {
            with: "desktop".into(),
        })
    }

    /// The absolute path of a file the review lists, inside the folder.
    fn changed_path(&self, session: &Session, shown: &str) -> Result<PathBuf> {
        let path = inside_path(session, shown)?;
        let known = self
            .store
            .changed_files(&session.id)?
            .into_iter()
            .any(|(changed, _)| canonical_file(Path::new(&changed)) == path);
        if !known {
            return Err(Error::Invalid(format!(
                "{shown} is not a file this session changed"
            )));
        }
        Ok(path)
    }
}

/// `shown` (relative to the session's folder, or absolute) as an absolute
/// path inside that folder; anything outside is refused.
fn inside_path(session: &Session, shown: &str) -> Result<PathBuf> {
    let outside = || {
        Error::Invalid(format!(
            "{shown} is not inside the session's working folder; Perch only opens and reverts files there"
        ))
    };
    if shown.trim().is_empty() || shown.len() > 4096 {
        return Err(Error::Invalid(
            "give the file's path, as the review names it".into(),
        ));
    }
    let folder = session
        .cwd
        .as_deref()
        .and_then(canonical_folder)
        .ok_or_else(outside)?;
    let path = canonical_file(&folder.join(shown));
    if is_inside(&path, &folder) {
        Ok(path)
    } else {
        Err(outside())
    }
}

fn canonical_folder(cwd: &str) -> Option<PathBuf> {
    (!cwd.is_empty())
        .then(|| std::fs::canonicalize(cwd).ok())
        .flatten()
}

/// The path with symbolic links resolved as far as it exists (a deleted
/// file's folder still resolves), and `..` taken out.
fn canonical_file(path: &Path) -> PathBuf {
    if let Ok(resolved) = std::fs::canonicalize(path) {
        return resolved;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => canonical_file(parent).join(name),
        _ => path.to_path_buf(),
    }
}

fn is_inside(path: &Path, folder: &Path) -> bool {
    let path = canonical_file(path);
    path != folder && path.starts_with(folder)
}

fn relative(path: &Path, folder: &Path) -> String {
    canonical_file(path)
        .strip_prefix(folder)
        .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
}

/// The commit `folder` has checked out, or why there is none.
async fn git_base(folder: &Path) -> BaseRow {
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).trim().to_string();
    let root = git_read(folder, &["rev-parse", "--show-toplevel"])
        .await
        .map(text);
    let commit = git_read(folder, &["rev-parse", "--verify", "HEAD"])
        .await
        .map(text);
    match (root, commit) {
        (Some(root), Some(commit)) => {
            let summary = git_read(folder, &["log", "-1", "--format=%s", &commit])
                .await
                .map(text)
                .unwrap_or_default();
            BaseRow::Git {
                root,
                commit,
                summary,
            }
        }
        (Some(_), None) => BaseRow::NoGit {
            reason: "The repository had no commit yet when the session first changed a file.".into(),
        },
        _ => BaseRow::NoGit {
            reason: "The session's folder is not in a git repository: each file shows the changes as Codex made them, and cannot be reverted from here.".into(),
        },
    }
}

/// The file in the base commit and on disk now (`None`: it does not exist there).
async fn git_versions(
    root: &Path,
    commit: &str,
    path: &Path,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let root = canonical_file(root);
    let old = match canonical_file(path).strip_prefix(&root) {
        Ok(in_repo) => {
            let spec = format!("{commit}:{}", in_repo.display());
            git_read(&root, &["cat-file", "blob", &spec]).await
        }
        Err(_) => None,
    };
    (old, std::fs::read(path).ok())
}

fn file_against(
    path: String,
    old: &Option<Vec<u8>>,
    new: &Option<Vec<u8>>,
    inside: bool,
) -> ReviewFile {
    let status = match (old, new) {
        (None, Some(_)) => ReviewStatus::Added,
        (Some(_), None) => ReviewStatus::Deleted,
        (Some(a), Some(b)) if a == b => ReviewStatus::Unchanged,
        (None, None) => ReviewStatus::Unchanged,
        _ => ReviewStatus::Modified,
    };
    let as_text = |bytes: &Option<Vec<u8>>| match bytes {
        None => Some(String::new()),
        Some(b) if b.contains(&0) => None,
        Some(b) => String::from_utf8(b.clone()).ok(),
    };
    let (Some(old), Some(new)) = (as_text(old), as_text(new)) else {
        return ReviewFile {
            path,
            status: ReviewStatus::Binary,
            diff: String::new(),
            additions: 0,
            deletions: 0,
            inside,
        };
    };
    let diff = TextDiff::from_lines(&old, &new);
    let (mut additions, mut deletions) = (0, 0);
    for op in diff.ops() {
        match op.tag() {
            DiffTag::Insert => additions += op.new_range().len() as u32,
            DiffTag::Delete => deletions += op.old_range().len() as u32,
            DiffTag::Replace => {
                additions += op.new_range().len() as u32;
                deletions += op.old_range().len() as u32;
            }
            DiffTag::Equal => {}
        }
    }
    let text = if status == ReviewStatus::Unchanged {
        String::new()
    } else {
        diff.unified_diff()
            .context_radius(CONTEXT_LINES)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string()
    };
    ReviewFile {
        path,
        status,
        diff: text,
        additions,
        deletions,
        inside,
    }
}

/// A file of a folder without git: Codex's own diffs, as recorded.
fn recorded_file(path: String, diffs: &str, exists: bool, inside: bool) -> ReviewFile {
    let count = |sign: char| {
        diffs
            .lines()
            .filter(|l| l.starts_with(sign) && !l.starts_with("+++") && !l.starts_with("---"))
            .count() as u32
    };
    ReviewFile {
        status: if !exists {
            ReviewStatus::Deleted
        } else if diffs.starts_with("@@ -0,0 ") {
            ReviewStatus::Added
        } else {
            ReviewStatus::Modified
        },
        additions: count('+'),
        deletions: count('-'),
        diff: diffs.to_string(),
        path,
        inside,
    }
}

/// A whole file's content as one hunk of added (`+`) or deleted (`-`) lines.
fn whole_file_hunk(content: &str, sign: char) -> String {
    let lines: Vec<&str> = content.lines().collect();
    let range = format!("1,{}", lines.len());
    let header = if sign == '+' {
        format!("@@ -0,0 +{range} @@\n")
    } else {
        format!("@@ -{range} +0,0 @@\n")
    };
    let mut out = header;
    for line in lines {
        out.push(sign);
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `new` with hunk `index` of its diff from `old` put back as in `old`;
/// `None` when the diff has no such hunk.
fn revert_hunk(old: &str, new: &str, index: usize) -> Option<String> {
    let diff = TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified.context_radius(CONTEXT_LINES);
    let hunk = unified.iter_hunks().nth(index)?;
    let ops = hunk.ops();
    let (first, last) = (ops.first()?, ops.last()?);
    let (old_from, old_to) = (first.old_range().start, last.old_range().end);
    let (new_from, new_to) = (first.new_range().start, last.new_range().end);
    let (old_lines, new_lines) = (diff.old_slices(), diff.new_slices());
    let mut out = String::with_capacity(new.len());
    new_lines[..new_from].iter().for_each(|l| out.push_str(l));
    old_lines[old_from..old_to]
        .iter()
        .for_each(|l| out.push_str(l));
    new_lines[new_to..].iter().for_each(|l| out.push_str(l));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n";

    #[test]
    fn one_hunk_goes_back_and_the_others_stay() {
        let new = OLD.replace("b\n", "B\n").replace("m\n", "M\n");
        let first = revert_hunk(OLD, &new, 0).unwrap_or_default();
        assert_eq!(first, OLD.replace("m\n", "M\n"));
        let second = revert_hunk(OLD, &new, 1).unwrap_or_default();
        assert_eq!(second, OLD.replace("b\n", "B\n"));
        assert_eq!(revert_hunk(OLD, &new, 2), None);
    }

    #[test]
    fn added_and_removed_lines_go_back() {
        let new = OLD.replace("c\n", "c\nnew line\n").replace("k\n", "");
        assert_eq!(
            revert_hunk(OLD, &new, 0).unwrap_or_default(),
            OLD.replace("k\n", "")
        );
        assert_eq!(
            revert_hunk(OLD, &new, 1).unwrap_or_default(),
            OLD.replace("c\n", "c\nnew line\n")
        );
    }

    #[test]
    fn files_are_counted_and_told_apart() {
        let modified = file_against(
            "x".into(),
            &Some(OLD.as_bytes().to_vec()),
            &Some(OLD.replace("b\n", "B\nB2\n").into_bytes()),
            true,
        );
        assert_eq!(modified.status, ReviewStatus::Modified);
        assert_eq!((modified.additions, modified.deletions), (2, 1));
        assert!(
            modified.diff.starts_with("--- a/x\n+++ b/x\n@@"),
            "{}",
            modified.diff
        );
        let added = file_against("y".into(), &None, &Some(b"1\n2\n".to_vec()), true);
        assert_eq!((added.status, added.additions), (ReviewStatus::Added, 2));
        let gone = file_against("z".into(), &Some(b"1\n".to_vec()), &None, true);
        assert_eq!((gone.status, gone.deletions), (ReviewStatus::Deleted, 1));
        let binary = file_against("b".into(), &Some(vec![0, 1]), &Some(vec![0, 2]), true);
        assert_eq!(binary.status, ReviewStatus::Binary);
    }

    #[test]
    fn a_whole_file_is_one_hunk() {
        assert_eq!(whole_file_hunk("x\ny\n", '+'), "@@ -0,0 +1,2 @@\n+x\n+y\n");
        assert_eq!(whole_file_hunk("x\n", '-'), "@@ -1,1 +0,0 @@\n-x\n");
    }
}
