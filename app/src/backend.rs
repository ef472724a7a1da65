//! The interface through which server functions reach the auth core. `app` declares it;
//! `server` implements it over the same `AuthService` its REST handlers call, and
//! provides it as Leptos context. Tokens cross it only on the server.

use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;

use crate::{
    error::AppError,
    model::{
        AppView, AuditPage, AuthorizeAnswer, ClientAction, ClientCreated, ClientInput, ClientView,
        ConsentDecision, EndSessionAnswer, ForwardRuleInput, ForwardRuleView, KeysRotated,
        LinkedAccountsView, PasskeyView, ProviderAction, ProviderButton, ProviderInput,
        ProviderView, Role, SessionView, SignInWaysView, TotpSetupView, TwoStepView, UserPage,
        UserView, Viewer, WaysWanted,
    },
};

/// Tokens issued to a browser; they go into HttpOnly cookies and nowhere else.
pub struct IssuedSession {
    pub access_token: String,
    pub access_max_age_secs: i64,
    pub refresh_token: String,
    pub refresh_max_age_secs: i64,
    pub viewer: Viewer,
    /// Set on a sign-in, for the browser to keep (see `ssr::DEVICE_COOKIE`).
    pub device: Option<String>,
}

/// What a right password leads to in a browser.
pub enum SignedIn {
    Session(IssuedSession),
    /// The account has a second factor: the step-up ticket goes into an HttpOnly cookie
    /// (binding the second step to this browser) and the code page asks for the code.
    SecondFactor {
        ticket: String,
        max_age_secs: i64,
    },
}

/// A sign-in started at another provider: where the browser goes, and the sealed
/// sign-in its callback needs (kept in an HttpOnly cookie meanwhile).
pub struct ProviderStart {
    pub location: String,
    pub flow: String,
    pub max_age_secs: i64,
}

/// What a provider's answer did in a browser.
pub enum ProviderFinish {
    /// Signed in (or on to the second step), and where to go next.
    SignedIn(Box<SignedIn>, Option<String>),
    /// Linked to the signed-in account that asked on `/account`.
    Linked,
}

/// What a browser session presents: the tokens from its cookies.
#[derive(Clone, Default)]
pub struct PresentedTokens {
    pub access: Option<String>,
    pub refresh: Option<String>,
}

/// How cookies are to be set.
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    /// Served over HTTPS: cookies carry `Secure`.
    pub secure: bool,
}

