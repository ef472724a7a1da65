//! Every page of the web app, one module each. Pages render on the server; the parts that
//! run in the browser are islands (`#[island]`) inside them.

pub mod account;
pub mod admin;
pub mod authorize;
pub mod dashboard;
pub mod email_code;
pub mod forward_rules;
pub mod home;
pub mod oidc_clients;
pub mod passkeys;
pub mod provider_admin;
pub mod providers;
pub mod recovery;
pub mod sessions;
pub mod sign_in;
pub mod two_step;
