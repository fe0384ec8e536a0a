//! The Codex account, sign-in, the plan's usage and the model list.

use super::*;
use perch_protocol::account::{AccountState, Credits, Login, LoginStarted, Usage, UsageWindow};

impl Runtime {
    /// Whom Codex is signed in as, read from Codex now (and kept).
    pub async fn account(&self) -> Result<AccountState> {
        // Asleep, Codex is not woken to be asked what Perch already knows.
        if self.is_codex_asleep() {
            if let Some(known) = self.known_account() {
                return Ok(known);
            }
        }
        let read = self
            .codex::<AccountRead>(&AccountReadParams {
                refresh_token: false,
            })
            .await?;
        let shared = self.config().codex.home.is_none();
        let state = crate::model::account_state_of(read, shared);
        self.keep_account(&state);
        Ok(state)
    }

    /// The account as last read, without asking Codex (`None` before the
    /// first answer).
    pub fn known_account(&self) -> Option<AccountState> {
        self.account.lock_unpoisoned().clone()
    }

    fn keep_account(&self, state: &AccountState) {
        let changed = {
            let mut known = self.account.lock_unpoisoned();
            let changed = known.as_ref() != Some(state);
            *known = Some(state.clone());
            changed
        };
        if changed {
            // Another account's usage is not this one's.
            *self.usage.lock_unpoisoned() = None;
            self.bus.publish(EventKind::AccountUpdated {
                account: state.clone(),
            });
        }
    }

    /// Reads the account again in the background: Codex is (re)started, or
    /// said it changed.
    pub(crate) fn refresh_account_later(&self) {
        let me = self.me.clone();
        tokio::spawn(async move {
            let Some(runtime) = me.upgrade() else { return };
            if let Err(err) = runtime.account().await {
                tracing::warn!("reading Codex's account: {err}");
            }
        });
    }

    /// Refuses a turn Codex cannot run for want of a sign-in, before Codex
    /// is asked. An account Perch could not read lets the turn try.
    pub(crate) async fn require_sign_in(&self) -> Result<()> {
        let known = match self.known_account() {
            Some(known) => Some(known),
            None => self.account().await.ok(),
        };
        match known {
            Some(state) if state.needs_sign_in() => Err(Error::NotSignedIn),
            _ => Ok(()),
        }
    }

    pub async fn login(&self, login: Login) -> Result<LoginStarted> {
        let params = match login {
            Login::ApiKey { api_key } if api_key.trim().is_empty() => {
                return Err(Error::Invalid("the API key is empty".into()));
            }
            Login::ApiKey { api_key } => LoginParams::ApiKey { api_key },
            Login::ChatgptDeviceCode => LoginParams::ChatgptDeviceCode,
        };
        let browser_sign_in = matches!(params, LoginParams::ChatgptDeviceCode);
        let started = self.codex::<AccountLoginStart>(&params).await?;
        // Codex waits for the person in the browser: it must not sleep meanwhile.
        self.lock().signing_in = browser_sign_in;
        self.refresh_account_later();
        Ok(crate::model::login_started_of(started))
    }

    /// Signs Codex out; answers the account after. Refused while turns run:
    /// signing out would cut them off mid-answer.
    pub async fn logout(&self) -> Result<AccountState> {
        let running = self.lock().active.len();
        if running > 0 {
            return Err(Error::Conflict(format!(
                "{running} turn(s) are running, and signing out now would cut them off; interrupt them or let them finish, then sign out"
            )));
        }
        self.codex::<AccountLogout>(&()).await?;
        self.account().await
    }

    /// The models Codex offers; while Codex sleeps, the list last read.
    pub async fn models(&self) -> Result<Vec<ModelInfo>> {
        if self.is_codex_asleep() {
            if let Some(known) = self.models.lock_unpoisoned().clone() {
                return Ok(known);
            }
        }
        let page = self.codex::<ModelList>(&ModelListParams::default()).await?;
        let models: Vec<ModelInfo> = page
            .data
            .into_iter()
            .filter(|m| !m.hidden)
            .map(|m| ModelInfo {
                id: m.id,
                display_name: m.display_name,
                efforts: m
                    .supported_reasoning_efforts
                    .into_iter()
                    .map(|e| e.reasoning_effort)
                    .collect(),
                default_effort: m.default_reasoning_effort,
                is_default: m.is_default,
            })
            .collect();
        *self.models.lock_unpoisoned() = Some(models.clone());
        Ok(models)
    }
}

