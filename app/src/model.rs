//! Types shared by the server and the WASM client. Nothing secret lives here: no password,
//! no hash, no token secret has a `Serialize` implementation anywhere in Gatehouse.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a user may do. Only two roles exist; `admin` can never be self-assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one answer to every well-formed "forgot my password" request, on both doors.
pub const RESET_REQUESTED: &str =
    "If an account with a verified address matches, a link to choose a new password is on its way.";

/// The one answer to every well-formed "email me a code" request, on both doors.
pub const SIGN_IN_CODE_REQUESTED: &str = "If an account with a verified address matches, a code to sign in is on its way. It works for 10 minutes.";

/// A user as any client may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    /// The address was proven by a mailed link since it was last set.
    pub email_verified: bool,
    pub role: Role,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Failed sign-ins reached the cumulative cap: browsers that never signed in to the
    /// account cannot, until a reset by email or an admin's unlock. Filled in where it is
    /// shown (the admin console); elsewhere false.
    #[serde(default)]
    pub sign_in_locked: bool,
    /// The account has an authenticator app or a passkey, which an admin may reset.
    /// Filled in where it is shown (the admin console); elsewhere false.
    #[serde(default)]
    pub has_second_factor: bool,
    /// The account has no password (made with a passkey, none set since): resetting its
    /// factors removes its passkeys. Filled in where it is shown (the admin console), and
    /// only sent when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_password: bool,
}

/// One signed-in device of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionView {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// True for the session the request itself belongs to.
    pub current: bool,
}

/// One entry of the login log and security events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEventView {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// The body of every error response: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `invalid_token`, `throttled`, ...
    pub code: ErrorCode,
    pub message: String,
    /// The input field the error concerns, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Why adding a factor (and other steps that hand out a way in) asks for the password.
pub const REAUTHENTICATION_REQUIRED: &str =
    "Confirm it is you: enter your password (your last sign-in was a while ago).";

/// What a failure of ours tells the caller, on every door: nothing about its cause, which
/// only the server's log gets.
pub const OUR_FAILURE: &str = "Something went wrong on our side.";

/// Why an account signs in no more from an unrecognised browser, on every door.
pub const SIGN_IN_LOCKED: &str = "Too many failed sign-ins for this account. Sign in from a browser you used before, reset your password by email, or ask an admin to unlock it.";

