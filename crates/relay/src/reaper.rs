//! Upkeep on `REAP_INTERVAL_MS`: silent agents go offline, long-offline
//! agents and messages past retention are pruned.

use crate::relay::Relay;
use std::sync::Weak;

pub(crate) fn spawn(relay: Weak<Relay>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(interval) = relay.upgrade().map(|r| r.settings().reap_interval) else {
            return;
        };
        // The first pass comes one interval after start, like every other.
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(relay) = relay.upgrade() else { return };
            match relay.reap().await {
                Ok(reaped) if reaped != Default::default() => {
                    tracing::info!("relay upkeep: {reaped:?}")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!("relay upkeep failed: {err}"),
            }
        }
    })
}
