//! Codex sleeps when idle (`[codex] sleep_after`, default 15 minutes): the
//! child is stopped cleanly, and started again by the first request that
//! needs it.
//!
//! Invariants:
//! - Codex is put to sleep only with no turn running, no approval pending,
//!   no compaction or sign-in under way, no request in flight, and nothing
//!   asked of it or heard from it for `sleep_after`.
//! - Every request goes through `Runtime::codex`, which wakes it: no caller
//!   needs to know it slept. Threads are resumed when next used
//!   (`ensure_loaded`), as after a crash, without "interrupted" (none ran).
//! - Reading the account, the model list and the usage answers what was
//!   kept, so it never wakes Codex.
//! - No polling: one task sleeps until the idle deadline, or until woken.

use super::*;

/// How long the child may take to exit on SIGTERM before it is killed.
const SLEEP_GRACE: Duration = Duration::from_secs(5);

impl Runtime {
    /// Something asked Codex, or Codex said something: the idle clock restarts.
    pub(crate) fn codex_used(&self) {
        *self.last_codex_use.lock_unpoisoned() = Instant::now();
    }

    /// Codex is asleep (or falling asleep): the next request wakes it.
    pub fn is_codex_asleep(&self) -> bool {
        self.lock_codex()
            .supervisor
            .as_ref()
            .is_some_and(Supervisor::is_asleep)
    }

    /// Wakes a sleeping Codex (a request is about to need it); nothing when
    /// it is awake.
    pub(crate) fn wake_codex(&self, supervisor: &Supervisor, why: &str) {
        if supervisor.is_asleep() {
            tracing::info!("waking Codex for {why}");
            self.lock().sleeping = false;
            supervisor.wake();
            self.codex_woken.notify_one();
        }
    }

    /// Wakes Codex in the background: the person is about to need it (a
    /// session opened in the UI).
    pub fn wake_codex_soon(&self) {
        if let Ok(supervisor) = self.supervisor() {
            self.codex_used();
            self.wake_codex(&supervisor, "an opened session");
        }
    }

    /// Nothing would be cut off if Codex stopped now.
    fn codex_is_idle(&self) -> bool {
        let state = self.lock();
        state.active.is_empty()
            && state.pending.is_empty()
            && state.compacting.is_empty()
            && !state.signing_in
    }

    /// Puts Codex to sleep if it is still idle; false when it is not.
    async fn sleep_if_idle(&self, after: Duration) -> bool {
        // No request may be in flight, nor start while the child stops.
        let Ok(_gate) = self.codex_gate.try_write() else {
            return false;
        };
        if self.last_codex_use.lock_unpoisoned().elapsed() < after || !self.codex_is_idle() {
            return false;
        }
        let Ok(supervisor) = self.supervisor() else {
            return false;
        };
        if supervisor.connection().is_err() {
            // Starting, restarting or failed: nothing to put to sleep.
            return false;
        }
        tracing::info!(
            "Codex has been idle for {} s: stopping it until something needs it",
            after.as_secs()
        );
        self.lock().sleeping = true;
        supervisor.sleep(SLEEP_GRACE).await;
        // Idle from here on: what the turns left freed goes back too.
        stdx::memory::release_free();
        true
    }
}

/// The task that puts Codex to sleep once it has been idle for
/// `[codex] sleep_after`.
pub(crate) fn spawn_sleeper(runtime: Weak<Runtime>) {
    tokio::spawn(async move {
        loop {
            let Some(rt) = runtime.upgrade() else { return };
            let after = rt.config().codex.sleep_after.0;
            let mut config = rt.watch_config();
            let woken = rt.codex_woken.clone();
            let deadline = after.map(|after| *rt.last_codex_use.lock_unpoisoned() + after);
            drop(rt);
            let Some(deadline) = deadline else {
                // Off: only a change of the setting matters.
                if config.changed().await.is_err() {
                    return;
                }
                continue;
            };
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.into()) => {}
                changed = config.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            }
            let Some(rt) = runtime.upgrade() else { return };
            let slept = match after {
                Some(after) => rt.sleep_if_idle(after).await,
                None => false,
            };
            if !slept {
                // Busy (a turn, an approval): its progress moves the clock;
                // look again one period from now at the latest.
                if rt.last_codex_use.lock_unpoisoned().elapsed() >= after.unwrap_or_default() {
                    rt.codex_used();
                }
                continue;
            }
            drop(rt);
            // Asleep until a request wakes it.
            woken.notified().await;
        }
    });
}