/// Every error code either door answers with: the REST API's JSON errors, the server
/// functions' errors, and the `?error=` a plain form post comes back with. Stable: clients
/// match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    MalformedJson,
    BadRequest,
    UnsupportedMediaType,
    BodyTooLarge,
    InvalidCredentials,
    MissingToken,
    InvalidToken,
    InvalidRefreshToken,
    RefreshTokenReused,
    Forbidden,
    AccountDisabled,
    /// Too many failed sign-ins without a success: this account signs in again from a
    /// browser that signed in before, or after a reset by email or an admin's unlock.
    SignInLocked,
    /// The step hands out a way in: it needs the current password in the request, or a
    /// sign-in within the last `GATEHOUSE_REAUTH_SECS` seconds.
    ReauthenticationRequired,
    Csrf,
    NotFound,
    MethodNotAllowed,
    UsernameTaken,
    EmailTaken,
    EmailNotVerified,
    InvalidLink,
    LastAdmin,
    /// Removing it would leave the account no way to sign in.
    LastFactor,
    /// The proof was right, but the account's owner turned that way in off.
    WayOff,
    /// Admins must sign in more strongly here (`GATEHOUSE_ADMIN_SIGN_IN`): a passkey, or
    /// a second step.
    StrongerSignInRequired,
    /// A second-factor code was wrong or already used.
    InvalidCode,
    /// The step-up ticket of a sign-in is unknown, used or expired: sign in again.
    InvalidStepUp,
    /// The account already has that second factor.
    SecondFactorExists,
    /// A passkey ceremony is unknown, used or expired: start it again.
    InvalidCeremony,
    /// A passkey's answer did not verify (or the passkey is not registered).
    InvalidPasskey,
    /// That passkey is registered already.
    PasskeyExists,
    /// A forward-auth rule for that host and path prefix exists already.
    RuleExists,
    /// A provider with that id exists already (added here, or in the providers file).
    ProviderExists,
    /// Accounts are linked at that provider: its kind and issuer cannot change (another
    /// provider's subjects would sign in to them).
    ProviderInUse,
    /// The answer from another provider belongs to no sign-in this browser started (its
    /// `state` differs, or the sign-in expired), or the provider answered with an error.
    ProviderFlowInvalid,
    /// The other provider's answer did not verify: the code exchange or the ID token
    /// (signature, issuer, audience, expiry, nonce).
    ProviderAnswerInvalid,
    /// The other provider could not be reached (discovery, keys or the token endpoint).
    ProviderUnavailable,
    /// No account here is linked to that provider's account, and it makes none.
    NoLinkedAccount,
    /// That provider's account is linked to another account here.
    IdentityTaken,
    Throttled,
    Busy,
    StoreUnavailable,
    Internal,
    /// The browser could not reach the server (set by the client, never sent).
    Network,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 44] = [
        ErrorCode::InvalidInput,
        ErrorCode::MalformedJson,
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::BodyTooLarge,
        ErrorCode::InvalidCredentials,
        ErrorCode::MissingToken,
        ErrorCode::InvalidToken,
        ErrorCode::InvalidRefreshToken,
        ErrorCode::RefreshTokenReused,
        ErrorCode::Forbidden,
        ErrorCode::AccountDisabled,
        ErrorCode::SignInLocked,
        ErrorCode::ReauthenticationRequired,
        ErrorCode::Csrf,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UsernameTaken,
        ErrorCode::EmailTaken,
        ErrorCode::EmailNotVerified,
        ErrorCode::InvalidLink,
        ErrorCode::LastAdmin,
        ErrorCode::LastFactor,
        ErrorCode::WayOff,
        ErrorCode::StrongerSignInRequired,
        ErrorCode::InvalidCode,
        ErrorCode::InvalidStepUp,
        ErrorCode::SecondFactorExists,
        ErrorCode::InvalidCeremony,
        ErrorCode::InvalidPasskey,
        ErrorCode::PasskeyExists,
        ErrorCode::RuleExists,
        ErrorCode::ProviderExists,
        ErrorCode::ProviderInUse,
        ErrorCode::ProviderFlowInvalid,
        ErrorCode::ProviderAnswerInvalid,
        ErrorCode::ProviderUnavailable,
        ErrorCode::NoLinkedAccount,
        ErrorCode::IdentityTaken,
        ErrorCode::Throttled,
        ErrorCode::Busy,
        ErrorCode::StoreUnavailable,
        ErrorCode::Internal,
        ErrorCode::Network,
    ];

    /// The code as it appears on the wire (the same text serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::MissingToken => "missing_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InvalidRefreshToken => "invalid_refresh_token",
            ErrorCode::RefreshTokenReused => "refresh_token_reused",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::SignInLocked => "sign_in_locked",
            ErrorCode::ReauthenticationRequired => "reauthentication_required",
            ErrorCode::Csrf => "csrf",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::InvalidLink => "invalid_link",
            ErrorCode::LastAdmin => "last_admin",
            ErrorCode::LastFactor => "last_factor",
            ErrorCode::WayOff => "way_off",
            ErrorCode::StrongerSignInRequired => "stronger_sign_in_required",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::InvalidStepUp => "invalid_step_up",
            ErrorCode::SecondFactorExists => "second_factor_exists",
            ErrorCode::InvalidCeremony => "invalid_ceremony",
            ErrorCode::InvalidPasskey => "invalid_passkey",
            ErrorCode::PasskeyExists => "passkey_exists",
            ErrorCode::RuleExists => "rule_exists",
            ErrorCode::ProviderExists => "provider_exists",
            ErrorCode::ProviderInUse => "provider_in_use",
            ErrorCode::ProviderFlowInvalid => "provider_flow_invalid",
            ErrorCode::ProviderAnswerInvalid => "provider_answer_invalid",
            ErrorCode::ProviderUnavailable => "provider_unavailable",
            ErrorCode::NoLinkedAccount => "no_linked_account",
            ErrorCode::IdentityTaken => "identity_taken",
            ErrorCode::Throttled => "throttled",
            ErrorCode::Busy => "busy",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Network => "network",
        }
    }

    /// A code read back from text (a query parameter); `None` for anything unknown.
    pub fn parse(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
    }

    /// The HTTP status every door answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedJson | ErrorCode::BadRequest | ErrorCode::ProviderFlowInvalid => {
                400
            }
            ErrorCode::InvalidCredentials
            | ErrorCode::MissingToken
            | ErrorCode::InvalidToken
            | ErrorCode::InvalidRefreshToken
            | ErrorCode::RefreshTokenReused
            | ErrorCode::InvalidCode
            | ErrorCode::InvalidStepUp
            | ErrorCode::InvalidCeremony
            | ErrorCode::InvalidPasskey
            | ErrorCode::ProviderAnswerInvalid => 401,
            ErrorCode::Forbidden
            | ErrorCode::AccountDisabled
            | ErrorCode::SignInLocked
            | ErrorCode::ReauthenticationRequired
            | ErrorCode::EmailNotVerified
            | ErrorCode::WayOff
            | ErrorCode::StrongerSignInRequired
            | ErrorCode::NoLinkedAccount
            | ErrorCode::Csrf => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::UsernameTaken
            | ErrorCode::EmailTaken
            | ErrorCode::LastAdmin
            | ErrorCode::LastFactor
            | ErrorCode::SecondFactorExists
            | ErrorCode::PasskeyExists
            | ErrorCode::IdentityTaken
            | ErrorCode::RuleExists
            | ErrorCode::ProviderExists
            | ErrorCode::ProviderInUse => 409,
            ErrorCode::InvalidLink => 410,
            ErrorCode::BodyTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidInput => 422,
            ErrorCode::Throttled => 429,
            ErrorCode::Internal | ErrorCode::Network => 500,
            ErrorCode::ProviderUnavailable => 502,
            ErrorCode::Busy | ErrorCode::StoreUnavailable => 503,
        }
    }

    /// Not signed in (any more): a page should send the user to sign in.
    pub fn is_unauthenticated(self) -> bool {
        matches!(
            self,
            ErrorCode::InvalidToken
                | ErrorCode::MissingToken
                | ErrorCode::InvalidRefreshToken
                | ErrorCode::RefreshTokenReused
        )
    }

    /// What a person reads on a page for this code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::InvalidCredentials => "Wrong username or password.",
            ErrorCode::Throttled => "Too many attempts. Wait a little and try again.",
            ErrorCode::Busy => "The server is busy. Try again in a moment.",
            ErrorCode::AccountDisabled => "This account is disabled.",
            ErrorCode::SignInLocked => SIGN_IN_LOCKED,
            ErrorCode::ReauthenticationRequired => REAUTHENTICATION_REQUIRED,
            ErrorCode::UsernameTaken => "This username is taken.",
            ErrorCode::EmailTaken => {
                "Another account verified this email address first: use another one."
            }
            ErrorCode::EmailNotVerified => {
                "Verify your email address before signing in: use the link we mailed you."
            }
            ErrorCode::InvalidLink => {
                "This link is invalid, already used or expired. Ask for a new one."
            }
            ErrorCode::InvalidInput
            | ErrorCode::MalformedJson
            | ErrorCode::BadRequest
            | ErrorCode::UnsupportedMediaType => {
                "Some fields are not valid. Check them and try again."
            }
            ErrorCode::BodyTooLarge => "That was too much to send.",
            ErrorCode::Forbidden => "That is not allowed.",
            ErrorCode::LastAdmin => "At least one active admin must remain.",
            ErrorCode::LastFactor => {
                "That is this account's last way to sign in: add another one first."
            }
            ErrorCode::WayOff => {
                "This account does not sign in that way: its owner turned it off. Use another way in."
            }
            ErrorCode::StrongerSignInRequired => {
                "Admin pages here need a sign-in with a passkey or a second step: sign in again that way."
            }
            ErrorCode::InvalidCode => "That code is wrong or was already used.",
            ErrorCode::InvalidStepUp => "That sign-in has expired. Please sign in again.",
            ErrorCode::SecondFactorExists => "Two-step sign-in is already on.",
            ErrorCode::InvalidCeremony => {
                "That took too long or was already done. Please try again."
            }
            ErrorCode::InvalidPasskey => "That passkey was not accepted.",
            ErrorCode::PasskeyExists => "That passkey is registered already.",
            ErrorCode::RuleExists => "A rule for that host and path exists already.",
            ErrorCode::ProviderExists => "A provider with that id exists already.",
            ErrorCode::ProviderInUse => {
                "Accounts are linked at that provider, so its kind and issuer cannot change. Add another provider instead."
            }
            ErrorCode::ProviderFlowInvalid => {
                "That sign-in with another provider did not start here, or took too long. Please start again."
            }
            ErrorCode::ProviderAnswerInvalid => {
                "The other provider's answer could not be verified, so it was not accepted."
            }
            ErrorCode::ProviderUnavailable => {
                "The other provider cannot be reached right now. Please try again later."
            }
            ErrorCode::NoLinkedAccount => {
                "No account here is linked to that account. Sign in another way, then link it on your account page."
            }
            ErrorCode::IdentityTaken => {
                "That account of the other provider is linked to another account here."
            }
            ErrorCode::NotFound => "That no longer exists.",
            ErrorCode::InvalidToken
            | ErrorCode::MissingToken
            | ErrorCode::InvalidRefreshToken
            | ErrorCode::RefreshTokenReused => "You are not signed in any more.",
            ErrorCode::Csrf => "The request did not come from this site.",
            ErrorCode::Network => {
                "The server could not be reached. Check your connection and try again."
            }
            ErrorCode::MethodNotAllowed | ErrorCode::StoreUnavailable | ErrorCode::Internal => {
                "Something went wrong. Please try again."
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an account's authenticator-app (TOTP) factor stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TotpState {
    Off,
    /// Set up but not yet confirmed with a first code: not asked for at sign-in.
    Pending,
    On,
}

