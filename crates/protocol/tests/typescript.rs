//! The web UI's copy of the contract is generated from the Rust types:
//! `ui/src/lib/generated/protocol.ts` must be exactly what these types
//! render. Run with `UPDATE_GENERATED=1` to rewrite it after a change.

use perch_protocol::account::{
    Account, AccountState, Credits, Login, LoginStarted, Usage, UsageWindow,
};
use perch_protocol::approvals::{
    Answer, Approval, ApprovalFilter, ApprovalKind, ApprovalQuery, ApprovalStatus, Decision,
};
use perch_protocol::attachments::{Attachment, FileMatch, FileQuery};
use perch_protocol::auth::{Health, LoginCode, SignIn};
use perch_protocol::changes::{
    AgentChange, ChangeQuery, ChangeStatus, PeerSender, Provenance, ProvenanceKind,
};
use perch_protocol::errors::{ErrorBody, ErrorDetail};
use perch_protocol::events::{DeltaKind, Event, EventKind, ProblemKind, TurnProblem};
use perch_protocol::items::{ChangeKind, FileChange, Item, ItemStatus, ToolError, UserInput};
use perch_protocol::memory::{
    BulkDelete, Deleted, ImportReport, Memory, MemoryAction, MemoryFormat, MemoryPatch,
    MemorySource, NewMemory,
};
use perch_protocol::peer::{
    DeliveryState, DeliveryStatus, DeviceLinkCode, InboxQuery, JoinDevice, KeyDevice, KeyStanding,
    PeerKeys, PeerLink, PeerMessage, PeerOff, PeerStatus, PeersKeys, PersonDevice, PersonDevices,
    PinKeys, ReadMarks, Seal, SendMessage, Unread,
};
use perch_protocol::plans::{
    NewPlan, NewPlanItem, Plan, PlanClear, PlanItem, PlanItemPatch, PlanRename,
};
use perch_protocol::projects::{GitState, NewProject, Project};
use perch_protocol::review::{
    OpenFile, Opened, Revert, Review, ReviewBase, ReviewFile, ReviewStatus,
};
use perch_protocol::search::{LineSpan, SearchHit, SearchQuery, SearchResults, SearchTarget};
use perch_protocol::sessions::{
    Compacting, ForkFrom, HistoryTurn, Interrupting, NewSession, Resend, SendMode, Sent, Session,
    SessionPatch, SessionQuery, TokenUsage, TurnStatus, UserText,
};
use perch_protocol::settings::{
    ApprovalPolicy, AutostartState, CodexPatch, CodexSettings, MemorySettings, MemorySettingsPatch,
    NotificationSettings, NotificationsPatch, Paths, ProviderCheck, ProviderChecked, ProviderKey,
    ProviderSettings, RelayToken, SecretBackend, SecretsState, Settings, SettingsPatch,
};
use perch_protocol::system::{ActiveTurn, CodexState, CodexStatus, Diagnostics, ModelInfo, Status};
use perch_protocol::wakeups::{
    CreatedBy, MillisOrText, Misfire, NewSchedule, NewWakeup, RunStatus, Schedule, Target, Wakeup,
    WakeupPatch, WakeupRun,
};
use perch_protocol::List;
use perch_relay_protocol::{Agent, AgentStatus, Message, Pair, PairStatus, Task, TaskStatus};
use ts_rs::TS;

const GENERATED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../ui/src/lib/generated/protocol.ts"
);

