//! Running the relay: bind (refusing an open non-loopback bind), serve the
//! API, run upkeep, stop gracefully.

use crate::backend::nats::NatsOptions;
use crate::config::RelaySettings;
use crate::error::RelayError;
use crate::relay::Relay;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "refusing to serve the relay on {0} without a token: set AGENT_RELAY_TOKEN (or AGENT_RELAY_ALLOW_UNAUTH=1 on a network you trust)"
    )]
    OpenBind(SocketAddr),
    #[error("listening on {addr} for the relay: {source} (is another relay running there?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// Where the relay keeps its state.
#[derive(Debug, Clone)]
pub enum Storage {
    /// One SQLite file (in memory when `None`): the embedded relay.
    Sqlite(Option<PathBuf>),
    /// A NATS JetStream cluster shared by any number of frontends.
    Nats(NatsOptions),
}

pub struct RelayServer {
    relay: Arc<Relay>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<std::io::Result<()>>,
    reaper: tokio::task::JoinHandle<()>,
}

impl RelayServer {
    /// Opens the storage and serves on `listen` (port 0 picks a free one).
    pub async fn start(
        listen: SocketAddr,
        storage: Storage,
        settings: RelaySettings,
    ) -> Result<Self, ServerError> {
        if !listen.ip().is_loopback() && settings.token.is_none() && !settings.allow_unauthenticated
        {
            return Err(ServerError::OpenBind(listen));
        }
        let relay = match storage {
            Storage::Sqlite(db) => {
                if let Some(parent) = db.as_deref().and_then(std::path::Path::parent) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        RelayError::Internal(format!("creating {}: {e}", parent.display()))
                    })?;
                }
                Relay::open(db.as_deref(), settings)?
            }
            Storage::Nats(options) => Relay::connect(&options, settings).await?,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen,
            source,
        })?;
        let app = crate::routes::router(relay.clone(), addr.ip().is_loopback());
        let (shutdown, mut stopped) = watch::channel(false);
        let serve = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        });
        let reaper = crate::reaper::spawn(Arc::downgrade(&relay));
        tracing::info!("relay listening on http://{addr}");
        Ok(Self {
            relay,
            addr,
            shutdown,
            serve,
            reaper,
        })
    }

    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open requests finish (SSE streams end), stops upkeep.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.relay.events().close();
        self.reaper.abort();
        // Streams end on `close`; a request that still hangs is cut after 5 s
        // so the port is free when `stop` returns.
        let abort = self.serve.abort_handle();
        match tokio::time::timeout(std::time::Duration::from_secs(5), self.serve).await {
            Ok(Ok(Err(err))) => tracing::warn!("relay server ended with {err}"),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!("relay: open connections did not close within 5 s");
                abort.abort();
            }
        }
    }
}