impl Runtime {
    /// The plan's rate-limit usage: as Codex last reported it when it did
    /// (after a turn, or an earlier read), else read from Codex now.
    pub async fn usage(&self) -> Result<Usage> {
        if let Some(known) = self.usage.lock_unpoisoned().clone() {
            return Ok(known);
        }
        if self.is_codex_asleep() {
            return Ok(Usage {
                primary: None,
                secondary: None,
                plan_type: None,
                credits: None,
                limit_reached: false,
                unavailable: Some(
                    "Codex is asleep while idle; the figures come with its next turn".into(),
                ),
                updated_at: now_ms(),
            });
        }
        self.read_usage().await
    }

    /// Reads the usage from Codex (which asks its backend) and keeps it.
    pub async fn read_usage(&self) -> Result<Usage> {
        let usage = match self.codex::<AccountRateLimitsRead>(&()).await {
            Ok(read) => usage_of(read.rate_limits),
            // Codex answers an error when the account has no plan limits
            // (an API key) or its backend cannot be reached: say so.
            Err(Error::Codex(perch_codex::Error::Server { message, .. })) => {
                let account = match self.known_account() {
                    Some(known) => Some(known),
                    None => self.account().await.ok(),
                };
                Usage {
                    primary: None,
                    secondary: None,
                    plan_type: None,
                    credits: None,
                    limit_reached: false,
                    unavailable: Some(unavailable_reason(&message, account.as_ref())),
                    updated_at: now_ms(),
                }
            }
            Err(other) => return Err(other),
        };
        self.keep_usage(usage.clone());
        Ok(usage)
    }

    /// Codex reported new figures (`account/rateLimits/updated`).
    pub(crate) fn usage_reported(&self, snapshot: RateLimitSnapshot) {
        self.keep_usage(usage_of(snapshot));
    }

    fn keep_usage(&self, usage: Usage) {
        let changed = {
            let mut known = self.usage.lock_unpoisoned();
            let same = known.as_ref().is_some_and(|k| {
                Usage {
                    updated_at: 0,
                    ..k.clone()
                } == Usage {
                    updated_at: 0,
                    ..usage.clone()
                }
            });
            *known = Some(usage.clone());
            !same
        };
        if changed {
            self.bus.publish(EventKind::UsageUpdated { usage });
        }
    }
}

fn usage_of(snapshot: RateLimitSnapshot) -> Usage {
    let window = |w: RateLimitWindow| UsageWindow {
        used_percent: w.used_percent.clamp(0, 100),
        window_minutes: w.window_duration_mins,
        resets_at: w.resets_at.map(|s| s.saturating_mul(1000)),
    };
    let limit_reached = snapshot.rate_limit_reached_type.is_some()
        || [&snapshot.primary, &snapshot.secondary]
            .iter()
            .any(|w| w.as_ref().is_some_and(|w| w.used_percent >= 100));
    let nothing = snapshot.primary.is_none() && snapshot.secondary.is_none();
    Usage {
        primary: snapshot.primary.map(window),
        secondary: snapshot.secondary.map(window),
        plan_type: snapshot.plan_type,
        credits: snapshot.credits.map(|c| Credits {
            has_credits: c.has_credits,
            unlimited: c.unlimited,
            balance: c.balance,
        }),
        limit_reached,
        unavailable: nothing
            .then(|| "Codex reported no rate-limit windows for this account".into()),
        updated_at: now_ms(),
    }
}

fn unavailable_reason(codex_message: &str, account: Option<&AccountState>) -> String {
    if account.is_some_and(|a| a.account.is_none() && !a.requires_openai_auth) {
        return "Usage limits are reported for ChatGPT plans; the configured model provider has none to show".into();
    }
    match account.and_then(|a| a.account.as_ref()) {
        Some(Account::Chatgpt { .. }) => format!(
            "Codex could not read the plan's usage ({codex_message}); it shows again after the next turn"
        ),
        Some(_) => "Usage limits are reported for ChatGPT plans; this account (an API key or another provider) has none to show: see your provider's dashboard".into(),
        None => "Not signed in: usage shows once Codex is signed in with a ChatGPT plan".into(),
    }
}
