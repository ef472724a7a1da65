//! The Gatehouse benchmark, run with `scripts/bench` (not part of the tests). Loopback
//! only, bounded in time; every comparison interleaves its runs (A B, B A) and the
//! results print as one table.
//!
//! - `scripts/bench`: one server at a time, on a small and on a big embedded store.
//! - `scripts/bench instances`: three servers on one store — the embedded one, or
//!   MongoDB when `MONGODB_URI` is set.
//! - `scripts/bench storm`: only the login-storm figures (login rate, protected-route
//!   latency during a storm), in more rounds.
//! - `scripts/bench lean`: the user-info and forward-auth routes, an app through nginx
//!   with and without the auth request, and the server's memory after start, under load
//!   and after a login burst.
//! - `scripts/bench oidc`: the OpenID Connect token endpoint (code redemption, refresh)
//!   and UserInfo beside the bare route.
//! - `scripts/bench peer`: Gatehouse's bare and user-info routes beside another auth
//!   server's, given by URL and token.
//! - `scripts/bench hot-code`: not a measurement; writes `server/hot-functions.txt`, the
//!   functions a running server executes, for the linker to keep together.
//!
//! Seconds per measurement: `BENCH_SECS` (default 5).

// A benchmark harness, not the service: a failed step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod hot_code;
mod instances;
mod lean;
mod oidc;
mod one_server;
mod peer;
mod proxy;

use std::path::PathBuf;

fn seconds_per_measurement() -> u64 {
    std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// The binary and site that `cargo leptos build --release` left.
fn release_build() -> (PathBuf, PathBuf) {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    (
        workspace.join("target/release/gatehouse"),
        workspace.join("target/site"),
    )
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        None => one_server::run(),
        Some("instances") => instances::run(),
        Some("storm") => one_server::storm(),
        Some("lean") => lean::run(),
        Some("peer") => peer::run(),
        Some("oidc") => oidc::run(),
        Some("hot-code") => hot_code::run(),
        Some(other) => panic!(
            "unknown benchmark mode `{other}` (expected `instances`, `storm`, `lean`, `oidc`, \
             `peer`, `hot-code` or none)"
        ),
    }
}
