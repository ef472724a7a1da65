//! Getting back into an account and proving an address, by mailed links.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;

use app::model::{ErrorBody, RESET_REQUESTED, UserView};

use super::{
    answers::{ApiResult, Message},
    extract::{ApiJson, AuthUser, Client},
};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordBody {
    /// A username or an email address.
    pub login: String,
}

/// `POST /auth/password/forgot` — anyone. Answers the same (status, body, timing) whether
/// or not the account or address exists; the mail goes out afterwards.
#[utoipa::path(post, path = "/auth/password/forgot", tag = "recovery", request_body = ForgotPasswordBody, responses((status = 202, description = "Accepted; a mail goes out only if a matching account has a verified address", body = Message), (status = 422, description = "Neither a username nor an email address", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled per address and per name asked for (see Retry-After)", body = ErrorBody)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ForgotPasswordBody>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    state
        .auth
        .request_password_reset(&body.login, &client)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Message {
            message: RESET_REQUESTED.to_owned(),
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordBody {
    /// The `token` of the mailed link.
    pub token: String,
    pub new_password: String,
    /// Also remove every passkey and the authenticator app (whoever forced the reset may
    /// have added their own). Default: true.
    #[serde(default = "remove_factors_by_default")]
    pub remove_factors: bool,
}

fn remove_factors_by_default() -> bool {
    true
}

/// `POST /auth/password/reset` — holder of a reset link: sets the new password, once, and
/// ends every session of the account; unless `remove_factors` is false, every passkey and
/// the authenticator app go too.
#[utoipa::path(post, path = "/auth/password/reset", tag = "recovery", request_body = ResetPasswordBody, responses((status = 200, body = Message), (status = 410, description = "The link is invalid, used or expired", body = ErrorBody), (status = 422, description = "The new password breaks a rule", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password hashes queued (see Retry-After)", body = ErrorBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetPasswordBody>,
) -> ApiResult<Json<Message>> {
    state
        .auth
        .reset_password(&body.token, body.new_password, body.remove_factors, &client)
        .await?;
    Ok(Json(Message {
        message: "password changed; every session has been ended, sign in with the new password"
            .to_owned(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeBody {
    /// The new address; empty removes it.
    pub email: String,
    /// Left out (or empty) by an account without a password: a recent sign-in instead.
    #[serde(default)]
    pub current_password: String,
}

/// `POST /auth/email` — any signed-in user, with the current password: sets, changes or
/// removes the account's address. A new address is unverified and gets a verification link.
#[utoipa::path(post, path = "/auth/email", tag = "recovery", request_body = EmailChangeBody, security(("bearer" = [])), responses((status = 200, body = UserView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 409, description = "Another account has this address", body = ErrorBody), (status = 422, description = "Invalid fields (or a wrong current password)", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn change_email(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<EmailChangeBody>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        state
            .auth
            .change_email(&principal, body.current_password, &body.email, &client)
            .await?,
    ))
}

/// `POST /auth/email/verification` — any signed-in user: mails a new verification link to
/// the account's unverified address (nothing to do if it is verified).
#[utoipa::path(post, path = "/auth/email/verification", tag = "recovery", security(("bearer" = [])), responses((status = 202, body = UserView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 422, description = "The account has no address", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn request_verification(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = state.auth.request_verification(&principal, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    /// The `token` of the mailed link.
    pub token: String,
}

/// `POST /auth/email/verify` — holder of a verification link: marks the address verified.
#[utoipa::path(post, path = "/auth/email/verify", tag = "recovery", request_body = VerifyEmailBody, responses((status = 200, body = UserView), (status = 410, description = "The link is invalid, used or expired, or the address changed since", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled per client address (see Retry-After)", body = ErrorBody)))]
pub async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<VerifyEmailBody>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(state.auth.verify_email(&body.token, &client).await?))
}
