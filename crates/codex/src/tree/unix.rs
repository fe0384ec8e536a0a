//! A process group led by the child (`setpgid(0, 0)` at spawn).

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

pub(super) fn prepare(command: &mut Command) {
    command.process_group(0);
}

pub(super) struct Tree {
    group: Option<Pid>,
}

impl Tree {
    pub(super) fn adopt(child: &Child) -> std::io::Result<Self> {
        Ok(Self {
            group: child
                .id()
                .and_then(|pid| i32::try_from(pid).ok())
                .map(Pid::from_raw),
        })
    }

    fn signal(&self, signal: Option<Signal>) -> bool {
        self.group
            .is_some_and(|group| killpg(group, signal).is_ok())
    }

    pub(super) fn terminate(&self) -> bool {
        self.signal(Some(Signal::SIGTERM))
    }

    pub(super) fn alive(&self) -> bool {
        self.signal(None)
    }

    pub(super) fn kill(&self) {
        self.signal(Some(Signal::SIGKILL));
    }
}
