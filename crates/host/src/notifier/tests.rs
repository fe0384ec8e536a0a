use super::*;
use crate::notifier::coalesce::Coalescer;
use crate::notifier::policy::*;
use perch_agent::wakeups::{RunStatus, WakeupRun};
use perch_runtime::config::NotificationsConfig;
use perch_runtime::model::{Approval, EventKind, TurnStatus};
use perch_runtime::model::{ApprovalKind, ApprovalStatus};
use perch_runtime::CodexState;
use std::time::{Duration, Instant};

fn approval(id: &str) -> Approval {
    Approval {
        id: id.into(),
        session_id: "s1".into(),
        turn_id: None,
        item_id: None,
        kind: ApprovalKind::Command,
        title: "Run <b>rm</b> & co".into(),
        detail: None,
        status: ApprovalStatus::Pending,
        created_at: 0,
        answered_at: None,
        answered_by: None,
        dangers: Vec::new(),
    }
}

fn turn(status: TurnStatus) -> EventKind {
    EventKind::TurnCompleted {
        session_id: "s1".into(),
        turn_id: "t1".into(),
        status,
        error: None,
    }
}

#[test]
fn which_events_notify() {
    let base = NotificationsConfig::default();
    let dnd = NotificationsConfig {
        dnd: true,
        ..NotificationsConfig::default()
    };
    let dnd_strict = NotificationsConfig {
        dnd: true,
        dnd_allows_approvals: false,
        ..NotificationsConfig::default()
    };
    let no_turns = NotificationsConfig {
        turn_finished: false,
        ..NotificationsConfig::default()
    };
    let asks = EventKind::ApprovalRequested {
        approval: approval("a1"),
    };
    let restarting = EventKind::CodexState {
        state: CodexState::Restarting,
        detail: None,
    };
    let (completed, interrupted, failed) = (
        turn(TurnStatus::Completed),
        turn(TurnStatus::Interrupted),
        turn(TurnStatus::Failed),
    );
    // (event, config, window visible, expected kind)
    let cases: Vec<(&EventKind, &NotificationsConfig, bool, Option<Kind>)> = vec![
        (&asks, &base, true, Some(Kind::Approval)),
        (&asks, &dnd, false, Some(Kind::Approval)),
        (&asks, &dnd_strict, false, None),
        (&completed, &base, false, Some(Kind::TurnFinished)),
        (&completed, &base, true, None),
        (&completed, &no_turns, false, None),
        (&completed, &dnd, false, None),
        (&interrupted, &base, false, None),
        (&failed, &base, true, Some(Kind::Error)),
        (&restarting, &base, true, Some(Kind::Codex)),
        (&restarting, &dnd, true, None),
    ];
    let peer =
        |from: &str, channel: &str, to_person: bool, to_agent: bool| EventKind::PeerMessage {
            message: peer_message(9, 8, from, channel, None, "hi"),
            to_person,
            to_agent,
        };
    let (to_me, to_agent, overheard) = (
        peer("bob", "ops", true, false),
        peer("bob", "ops", false, true),
        peer("bob", "ops", false, false),
    );
    let muted_bob = NotificationsConfig {
        muted_agents: vec!["bob".into()],
        ..NotificationsConfig::default()
    };
    let muted_ops = NotificationsConfig {
        muted_channels: vec!["ops".into()],
        ..NotificationsConfig::default()
    };
    let no_peers = NotificationsConfig {
        peer_messages: false,
        ..NotificationsConfig::default()
    };
    let stuck = EventKind::PeerDeliveryFailed {
        error: "x".into(),
        queued: 2,
    };
    let fenced = EventKind::PeerFenced {
        id: "perch-me".into(),
        message: "taken over".into(),
    };
    let run = |status: RunStatus, notify: bool| EventKind::WakeupRun {
        run: WakeupRun {
            id: 1,
            wakeup_id: 1,
            label: "standup".into(),
            scheduled_at: 0,
            fired_at: Some(0),
            status,
            session_id: Some("thr".into()),
            turn_id: Some("t".into()),
            summary: Some("all good".into()),
            finished_at: None,
        },
        notify,
    };
    let (done, missed, running, quiet) = (
        run(RunStatus::Completed, true),
        run(RunStatus::Missed, true),
        run(RunStatus::Running, true),
        run(RunStatus::Completed, false),
    );
    let no_wakeups = NotificationsConfig {
        wakeups: false,
        ..NotificationsConfig::default()
    };
    let cases = cases.into_iter().chain([
        (&to_me, &base, true, Some(Kind::PeerMessage)),
        (&to_agent, &base, false, Some(Kind::PeerMessage)),
        (&overheard, &base, false, None),
        (&to_me, &muted_bob, false, None),
        (&to_me, &muted_ops, false, None),
        (&to_me, &no_peers, false, None),
        (&to_me, &dnd, false, None),
        (&stuck, &base, true, Some(Kind::Error)),
        (&fenced, &base, true, Some(Kind::Error)),
        (&fenced, &dnd, false, None),
        (&done, &base, true, Some(Kind::Wakeup)),
        (&missed, &base, false, Some(Kind::Wakeup)),
        (&running, &base, false, None),
        (&quiet, &base, false, None),
        (&done, &no_wakeups, false, None),
        (&done, &dnd, false, None),
    ]);
    for (i, (event, config, visible, expected)) in cases.enumerate() {
        assert_eq!(
            note_for(event, config, visible).map(|n| n.kind),
            expected,
            "case {i}"
        );
    }
}