#[async_trait]
pub trait AuthBackend: Send + Sync + 'static {
    fn cookie_policy(&self) -> CookiePolicy;
    /// The parent domain the access cookie covers, so that the apps behind a reverse
    /// proxy on its subdomains see the sign-in (forward-auth); `None`: this host only.
    fn cookie_domain(&self) -> Option<&str>;
    /// Hosts besides this site that a sign-in may send the browser back to.
    fn return_hosts(&self) -> &crate::next_path::ReturnHosts;
    /// Other providers the sign-in and sign-up pages offer.
    async fn sign_in_providers(&self) -> Vec<ProviderButton>;

    /// Starts a sign-in at another provider.
    async fn begin_provider_sign_in(
        &self,
        request: &Parts,
        provider: &str,
        next: Option<&str>,
    ) -> Result<ProviderStart, AppError>;
    /// The provider's answer (`query`, as the browser brought it back) with the sealed
    /// sign-in this browser kept: signed in (or on to its second step), and where next;
    /// or, for a link asked on `/account` by the user behind `access`, linked.
    async fn finish_provider_sign_in(
        &self,
        request: &Parts,
        access: Option<&str>,
        provider: &str,
        query: &str,
        flow: Option<&str>,
    ) -> Result<ProviderFinish, AppError>;
    /// The caller's accounts at other providers, and the providers to link.
    async fn linked_accounts(&self, access: Option<&str>) -> Result<LinkedAccountsView, AppError>;
    /// Starts linking an account at `provider` to the caller's.
    async fn begin_provider_link(
        &self,
        request: &Parts,
        access: Option<&str>,
        provider: &str,
        current_password: String,
    ) -> Result<ProviderStart, AppError>;
    /// Unlinks one of the caller's accounts at another provider.
    async fn unlink_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        provider: &str,
        subject: &str,
        current_password: String,
    ) -> Result<(), AppError>;

    /// The OpenID Connect authorization endpoint: `query` as the app sent it, for the
    /// user behind `access` (if any), with the consent form's `decision`.
    async fn authorize(
        &self,
        request: &Parts,
        access: Option<&str>,
        query: &str,
        decision: ConsentDecision,
    ) -> Result<AuthorizeAnswer, AppError>;

    /// The apps (OpenID Connect clients) the user allowed.
    async fn apps(&self, access: Option<&str>) -> Result<Vec<AppView>, AppError>;
    /// Takes back what the user allowed an app, ending its sessions.
    async fn forget_app(
        &self,
        request: &Parts,
        access: Option<&str>,
        client_id: &str,
    ) -> Result<(), AppError>;

    /// RP-initiated logout: `query` as the app sent it (`id_token_hint`,
    /// `post_logout_redirect_uri`, `state`), for the browser's session behind `access`.
    async fn end_session(
        &self,
        request: &Parts,
        access: Option<&str>,
        query: &str,
    ) -> Result<EndSessionAnswer, AppError>;

    /// The signed-in user behind an access token.
    async fn viewer(&self, access: Option<&str>) -> Result<Viewer, AppError>;
    async fn signup(
        &self,
        request: &Parts,
        username: String,
        password: String,
        email: Option<String>,
    ) -> Result<UserView, AppError>;
    async fn login(
        &self,
        request: &Parts,
        username: String,
        password: String,
    ) -> Result<SignedIn, AppError>;
    /// The second step of a sign-in: the ticket from its cookie and a code.
    async fn complete_sign_in(
        &self,
        request: &Parts,
        ticket: &str,
        code: String,
    ) -> Result<IssuedSession, AppError>;
    async fn refresh(&self, request: &Parts, refresh: &str) -> Result<IssuedSession, AppError>;
    /// Ends the session the tokens belong to; never fails for tokens already dead.
    async fn logout(&self, request: &Parts, tokens: &PresentedTokens) -> Result<(), AppError>;

    async fn sessions(&self, access: Option<&str>) -> Result<Vec<SessionView>, AppError>;
    async fn revoke_session(
        &self,
        request: &Parts,
        access: Option<&str>,
        session_id: &str,
    ) -> Result<(), AppError>;
    async fn revoke_other_sessions(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<u64, AppError>;
    async fn change_password(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
        new_password: String,
    ) -> Result<(), AppError>;

    /// "Confirm it is you": the session counts as freshly signed in for the
    /// re-authentication window.
    async fn reauthenticate(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
    ) -> Result<(), AppError>;

    /// "Email me a code": the same answer whatever `login` names.
    async fn request_sign_in_code(&self, request: &Parts, login: String) -> Result<(), AppError>;
    /// Signs in with a mailed code, as `login` does with a password.
    async fn sign_in_with_email_code(
        &self,
        request: &Parts,
        login: String,
        code: String,
    ) -> Result<SignedIn, AppError>;

    /// "Forgot your password?": the same answer whatever `login` names.
    async fn forgot_password(&self, request: &Parts, login: String) -> Result<(), AppError>;
    /// `remove_factors`: every passkey and the authenticator app go too.
    async fn reset_password(
        &self,
        request: &Parts,
        token: String,
        new_password: String,
        remove_factors: bool,
    ) -> Result<(), AppError>;
    async fn verify_email(&self, request: &Parts, token: String) -> Result<UserView, AppError>;
    async fn change_email(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
        email: String,
    ) -> Result<UserView, AppError>;
    async fn request_verification(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<UserView, AppError>;

    async fn two_step(&self, access: Option<&str>) -> Result<TwoStepView, AppError>;
    async fn pending_totp(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<Option<TotpSetupView>, AppError>;
    async fn begin_totp(&self, request: &Parts, access: Option<&str>) -> Result<(), AppError>;
    async fn confirm_totp(
        &self,
        request: &Parts,
        access: Option<&str>,
        code: String,
    ) -> Result<(), AppError>;
    async fn remove_second_factors(
        &self,
        request: &Parts,
        access: Option<&str>,
        current_password: String,
    ) -> Result<u64, AppError>;
    /// New recovery codes, kept to show on the page until `forget_shown_recovery_codes`.
    async fn regenerate_recovery_codes(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<(), AppError>;
    async fn shown_recovery_codes(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<Option<Vec<String>>, AppError>;
    async fn forget_shown_recovery_codes(&self, access: Option<&str>) -> Result<(), AppError>;

    /// Starts a passkey ceremony: the options for the browser (JSON), the id of its
    /// server-side half (for an HttpOnly cookie), and its lifetime in seconds.
    async fn begin_passkey_registration(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<(String, String, i64), AppError>;
    async fn finish_passkey_registration(
        &self,
        request: &Parts,
        access: Option<&str>,
        ceremony: &str,
        credential: String,
        name: String,
    ) -> Result<(), AppError>;
    async fn begin_passkey_sign_in(
        &self,
        request: &Parts,
    ) -> Result<(String, String, i64), AppError>;
    /// Starts making an account whose first way in is a passkey.
    async fn begin_passkey_signup(
        &self,
        request: &Parts,
        username: String,
        email: Option<String>,
    ) -> Result<(String, String, i64), AppError>;
    /// Makes the account with its passkey and signs it in.
    async fn finish_passkey_signup(
        &self,
        request: &Parts,
        ceremony: &str,
        credential: String,
    ) -> Result<IssuedSession, AppError>;
    async fn finish_passkey_sign_in(
        &self,
        request: &Parts,
        ceremony: &str,
        credential: String,
    ) -> Result<IssuedSession, AppError>;
    /// Whether the ticket's account has a passkey to complete the sign-in with.
    async fn step_up_offers_passkey(&self, ticket: &str) -> Result<bool, AppError>;
    /// A passkey as the second step of a sign-in, for the ticket in its cookie.
    async fn begin_step_up_passkey(
        &self,
        request: &Parts,
        ticket: &str,
    ) -> Result<(String, String, i64), AppError>;
    async fn complete_sign_in_with_passkey(
        &self,
        request: &Parts,
        ticket: &str,
        ceremony: &str,
        credential: String,
    ) -> Result<IssuedSession, AppError>;
    /// "Confirm it is you" with a passkey: options naming the caller's own passkeys.
    async fn begin_reauthentication_with_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<(String, String, i64), AppError>;
    /// The session counts as freshly signed in for the re-authentication window.
    async fn reauthenticate_with_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
        ceremony: &str,
        credential: String,
    ) -> Result<(), AppError>;
    async fn passkeys(&self, access: Option<&str>) -> Result<Vec<PasskeyView>, AppError>;
    async fn rename_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: String,
        name: String,
    ) -> Result<PasskeyView, AppError>;
    async fn remove_passkey(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: String,
        current_password: String,
    ) -> Result<(), AppError>;

    async fn list_users(
        &self,
        access: Option<&str>,
        search: Option<String>,
        page: u64,
    ) -> Result<UserPage, AppError>;
    async fn update_user(
        &self,
        request: &Parts,
        access: Option<&str>,
        user_id: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<UserView, AppError>;
    async fn audit_log(&self, access: Option<&str>, page: u64) -> Result<AuditPage, AppError>;
    /// Admins only: lifts the lockout and cap failed sign-ins put on a user.
    async fn unlock_sign_in(
        &self,
        request: &Parts,
        access: Option<&str>,
        user_id: &str,
    ) -> Result<(), AppError>;
    /// Admins only: removes a user's authenticator app, recovery codes and passkeys, and
    /// ends all of that user's sessions. Returns how many ended.
    async fn reset_second_factors(
        &self,
        request: &Parts,
        access: Option<&str>,
        user_id: &str,
    ) -> Result<u64, AppError>;
    /// Whether the caller's own account reached the cap of failed sign-ins.
    async fn own_sign_in_locked(&self, access: Option<&str>) -> Result<bool, AppError>;
    /// The ways in the caller's account allows, and which it has what it needs for (an
    /// account made with a passkey may have no password).
    async fn sign_in_ways(&self, access: Option<&str>) -> Result<SignInWaysView, AppError>;
    /// Turns the caller's ways in on (`true`) or off, with the current password (none
    /// for an account without one: a recent sign-in).
    async fn set_sign_in_ways(
        &self,
        request: &Parts,
        access: Option<&str>,
        wanted: WaysWanted,
        current_password: String,
    ) -> Result<SignInWaysView, AppError>;

    /// Admins only: the forward-auth rules, ordered by host and path.
    async fn forward_rules(&self, access: Option<&str>) -> Result<Vec<ForwardRuleView>, AppError>;
    /// Admins only: adds a rule, or replaces the rule `id` names.
    async fn save_forward_rule(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: Option<&str>,
        input: &ForwardRuleInput,
    ) -> Result<ForwardRuleView, AppError>;
    async fn remove_forward_rule(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
    ) -> Result<(), AppError>;

    /// Admins only: the registered OpenID Connect clients, by name.
    async fn oidc_clients(&self, access: Option<&str>) -> Result<Vec<ClientView>, AppError>;
    /// Admins only: registers an app; its secret (unless public) is in the answer only.
    async fn register_oidc_client(
        &self,
        request: &Parts,
        access: Option<&str>,
        input: ClientInput,
    ) -> Result<ClientCreated, AppError>;
    /// Admins only: disables, enables, removes an app or rotates its secret (the new
    /// secret is the answer).
    async fn manage_oidc_client(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
        action: ClientAction,
    ) -> Result<Option<String>, AppError>;
    /// Admins only: every provider to sign in with, the file's first.
    async fn sign_in_provider_list(
        &self,
        access: Option<&str>,
    ) -> Result<Vec<ProviderView>, AppError>;
    /// Admins only: adds a provider to sign in with.
    async fn add_sign_in_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        input: ProviderInput,
    ) -> Result<ProviderView, AppError>;
    /// Admins only: replaces the settings of a provider added by an admin (the client
    /// secret left out is kept, `""` removes it).
    async fn change_sign_in_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
        input: ProviderInput,
    ) -> Result<ProviderView, AppError>;
    /// Admins only: turns a provider off or on, or removes it with its links.
    async fn manage_sign_in_provider(
        &self,
        request: &Parts,
        access: Option<&str>,
        id: &str,
        action: ProviderAction,
    ) -> Result<(), AppError>;
    /// Admins only: new signing keys.
    async fn rotate_signing_keys(
        &self,
        request: &Parts,
        access: Option<&str>,
    ) -> Result<KeysRotated, AppError>;
}

pub type SharedBackend = Arc<dyn AuthBackend>;
