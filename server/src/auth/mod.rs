//! The auth core. Every rule — parsing, password checks, token checks, role checks,
//! throttling — lives here once; the REST handlers and the Leptos server functions are
//! two thin doors into `AuthService`.
//!
//! - `service`: the service itself, its start-up and the first admin;
//! - `access`: who a request is (`authenticate`, `Principal`);
//! - `login`: sign-in, refresh-token rotation, sign-out;
//! - `account`: sign-up and what a user does with their own account;
//! - `admin`: the one role check (`AdminPrincipal`) and what only admins may do;
//! - `recovery`: email verification, password reset by mail, the account's address;
//! - `email_code`: signing in with a code sent by email;
//! - `second_factor`: TOTP and recovery codes;
//! - `step_up`: the second step of a sign-in (step-up tickets);
//! - `passkey`: WebAuthn registration and passkey sign-in;
//! - `reauth`: fresh authentication before a step that hands out a way in;
//! - `upstream`: signing in with another provider (OpenID Connect) and linked accounts;
//! - `provider_admin`: the providers on offer, and those admins add and change;
//! - `ways`: the ways in an account's owner allows (password, passkey, code by email);
//! - `notices`: mails telling the owner how the way into their account changed;
//! - `audit`: the security event log;
//! - `operator`: what the CLI does beside a running server;
//! - `token`, `password`, `throttle`, `sealing`: the mechanisms underneath.

mod access;
mod account;
mod admin;
mod audit;
pub mod email_code;
pub mod error;
mod forward;
mod identity_links;
mod key_ring;
mod login;
mod notices;
pub mod oidc;
pub mod operator;
mod passkey;
mod passkey_signup;
pub mod password;
mod provider_admin;
mod reauth;
mod recovery;
pub mod sealing;
mod second_factor;
mod service;
mod step_up;
pub mod throttle;
pub mod token;
mod upstream;
mod ways;

pub use access::Principal;
pub use account::SignupRequest;
pub use admin::AdminPrincipal;
pub use error::{AuthError, TokenProblem};
pub use forward::{ForwardIdentity, ForwardVerdict};
pub use login::{IssuedTokens, SignIn};
pub use passkey::{Ceremony, relying_party as passkey_relying_party};
pub use passkey_signup::PasskeySignup;
pub use service::{AuthService, ClientInfo, view_of};
pub use step_up::StepUp;
pub use upstream::{PROVIDER_FLOW_TTL_SECS, ProviderCallback, ProviderOutcome, ProviderRedirect};

pub type AuthResult<T> = Result<T, AuthError>;
