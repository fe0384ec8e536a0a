//! The Codex account, sign-in and the model list.

use super::*;
use perch_protocol::account::{AccountState, Login, LoginStarted};

impl Runtime {
    pub async fn account(&self) -> Result<AccountState> {
        let read = self
            .codex::<AccountRead>(&AccountReadParams {
                refresh_token: false,
            })
            .await?;
        Ok(crate::model::account_state_of(read))
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
        Ok(crate::model::login_started_of(started))
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
