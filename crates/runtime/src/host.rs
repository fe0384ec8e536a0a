//! What the runtime needs from the machine it runs on, behind small traits:
//! a secret store and login autostart. The host crate implements them with
//! the OS keyring and `auto-launch`; [`FileSecretStore`] is the real 0600-file store
//! used where no keyring exists (and by tests).

use std::path::PathBuf;

/// Names of the secrets Perch keeps.
pub mod secret_names {
    pub const API_TOKEN: &str = "api-token";
    pub const PROVIDER_API_KEY: &str = "provider-api-key";
    /// The relay's token: the embedded relay requires it, the peer client sends it.
    pub const RELAY_TOKEN: &str = "relay-token";
    /// The NATS credentials (a `.creds` file's text) a relay frontend on a
    /// NATS cluster connects with (`perch relay nats-creds`).
    pub const RELAY_NATS_CREDS: &str = "relay-nats-creds";
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the secret store failed: {0}")]
    Secrets(String),
    #[error("login autostart failed: {0}")]
    Autostart(String),
    #[error("the desktop could not open the file: {0}")]
    Open(String),
}

pub use perch_protocol::settings::SecretBackend;

/// Synchronous on purpose: keyring calls block on D-Bus, so async callers
/// run them on a blocking thread.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<String>, HostError>;
    fn set(&self, name: &str, value: &str) -> Result<(), HostError>;
    fn delete(&self, name: &str) -> Result<(), HostError>;
    fn backend(&self) -> SecretBackend;
    /// Why secrets are not in the OS keyring, for status and settings.
    fn warning(&self) -> Option<String>;
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub trait Autostart: Send + Sync {
    fn is_enabled(&self) -> Result<bool, HostError>;
    fn set_enabled(&self, enabled: bool) -> Result<(), HostError>;
}

/// Opens a file in the desktop's default application for it ("Open in
/// editor" when no editor command is configured).
pub trait Opener: Send + Sync {
    fn open(&self, path: &std::path::Path) -> Result<(), HostError>;
}

/// One 0600 file per secret in a 0700 directory.
pub struct FileSecretStore {
    dir: PathBuf,
    warning: Option<String>,
}

impl FileSecretStore {
    /// `warning` says why this store is used instead of the keyring.
    pub fn new(dir: PathBuf, warning: Option<String>) -> Self {
        Self { dir, warning }
    }

    fn path(&self, name: &str) -> Result<PathBuf, HostError> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid || name.starts_with('.') {
            return Err(HostError::Secrets(format!(
                "{name:?} is not a valid secret name"
            )));
        }
        Ok(self.dir.join(name))
    }
}

impl SecretStore for FileSecretStore {
    fn get(&self, name: &str) -> Result<Option<String>, HostError> {
        let path = self.path(name)?;
        match std::fs::read_to_string(&path) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(value) => Ok(Some(value.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::Secrets(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<(), HostError> {
        let path = self.path(name)?;
        let fail = |what: &str, e: std::io::Error| {
            HostError::Secrets(format!("{what} {}: {e}", path.display()))
        };
        stdx::private::create_dir(&self.dir).map_err(|e| fail("creating the folder of", e))?;
        // Write a new 0600 file and rename it over the old one, so the secret
        // is never readable by others, not even for a moment.
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut file = stdx::private::open_options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| fail("creating", e))?;
        stdx::private::restrict(&tmp, stdx::private::Kind::File)
            .map_err(|e| fail("making private", e))?;
        std::io::Write::write_all(&mut file, value.as_bytes()).map_err(|e| fail("writing", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| fail("replacing", e))
    }

    fn delete(&self, name: &str) -> Result<(), HostError> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(HostError::Secrets(format!(
                "removing {}: {e}",
                path.display()
            ))),
        }
    }

    fn backend(&self) -> SecretBackend {
        SecretBackend::File
    }

    fn warning(&self) -> Option<String> {
        self.warning.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secrets_round_trip_with_private_modes() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = FileSecretStore::new(dir.path().join("secrets"), None);
        assert_eq!(store.get("api-token")?, None);
        store.set("api-token", "s3cr3t")?;
        store.set("api-token", "s3cr3t-2")?;
        assert_eq!(store.get("api-token")?.as_deref(), Some("s3cr3t-2"));
        assert!(stdx::private::is_private(
            &dir.path().join("secrets/api-token")
        )?);
        assert!(stdx::private::is_private(&dir.path().join("secrets"))?);
        store.delete("api-token")?;
        store.delete("api-token")?;
        assert_eq!(store.get("api-token")?, None);
        assert!(store.set("../escape", "x").is_err());
        Ok(())
    }
}
