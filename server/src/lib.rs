//! Gatehouse's server: configuration, startup, the REST API, and the auth core with its
//! stores. `main.rs` only wires these together.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod forwarded;
pub mod mail;
pub mod metrics;
pub mod security;
pub mod server_fns;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;

/// Makes ring the process's TLS crypto for every HTTP client that does not bring its own
/// (reqwest is built without a provider of its own: aws-lc would be a second, C-built
/// one, and ring is linked already). Idempotent; whoever is first wins, and it is ring.
pub fn install_tls_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
