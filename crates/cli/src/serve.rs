//! `perch serve`: the runtime, the API and the web UI in one process.

use crate::CliError;
use perch_host::server::{Server, ServerOptions};
use std::path::PathBuf;

pub struct ServeArgs {
    pub data_dir: PathBuf,
    pub listen: Option<String>,
    pub ui_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub logs_dir: Option<PathBuf>,
    pub relay_listen: Option<String>,
}

pub async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let server = Server::start(ServerOptions {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        ui_dir: args.ui_dir,
        config_path: args.config,
        // `perch serve` runs headless or under systemd; login autostart
        // belongs to the desktop app.
        autostart: None,
        logs_dir: args.logs_dir,
        relay_listen: args.relay_listen,
    })
    .await?;
    tracing::info!("started at {} in {:?}", server.url, started.elapsed());
    eprintln!(
        "Perch is listening on {} (data: {})",
        server.url,
        args.data_dir.display()
    );
    if let Some(relay) = server.network.relay_url() {
        eprintln!("peer network: relay at {relay}");
    }
    match &server.ui_dir {
        Some(dir) => eprintln!("web UI from {}; open it with `perch open`", dir.display()),
        None => eprintln!("the web UI is not built (run scripts/setup); the API works without it"),
    }
    if let Some(warning) = server.secrets.warning() {
        eprintln!("warning: {warning}");
    }
    perch_host::server::wait_for_signal().await;
    eprintln!("Perch is stopping");
    server.stop().await;
    Ok(())
}
