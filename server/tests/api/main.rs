// Tests fail by panicking: that is what the workspace lints forbid everywhere else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! API tests: the real server on a random port, a temporary store per test.

mod accounts;
mod admin;
mod delivery;
mod durability;
mod email_code;
mod forward_auth;
mod hardening;
mod helpers;
mod instances;
mod mailbox;
mod meta;
mod oidc;
mod passkeys;
mod passwordless;
mod processes;
mod proxies;
mod readme;
mod reauth;
mod recovery;
mod server_functions;
mod sessions;
mod store_down;
mod tokens;
mod two_step;
mod upstream;
mod upstream_admin;
mod ways;