/// An account's second factors, as its owner sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TwoStepView {
    pub totp: TotpState,
    pub recovery_codes_left: u32,
}

/// What setting up an authenticator app shows, once: the secret (as a QR code and as
/// text) and the recovery codes. Only ever sent to the account's owner, while set-up is
/// pending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TotpSetupView {
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The `otpauth://` URI as an SVG QR code, made on the server.
    pub qr_svg: String,
    pub recovery_codes: Vec<String>,
}

/// One way in, as the account's owner sees it on `/account`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WayView {
    /// The owner allows it (nothing is off unless the owner turned it off).
    pub on: bool,
    /// The account has what it needs: a password, a passkey, a verified address.
    pub ready: bool,
}

/// Another provider the sign-in and sign-up pages offer: "Continue with {name}".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderButton {
    pub id: String,
    pub name: String,
}

/// An account at another provider linked to this one, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LinkedAccountView {
    pub provider: String,
    /// The provider's name as configured; its id when it is no longer configured (then
    /// the link signs in nowhere until it is again).
    pub provider_name: String,
    pub subject: String,
    /// The address the provider gave when it was linked, to tell links apart.
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_used_at: Option<i64>,
}

/// The `/account` section of other providers: what is linked, and what can be.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedAccountsView {
    pub linked: Vec<LinkedAccountView>,
    pub providers: Vec<ProviderButton>,
    /// The account has a password (the forms ask for it).
    pub has_password: bool,
    /// Where the link form's answer may send the browser (the providers' origins).
    pub link_origins: Vec<String>,
}

