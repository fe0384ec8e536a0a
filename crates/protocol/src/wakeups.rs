//! Wakeups: what `/api/wakeups*` takes and answers (and `wakeup.changed`
//! and `wakeup.run` carry). Prompts Perch sends to the agent on a
//! schedule, with a run log.
//!
//! Computing fire times (time zones, cron) is the runtime's; these are the
//! shapes only.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;
use utoipa::ToSchema;

/// When a wakeup fires, as stored and answered (always in milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Schedule {
    /// Once, at a time.
    At {
        /// Milliseconds since 1970.
        #[ts(type = "number")]
        at: i64,
    },
    /// Every `everyMs` from `anchor` on (late runs never drift it).
    #[serde(rename_all = "camelCase")]
    Every {
        /// The period in milliseconds (at least 10 seconds).
        #[ts(type = "number")]
        every_ms: i64,
        /// The first time (milliseconds since 1970); the next ones are whole
        /// periods after it.
        #[ts(type = "number")]
        anchor: i64,
    },
    /// A five-field cron expression (minute hour day month weekday) in a
    /// time zone.
    Cron {
        expr: String,
        /// An IANA zone name (`Europe/Paris`).
        tz: String,
    },
}

/// A number of milliseconds, or text: what the text may be is the field's
/// to say (`at`: an RFC 3339 time; `every`: a duration like `15m`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, ToSchema)]
#[serde(untagged)]
pub enum MillisOrText {
    Millis(#[ts(type = "number")] i64),
    Text(String),
}

impl<'de> Deserialize<'de> for MillisOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;

        impl Visitor<'_> for Either {
            type Value = MillisOrText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number of milliseconds or text")
            }

            fn visit_i64<E: de::Error>(self, ms: i64) -> Result<MillisOrText, E> {
                Ok(MillisOrText::Millis(ms))
            }

            fn visit_u64<E: de::Error>(self, ms: u64) -> Result<MillisOrText, E> {
                i64::try_from(ms)
                    .map(MillisOrText::Millis)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(ms), &self))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<MillisOrText, E> {
                Ok(MillisOrText::Text(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<MillisOrText, E> {
                Ok(MillisOrText::Text(text))
            }
        }

        deserializer.deserialize_any(Either)
    }
}

/// When a wakeup fires, as a client gives it; the server turns it into a
/// `Schedule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum NewSchedule {
    /// Once, at a time.
    At {
        /// Milliseconds since 1970, or an RFC 3339 time
        /// (`2026-11-22T09:00:00+01:00`).
        at: MillisOrText,
    },
    /// Once, after a delay from now.
    In {
        /// `90s`, `10m`, `2h`, `1d`, `1h30m`, or a bare number of seconds.
        delay: String,
    },
    /// Every period.
    Every {
        /// Milliseconds, or a duration like `15m` (at least 10 seconds).
        every: MillisOrText,
        /// The first time (milliseconds since 1970); one period from now
        /// when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        anchor: Option<i64>,
    },
    /// A five-field cron expression (minute hour day month weekday).
    Cron {
        expr: String,
        /// An IANA zone name (`Europe/Paris`); the machine's zone when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        tz: Option<String>,
    },
}

/// The session a wakeup's prompt goes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum Target {
    /// An existing session.
    #[serde(rename_all = "camelCase")]
    Session { session_id: String },
    /// A new session for each run, in `cwd` (a project folder) or the
    /// default folder.
    #[serde(rename_all = "camelCase")]
    New {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        cwd: Option<String>,
    },
    /// The session peer messages go to.
    Peer,
}

/// What to do with an occurrence found later than its grace window (Perch
/// was stopped or the machine slept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Misfire {
    /// Record it as skipped.
    Skip,
    /// Run it once now (however many were missed).
    Once,
    /// Record it as missed and ask the person (run it or dismiss it).
    Ask,
}