fn render() -> String {
    let config = ts_rs::Config::default();
    let declarations = [
        List::<ts_rs::Dummy>::decl(&config),
        ErrorBody::decl(&config),
        ErrorDetail::decl(&config),
        Health::decl(&config),
        SignIn::decl(&config),
        LoginCode::decl(&config),
        Login::decl(&config),
        AccountState::decl(&config),
        Account::decl(&config),
        LoginStarted::decl(&config),
        Usage::decl(&config),
        UsageWindow::decl(&config),
        Credits::decl(&config),
        Attachment::decl(&config),
        FileMatch::decl(&config),
        FileQuery::decl(&config),
        Review::decl(&config),
        ReviewBase::decl(&config),
        ReviewFile::decl(&config),
        ReviewStatus::decl(&config),
        Revert::decl(&config),
        OpenFile::decl(&config),
        Opened::decl(&config),
        AgentChange::decl(&config),
        ChangeStatus::decl(&config),
        Provenance::decl(&config),
        ProvenanceKind::decl(&config),
        PeerSender::decl(&config),
        ChangeQuery::decl(&config),
        CodexState::decl(&config),
        CodexStatus::decl(&config),
        ActiveTurn::decl(&config),
        Status::decl(&config),
        ModelInfo::decl(&config),
        Diagnostics::decl(&config),
        ApprovalPolicy::decl(&config),
        SecretBackend::decl(&config),
        Settings::decl(&config),
        CodexSettings::decl(&config),
        ProviderSettings::decl(&config),
        NotificationSettings::decl(&config),
        MemorySettings::decl(&config),
        AutostartState::decl(&config),
        SecretsState::decl(&config),
        Paths::decl(&config),
        SettingsPatch::decl(&config),
        CodexPatch::decl(&config),
        NotificationsPatch::decl(&config),
        MemorySettingsPatch::decl(&config),
        ProviderKey::decl(&config),
        ProviderCheck::decl(&config),
        ProviderChecked::decl(&config),
        RelayToken::decl(&config),
        ApprovalKind::decl(&config),
        Decision::decl(&config),
        ApprovalStatus::decl(&config),
        Approval::decl(&config),
        ApprovalFilter::decl(&config),
        ApprovalQuery::decl(&config),
        Answer::decl(&config),
        TokenUsage::decl(&config),
        Session::decl(&config),
        SessionQuery::decl(&config),
        NewSession::decl(&config),
        SessionPatch::decl(&config),
        UserText::decl(&config),
        Resend::decl(&config),
        ForkFrom::decl(&config),
        SendMode::decl(&config),
        Sent::decl(&config),
        Interrupting::decl(&config),
        Compacting::decl(&config),
        TurnStatus::decl(&config),
        Item::decl(&config),
        UserInput::decl(&config),
        ItemStatus::decl(&config),
        FileChange::decl(&config),
        ChangeKind::decl(&config),
        ToolError::decl(&config),
        HistoryTurn::decl(&config),
        AgentStatus::decl(&config),
        Agent::decl(&config),
        Message::decl(&config),
        Pair::decl(&config),
        PairStatus::decl(&config),
        Task::decl(&config),
        TaskStatus::decl(&config),
        SendMessage::decl(&config),
        ReadMarks::decl(&config),
        Unread::decl(&config),
        DeliveryState::decl(&config),
        DeliveryStatus::decl(&config),
        PeerLink::decl(&config),
        PeerOff::decl(&config),
        PeerStatus::decl(&config),
        PeerMessage::decl(&config),
        Seal::decl(&config),
        PeersKeys::decl(&config),
        PersonDevices::decl(&config),
        PersonDevice::decl(&config),
        DeviceLinkCode::decl(&config),
        JoinDevice::decl(&config),
        PeerKeys::decl(&config),
        KeyDevice::decl(&config),
        KeyStanding::decl(&config),
        PinKeys::decl(&config),
        InboxQuery::decl(&config),
        MemorySource::decl(&config),
        Memory::decl(&config),
        NewMemory::decl(&config),
        BulkDelete::decl(&config),
        Deleted::decl(&config),
        MemoryPatch::decl(&config),
        MemoryAction::decl(&config),
        MemoryFormat::decl(&config),
        ImportReport::decl(&config),
        GitState::decl(&config),
        Project::decl(&config),
        NewProject::decl(&config),
        SearchQuery::decl(&config),
        SearchTarget::decl(&config),
        LineSpan::decl(&config),
        SearchHit::decl(&config),
        SearchResults::decl(&config),
        PlanItem::decl(&config),
        Plan::decl(&config),
        NewPlan::decl(&config),
        NewPlanItem::decl(&config),
        PlanItemPatch::decl(&config),
        PlanRename::decl(&config),
        PlanClear::decl(&config),
        Schedule::decl(&config),
        MillisOrText::decl(&config),
        NewSchedule::decl(&config),
        Target::decl(&config),
        Misfire::decl(&config),
        CreatedBy::decl(&config),
        RunStatus::decl(&config),
        WakeupRun::decl(&config),
        Wakeup::decl(&config),
        NewWakeup::decl(&config),
        WakeupPatch::decl(&config),
        TurnProblem::decl(&config),
        ProblemKind::decl(&config),
        Event::decl(&config),
        EventKind::decl(&config),
        DeltaKind::decl(&config),
    ];
    let mut out = String::from(
        "// Generated from crates/protocol (and the relay types it uses) by its\n\
         // tests/typescript.rs; do not edit.\n\
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
