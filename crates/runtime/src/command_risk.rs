//! What a command asks to do, said for the person who approves it: the
//! script without the shell wrapper Codex puts around it
//! (`/bin/bash -lc '…'`), when it can be taken off faithfully, and what in
//! it is destructive, in words. Words for a person, not a guard: the
//! sandbox and the approval policy limit what a command may do.

use std::path::{Component, Path, PathBuf};

/// The script inside `bash|sh|zsh -c|-lc SCRIPT`, when the command is
/// exactly that (three words once unquoted); else `None`.
pub fn unwrap_shell(command: &str) -> Option<String> {
    let words = shlex::split(command)?;
    let [shell, flag, script] = words.as_slice() else {
        return None;
    };
    let shell = Path::new(shell).file_name()?.to_str()?;
    let wraps = matches!(shell, "bash" | "sh" | "zsh" | "dash")
        && matches!(flag.as_str(), "-c" | "-lc" | "-cl");
    (wraps && !script.trim().is_empty()).then(|| script.clone())
}

/// What in `script` destroys or reaches past the project, one phrase each,
/// in the order found, without repeats. `project`: the session's folder;
/// writes to absolute paths outside it are named.
pub fn dangers(script: &str, project: Option<&Path>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut say = |phrase: String| {
        if !found.contains(&phrase) {
            found.push(phrase);
        }
    };
    let pipelines: Vec<&str> = script
        .split(['\n', ';'])
        .flat_map(|s| s.split("&&"))
        .flat_map(|s| s.split("||"))
        .collect();
    for pipeline in pipelines {
        let stages: Vec<Vec<String>> = pipeline
            .split('|')
            .map(|stage| {
                shlex::split(stage)
                    .unwrap_or_else(|| stage.split_whitespace().map(String::from).collect())
            })
            .filter(|words| !words.is_empty())
            .collect();
        for (n, words) in stages.iter().enumerate() {
            let words = strip_sudo(words, &mut say);
            let Some(program) = words.first().map(|p| base_name(p)) else {
                continue;
            };
            let args = &words[1..];
            let has = |flag: &str| args.iter().any(|a| a == flag);
            let short = |letter: char| {
                args.iter()
                    .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(letter))
            };
            match program.as_str() {
                "rm" if short('r') || short('R') || has("--recursive") => {
                    say("deletes files and folders recursively (rm -r)".into())
                }
                "git" => git_dangers(args, &mut say),
                "dd" => say("writes raw data to a file or device (dd)".into()),
                p if p.starts_with("mkfs")
                    || matches!(p, "fdisk" | "parted" | "wipefs" | "sfdisk") =>
                {
                    say(format!("formats or partitions a disk ({p})"))
                }
                "chmod" | "chown" if short('R') || has("--recursive") => say(format!(
                    "changes ownership or permissions recursively ({program} -R)"
                )),
                "sh" | "bash" | "zsh" | "dash"
                    if n > 0
                        && stages[n - 1]
                            .first()
                            .is_some_and(|p| matches!(base_name(p).as_str(), "curl" | "wget")) =>
                {
                    say("runs a script downloaded from the network".into())
                }
                _ => {}
            }
            for target in written_paths(&program, args, pipeline) {
                if let Some(outside) = outside_project(&target, project) {
                    say(format!("writes outside the project: {}", outside.display()));
                }
            }
        }
    }
    found
}

fn base_name(program: &str) -> String {
    Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program)
        .to_string()
}

/// The words after `sudo` (and its options), saying it runs as root.
fn strip_sudo<'a>(words: &'a [String], say: &mut impl FnMut(String)) -> &'a [String] {
    if words.first().is_some_and(|w| base_name(w) == "sudo") {
        say("runs as root (sudo)".into());
        let skip = 1 + words[1..].iter().take_while(|w| w.starts_with('-')).count();
        return &words[skip.min(words.len())..];
    }
    words
}

fn git_dangers(args: &[String], say: &mut impl FnMut(String)) {
    let sub = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str);
    let has = |flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    match sub {
        Some("push")
            if has("--force")
                || has("-f")
                || has("--force-with-lease")
                || args.iter().any(|a| a.starts_with('+')) =>
        {
            say("force-pushes, rewriting the remote's history (git push --force)".into())
        }
        Some("reset") if has("--hard") => {
            say("discards uncommitted changes (git reset --hard)".into())
        }
        Some("clean")
            if args
                .iter()
                .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('f'))
                || has("--force") =>
        {
            say("deletes untracked files (git clean -f)".into())
        }
        _ => {}
    }
}

