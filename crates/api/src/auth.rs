//! Who may talk to the API: the host allow-list (against DNS rebinding), the
//! bearer token (compared in constant time), browser sessions (an HttpOnly
//! cookie obtained with the token or a one-time login code), and an Origin
//! check for cookie-authenticated requests that change state.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stdx::ct_eq;
use stdx::MutexExt;

pub const SESSION_COOKIE: &str = "perch_session";
const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const LOGIN_CODE_TTL: Duration = Duration::from_secs(60);
const MAX_LIVE_CODES: usize = 64;

pub struct Auth {
    token: String,
    allowed_hosts: Vec<String>,
    /// Browser sessions: the SHA-256 digest of each id, and when it expires
    /// (ms since 1970). Kept in `sessions_file` so a restart signs no one out.
    sessions: Mutex<HashMap<String, i64>>,
    sessions_file: Option<std::path::PathBuf>,
    login_codes: Mutex<HashMap<String, Instant>>,
}

/// What `sessions_file` holds: digests only, and the digest of the token
/// they were opened under (a new token ends them all).
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedSessions {
    token: String,
    sessions: HashMap<String, i64>,
}

impl Auth {
    /// `allowed_hosts`: host names (no port) accepted in `Host` and `Origin`
    /// besides the loopback names.
    pub fn new(token: String, mut allowed_hosts: Vec<String>) -> Self {
        allowed_hosts.extend(["localhost", "127.0.0.1", "[::1]", "::1"].map(String::from));
        let allowed_hosts = allowed_hosts
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Self {
            token,
            allowed_hosts,
            sessions: Mutex::default(),
            sessions_file: None,
            login_codes: Mutex::default(),
        }
    }

    /// Keeps browser sessions in `path` (0600), and takes back those a
    /// previous run kept there under the same token.
    pub fn with_sessions_file(mut self, path: std::path::PathBuf) -> Self {
        let saved = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<SavedSessions>(&bytes).ok());
        if let Some(saved) = saved {
            if ct_eq(&saved.token, &stdx::sha256_hex(&self.token)) {
                let now = stdx::now_ms();
                *self.sessions.lock_unpoisoned() = saved
                    .sessions
                    .into_iter()
                    .filter(|(_, expires)| *expires > now)
                    .collect();
            }
        }
        self.sessions_file = Some(path);
        self
    }

    fn save_sessions(&self, sessions: &HashMap<String, i64>) {
        let Some(path) = &self.sessions_file else {
            return;
        };
        let saved = SavedSessions {
            token: stdx::sha256_hex(&self.token),
            sessions: sessions.clone(),
        };
        let written = serde_json::to_vec(&saved)
            .map_err(std::io::Error::other)
            .and_then(|bytes| stdx::write_private(path, &bytes));
        if let Err(err) = written {
            // The session still works until Perch restarts.
            tracing::warn!("keeping browser sessions in {}: {err}", path.display());
        }
    }

    fn host_allowed(&self, host_with_port: &str) -> bool {
        let host = strip_port(host_with_port).to_ascii_lowercase();
        self.allowed_hosts.contains(&host)
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| ct_eq(token.trim(), &self.token))
    }

    fn session_ok(&self, headers: &HeaderMap) -> bool {
        let Some(id) = cookie(headers, SESSION_COOKIE) else {
            return false;
        };
        let digest = stdx::sha256_hex(&id);
        let mut sessions = self.sessions.lock_unpoisoned();
        let now = stdx::now_ms();
        sessions.retain(|_, expires| *expires > now);
        sessions.keys().any(|known| ct_eq(known, &digest))
    }

    /// Exchanges the token or a one-time code for a session id.
    pub fn open_session(&self, token: Option<&str>, code: Option<&str>) -> Option<String> {
        let ok = match (token, code) {
            (Some(token), _) => ct_eq(token.trim(), &self.token),
            (None, Some(code)) => {
                let mut codes = self.login_codes.lock_unpoisoned();
                let now = Instant::now();
                codes.retain(|_, expires| *expires > now);
                let found = codes
                    .keys()
                    .find(|known| ct_eq(known, code.trim()))
                    .cloned();
                found.is_some_and(|found| codes.remove(&found).is_some())
            }
            (None, None) => false,
        };
        if !ok {
            return None;
        }
        let id = stdx::random_hex(32).ok()?;
        let mut sessions = self.sessions.lock_unpoisoned();
        let now = stdx::now_ms();
        sessions.retain(|_, expires| *expires > now);
        sessions.insert(stdx::sha256_hex(&id), now + SESSION_TTL.as_millis() as i64);
        self.save_sessions(&sessions);
        Some(id)
    }

    pub fn close_session(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, SESSION_COOKIE) {
            let mut sessions = self.sessions.lock_unpoisoned();
            sessions.remove(&stdx::sha256_hex(&id));
            self.save_sessions(&sessions);
        }
    }

    /// A single-use code valid for 60 s.
    pub fn new_login_code(&self) -> std::io::Result<(String, u64)> {
        let code = stdx::random_hex(16)?;
        let mut codes = self.login_codes.lock_unpoisoned();
        let now = Instant::now();
        codes.retain(|_, expires| *expires > now);
        if codes.len() >= MAX_LIVE_CODES {
            // Oldest first out: a flood of codes cannot grow memory.
            if let Some(oldest) = codes
                .iter()
                .min_by_key(|(_, e)| **e)
                .map(|(c, _)| c.clone())
            {
                codes.remove(&oldest);
            }
        }
        codes.insert(code.clone(), now + LOGIN_CODE_TTL);
        Ok((code, LOGIN_CODE_TTL.as_secs()))
    }
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:4860
        return rest
            .split(']')
            .next()
            .map_or(host, |h| if h == "::1" { "[::1]" } else { h });
    }
    host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Every request: the `Host` header must name this machine.
