//! What the tray process (`perch-desktop`) and the window processes
//! (`perch-window`) share: the windows Perch has and the routes a window may
//! be sent to.
//!
//! Invariant: nothing here (nor in `perch-desktop`) names Tauri, so the tray
//! binary links no WebKit; only `perch-window` does.

/// The program each window runs as, next to `perch-desktop`.
pub const WINDOW_PROGRAM: &str = "perch-window";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    Chat,
    Dashboard,
}

impl WindowKind {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "chat" => Some(Self::Chat),
            "dashboard" => Some(Self::Dashboard),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Dashboard => "dashboard",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Self::Chat => "Perch",
            Self::Dashboard => "Perch — Dashboard",
        }
    }
    pub fn default_route(self) -> &'static str {
        match self {
            Self::Chat => "/chat",
            Self::Dashboard => "/dashboard",
        }
    }
    pub fn default_size(self) -> (f64, f64) {
        match self {
            Self::Chat => (980.0, 720.0),
            Self::Dashboard => (860.0, 640.0),
        }
    }
}

/// Routes are made by Perch from ids; refuse anything that could break out
/// of the fragment or the JavaScript string.
pub fn safe_route(route: &str) -> bool {
    route.starts_with('/')
        && route
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_routes_reach_a_window() {
        for (route, safe) in [
            ("/chat", true),
            ("/approvals/ap_1-x", true),
            ("chat", false),
            ("/chat?x=1", false),
            ("/chat#x", false),
            ("/a\"b", false),
            ("/a b", false),
            ("/a'b", false),
        ] {
            assert_eq!(safe_route(route), safe, "{route:?}");
        }
    }
}
