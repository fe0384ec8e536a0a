//! The peer layer's one error type; turned into text only at the API edge.

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the relay at {url} could not be reached: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The relay answered with an error (`{"error","code"}`).
    #[error("the relay answered {status}: {message}")]
    Relay {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    /// An event of a kind Perch knows whose payload it cannot read (a relay
    /// whose shapes differ from Perch's).
    #[error("the relay at {url} sent a {kind} event Perch cannot read: {reason}")]
    UnreadableEvent {
        url: String,
        kind: String,
        reason: String,
    },
    /// A pinned peer's key changed without an announcement its pinned key
    /// signed: nothing is sealed to it until the person pins it again.
    #[error("{0}")]
    KeyChanged(String),
    #[error("the peer network is off ({0})")]
    Off(String),
    #[error("the peer ledger: {0}")]
    Ledger(#[from] rusqlite::Error),
    #[error(transparent)]
    Runtime(#[from] perch_runtime::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl PeerError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Relay { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = PeerError> = std::result::Result<T, E>;