#[test]
fn approval_text_is_escaped_and_answerable() {
    let note = note_for(
        &EventKind::ApprovalRequested {
            approval: approval("a1"),
        },
        &Default::default(),
        true,
    );
    let note = note.unwrap_or_else(|| panic!("no note"));
    assert_eq!(note.body, "Run &lt;b&gt;rm&lt;/b&gt; &amp; co");
    assert_eq!(note.approval_id.as_deref(), Some("a1"));
    assert_eq!(note.target.route(), "/approvals/a1");
    assert!(clean(&"x".repeat(1000)).chars().count() <= MAX_BODY_CHARS + 1);
}

#[test]
fn a_destructive_command_says_so_first() {
    let mut risky = approval("a9");
    risky.dangers = vec!["force-pushes, rewriting the remote's history (git push --force)".into()];
    let note = approval_note(&risky);
    assert_eq!(
        note.summary,
        "Perch needs your approval: destructive command"
    );
    assert!(
        note.body
            .starts_with("Careful: force-pushes, rewriting the remote's history"),
        "{}",
        note.body
    );
    assert_eq!(
        approval_note(&approval("a8")).summary,
        "Perch needs your approval"
    );
}

#[test]
fn bursts_coalesce_into_one_notification() {
    let mut coalescer = Coalescer::default();
    let start = Instant::now();
    let first = approval_note(&approval("a1"));
    let (shown, replaces) = coalescer.coalesce(first, start);
    assert_eq!((shown.approval_id.as_deref(), replaces), (Some("a1"), None));
    coalescer.shown(Kind::Approval, 7, start);

    let (merged, replaces) = coalescer.coalesce(
        approval_note(&approval("a2")),
        start + Duration::from_secs(1),
    );
    assert_eq!(replaces, Some(7));
    assert_eq!(merged.summary, "2 approvals need you");
    assert_eq!(
        merged.approval_id, None,
        "a merged note must not answer one approval"
    );
    assert_eq!(merged.target, OpenTarget::Approvals);
    coalescer.shown(Kind::Approval, 7, start + Duration::from_secs(1));

    let (third, _) = coalescer.coalesce(
        approval_note(&approval("a3")),
        start + Duration::from_secs(2),
    );
    assert_eq!(third.summary, "3 approvals need you");

    let later = start + Duration::from_secs(2) + COALESCE_WINDOW;
    let (alone, replaces) = coalescer.coalesce(approval_note(&approval("a4")), later);
    assert_eq!((alone.approval_id.as_deref(), replaces), (Some("a4"), None));
}

