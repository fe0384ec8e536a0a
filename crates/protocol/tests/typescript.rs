//! The web UI's copy of the contract is generated from the Rust types:
//! `ui/src/lib/generated/protocol.ts` must be exactly what these types
//! render. Run with `UPDATE_GENERATED=1` to rewrite it after a change.

use perch_protocol::peer::{ReadMarks, SendMessage};
use perch_protocol::sessions::{
    NewSession, SendMode, Sent, Session, SessionPatch, TokenUsage, TurnStatus,
};
use perch_protocol::List;
use ts_rs::TS;

const GENERATED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../ui/src/lib/generated/protocol.ts"
);

fn render() -> String {
    let declarations = [
        List::<ts_rs::Dummy>::decl(&ts_rs::Config::default()),
        SendMessage::decl(&ts_rs::Config::default()),
        ReadMarks::decl(&ts_rs::Config::default()),
        TokenUsage::decl(&ts_rs::Config::default()),
        Session::decl(&ts_rs::Config::default()),
        NewSession::decl(&ts_rs::Config::default()),
        SessionPatch::decl(&ts_rs::Config::default()),
        SendMode::decl(&ts_rs::Config::default()),
        Sent::decl(&ts_rs::Config::default()),
        TurnStatus::decl(&ts_rs::Config::default()),
    ];
    let mut out = String::from(
        "// Generated from crates/protocol by its tests/typescript.rs; do not edit.\n\
         // After changing those types: UPDATE_GENERATED=1 cargo test -p perch-protocol\n",
    );
    for declaration in declarations {
        out.push_str(&format!("\nexport {declaration}\n"));
    }
    out
}

#[test]
fn the_checked_in_typescript_is_what_the_types_generate() -> std::io::Result<()> {
    let rendered = render();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        return std::fs::write(GENERATED, rendered);
    }
    let checked_in = std::fs::read_to_string(GENERATED).unwrap_or_default();
    assert!(
        checked_in == rendered,
        "{GENERATED} is not what crates/protocol generates; run \
         `UPDATE_GENERATED=1 cargo test -p perch-protocol` and commit the file.\n\
         --- generated ---\n{rendered}"
    );
    Ok(())
}
