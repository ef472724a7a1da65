//! What the REST door answers, shared by its handlers: token pairs, the sign-in answer
//! (tokens or a second step), plain messages, ceremonies, and `no_store` for anything
//! that carries a secret.

use axum::{
    Extension, Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use app::model::{Role, UserView};

use super::error::ApiError;
use crate::{
    auth::{Ceremony, IssuedTokens, SignIn, StepUp},
    delivery::SecretInBody,
};

pub type ApiResult<T> = Result<T, ApiError>;

/// A signed-in user's answer as JSON, written into a buffer sized for it.
///
/// `axum::Json` starts at 128 bytes and grows with `realloc`, and every user's answer is
/// longer. glibc's `realloc` always takes its arena's lock, which the runtime's workers
/// share: in `perf`, that one call was a tenth of the futex calls of a protected request,
/// a part of its extra cost over a bare route that no instruction count shows.
pub struct UserJson<T>(pub T);

impl<T: Serialize> IntoResponse for UserJson<T> {
    fn into_response(self) -> Response {
        /// Room for these answers as most users have them (`/auth/me` with a 60-character
        /// address is about 300 bytes), within glibc's per-thread cache. The longest the
        /// limits allow (a 254-character address) passes it: the buffer then grows once,
        /// as `Json`'s would.
        const ROOM: usize = 512;
        let mut body = Vec::with_capacity(ROOM);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "an answer could not be written as JSON");
                ApiError::internal().into_response()
            }
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: String,
    pub username: String,
    pub role: Role,
}

impl From<&UserView> for UserSummary {
    fn from(user: &UserView) -> Self {
        UserSummary {
            id: user.id.clone(),
            username: user.username.clone(),
            role: user.role,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_expires_in: i64,
}

impl TokenPair {
    pub fn from_issued(issued: &IssuedTokens) -> Self {
        let now = issued.issued_at;
        TokenPair {
            access_token: issued.access_token.clone(),
            refresh_token: issued.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: issued.access_expires_at - now,
            refresh_expires_in: issued.refresh_expires_at - now,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: UserSummary,
}

/// Token responses must never be cached by a browser or a proxy, nor compressed.
pub fn no_store(status: StatusCode, body: impl Serialize) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Extension(SecretInBody),
        Json(body),
    )
        .into_response()
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: String,
}

pub fn message(text: impl Into<String>) -> Json<Message> {
    Json(Message {
        message: text.into(),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Ended {
    pub message: String,
    pub sessions_ended: u64,
}

/// A right password on an account with a second factor: no tokens yet.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SecondFactorRequired {
    /// Always true: tells this answer from a token pair.
    pub mfa_required: bool,
    /// Single use, for `POST /auth/login/second-factor`.
    pub ticket: String,
    /// Seconds the ticket stays good.
    pub expires_in: i64,
    /// What completes the sign-in: `totp`, `recovery_code`.
    pub methods: Vec<&'static str>,
}

impl SecondFactorRequired {
    pub fn of(step_up: &StepUp, now: i64) -> Self {
        SecondFactorRequired {
            mfa_required: true,
            ticket: step_up.ticket().to_owned(),
            expires_in: step_up.expires_at - now,
            methods: step_up.methods().to_vec(),
        }
    }
}

/// What `POST /auth/login` answers: a token pair, or the need for a second step.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(LoginResponse),
    SecondFactor(SecondFactorRequired),
}

impl LoginAnswer {
    pub fn of(sign_in: &SignIn, now: i64) -> Self {
        match sign_in {
            SignIn::Tokens(issued) => LoginAnswer::Tokens(login_response(issued)),
            SignIn::SecondFactor(step_up) => {
                LoginAnswer::SecondFactor(SecondFactorRequired::of(step_up, now))
            }
        }
    }
}

pub fn login_response(issued: &IssuedTokens) -> LoginResponse {
    LoginResponse {
        tokens: TokenPair::from_issued(issued),
        user: UserSummary::from(&issued.user),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CeremonyStarted {
    /// Send back with the finish.
    pub ceremony: String,
    pub expires_in: i64,
    /// `{"publicKey": …}`: the options for `navigator.credentials.create` / `get`, with
    /// binary values in unpadded base64url (the WebAuthn JSON form).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

impl From<Ceremony> for CeremonyStarted {
    fn from(ceremony: Ceremony) -> Self {
        CeremonyStarted {
            ceremony: ceremony.id,
            expires_in: ceremony.expires_in,
            options: ceremony.options,
        }
    }
}
