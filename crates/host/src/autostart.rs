//! Login autostart through `auto-launch`: an XDG autostart entry on Linux,
//! a launch agent (`~/Library/LaunchAgents/perch.plist`) on macOS, a Run key
//! (HKCU) on Windows, that starts the desktop app hidden in the tray.

use perch_runtime::host::{Autostart, HostError};
use std::path::PathBuf;

pub struct LoginAutostart {
    launcher: auto_launch::AutoLaunch,
}

impl LoginAutostart {
    /// `app`: the desktop binary to start at login, with `--hidden`.
    pub fn new(app: PathBuf) -> Result<Self, HostError> {
        let path = app.display().to_string();
        // An XDG Exec line and a Windows Run key are command lines, split on
        // spaces: quote a path that has them. A macOS launch agent lists
        // its arguments one by one, so the path goes in as it is.
        let path = if path.contains(' ') && !cfg!(target_os = "macos") {
            format!("\"{path}\"")
        } else {
            path
        };
        let launcher = auto_launch::AutoLaunchBuilder::new()
            .set_app_name("perch")
            .set_app_path(&path)
            .set_args(&["--hidden"])
            .build()
            .map_err(|e| HostError::Autostart(e.to_string()))?;
        Ok(Self { launcher })
    }
}

impl Autostart for LoginAutostart {
    fn is_enabled(&self) -> Result<bool, HostError> {
        self.launcher
            .is_enabled()
            .map_err(|e| HostError::Autostart(e.to_string()))
    }

    fn set_enabled(&self, enabled: bool) -> Result<(), HostError> {
        let result = if enabled {
            self.launcher.enable()
        } else {
            self.launcher.disable()
        };
        result.map_err(|e| HostError::Autostart(e.to_string()))
    }
}
