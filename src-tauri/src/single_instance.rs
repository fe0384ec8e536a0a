//! One Perch per person: the first launch owns the session-bus name
//! `dev.perch.desktop`; a later launch calls its `Show` (which opens the chat
//! window, once Perch is up) and exits.

use crate::shell::{ready, ShellSlot, WindowKind};

const NAME: &str = "dev.perch.desktop";
const PATH: &str = "/dev/perch/desktop";
const INTERFACE: &str = "dev.perch.Desktop";

pub enum Claim {
    /// This is the only Perch; the connection holds the name until it drops.
    First(zbus::Connection),
    /// Another Perch runs and was asked to show itself.
    Shown,
}

struct Instance {
    shell: ShellSlot,
}

#[zbus::interface(name = "dev.perch.Desktop")]
impl Instance {
    async fn show(&self) {
        tracing::info!("a second launch asked to show Perch");
        if let Some(shell) = ready(&self.shell).await {
            shell.show(WindowKind::Chat, None);
        }
    }
}

pub async fn claim(shell: ShellSlot) -> zbus::Result<Claim> {
    let built = zbus::connection::Builder::session()?
        .name(NAME)?
        .allow_name_replacements(false)
        .replace_existing_names(false)
        .serve_at(PATH, Instance { shell })?
        .build()
        .await;
    match built {
        Ok(connection) => Ok(Claim::First(connection)),
        Err(zbus::Error::NameTaken) => {
            let connection = zbus::Connection::session().await?;
            connection
                .call_method(Some(NAME), PATH, Some(INTERFACE), "Show", &())
                .await?;
            Ok(Claim::Shown)
        }
        Err(err) => Err(err),
    }
}
