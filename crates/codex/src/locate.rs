//! Finding the Codex binary and asking it for its version.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the binary was found, for status and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BinarySource {
    Env,
    Config,
    ProjectLocal,
    Path,
}

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error(
        "no Codex binary found: set PERCH_CODEX_BIN or `[codex] bin` in the config, \
         run scripts/setup to install the pinned one, or put `codex` on PATH"
    )]
    NotFound,
    #[error("{0} (from {1:?}) does not exist or is not executable")]
    NotExecutable(PathBuf, BinarySource),
    #[error("`{bin} --version` failed: {reason}")]
    Version { bin: String, reason: String },
}

/// Where to look for the binary, in this order. The caller reads the
/// environment; this crate does not.
pub struct BinarySearch<'a> {
    /// `PERCH_CODEX_BIN`.
    pub env_bin: Option<PathBuf>,
    /// `[codex] bin` in the config.
    pub config_bin: Option<PathBuf>,
    /// An npm install in `tools/codex` or a packaged `codex/`, in the data
    /// dir, the install dir or the repo.
    pub project_local: &'a [PathBuf],
    /// The `PATH` to search last.
    pub path: Option<&'a str>,
}

pub fn locate(search: BinarySearch<'_>) -> Result<(PathBuf, BinarySource), LocateError> {
    if let Some(bin) = search.env_bin {
        return checked(bin, BinarySource::Env);
    }
    if let Some(bin) = search.config_bin {
        return checked(bin, BinarySource::Config);
    }
    if let Some(bin) = search.project_local.iter().find(|p| is_executable(p)) {
        return Ok((bin.clone(), BinarySource::ProjectLocal));
    }
    let path = search.path.ok_or(LocateError::NotFound)?;
    std::env::split_paths(path)
        .map(|dir| dir.join(BINARY))
        .find(|p| is_executable(p))
        .map(|p| (p, BinarySource::Path))
        .ok_or(LocateError::NotFound)
}

/// The binary's file name here (`codex.exe` on Windows).
const BINARY: &str = if cfg!(windows) { "codex.exe" } else { "codex" };

/// The npm package with this OS and CPU's native binary, and the target
/// triple of its `vendor/` tree, as `@openai/codex`'s launcher names them.
const NPM_PLATFORM: (&str, &str) = if cfg!(all(target_os = "linux", target_arch = "aarch64")) {
    ("codex-linux-arm64", "aarch64-unknown-linux-musl")
} else if cfg!(target_os = "linux") {
    ("codex-linux-x64", "x86_64-unknown-linux-musl")
} else if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
    ("codex-darwin-arm64", "aarch64-apple-darwin")
} else if cfg!(target_os = "macos") {
    ("codex-darwin-x64", "x86_64-apple-darwin")
} else if cfg!(all(windows, target_arch = "aarch64")) {
    ("codex-win32-arm64", "aarch64-pc-windows-msvc")
} else {
    ("codex-win32-x64", "x86_64-pc-windows-msvc")
};

/// The native binary as Perch's packages ship it: the npm package's
/// `vendor/<target>` tree copied to `<dir>/codex`.
pub fn packaged_binary(dir: &Path) -> PathBuf {
    dir.join("codex/bin").join(BINARY)
}

/// The native binary inside an npm install of `@openai/codex` rooted at `dir`.
pub fn npm_native_binary(dir: &Path) -> PathBuf {
    let (package, target) = NPM_PLATFORM;
    dir.join("node_modules/@openai")
        .join(package)
        .join("vendor")
        .join(target)
        .join("bin")
        .join(BINARY)
}

fn checked(bin: PathBuf, source: BinarySource) -> Result<(PathBuf, BinarySource), LocateError> {
    if is_executable(&bin) {
        Ok((bin, source))
    } else {
        Err(LocateError::NotExecutable(bin, source))
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Windows has no execute bit: a file named `*.exe` runs.
#[cfg(windows)]
fn is_executable(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("exe"))
        && std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Runs `bin --version` with exactly `env` and returns the version ("0.169.0").
pub async fn version(bin: &Path, env: &[(String, String)]) -> Result<String, LocateError> {
    let fail = |reason: String| LocateError::Version {
        bin: bin.display().to_string(),
        reason,
    };
    let output = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(bin)
            .arg("--version")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| fail("no answer within 10 s".into()))?
    .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        return Err(fail(format!(
            "exit {:?}: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    parse_version(&text).ok_or_else(|| fail(format!("unexpected output {:?}", text.trim())))
}

/// `codex-cli 0.169.0` → `0.169.0`.
pub fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|word| word.chars().next().is_some_and(|c| c.is_ascii_digit()) && word.contains('.'))
        .map(str::to_string)
}

/// Compares dotted versions numerically: `Less` when `found` is older.
pub fn compare_versions(found: &str, pinned: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-'])
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect()
    };
    parts(found).cmp(&parts(pinned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn versions_parse_and_compare() {
        assert_eq!(
            parse_version("codex-cli 0.169.0\n").as_deref(),
            Some("0.169.0")
        );
        assert_eq!(parse_version("codex-cli"), None);
        for (found, pinned, expected) in [
            ("0.169.0", "0.169.0", Ordering::Equal),
            ("0.170.0", "0.169.0", Ordering::Greater),
            ("0.169.1", "0.169.0", Ordering::Greater),
            ("0.99.0", "0.169.0", Ordering::Less),
            ("1.0.0", "0.169.0", Ordering::Greater),
        ] {
            assert_eq!(
                compare_versions(found, pinned),
                expected,
                "{found} vs {pinned}"
            );
        }
    }

    #[test]
    fn explicit_paths_must_exist_and_path_comes_last() {
        let missing = PathBuf::from("/nonexistent/codex");
        let search = |env_bin, config_bin, project_local, path| BinarySearch {
            env_bin,
            config_bin,
            project_local,
            path,
        };
        assert!(matches!(
            locate(search(Some(missing.clone()), None, &[], None)),
            Err(LocateError::NotExecutable(_, BinarySource::Env))
        ));
        assert!(matches!(
            locate(search(None, Some(missing), &[], None)),
            Err(LocateError::NotExecutable(_, BinarySource::Config))
        ));
        let sh = [PathBuf::from("/bin/sh")];
        assert!(matches!(
            locate(search(None, None, &sh, Some("/nonexistent"))),
            Ok((_, BinarySource::ProjectLocal))
        ));
        assert!(matches!(
            locate(search(None, None, &[], Some("/nonexistent:/also-not"))),
            Err(LocateError::NotFound)
        ));
        assert!(matches!(
            locate(search(None, None, &[], None)),
            Err(LocateError::NotFound)
        ));
    }
}
