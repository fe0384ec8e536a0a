//! A data dir made by an earlier Perch opens and migrates without loss.
//! `fixtures/perch-v5.sql` is the database `perch serve` wrote at schema
//! version 5 (issue 5's schema, the last before issue 13); every record in
//! it must read back through today's store.

use perch_agent::memory::store::MemoryStore;
use perch_agent::memory::MemorySearch;
use perch_agent::planner::PlanStore;
use perch_agent::wakeups::{RunStatus, WakeupStore};
use perch_runtime::model::TurnStatus;
use perch_runtime::store::{Database, Store};

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
    let db = Database::open(&path)?;
    let store = Store::new(db.clone())?;
    let memories = MemoryStore::new(db.clone())?;
    let plans = PlanStore::new(db.clone())?;
    let wakeups = WakeupStore::new(db.clone())?;
    // Each owner's version, adopted from `user_version` 5, then brought up
    // to date (the core's transcript, and ids that are never given again).
    let versions: Vec<(String, i64)> = db
        .conn()
        .prepare("SELECT name, version FROM schema_versions ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let expected = [("core", 8), ("memory", 4), ("planner", 2), ("wakeups", 2)];
    assert_eq!(versions, expected.map(|(n, v)| (n.to_string(), v)).to_vec());

    let session = store.session(SESSION)?.ok_or("the session is gone")?;
    assert_eq!(session.name.as_deref(), Some("Fixture session"));
    assert_eq!(session.preview, "Say hello to the fixture");
    assert_eq!(
        store
            .sessions(&perch_runtime::store::SessionFilter::default())?
            .len(),
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
    let found = memories.search_memories(&search)?;
    assert_eq!(
        found.memories.len(),
        1,
        "the index is built from the old table"
    );
    assert_eq!(found.memories[0].tags, vec!["style", "editor"]);
    let unicode = memories.memory(2)?.ok_or("memory 2 is gone")?;
    assert_eq!(unicode.text, "Ünïcode memory – “quoted”");

    let plans = plans.plans()?;
    assert_eq!(plans.len(), 1);
    let done: Vec<bool> = plans[0].items.iter().map(|i| i.done).collect();
    assert_eq!(done, vec![true, false]);

    let runs = wakeups.wakeup_runs(None, 10)?;
    let wakeups = wakeups.wakeups()?;
    assert_eq!(wakeups.len(), 1);
    assert_eq!(wakeups[0].label, "Fixture daily");
    assert!(wakeups[0].next_fire_at.is_some());
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Completed);
    assert_eq!(runs[0].summary.as_deref(), Some("OK"));
    Ok(())
}

#[test]
fn a_new_data_dir_gets_every_schema_and_opening_again_changes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("perch.db");
    for _ in 0..2 {
        let db = Database::open(&path)?;
        Store::new(db.clone())?;
        MemoryStore::new(db.clone())?;
        PlanStore::new(db.clone())?;
        WakeupStore::new(db.clone())?;
        let total: i64 =
            db.conn()
                .query_row("SELECT sum(version) FROM schema_versions", [], |r| r.get(0))?;
        assert_eq!(total, 16, "core 8 + memory 4 + planner 2 + wakeups 2");
    }
    Ok(())
}

#[test]
fn a_deleted_records_id_is_never_given_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("perch.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(include_str!("fixtures/perch-v5.sql"))?;
    }
    let db = Database::open(&path)?;
    Store::new(db.clone())?;
    let memories = MemoryStore::new(db.clone())?;
    PlanStore::new(db.clone())?;
    WakeupStore::new(db.clone())?;
    for table in ["memories", "plans", "plan_items", "wakeups", "wakeup_runs"] {
        let sql: String = db.conn().query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )?;
        assert!(sql.contains("AUTOINCREMENT"), "{table}: {sql}");
    }
    // The fixture's rows kept their ids; the highest one, deleted, is not
    // handed out again.
    assert!(memories.memory(2)?.is_some());
    let highest: i64 = db
        .conn()
        .query_row("SELECT max(id) FROM memories", [], |r| r.get(0))?;
    assert_eq!(memories.delete_memories(&[highest])?, vec![highest]);
    let row = perch_agent::memory::MemoryRow {
        text: "after the delete".into(),
        tags: vec![],
        origin: perch_agent::memory::Origin::person(),
        importance: 0.5,
        created_at: 1,
        updated_at: 1,
    };
    let ids = memories.insert_memories(&[row])?;
    assert!(ids[0] > highest, "{} reused {highest}", ids[0]);
    Ok(())
}
