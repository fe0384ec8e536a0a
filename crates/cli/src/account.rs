//! `perch login` and `perch logout`: signing Codex in and out through the
//! running Perch (`/api/account*`), with the sign-in flows the UI uses.

use crate::client::{no_body, Client};
use crate::CliError;
use futures_util::StreamExt;
use perch_protocol::account::{AccountState, Login, LoginStarted, Usage, UsageWindow};
use perch_protocol::events::{Event, EventKind};
use serde::Deserialize;
use std::io::{IsTerminal, Read, Write};

/// Who the account is, with what to do when it is nobody.
pub fn describe(state: &AccountState) -> String {
    if state.needs_sign_in() {
        return "not signed in: `perch login` signs in (no turn can run until then)".into();
    }
    state.describe()
}

/// The key from stdin when it is piped, else asked for without echo.
fn read_api_key() -> Result<String, CliError> {
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("OpenAI API key: ")
            .map_err(|e| CliError::io("reading the API key", e))?
    } else {
        let mut key = String::new();
        std::io::stdin()
            .read_to_string(&mut key)
            .map_err(|e| CliError::io("reading the API key from stdin", e))?;
        key
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(CliError::Usage(
            "no API key was given (pipe it in, or type it at the prompt)".into(),
        ));
    }
    Ok(key)
}

pub async fn login(client: &Client, api_key: bool) -> Result<(), CliError> {
    if api_key {
        let key = read_api_key()?;
        let _: LoginStarted = client
            .post("/api/account/login", &Login::ApiKey { api_key: key })
            .await?;
        let state: AccountState = client.get("/api/account").await?;
        if state.account.is_none() {
            return Err(CliError::Usage(
                "Codex took the key but is still not signed in; check the key and try again".into(),
            ));
        }
        println!("Codex is {}.", describe(&state));
        return Ok(());
    }
    // Subscribed first: the end of the sign-in is an event.
    let events = client.events().await?;
    let started: LoginStarted = client
        .post("/api/account/login", &Login::ChatgptDeviceCode)
        .await?;
    match &started {
        LoginStarted::ChatgptDeviceCode {
            verification_url,
            user_code,
            ..
        } => {
            println!(
                "Open {verification_url} in a browser and enter this code:\n\n    {user_code}\n"
            );
            eprintln!("Waiting for you to finish signing in there (the code expires in about 15 minutes; Ctrl-C stops waiting)…");
        }
        LoginStarted::Chatgpt { auth_url, .. } => {
            println!("Open this address in a browser to sign in:\n\n    {auth_url}\n");
        }
        LoginStarted::ApiKey | LoginStarted::Other => {}
    }
    // Another window's sign-in ending is not ours.
    let ours = match &started {
        LoginStarted::ChatgptDeviceCode { login_id, .. }
        | LoginStarted::Chatgpt { login_id, .. } => Some(login_id.as_str()),
        LoginStarted::ApiKey | LoginStarted::Other => None,
    };
    let _ = std::io::stdout().flush();
    let mut events = std::pin::pin!(events);
    while let Some(raw) = events.next().await {
        let Ok(event) = Event::deserialize(&raw) else {
            continue;
        };
        match event.kind {
            EventKind::LoginCompleted {
                login_id,
                success: false,
                error,
            } if login_id.is_none() || login_id.as_deref() == ours => {
                return Err(CliError::Usage(format!(
                    "signing in failed: {}; run `perch login` to try again",
                    error.as_deref().unwrap_or("no reason given")
                )));
            }
            EventKind::AccountUpdated { account } if account.account.is_some() => {
                println!("Codex is {}.", describe(&account));
                return Ok(());
            }
            _ => {}
        }
    }
    Err(CliError::Unreachable(client.base().to_string()))
}

pub async fn logout(client: &Client, yes: bool) -> Result<(), CliError> {
    let state: AccountState = client.get("/api/account").await?;
    if state.account.is_none() {
        println!("Codex is not signed in.");
        return Ok(());
    }
    if state.shared_with_codex_cli && !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "Perch uses your own Codex home (~/.codex): signing out here signs the Codex CLI out too; pass --yes to do it".into(),
            ));
        }
        eprint!("Perch uses your own Codex home (~/.codex): this signs the Codex CLI out too. Sign out? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::io("reading the answer", e))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Still signed in.");
            return Ok(());
        }
    }
    let after: AccountState = client.post("/api/account/logout", &no_body()).await?;
    println!("Signed out; Codex is {}.", describe(&after));
    Ok(())
}

/// `perch usage`: each rate-limit window's share used and when it resets.
pub async fn usage(client: &Client, json: bool) -> Result<(), CliError> {
    let usage: Usage = client.get("/api/account/usage").await?;
    if json {
        crate::client::print_json(&usage);
        return Ok(());
    }
    if let Some(why) = &usage.unavailable {
        println!("No usage figures: {why}.");
        return Ok(());
    }
    if let Some(plan) = &usage.plan_type {
        println!("Plan: {plan}");
    }
    for window in [&usage.primary, &usage.secondary].into_iter().flatten() {
        println!("{}", describe_window(window));
    }
    if let Some(credits) = &usage.credits {
        match (&credits.balance, credits.unlimited) {
            (_, true) => println!("Credits: unlimited"),
            (Some(balance), false) => println!("Credits: {balance}"),
            (None, false) => {}
        }
    }
    if usage.limit_reached {
        println!("The limit is reached: turns fail until a window resets.");
    }
    Ok(())
}

/// "5-hour window: 42% used, resets 2026-12-06 14:05:00 (in 2h)".
fn describe_window(window: &UsageWindow) -> String {
    let name = match window.window_minutes {
        Some(300) => "5-hour window".to_string(),
        Some(10080) => "Weekly window".to_string(),
        Some(m) if m % 1440 == 0 => format!("{}-day window", m / 1440),
        Some(m) if m % 60 == 0 => format!("{}-hour window", m / 60),
        Some(m) => format!("{m}-minute window"),
        None => "Window".to_string(),
    };
    let resets = window
        .resets_at
        .map(|ms| format!(", resets {}", crate::agent::when(Some(ms))))
        .unwrap_or_default();
    format!("{name}: {}% used{resets}", window.used_percent)
}