/// The ways an account may sign in, and which of them it can use now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignInWaysView {
    pub password: WayView,
    pub passkey: WayView,
    pub email_code: WayView,
}

/// The ways in an owner asks for on `/account` (`true`: on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaysWanted {
    pub password: bool,
    pub passkey: bool,
    pub email_code: bool,
}

/// One of a user's passkeys, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasskeyView {
    /// The credential id (unpadded base64url).
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Who is signed in, as the browser may know it: no token, only facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user: UserView,
    pub session_id: String,
    /// Seconds until the access token (cookie) expires, as of the answer.
    pub access_expires_in: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEventView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_error_code_reads_back_as_itself_and_serializes_as_its_text() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}

/// A forward-auth rule as admins see and write it: who may pass the reverse proxy to
/// `host` (exact, or `*.domain` for every host under it) under `path_prefix`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ForwardRuleView {
    pub id: String,
    pub host: String,
    pub path_prefix: String,
    /// A holder of one of these roles passes (with `users`; both empty: anyone signed in).
    pub roles: Vec<Role>,
    /// These users pass (usernames, lower-case).
    pub users: Vec<String>,
    /// The session must have signed in with a second step or a passkey.
    pub two_factor: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new or changed forward-auth rule, as sent: parsed by the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ForwardRuleInput {
    pub host: String,
    /// `/` when left out.
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub two_factor: bool,
}

/// An OpenID Connect client (an app that signs its users in through Gatehouse), as an
/// admin registers or changes it: parsed by the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    pub name: String,
    /// None for a service that only uses `client_credentials`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// No secret: an app that cannot keep one (in a browser, on a phone); it must use
    /// PKCE.
    #[serde(default)]
    pub public: bool,
    /// `authorization_code` (the default), `refresh_token`, `client_credentials`.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Its users are not asked to consent (an app of the same owner).
    #[serde(default)]
    pub pre_consented: bool,
    /// `RS256` (the default), `ES256` or `EdDSA`: the only algorithm its ID tokens are
    /// signed with (the name OpenID Connect Dynamic Client Registration uses).
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

/// A registered client as admins see it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub pre_consented: bool,
    pub id_token_signed_response_alg: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The keys a rotation added (`POST /auth/admin/keys/rotate`, `gatehouse keys rotate`):
