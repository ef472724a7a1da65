//! Two-step sign-in over REST: completing a sign-in that answered `mfa_required`, and
//! the caller's own authenticator app and recovery codes; an admin's reset.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use app::model::{ErrorBody, TotpSetupView, TwoStepView};

use super::{
    answers::{ApiResult, CeremonyStarted, Ended, LoginResponse, login_response, no_store},
    auth::CurrentPasswordBody,
    error::ApiError,
    extract::{ApiJson, AuthUser, Client, OptionalApiJson, RequireAdmin},
};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStepBody {
    pub ticket: String,
    /// Six digits from the authenticator app, or a recovery code.
    pub code: String,
}

/// `POST /auth/login/second-factor` — the holder of a step-up ticket: completes the
/// sign-in with a code. Wrong codes count toward the login lockout.
#[utoipa::path(post, path = "/auth/login/second-factor", tag = "two-step", request_body = SecondStepBody, responses((status = 200, description = "A token pair; the ticket is used up", body = LoginResponse), (status = 401, description = "Wrong or used code (`invalid_code`), or an unknown, used or expired ticket (`invalid_step_up`)", body = ErrorBody), (status = 403, description = "Account disabled", body = ErrorBody), (status = 422, description = "The code is neither six digits nor a recovery code", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn complete_sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<SecondStepBody>,
) -> ApiResult<Response> {
    let issued = state
        .auth
        .complete_sign_in(&body.ticket, &body.code, &client)
        .await?;
    Ok(no_store(StatusCode::OK, login_response(&issued)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketBody {
    pub ticket: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyStepBody {
    pub ticket: String,
    pub ceremony: String,
    /// The assertion as `PublicKeyCredential.toJSON()` gives it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `POST /auth/login/second-factor/passkey/start` — the holder of a step-up ticket whose
/// account has passkeys: options naming that account's passkeys.
#[utoipa::path(post, path = "/auth/login/second-factor/passkey/start", tag = "two-step", request_body = TicketBody, responses((status = 200, body = CeremonyStarted), (status = 401, description = "Unknown, used or expired ticket (`invalid_step_up`)", body = ErrorBody), (status = 404, description = "The account has no passkey", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn begin_passkey_step(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<TicketBody>,
) -> ApiResult<Response> {
    let ceremony = state
        .auth
        .begin_step_up_passkey(&body.ticket, &client)
        .await?;
    Ok(no_store(StatusCode::OK, CeremonyStarted::from(ceremony)))
}

/// `POST /auth/login/second-factor/passkey/finish` — completes the sign-in with one of the
/// account's passkeys; a refused assertion counts toward the login lockout.
#[utoipa::path(post, path = "/auth/login/second-factor/passkey/finish", tag = "two-step", request_body = PasskeyStepBody, responses((status = 200, description = "A token pair; the ticket is used up", body = LoginResponse), (status = 401, description = "`invalid_step_up`, `invalid_ceremony` or `invalid_passkey`", body = ErrorBody), (status = 422, description = "Not a credential", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn complete_with_passkey(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<PasskeyStepBody>,
) -> ApiResult<Response> {
    let issued = state
        .auth
        .complete_sign_in_with_passkey(
            &body.ticket,
            &body.ceremony,
            &body.credential.to_string(),
            &client,
        )
        .await?;
    Ok(no_store(StatusCode::OK, login_response(&issued)))
}

/// `GET /auth/two-step` — any signed-in user: their second factors.
#[utoipa::path(get, path = "/auth/two-step", tag = "two-step", security(("bearer" = [])), responses((status = 200, body = TwoStepView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<TwoStepView>> {
    Ok(Json(state.auth.two_step(&principal).await?))
}

/// `POST /auth/two-step/totp` — any signed-in user who signed in within
/// `GATEHOUSE_REAUTH_SECS` or sends the current password: starts setting up an
/// authenticator app (replacing an unconfirmed set-up). The secret and recovery codes
/// are in the answer; nothing changes at sign-in until it is confirmed.
#[utoipa::path(post, path = "/auth/two-step/totp", tag = "two-step", request_body(content = CurrentPasswordBody, description = "Optional: an empty body when the sign-in is recent"), security(("bearer" = [])), responses((status = 201, body = TotpSetupView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "The sign-in is too old and no password came (`reauthentication_required`)", body = ErrorBody), (status = 409, description = "An authenticator app is on already (`second_factor_exists`)", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn begin_totp(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    OptionalApiJson(body): OptionalApiJson<CurrentPasswordBody>,
) -> ApiResult<Response> {
    let current_password = body.and_then(|body| body.current_password);
    let setup = state
        .auth
        .begin_totp(&principal, current_password, &client)
        .await?;
    Ok(no_store(StatusCode::CREATED, setup))
}

/// `GET /auth/two-step/totp` — the set-up in progress, shown again (within
/// `GATEHOUSE_REAUTH_SECS` of a sign-in or a re-entered password).
#[utoipa::path(get, path = "/auth/two-step/totp", tag = "two-step", security(("bearer" = [])), responses((status = 200, body = TotpSetupView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "The sign-in is too old (`reauthentication_required`)", body = ErrorBody), (status = 404, description = "No set-up in progress", body = ErrorBody)))]
pub async fn pending_totp(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<Response> {
    match state.auth.pending_totp(&principal, &client).await? {
        Some(setup) => Ok(no_store(StatusCode::OK, setup)),
        None => Err(ApiError::from(crate::auth::AuthError::NotFound(
            "authenticator set-up in progress",
        ))),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// Six digits from the authenticator app.
    pub code: String,
    /// Needed when the sign-in is older than `GATEHOUSE_REAUTH_SECS`.
    #[serde(default)]
    pub current_password: Option<String>,
}

/// `POST /auth/two-step/totp/confirm` — turns the app on with its first code.
#[utoipa::path(post, path = "/auth/two-step/totp/confirm", tag = "two-step", request_body = CodeBody, security(("bearer" = [])), responses((status = 200, body = TwoStepView), (status = 401, description = "Wrong code (`invalid_code`), or a missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "The sign-in is too old and no password came (`reauthentication_required`)", body = ErrorBody), (status = 404, description = "No set-up in progress", body = ErrorBody), (status = 409, description = "On already", body = ErrorBody), (status = 422, description = "Not six digits", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> ApiResult<Json<TwoStepView>> {
    state
        .auth
        .confirm_totp(&principal, &body.code, body.current_password, &client)
        .await?;
    Ok(Json(state.auth.two_step(&principal).await?))
}

/// New recovery codes, shown once: only their hashes are kept.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `POST /auth/two-step/recovery-codes` — a user with an authenticator app who signed in
/// within `GATEHOUSE_REAUTH_SECS` or sends the current password: ten new recovery codes,
/// in this answer only. Every earlier code stops working at once.
#[utoipa::path(post, path = "/auth/two-step/recovery-codes", tag = "two-step", request_body(content = CurrentPasswordBody, description = "Optional: an empty body when the sign-in is recent"), security(("bearer" = [])), responses((status = 201, body = RecoveryCodes), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "The sign-in is too old and no password came (`reauthentication_required`)", body = ErrorBody), (status = 404, description = "No authenticator app is on", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    OptionalApiJson(body): OptionalApiJson<CurrentPasswordBody>,
) -> ApiResult<Response> {
    let current_password = body.and_then(|body| body.current_password);
    let recovery_codes = state
        .auth
        .regenerate_recovery_codes(&principal, current_password, &client, false)
        .await?;
    Ok(no_store(
        StatusCode::CREATED,
        RecoveryCodes { recovery_codes },
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    pub current_password: String,
}

/// `POST /auth/two-step/remove` — with the password: removes the app and the recovery
/// codes, and ends every other session of the caller.
#[utoipa::path(post, path = "/auth/two-step/remove", tag = "two-step", request_body = RemoveBody, security(("bearer" = [])), responses((status = 200, body = Ended), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 404, description = "No second factor", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<RemoveBody>,
) -> ApiResult<Json<Ended>> {
    let ended = state
        .auth
        .remove_second_factors(&principal, body.current_password, &client)
        .await?;
    Ok(Json(Ended {
        message: "two-step sign-in is off; your other sessions have been ended".into(),
        sessions_ended: ended,
    }))
}

/// `DELETE /auth/admin/users/{id}/two-step` — admins only: removes a user's second
/// factors and ends all of that user's sessions (audited).
#[utoipa::path(delete, path = "/auth/admin/users/{id}/two-step", tag = "admin", params(("id" = String, Path, description = "User id")), security(("bearer" = [])), responses((status = 200, body = Ended), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user, or no second factor", body = ErrorBody)))]
pub async fn admin_reset(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Ended>> {
    let ended = state
        .auth
        .reset_second_factors(&admin, &user_id, &client)
        .await?;
    Ok(Json(Ended {
        message: "second factors removed; the user's sessions have been ended".into(),
        sessions_ended: ended,
    }))
}
