//! A named pipe per user, `\\.\pipe\dev.perch.desktop-<user>`: the first
//! launch creates its first instance (a second creation with
//! `first_pipe_instance` fails while it exists); a later launch connects
//! and writes `show`. Remote clients are refused.
#![allow(unsafe_code)]

use super::{answer, AbortOnDrop, Claim, Guard, OnShow};
use tokio::io::AsyncWriteExt;
use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeServer, ServerOptions};
use windows_sys::Win32::System::Pipes::WaitNamedPipeW;

/// The error creating the first instance of a pipe that exists gives.
const ERROR_ACCESS_DENIED: i32 = 5;
/// Every instance of the pipe is busy: wait for the next.
const ERROR_PIPE_BUSY: i32 = 231;
/// How long one wait for a free instance may take (milliseconds).
const FREE_WITHIN_MS: u32 = 2_000;

fn pipe_name() -> String {
    let user: String = std::env::var("USERNAME")
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!(r"\\.\pipe\dev.perch.desktop-{user}")
}

fn server(name: &str, first: bool) -> std::io::Result<NamedPipeServer> {
    ServerOptions::new()
        .first_pipe_instance(first)
        .reject_remote_clients(true)
        .create(name)
}

pub(super) async fn claim(on_show: OnShow) -> Result<Claim, String> {
    let name = pipe_name();
    match server(&name, true) {
        Ok(first) => Ok(Claim::First(Guard::new(AbortOnDrop(tokio::spawn(serve(
            first, name, on_show,
        )))))),
        Err(err) if err.raw_os_error() == Some(ERROR_ACCESS_DENIED) => {
            let mut tries = 0;
            let mut client = loop {
                match ClientOptions::new().open(&name) {
                    Ok(client) => break client,
                    Err(err) if err.raw_os_error() == Some(ERROR_PIPE_BUSY) && tries < 3 => {
                        tries += 1;
                        // Returns once the running Perch offers its next
                        // instance (another launch may take it first).
                        let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
                        // SAFETY: a NUL-terminated UTF-16 name this closure owns.
                        let _ = tokio::task::spawn_blocking(move || unsafe {
                            WaitNamedPipeW(wide.as_ptr(), FREE_WITHIN_MS)
                        })
                        .await;
                    }
                    Err(err) => {
                        return Err(format!("connecting to the running Perch ({name}): {err}"))
                    }
                }
            };
            client
                .write_all(b"show\n")
                .await
                .map_err(|e| format!("writing to {name}: {e}"))?;
            Ok(Claim::Shown)
        }
        Err(err) => Err(format!("creating {name}: {err}")),
    }
}

async fn serve(mut listening: NamedPipeServer, name: String, on_show: OnShow) {
    loop {
        if listening.connect().await.is_err() {
            return;
        }
        let connected = listening;
        listening = match server(&name, false) {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!("the single-instance pipe {name} stopped: {err}");
                return;
            }
        };
        tokio::spawn(answer(connected, on_show.clone()));
    }
}
