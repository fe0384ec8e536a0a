//! The runtime's one error type. The API maps each variant to a status code.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// A body over a route's own limit (an image over 20 MB).
    #[error("{0}")]
    TooLarge(String),
    /// Content of a type the route does not take (not an image).
    #[error("{0}")]
    Unsupported(String),
    #[error("Codex is not available right now ({0}); check `perch status` for the reason")]
    CodexUnavailable(String),
    #[error(transparent)]
    Codex(#[from] perch_codex::Error),
    #[error("database error: {0}")]
    Store(#[from] rusqlite::Error),
    /// A database file cannot be read: damaged, or not a database.
    #[error("{path} is damaged ({detail}); stop Perch and run `perch doctor` to check it and replace it with a repaired copy (docs/cli.md)")]
    Damaged { path: String, detail: String },
    /// The database holds a value this Perch does not know (a newer
    /// Perch's data dir, or damage).
    #[error("the database holds {0}, which this version of Perch does not know; was the data dir used by a newer Perch?")]
    UnknownValue(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("config error: {0}")]
    Config(String),
    /// A service Perch calls on the person's behalf (an embeddings
    /// endpoint) failed; the text names it.
    #[error("{0}")]
    Upstream(String),
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    /// Codex needs an OpenAI sign-in and has none: no turn can run.
    #[error("Codex is not signed in, so no turn can run. Sign in with `perch login` (a ChatGPT device code, or `perch login --api-key`), on Perch's sign-in screen, or configure a model provider that needs no sign-in ([provider] in config.toml, docs/config.md).")]
    NotSignedIn,
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Codex being down is a state, not a bug: say so plainly.
    pub(crate) fn from_codex(err: perch_codex::Error) -> Self {
        match err {
            perch_codex::Error::Closed => {
                Self::CodexUnavailable("the app-server is not running".into())
            }
            other => Self::Codex(other),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
