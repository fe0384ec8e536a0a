//! A data dir made by an earlier Perch opens and migrates without loss.
//! `fixtures/perch-v5.sql` is the database `perch serve` wrote at schema
//! version 5 (issue 5's schema, the last before issue 13); every record in
//! it must read back through today's store.

use perch_runtime::memory::MemorySearch;
use perch_runtime::model::TurnStatus;
use perch_runtime::store::Store;
use perch_runtime::wakeups::RunStatus;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SESSION: &str = "01a24545-2d2a-7f10-9b43-35a5833c8b92";
const TURN: &str = "01a24545-3cd3-74e2-afc4-0b2578cf16b3";

#[test]
fn a_version_5_data_dir_opens_without_loss() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("perch.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(include_str!("fixtures/perch-v5.sql"))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(version, 5, "the fixture is a version 5 database");
    }
    let store = Store::open(&path)?;

    let session = store.session(SESSION)?.ok_or("the session is gone")?;
    assert_eq!(session.name.as_deref(), Some("Fixture session"));
    assert_eq!(session.preview, "Say hello to the fixture");
    assert_eq!(
        store.sessions(false, None)?.len(),
        2,
        "the session and the wakeup's"
    );
    assert_eq!(
        store.turn_outcome(TURN)?,
        Some((TurnStatus::Completed, None))
    );
    assert!(store.running_turns()?.is_empty());
    // Version 6: the transcript starts empty and is backfilled on the first
    // history read (tests/transcript.rs in perch-api).
    assert!(store.transcript(SESSION)?.is_empty());
    assert!(!store.transcript_complete(SESSION)?);

    let search = MemorySearch {
        text: "tabs",
        tag: None,
        prefix: false,
        offset: 0,
        limit: 10,
        ranked: 10,
        vector: None,
    };
    let found = store.search_memories(&search)?;
    assert_eq!(
        found.memories.len(),
        1,
        "the index is built from the old table"
    );
    assert_eq!(found.memories[0].tags, vec!["style", "editor"]);
    let unicode = store.memory(2)?.ok_or("memory 2 is gone")?;
    assert_eq!(unicode.text, "Ünïcode memory – “quoted”");

    let plans = store.plans()?;
    assert_eq!(plans.len(), 1);
    let done: Vec<bool> = plans[0].items.iter().map(|i| i.done).collect();
    assert_eq!(done, vec![true, false]);

    let wakeups = store.wakeups()?;
    assert_eq!(wakeups.len(), 1);
    assert_eq!(wakeups[0].label, "Fixture daily");
    assert!(wakeups[0].next_fire_at.is_some());
    let runs = store.wakeup_runs(None, 10)?;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[0].summary.as_deref(), Some("OK"));
    Ok(())
}
