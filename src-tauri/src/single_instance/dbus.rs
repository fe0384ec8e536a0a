//! The session-bus name `dev.perch.desktop`: the first launch owns it; a
//! later launch calls its `Show`.

use super::{Claim, Guard, OnShow};

const NAME: &str = "dev.perch.desktop";
const PATH: &str = "/dev/perch/desktop";
const INTERFACE: &str = "dev.perch.Desktop";

struct Instance {
    on_show: OnShow,
}

#[zbus::interface(name = "dev.perch.Desktop")]
impl Instance {
    async fn show(&self) {
        (self.on_show)();
    }
}

pub(super) async fn claim(on_show: OnShow) -> zbus::Result<Claim> {
    let built = zbus::connection::Builder::session()?
        .name(NAME)?
        .allow_name_replacements(false)
        .replace_existing_names(false)
        .serve_at(PATH, Instance { on_show })?
        .build()
        .await;
    match built {
        Ok(connection) => Ok(Claim::First(Guard::new(connection))),
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