/// Who made a wakeup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CreatedBy {
    Person,
    Agent,
    /// The agent in a peer-driven turn (accepted by the person): its prompt
    /// runs framed as untrusted, like a peer's message.
    Peer,
}

/// Where a wakeup's run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Taken by the scheduler; the turn is being started.
    Claimed,
    Running,
    Completed,
    Failed,
    Interrupted,
    Skipped,
    /// Found late under the `ask` policy: waiting for the person.
    Missed,
    /// A missed run the person chose not to run.
    Dismissed,
}

impl RunStatus {
    const ALL: [Self; 8] = [
        Self::Claimed,
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Interrupted,
        Self::Skipped,
        Self::Missed,
        Self::Dismissed,
    ];

    /// The wire and database word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Skipped => "skipped",
            Self::Missed => "missed",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == word)
    }

    /// Nothing more happens to a run in this status.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Interrupted | Self::Skipped | Self::Dismissed
        )
    }
}

/// One occurrence of a wakeup (or a run asked for by hand), in the run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WakeupRun {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub wakeup_id: i64,
    /// The wakeup's label when it ran.
    pub label: String,
    /// The occurrence it is for (milliseconds since 1970).
    #[ts(type = "number")]
    pub scheduled_at: i64,
    /// When its turn was started; null if it was not (yet).
    #[ts(type = "number | null")]
    #[schema(required = true)]
    pub fired_at: Option<i64>,
    pub status: RunStatus,
    /// The session its turn ran in.
    #[schema(required = true)]
    pub session_id: Option<String>,
    #[schema(required = true)]
    pub turn_id: Option<String>,
    /// The agent's last message or the error, cut short; or why it was
    /// skipped.
    #[schema(required = true)]
    pub summary: Option<String>,
    /// When it reached a final status (milliseconds since 1970).
    #[ts(type = "number | null")]
    #[schema(required = true)]
    pub finished_at: Option<i64>,
}

/// A wakeup: a prompt Perch sends to the agent on a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wakeup {
    #[ts(type = "number")]
    pub id: i64,
    pub label: String,
    /// What the agent is told when it fires.
    pub prompt: String,
    pub schedule: Schedule,
    pub target: Target,
    pub misfire: Misfire,
    /// How late an occurrence may still run normally (ms); later ones
    /// follow `misfire`.
    #[ts(type = "number")]
    pub grace_ms: i64,
    /// False while paused.
    pub enabled: bool,
    /// The person is notified when a run's turn finishes.
    pub notify: bool,
    /// Milliseconds since 1970; null when finished (a fired `at`) or paused.
    #[ts(type = "number | null")]
    #[schema(required = true)]
    pub next_fire_at: Option<i64>,
    pub created_by: CreatedBy,
    /// Milliseconds since 1970.
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub updated_at: i64,
    /// Its latest run, if it has one.
    #[schema(required = true)]
    pub last_run: Option<WakeupRun>,
}

/// `POST /api/wakeups`: a new wakeup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"prompt": "Check whether the nightly build passed", "label": "Nightly", "schedule": {"kind": "in", "delay": "1h"}}))]
pub struct NewWakeup {
    /// 1 to 20000 characters.
    pub prompt: String,
    /// Up to 80 characters on one line; the prompt's first line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub label: Option<String>,
    pub schedule: NewSchedule,
    /// A new session for each run when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub target: Option<Target>,
    /// `once` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub misfire: Option<Misfire>,
    /// 0 to 7 days in milliseconds; one hour when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub grace_ms: Option<i64>,
    /// True when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notify: Option<bool>,
}

/// `PATCH /api/wakeups/{id}`: what changes (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct WakeupPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub prompt: Option<String>,
    /// A new schedule: the next time is counted from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub schedule: Option<NewSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub target: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub misfire: Option<Misfire>,
    /// 0 to 7 days in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub grace_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub notify: Option<bool>,
    /// False pauses, true resumes (from the next time after now; the ones
    /// while paused are not owed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub enabled: Option<bool>,
}
