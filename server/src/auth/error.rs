use std::time::Duration;

use super::{password::HashError, sealing::SealError, token::KeyError, token::TokenError};
use crate::{
    domain::{FieldError, Way},
    store::StoreError,
};

fn way_in_words(way: Way) -> &'static str {
    match way {
        Way::Password => "a password",
        Way::Passkey => "a passkey",
        Way::EmailCode => "a code by email",
    }
}

/// Everything the auth core can refuse. The "caller's fault" variants carry what the
/// caller may know; `Unavailable`, `Busy` and `Unexpected` keep their cause as the error
/// source, for the log only.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The {} {}.", .0.field.replace('_', " "), .0.message)]
    Invalid(FieldError),
    #[error("Wrong username or password.")]
    InvalidCredentials,
    #[error("The access token is missing or invalid: {0}.")]
    InvalidToken(TokenProblem),
    #[error("The refresh token is invalid or expired. Please sign in again.")]
    InvalidRefreshToken,
    #[error(
        "This refresh token was already used, so the session has been ended. Please sign in again."
    )]
    RefreshTokenReused,
    #[error("{0}.")]
    Forbidden(&'static str),
    #[error("This account is disabled.")]
    AccountDisabled,
    #[error("{}", app::model::SIGN_IN_LOCKED)]
    SignInLocked,
    #[error("{}", app::model::REAUTHENTICATION_REQUIRED)]
    ReauthenticationRequired,
    #[error("No such {0}.")]
    NotFound(&'static str),
    #[error("This username is taken.")]
    UsernameTaken,
    #[error("Another account verified this email address first: use another one.")]
    EmailTaken,
    #[error("Verify your email address before signing in: use the link we mailed you.")]
    EmailNotVerified,
    #[error("This link is invalid, already used or expired. Ask for a new one.")]
    InvalidLink,
    #[error("That would leave no active admin; promote someone else first.")]
    LastAdmin,
    #[error(
        "That is this account's last way to sign in: set a password, verify an email address or add another passkey first."
    )]
    LastFactor,
    #[error(
        "This account does not sign in with {}: its owner turned that off. Use another way in.",
        way_in_words(*.0)
    )]
    WayOff(Way),
    /// What this server requires of an admin's sign-in (`GATEHOUSE_ADMIN_SIGN_IN`).
    #[error("Admins here must sign in with {0}: sign in again that way.")]
    StrongerSignInRequired(&'static str),
    #[error("That code is wrong or was already used.")]
    InvalidCode,
    #[error("This sign-in step is unknown, used or expired. Please sign in again.")]
    InvalidStepUp,
    #[error("Two-step sign-in with an authenticator app is already on for this account.")]
    SecondFactorExists,
    #[error("This passkey ceremony is unknown, used or expired. Please try again.")]
    InvalidCeremony,
    #[error("The passkey was not accepted.")]
    InvalidPasskey,
    #[error("This passkey is registered already.")]
    PasskeyExists,
    #[error("A rule for that host and path exists already.")]
    RuleExists,
    #[error("A provider with that id exists already.")]
    ProviderExists,
    #[error(
        "Accounts are linked at that provider, so its kind and issuer cannot change. Add another provider instead."
    )]
    ProviderInUse,
    /// The provider's name (as configured) is in each message: the page says it.
    #[error(
        "This answer from {0} belongs to no sign-in started in this browser, or it expired. Please start again."
    )]
    ProviderFlowInvalid(String),
    #[error("{0} did not sign you in: {1}")]
    ProviderRefused(String, String),
    #[error("The answer from {0} could not be verified, so it was not accepted.")]
    ProviderAnswerInvalid(String),
    #[error("{0} cannot be reached right now. Please try again later.")]
    ProviderUnavailable(String),
    #[error(
        "No account here is linked to that {0} account. Sign in another way, then link it on your account page."
    )]
    NoLinkedAccount(String),
    #[error("That {0} account is linked to another account here.")]
    IdentityTaken(String),
    #[error("Too many attempts. Try again in {} seconds.", .retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    /// Too much work is queued already (password hashing); the caller may retry soon.
    #[error("The service is busy. Try again in {} seconds.", .retry_after.as_secs().max(1))]
    Busy { retry_after: Duration },
    #[error("The service is temporarily unavailable.")]
    Unavailable(#[source] StoreError),
    #[error("unexpected error")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why a presented access token did not authenticate (for logs; clients see one answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("no bearer token")]
    Missing,
    #[error("{0}")]
    Rejected(TokenError),
    #[error("the token has been revoked")]
    Revoked,
    #[error("the session has ended")]
    SessionEnded,
    #[error("the user is disabled or gone")]
    UserInactive,
}

impl From<FieldError> for AuthError {
    fn from(error: FieldError) -> Self {
        AuthError::Invalid(error)
    }
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict("email") => AuthError::EmailTaken,
            StoreError::Conflict("totp") => AuthError::SecondFactorExists,
            StoreError::Conflict(_) => AuthError::UsernameTaken,
            StoreError::NotFound => AuthError::NotFound("record"),
            StoreError::LastAdmin => AuthError::LastAdmin,
            StoreError::Unavailable(_) => AuthError::Unavailable(error),
            StoreError::Unexpected(_) => AuthError::Unexpected(error.into()),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::QueueFull => AuthError::Busy {
                retry_after: Duration::from_secs(1),
            },
            other => AuthError::Unexpected(other.into()),
        }
    }
}

impl From<KeyError> for AuthError {
    fn from(error: KeyError) -> Self {
        AuthError::Unexpected(error.into())
    }
}

impl From<SealError> for AuthError {
    fn from(error: SealError) -> Self {
        AuthError::Unexpected(error.into())
    }
}
