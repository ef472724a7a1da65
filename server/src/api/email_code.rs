//! Signing in with a code sent by email.

use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;

use app::model::{ErrorBody, SIGN_IN_CODE_REQUESTED};

use super::{
    answers::{ApiResult, LoginAnswer, Message, no_store},
    extract::{ApiJson, Client},
};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailCodeStartBody {
    /// A username or an email address.
    pub login: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailCodeFinishBody {
    /// The username or address the code was asked for.
    pub login: String,
    /// The 8 digits from the mail (spaces and dashes ignored).
    pub code: String,
}

/// `POST /auth/login/email-code/start` — anyone. Answers the same (status, body, timing)
/// whether or not the account exists; a code goes out afterwards, only to an enabled
/// account's verified address.
#[utoipa::path(post, path = "/auth/login/email-code/start", tag = "auth", request_body = EmailCodeStartBody, responses((status = 202, description = "Accepted; a code goes out only if a matching account has a verified address", body = Message), (status = 422, description = "Neither a username nor an email address", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled per address and per name asked for (see Retry-After)", body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailCodeStartBody>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    state
        .auth
        .request_sign_in_code(&body.login, &client)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Message {
            message: SIGN_IN_CODE_REQUESTED.to_owned(),
        }),
    ))
}

/// `POST /auth/login/email-code/finish` — anyone with a mailed code; answers as
/// `POST /auth/login` does (tokens, or the need for a second step). A code works once,
/// for ten minutes; each guess counts toward the same lockout as a password.
#[utoipa::path(post, path = "/auth/login/email-code/finish", tag = "auth", request_body = EmailCodeFinishBody, responses((status = 200, description = "A token pair, or the need for a second step", body = LoginAnswer), (status = 401, description = "Wrong, used or expired code, or no such account", body = ErrorBody), (status = 403, description = "Account disabled", body = ErrorBody), (status = 422, description = "Not a name, or not 8 digits", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Locked out or throttled (see Retry-After)", body = ErrorBody)))]
pub async fn finish(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailCodeFinishBody>,
) -> ApiResult<Response> {
    let sign_in = state
        .auth
        .sign_in_with_email_code(&body.login, &body.code, &client)
        .await?;
    Ok(no_store(
        StatusCode::OK,
        LoginAnswer::of(&sign_in, state.auth.now()),
    ))
}
