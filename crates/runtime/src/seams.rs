//! The two seams between the core (sessions, turns, approvals) and the
//! features built on it (memory, planner, wakeups): what goes into a turn
//! before it starts ([`TurnContext`]), and who hears that a turn ended
//! ([`TurnObserver`]). The core calls the features only through these;
//! a feature registers itself in [`Runtime::open`]'s list.
//!
//! They still take the whole `Runtime`: the features live in this crate
//! for now (issue 13 moves them to their own crate, then they get only
//! the store and bus handles they need).

use crate::host::BoxFuture;
use crate::model::TurnStatus;
use crate::runtime::Runtime;

/// A turn that ended, with the person's and the agent's text of it (when
/// Perch saw them complete).
pub struct TurnEnded<'a> {
    pub session_id: &'a str,
    pub turn_id: &'a str,
    pub status: TurnStatus,
    pub error: Option<&'a str>,
    pub user_text: Option<&'a str>,
    pub agent_text: Option<&'a str>,
}

/// Hears every turn's end, after the end is recorded and before it is
/// published.
pub trait TurnObserver: Send + Sync {
    fn turn_ended(&self, runtime: &Runtime, ended: &TurnEnded<'_>);
}

/// Adds a text input before the person's message of a new turn (steers get
/// none).
pub trait TurnContext: Send + Sync {
    fn before_turn<'a>(
        &'a self,
        runtime: &'a Runtime,
        text: &'a str,
    ) -> BoxFuture<'a, Option<String>>;
}

/// The features this crate has, in the order they hear a turn end.
pub(crate) fn default_observers() -> Vec<Box<dyn TurnObserver>> {
    vec![
        Box::new(crate::wakeups::RunsFollowTurns),
        Box::new(crate::memory::AutoArchive),
    ]
}

pub(crate) fn default_context() -> Option<Box<dyn TurnContext>> {
    Some(Box::new(crate::context::MemoryAndPlans))
}