pub async fn check_host(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(axum::http::uri::Authority::as_str)
        })
        .unwrap_or_default();
    if !auth.host_allowed(host) {
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            format!("host {host:?} is not allowed; use 127.0.0.1 or localhost, or add it to `allowed_hosts` in the config"),
        ));
    }
    Ok(next.run(request).await)
}

/// `/api/*` routes that need a caller: bearer token or session cookie; with
/// only the cookie, a state-changing request must come from an allowed Origin.
pub async fn require_auth(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    if auth.bearer_ok(headers) {
        return Ok(next.run(request).await);
    }
    if !auth.session_ok(headers) {
        return Err(ApiError::unauthorized());
    }
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state {
        cookie_write_allowed(headers)?;
    }
    Ok(next.run(request).await)
}

/// The header Perch's own pages send with every request. A page of
/// another origin cannot send it (nor a JSON body) without a CORS
/// preflight, which Perch never grants.
pub const REQUEST_HEADER: &str = "x-perch-request";

/// A write signed in only with the browser cookie must come from Perch's
/// own page: its `Origin` is exactly Perch's origin (scheme, host and
/// port: another port on this machine is another site), and it carries a
/// JSON body or [`REQUEST_HEADER`].
fn cookie_write_allowed(headers: &HeaderMap) -> Result<(), ApiError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let host = text(header::HOST).unwrap_or_default().to_ascii_lowercase();
    let origin = text(header::ORIGIN).map(str::to_ascii_lowercase);
    let own_origin = origin.as_deref().is_some_and(|origin| {
        !host.is_empty()
            && (origin.strip_prefix("http://") == Some(host.as_str())
                || origin.strip_prefix("https://") == Some(host.as_str()))
    });
    if !own_origin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "a request signed in with the browser cookie must come from Perch's own page ({}), not from {}; scripts use the bearer token",
                if host.is_empty() { "its address".to_string() } else { format!("http://{host}") },
                origin.as_deref().unwrap_or("a page that sent no Origin")
            ),
        ));
    }
    let json = text(header::CONTENT_TYPE).is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json && headers.get(REQUEST_HEADER).is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("a browser write needs a JSON body or the {REQUEST_HEADER} header (Perch's own page sends it)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_matched_without_their_port() {
        let auth = Auth::new("t".into(), vec!["perch.lan".into()]);
        for (host, ok) in [
            ("127.0.0.1:4860", true),
            ("localhost", true),
            ("LOCALHOST:1", true),
            ("[::1]:4860", true),
            ("perch.lan:80", true),
            ("evil.example:4860", false),
            ("127.0.0.1.evil.example", false),
            ("", false),
        ] {
            assert_eq!(auth.host_allowed(host), ok, "{host}");
        }
    }

    /// Issue 15: restarting Perch signs no browser out; a new API token,
    /// signing out, and expiry still end a session; the file holds no id.
    #[test]
    fn browser_sessions_outlive_a_restart_but_not_a_new_token(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("browser-sessions.json");
        let start = |token: &str| Auth::new(token.into(), vec![]).with_sessions_file(file.clone());
        let with_cookie = |id: &str| {
            let mut headers = HeaderMap::new();
            if let Ok(value) = header::HeaderValue::from_str(&format!("{SESSION_COOKIE}={id}")) {
                headers.insert(header::COOKIE, value);
            }
            headers
        };
        let first = start("token-1");
        let id = first
            .open_session(Some("token-1"), None)
            .ok_or("no session")?;
        let kept = std::fs::read_to_string(&file)?;
        assert!(!kept.contains(&id), "the file holds the session id itself");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file)?.permissions().mode() & 0o777,
                0o600
            );
        }
        let restarted = start("token-1");
        assert!(
            restarted.session_ok(&with_cookie(&id)),
            "signed out by a restart"
        );
        assert!(!restarted.session_ok(&with_cookie("forged")));
        assert!(
            !start("token-2").session_ok(&with_cookie(&id)),
            "a new token must end old sessions"
        );
        let again = start("token-1");
        again.close_session(&with_cookie(&id));
        assert!(
            !start("token-1").session_ok(&with_cookie(&id)),
            "signing out lasts"
        );
        Ok(())
    }

    #[test]
    fn a_cookie_write_must_come_from_perchs_own_origin_with_json_or_the_header() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    header::HeaderValue::from_str(value),
                ) {
                    map.insert(name, value);
                }
            }
            map
        };
        let host = ("host", "127.0.0.1:4860");
        let json = ("content-type", "application/json; charset=utf-8");
        for (case, ok) in [
            (vec![host, ("origin", "http://127.0.0.1:4860"), json], true),
            (
                vec![
                    host,
                    ("origin", "http://127.0.0.1:4860"),
                    (REQUEST_HEADER, "1"),
                ],
                true,
            ),
            (
                vec![
                    ("host", "LOCALHOST:4860"),
                    ("origin", "http://localhost:4860"),
                    json,
                ],
                true,
            ),
            // Another port on the same machine is another site.
            (vec![host, ("origin", "http://127.0.0.1:9999"), json], false),
            (vec![host, ("origin", "http://localhost:4860"), json], false),
            (vec![host, ("origin", "null"), json], false),
            (vec![host, json], false),
            // A form or a text/plain fetch, even from Perch's own origin.
            (
                vec![
                    host,
                    ("origin", "http://127.0.0.1:4860"),
                    ("content-type", "text/plain"),
                ],
                false,
            ),
            (vec![host, ("origin", "http://127.0.0.1:4860")], false),
        ] {
            assert_eq!(
                cookie_write_allowed(&headers(&case)).is_ok(),
                ok,
                "{case:?}"
            );
        }
    }

    #[test]
    fn login_codes_work_once() {
        let auth = Auth::new("secret".into(), vec![]);
        let (code, _) = auth.new_login_code().unwrap_or_default();
        assert!(auth.open_session(None, Some(&code)).is_some());
        assert!(auth.open_session(None, Some(&code)).is_none());
        assert!(auth.open_session(Some("wrong"), None).is_none());
        assert!(auth.open_session(Some("secret"), None).is_some());
        assert!(auth.open_session(None, None).is_none());
    }
}
