//! stdx's HTTP half: reqwest clients over rustls with `ring` as its crypto.
//! reqwest's `rustls-no-provider` leaves the choice of provider to the
//! process; this makes it once, before the first client is built.
//!
//! Invariant: depends on reqwest and rustls only; a crate apart from stdx
//! so that crates making no HTTP request (the engine) link no client.

use std::sync::Once;

/// `reqwest::Client::builder()`, with the process's TLS crypto provider
/// installed (`ring`, unless something installed another first).
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Err only when a provider is installed already: that one serves.
        // Deprecated since rustls 0.23.48 for lacking post-quantum key
        // exchange; aws-lc-rs, which has it, needs cmake and a C toolchain
        // per target, which the Windows and macOS builds here do not have.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
