//! The Codex account, sign-in and the model list.

use super::*;
use perch_protocol::account::{AccountState, Login, LoginStarted};

impl Runtime {
    /// Whom Codex is signed in as, read from Codex now (and kept).
    pub async fn account(&self) -> Result<AccountState> {
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
        let started = self.codex::<AccountLoginStart>(&params).await?;
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

    pub async fn models(&self) -> Result<Vec<ModelInfo>> {
        let page = self.codex::<ModelList>(&ModelListParams::default()).await?;
        Ok(page
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
            .collect())
    }
}
