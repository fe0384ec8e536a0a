//! Secrets in the OS keyring, or in 0600 files with a warning where no
//! keyring exists (a headless server). Never silently in memory.

use perch_runtime::config::Environment;
use perch_runtime::host::{secret_names, FileSecretStore, HostError, SecretBackend, SecretStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SERVICE: &str = "perch";

/// Items are `service=perch, username=<name>@<data dir>`, so two data dirs
/// (a test and a real one) never share a token.
pub struct KeyringSecretStore {
    data_dir: String,
}

impl KeyringSecretStore {
    fn entry(&self, name: &str) -> Result<keyring::Entry, HostError> {
        keyring::Entry::new(SERVICE, &format!("{name}@{}", self.data_dir)).map_err(keyring_error)
    }
}

fn keyring_error(err: keyring::Error) -> HostError {
    HostError::Secrets(format!("OS keyring: {err}"))
}

impl SecretStore for KeyringSecretStore {
    fn get(&self, name: &str) -> Result<Option<String>, HostError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(keyring_error(err)),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<(), HostError> {
        self.entry(name)?.set_password(value).map_err(keyring_error)
    }

    fn delete(&self, name: &str) -> Result<(), HostError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(keyring_error(err)),
        }
    }

    fn backend(&self) -> SecretBackend {
        SecretBackend::Keyring
    }

    fn warning(&self) -> Option<String> {
        None
    }
}

/// The keyring when one answers, else 0600 files in `<data dir>/secrets`
/// with a warning saying why. `PERCH_SECRET_STORE=file` skips the keyring.
/// Blocks on D-Bus: call it off the async runtime.
pub fn open_secret_store(data_dir: &Path, env: &Environment) -> Arc<dyn SecretStore> {
    let file_dir = data_dir.join("secrets");
    let forced_file = env.get("PERCH_SECRET_STORE") == Some("file");
    let keyring = KeyringSecretStore {
        data_dir: data_dir.display().to_string(),
    };
    let store: Arc<dyn SecretStore> = if forced_file {
        Arc::new(FileSecretStore::new(file_dir, None))
    } else {
        // A Secret Service with no usable collection (auto-started, never
        // unlocked) answers reads but fails writes. The token this data dir
        // stored earlier proves a collection that took a write; otherwise
        // write, read back and delete a probe. (Each call is a D-Bus
        // session: the check costs one on every start but the first.)
        let stored_token = matches!(keyring.get(secret_names::API_TOKEN), Ok(Some(_)));
        let probe = if stored_token {
            Ok(())
        } else {
            keyring
                .set("probe", "perch")
                .and_then(|()| keyring.get("probe"))
                .and_then(|read| {
                    keyring.delete("probe")?;
                    match read.as_deref() {
                        Some("perch") => Ok(()),
                        _ => Err(HostError::Secrets(
                            "the keyring did not return what was stored".into(),
                        )),
                    }
                })
        };
        match probe {
            Ok(()) => Arc::new(keyring),
            Err(err) => {
                let warning = format!(
                    "no OS keyring is available ({err}); secrets are kept in 0600 files in {}",
                    file_dir.display()
                );
                tracing::warn!("{warning}");
                Arc::new(FileSecretStore::new(file_dir, Some(warning)))
            }
        }
    };
    migrate_legacy_token(data_dir, store.as_ref());
    store
}

/// The token a running server stored, for client commands: reads only, so
/// a `perch status` does not write a keyring probe. `None` if there is none.
pub fn read_token(data_dir: &Path, env: &Environment) -> Result<Option<String>, HostError> {
    if let Some(token) = env.get("PERCH_API_TOKEN") {
        return Ok(Some(token.to_string()));
    }
    if env.get("PERCH_SECRET_STORE") != Some("file") {
        let keyring = KeyringSecretStore {
            data_dir: data_dir.display().to_string(),
        };
        if let Ok(Some(token)) = keyring.get(secret_names::API_TOKEN) {
            return Ok(Some(token));
        }
    }
    FileSecretStore::new(data_dir.join("secrets"), None).get(secret_names::API_TOKEN)
}

/// Perch 0.1 kept the token in `<data dir>/api-token`; move it into the store.
fn migrate_legacy_token(data_dir: &Path, store: &dyn SecretStore) {
    let legacy: PathBuf = data_dir.join("api-token");
    let Ok(token) = std::fs::read_to_string(&legacy) else {
        return;
    };
    let moved = match store.get(secret_names::API_TOKEN) {
        Ok(Some(_)) => true,
        Ok(None) => store.set(secret_names::API_TOKEN, token.trim()).is_ok(),
        Err(_) => false,
    };
    if moved {
        let _ = std::fs::remove_file(&legacy);
    }
}

/// `PERCH_API_TOKEN`, else the stored token, else a new one (stored).
pub fn load_or_create_token(
    store: &dyn SecretStore,
    env: &Environment,
) -> Result<String, HostError> {
    if let Some(token) = env.get("PERCH_API_TOKEN") {
        return Ok(token.to_string());
    }
    if let Some(token) = store.get(secret_names::API_TOKEN)? {
        return Ok(token);
    }
    let token = stdx::random_hex(32)
        .map_err(|e| HostError::Secrets(format!("making the API token: {e}")))?;
    store.set(secret_names::API_TOKEN, &token)?;
    Ok(token)
}
