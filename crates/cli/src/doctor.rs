//! `perch doctor`: checks Perch's databases (`PRAGMA integrity_check`) and,
//! with `--repair`, moves a damaged one aside and writes what can still be
//! read in its place. Offline: it refuses to repair while Perch runs.

use crate::CliError;
use perch_runtime::store::doctor::{check, repair, Checked};
use std::path::Path;

const DATABASES: [&str; 3] = ["perch.db", "relay.db", "peer.db"];

/// Exit status 0 when every database is sound (or was repaired), else an
/// error that says what to do.
pub fn doctor(data_dir: &Path, fix: bool) -> Result<(), CliError> {
    let mut damaged = Vec::new();
    for name in DATABASES {
        let path = data_dir.join(name);
        if !path.exists() {
            continue;
        }
        match check(&path) {
            Checked::Ok => println!("{name}: ok"),
            Checked::Damaged(problems) => {
                println!("{name}: damaged");
                for problem in problems.iter().take(5) {
                    println!("  {problem}");
                }
                damaged.push(path);
            }
        }
    }
    if damaged.is_empty() {
        return Ok(());
    }
    if !fix {
        return Err(CliError::Damaged(format!(
            "{} damaged; stop Perch, then `perch doctor --repair` keeps a copy of each and writes what can still be read in its place",
            if damaged.len() == 1 { "one database is" } else { "databases are" }
        )));
    }
    if let Some(pid) = running_perch(data_dir) {
        return Err(CliError::Usage(format!(
            "Perch is running (pid {pid}, {}); stop it first, then run `perch doctor --repair` again",
            data_dir.join("server.json").display()
        )));
    }
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    for path in damaged {
        let done = repair(&path, &stamp).map_err(|e| CliError::Other(e.to_string()))?;
        let name = path.display();
        let kept = done.backup.display();
        if done.rebuilt {
            println!(
                "{name}: repaired from what could be read; the damaged file is kept as {kept}"
            );
        } else {
            println!(
                "{name}: nothing could be read; Perch starts it empty. The damaged file is kept as {kept} (`sqlite3 {kept} .recover` may still save rows)"
            );
        }
    }
    Ok(())
}

/// The pid in `server.json`, if that process is alive.
fn running_perch(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join("server.json")).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    let pid = u32::try_from(record["pid"].as_u64()?).ok()?;
    // Where /proc does not exist, a record means "running": repair refuses.
    let proc_dir = Path::new("/proc");
    (!proc_dir.is_dir() || proc_dir.join(pid.to_string()).exists()).then_some(pid)
}