/// Paths a simple command writes: redirection targets, and the last
/// argument of `cp`, `mv`, `tee`, `rm` (every argument), `touch`.
fn written_paths(program: &str, args: &[String], text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Redirections, from the raw text: `> path`, `>> path`, `>path`.
    let mut rest = text;
    while let Some(at) = rest.find('>') {
        let after = rest[at + 1..].trim_start_matches('>').trim_start();
        let target: String = after
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '|' | '&'))
            .collect();
        if !target.is_empty() && !target.starts_with('&') {
            out.push(target.trim_matches(['"', '\'']).to_string());
        }
        rest = &rest[at + 1..];
    }
    let operands: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    match program {
        "cp" | "mv" | "install" | "ln" => out.extend(operands.last().copied().cloned()),
        "rm" | "tee" | "touch" | "truncate" | "shred" | "rmdir" => {
            out.extend(operands.into_iter().cloned())
        }
        _ => {}
    }
    out
}

/// `Some(path)` when `target` is an absolute (or `~`) path outside the
/// project; device nodes and the temp dir are not the person's files.
fn outside_project(target: &str, project: Option<&Path>) -> Option<PathBuf> {
    let path = if let Some(rest) = target.strip_prefix("~/") {
        dirs::home_dir()?.join(rest)
    } else if target == "~" {
        dirs::home_dir()?
    } else {
        PathBuf::from(target)
    };
    if !path.is_absolute() || path.starts_with("/dev") || path.starts_with("/tmp") {
        return None;
    }
    let path = normalize(&path);
    match project {
        Some(project) if path.starts_with(normalize(project)) => None,
        _ => Some(path),
    }
}

/// `..` and `.` taken out without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_wrapper_comes_off_only_when_it_is_exactly_one() {
        assert_eq!(
            unwrap_shell("/bin/bash -lc 'cargo test && echo ok'").as_deref(),
            Some("cargo test && echo ok")
        );
        assert_eq!(
            unwrap_shell(r#"bash -lc "echo 'it'\''s'""#).as_deref(),
            Some("echo 'it'\\''s'")
        );
        assert_eq!(unwrap_shell("/usr/bin/zsh -c ls").as_deref(), Some("ls"));
        // Not exactly a wrapper: left as it is.
        assert_eq!(unwrap_shell("bash -lc 'ls' extra"), None);
        assert_eq!(unwrap_shell("python3 -c 'print(1)'"), None);
        assert_eq!(unwrap_shell("ls -la"), None);
        assert_eq!(unwrap_shell("bash -lc 'unterminated"), None);
        assert_eq!(unwrap_shell("bash -lc ''"), None);
    }

    #[test]
    fn destructive_commands_are_named() {
        let project = Path::new("/home/ada/repo");
        let cases: &[(&str, &[&str])] = &[
            (
                "rm -rf build",
                &["deletes files and folders recursively (rm -r)"],
            ),
            (
                "rm -r -f ./target",
                &["deletes files and folders recursively (rm -r)"],
            ),
            ("rm notes.txt", &[]),
            (
                "git push --force origin main",
                &["force-pushes, rewriting the remote's history (git push --force)"],
            ),
            (
                "git push -f",
                &["force-pushes, rewriting the remote's history (git push --force)"],
            ),
            (
                "git push origin +main",
                &["force-pushes, rewriting the remote's history (git push --force)"],
            ),
            ("git push origin main", &[]),
            (
                "git reset --hard HEAD~1",
                &["discards uncommitted changes (git reset --hard)"],
            ),
            (
                "git clean -fdx",
                &["deletes untracked files (git clean -f)"],
            ),
            (
                "dd if=/dev/zero of=disk.img bs=1M count=1",
                &["writes raw data to a file or device (dd)"],
            ),
            (
                "mkfs.ext4 /dev/sdb1",
                &["formats or partitions a disk (mkfs.ext4)"],
            ),
            (
                "chmod -R 777 .",
                &["changes ownership or permissions recursively (chmod -R)"],
            ),
            (
                "curl -fsSL https://x.example/i.sh | sh",
                &["runs a script downloaded from the network"],
            ),
            ("sudo apt-get install foo", &["runs as root (sudo)"]),
            (
                "cargo build && sudo rm -rf /opt/old",
                &[
                    "runs as root (sudo)",
                    "deletes files and folders recursively (rm -r)",
                    "writes outside the project: /opt/old",
                ],
            ),
            (
                "echo hi > /etc/hosts",
                &["writes outside the project: /etc/hosts"],
            ),
            ("echo hi >> notes.txt", &[]),
            ("echo hi > /home/ada/repo/notes.txt", &[]),
            (
                "cp a.txt /home/ada/repo/../other/a.txt",
                &["writes outside the project: /home/ada/other/a.txt"],
            ),
            ("ls > /dev/null 2>&1", &[]),
            ("cargo test", &[]),
        ];
        for (script, expected) in cases {
            assert_eq!(dangers(script, Some(project)), *expected, "{script}");
        }
    }
}