/// they sign from now on; the keys before them stay published until their tokens expire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeysRotated {
    pub kids: Vec<String>,
}

/// What an admin does to a registered client from the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAction {
    Disable,
    Enable,
    RotateSecret,
    Remove,
}

/// What an admin does to a provider added from the console or REST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderAction {
    Disable,
    Enable,
    Remove,
}

impl ProviderAction {
    pub fn parse(text: &str) -> Option<ProviderAction> {
        match text {
            "disable" => Some(Self::Disable),
            "enable" => Some(Self::Enable),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }
}

impl ClientAction {
    pub fn parse(text: &str) -> Option<ClientAction> {
        match text {
            "disable" => Some(Self::Disable),
            "enable" => Some(Self::Enable),
            "rotate_secret" => Some(Self::RotateSecret),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// A provider to sign in with, as an admin adds or changes it
/// (`POST /auth/admin/providers`, `PUT /auth/admin/providers/{id}`): parsed by the
/// server, by the same check as the providers file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    /// In its URLs (`/login/with/{id}`): 1 to 32 lowercase letters, digits and `-`. On a
    /// change, left out or the same as the path's.
    #[serde(default)]
    pub id: String,
    /// `oidc` (the default), `google` or `github`.
    #[serde(default = "oidc_kind")]
    pub kind: String,
    /// What the buttons say: "Continue with {name}".
    pub name: String,
    /// The OpenID Connect issuer (GitHub: its sign-in address); the presets know theirs.
    #[serde(default)]
    pub issuer: Option<String>,
    /// GitHub only: its API's address, when not the one the issuer implies.
    #[serde(default)]
    pub api_url: Option<String>,
    pub client_id: String,
    /// Write-only: kept sealed, never shown again. On a change, left out keeps the one
    /// stored.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A first sign-in makes an account (on by default).
    #[serde(default = "on")]
    pub sign_up: bool,
    /// The provider's `amr` saying `mfa` counts as two factors.
    #[serde(default)]
    pub trust_amr: bool,
    /// A first sign-in joins the account that verified the same address, when the
    /// provider says it verified it too.
    #[serde(default)]
    pub link_verified_email: bool,
}

fn oidc_kind() -> String {
    "oidc".to_owned()
}

fn on() -> bool {
    true
}

/// A provider as admins see it (never its client secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub issuer: String,
    pub api_url: Option<String>,
    pub client_id: String,
    pub has_client_secret: bool,
    pub sign_up: bool,
    pub trust_amr: bool,
    pub link_verified_email: bool,
    pub disabled: bool,
    /// `file` (`GATEHOUSE_PROVIDERS`: changed only there) or `admin`.
    pub source: String,
    /// What to register at the provider as the redirect URI.
    pub callback_url: String,
    /// Accounts here linked at it.
    pub linked_accounts: u64,
    /// `None` for the file's.
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// An admin turning a provider off or on again (`PATCH /auth/admin/providers/{id}`):
/// off, it is offered nowhere and signs nobody in; its links stay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderStateChange {
    pub disabled: bool,
}

/// An admin turning a client off or on again (`PATCH /auth/admin/clients/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientStateChange {
    pub disabled: bool,
}

/// A client just registered: its secret is shown this once (`None` for a public one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientCreated {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub client: ClientView,
}

/// What the consent page shows: which app asks, for what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub client_name: String,
    /// The host the browser goes back to, so the user sees where.
    pub redirect_host: String,
    /// What each requested scope lets the app see, in words.
    pub asks_for: Vec<String>,
    /// Where the answer goes, as a Content-Security-Policy source: the consent form's
    /// redirect must be allowed there.
    pub redirect_origin: String,
}

/// What the authorization endpoint decided for this browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthorizeAnswer {
    /// The app or its redirect URI is wrong: nothing goes back to it.
    Refused(String),
    /// Go on to this URL (the app, or the sign-in page).
    Redirect(String),
    Consent(ConsentView),
}

/// What RP-initiated logout decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndSessionAnswer {
    /// Signed out: go on here (the app's registered address, or the sign-in page).
    SignedOut(String),
    /// No valid ID token says which app asks: the user confirms on the sign-out page.
    Confirm,
    Refused(String),
}

/// The consent form's buttons; `Ask` is the page's first visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentDecision {
    Ask,
    Allow,
    Deny,
}

/// An app (OpenID Connect client) the user allowed, as the account page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AppView {
    pub client_id: String,
    pub name: String,
    /// What it may see, in words.
    pub allowed: Vec<String>,
    pub granted_at: i64,
}
