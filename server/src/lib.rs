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
