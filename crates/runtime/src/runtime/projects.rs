//! Projects: the working folders the person added, and what each is now
//! (still there, its git branch and uncommitted files, its sessions).

use super::*;
use perch_protocol::projects::{GitState, Project, MAX_PATH_CHARS};

/// How long `git status` may take per project before it is left out.
const GIT_TIMEOUT: Duration = Duration::from_secs(3);

impl Runtime {
    /// The projects, by path, with their folders' state now.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let mut projects = Vec::new();
        for row in self.store.projects()? {
            projects.push(self.project(row).await?);
        }
        Ok(projects)
    }

    /// Adds a folder: it must exist and be readable. The flag says whether
    /// it is new (a folder already listed is answered as it is).
    pub async fn add_project(&self, raw: &str) -> Result<(Project, bool)> {
        let path = project_path(raw)?;
        let (row, new) = self.store.add_project(&path, now_ms())?;
        Ok((self.project(row).await?, new))
    }

    /// Takes a project off the list; its sessions and its folder stay.
    pub fn remove_project(&self, id: i64) -> Result<()> {
        if self.store.remove_project(id)? {
            Ok(())
        } else {
            Err(Error::NotFound(format!("no project {id}")))
        }
    }

    async fn project(&self, (id, path, added_at): crate::store::ProjectRow) -> Result<Project> {
        let folder = Path::new(&path);
        let exists = folder.is_dir();
        let git = if exists {
            git_state(folder).await
        } else {
            None
        };
        Ok(Project {
            id,
            name: folder
                .file_name()
                .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned()),
            exists,
            git,
            sessions: self.store.count_sessions_in(&path)?,
            path,
            added_at,
        })
    }
}

/// The folder `raw` names, checked: absolute (or `~/…`), an existing
/// folder Perch can read, symbolic links resolved.
pub(crate) fn project_path(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::Invalid("the path is empty".into()));
    }
    if raw.chars().count() > MAX_PATH_CHARS {
        return Err(Error::Invalid(format!(
            "the path is longer than {MAX_PATH_CHARS} characters"
        )));
    }
    let path = match raw.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()
            .ok_or_else(|| Error::Invalid("there is no home folder to expand ~ in".into()))?
            .join(rest),
        None => PathBuf::from(raw),
    };
    if !path.is_absolute() {
        return Err(Error::Invalid(format!(
            "{raw:?} is not an absolute path: give the whole path, e.g. /home/you/src/app or ~/src/app"
        )));
    }
    let resolved = std::fs::canonicalize(&path)
        .map_err(|e| Error::Invalid(format!("{}: {}", path.display(), io_reason(&e))))?;
    if !resolved.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is a file, not a folder",
            resolved.display()
        )));
    }
    std::fs::read_dir(&resolved).map_err(|e| {
        Error::Invalid(format!(
            "{} cannot be read: {}",
            resolved.display(),
            io_reason(&e)
        ))
    })?;
    resolved
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Invalid(format!("{} is not valid UTF-8", resolved.display())))
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => err.to_string(),
    }
}

/// The branch and uncommitted files of the repository `folder` is in, from
/// `git status`; `None` when it is not in one, git is missing or slow.
async fn git_state(folder: &Path) -> Option<GitState> {
    let stdout = git_read(
        folder,
        &[
            "status",
            "--porcelain=v2",
            "--branch",
            "--untracked-files=normal",
        ],
    )
    .await?;
    let text = String::from_utf8_lossy(&stdout);
    let mut branch = None;
    let mut changed_files = 0u32;
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("# branch.head ") {
            branch = (head != "(detached)").then(|| head.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            changed_files += 1;
        }
    }
    Some(GitState {
        branch,
        changed_files,
    })
}

impl Runtime {
    /// Files of the session's working folder whose path matches `query`
    /// (Codex's own fuzzy file search, which skips what git ignores), for
    /// `@` mentions. An empty query answers nothing.
    pub async fn session_files(
        &self,
        id: &str,
        query: &str,
        limit: usize,
    ) -> Result<Vec<perch_protocol::attachments::FileMatch>> {
        let query = query.trim();
        if query.chars().count() > MAX_FILE_QUERY_CHARS {
            return Err(Error::Invalid(format!(
                "the file query is longer than {MAX_FILE_QUERY_CHARS} characters"
            )));
        }
        let session = self.session(id)?;
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let cwd = session.cwd.ok_or_else(|| {
            Error::Conflict("this session has no working folder to mention files from".into())
        })?;
        let found = self
            .codex::<FuzzyFileSearch>(&FuzzyFileSearchParams {
                query: query.into(),
                roots: vec![cwd],
            })
            .await?;
        Ok(found
            .files
            .into_iter()
            .filter(|f| f.match_type.as_deref() != Some("directory"))
            .take(limit)
            .map(|f| perch_protocol::attachments::FileMatch {
                path: f.path,
                file_name: f.file_name,
                indices: f.indices.unwrap_or_default(),
            })
            .collect())
    }
}

const MAX_FILE_QUERY_CHARS: usize = 200;

/// Runs `git -C folder ARGS` for reading (no repository program runs, no
/// index lock taken): its stdout when it succeeded within the timeout.
pub(crate) async fn git_read(folder: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let run = tokio::process::Command::new("git")
        .arg("-C")
        .arg(folder)
        // A repository's own config must not run anything when Perch only
        // reads (core.fsmonitor names a program git would start).
        .args(["-c", "core.fsmonitor=false"])
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(GIT_TIMEOUT, run).await.ok()?.ok()?;
    output.status.success().then_some(output.stdout)
}