#[test]
fn a_peer_burst_says_how_many_messages_from_how_many_agents() {
    let config = NotificationsConfig::default();
    let message = |from: &str, subject: Option<&str>| {
        let event = EventKind::PeerMessage {
            message: peer_message(
                3,
                1,
                from,
                "ops",
                subject,
                "<b>deploy</b> done\nsecond line",
            ),
            to_person: true,
            to_agent: false,
        };
        note_for(&event, &config, false).unwrap_or_else(|| panic!("no note"))
    };
    let first = message("bob", Some("Deploy"));
    assert_eq!(first.summary, "bob in ops: Deploy");
    assert_eq!(first.body, "&lt;b&gt;deploy&lt;/b&gt; done\nsecond line");
    assert_eq!(first.target.route(), "/inbox/1");
    assert_eq!(
        message("bob", None).summary,
        "bob in ops: &lt;b&gt;deploy&lt;/b&gt; done"
    );
    // Issue 14: a sender that proved no key is said to be unauthenticated.
    assert_eq!(
        message("anon-eve", Some("Deploy")).summary,
        "anon-eve (unauthenticated) in ops: Deploy"
    );

    let mut coalescer = Coalescer::default();
    let start = Instant::now();
    let (_, replaces) = coalescer.coalesce(first, start);
    assert_eq!(replaces, None);
    coalescer.shown(Kind::PeerMessage, 11, start);
    let mut last = None;
    for (i, from) in ["carol", "bob", "dave", "carol"].into_iter().enumerate() {
        last = Some(coalescer.coalesce(
            message(from, None),
            start + Duration::from_millis(100 * (i as u64 + 1)),
        ));
    }
    let (merged, replaces) = last.unwrap_or_else(|| panic!("no burst"));
    assert_eq!(replaces, Some(11));
    assert_eq!(merged.summary, "5 new messages from 3 agents");
    assert_eq!(merged.target.route(), "/inbox");
}

#[test]
fn a_withheld_message_tells_the_person_who_and_why_and_none_of_its_text() {
    let mut message = peer_message(4, 4, "mallory", "ops", Some("Deploy"), "");
    message.seal.withheld = Some("its signature does not check against bob's published key".into());
    message.seal.tampered = true;
    let event = |message| EventKind::PeerMessage {
        message,
        to_person: false,
        to_agent: true,
    };
    let config = NotificationsConfig::default();
    let note =
        note_for(&event(message.clone()), &config, false).unwrap_or_else(|| panic!("no note"));
    assert_eq!(note.summary, "Perch withheld a message from mallory");
    assert!(note
        .body
        .contains("did not reach your agent: its signature does not check"));
    assert!(!note.body.contains("Deploy"));
    // A message only meant for other devices is not news.
    message.seal.tampered = false;
    message.seal.withheld = Some("it was encrypted for other devices, not for this one".into());
    assert!(note_for(&event(message), &config, false).is_none());
}

/// A relay message as `peer.message` carries it.
fn peer_message(
    id: i64,
    thread_id: i64,
    from: &str,
    channel: &str,
    subject: Option<&str>,
    body: &str,
) -> perch_protocol::peer::PeerMessage {
    perch_protocol::peer::PeerMessage {
        message: perch_relay_protocol::Message {
            id,
            from: from.into(),
            to: "perch".into(),
            channel: Some(channel.into()),
            subject: subject.map(Into::into),
            body: body.into(),
            reply_to: None,
            thread_id,
            claimable: false,
            claimed_by: None,
            claimed_at: None,
            claim_expires_at: None,
            kind: None,
            meta: Default::default(),
            urgent: false,
            created_at: 0,
            read_by: vec![],
            authenticated: !from.starts_with("anon-"),
        },
        unread: true,
        seal: Default::default(),
    }
}
