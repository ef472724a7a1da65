//! Passkeys over REST: a client runs the WebAuthn ceremony itself (its platform's
//! authenticator API) between a start and a finish; the ceremony id from the start goes
//! back with the finish, once, within five minutes.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};

use app::model::{ErrorBody, PasskeyView};

use super::{
    answers::{ApiResult, CeremonyStarted, Ended, LoginResponse, TokenPair, UserSummary, no_store},
    auth::CurrentPasswordBody,
    extract::{ApiJson, AuthUser, Client, OptionalApiJson},
};
use crate::{auth::PasskeySignup, state::AppState};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFinish {
    pub ceremony: String,
    /// At most 64 characters; "Passkey" when empty.
    #[serde(default)]
    pub name: String,
    /// The new credential as `PublicKeyCredential.toJSON()` gives it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInFinish {
    pub ceremony: String,
    /// The assertion as `PublicKeyCredential.toJSON()` gives it.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupStart {
    pub username: String,
    /// Optional unless the server requires an address; mailed a verification link.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRemoval {
    /// Left out (or empty) by an account without a password: a recent sign-in instead.
    #[serde(default)]
    pub current_password: String,
}

/// `GET /auth/passkeys` — the caller's passkeys.
#[utoipa::path(get, path = "/auth/passkeys", tag = "passkeys", security(("bearer" = [])), responses((status = 200, body = PasskeyList), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<PasskeyList>> {
    Ok(Json(PasskeyList {
        passkeys: state.auth.passkeys(&principal).await?,
    }))
}

/// `POST /auth/passkeys/register/start` — any signed-in user who signed in within
/// `GATEHOUSE_REAUTH_SECS` or sends the current password: options to create a passkey
/// (discoverable, with user verification).
#[utoipa::path(post, path = "/auth/passkeys/register/start", tag = "passkeys", request_body(content = CurrentPasswordBody, description = "Optional: an empty body when the sign-in is recent"), security(("bearer" = [])), responses((status = 200, body = CeremonyStarted), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "20 passkeys already (`forbidden`), or the sign-in is too old and no password came (`reauthentication_required`)", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn begin_registration(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    OptionalApiJson(body): OptionalApiJson<CurrentPasswordBody>,
) -> ApiResult<Response> {
    let current_password = body.and_then(|body| body.current_password);
    let ceremony = state
        .auth
        .begin_passkey_registration(&principal, current_password, &client)
        .await?;
    Ok(no_store(StatusCode::OK, CeremonyStarted::from(ceremony)))
}

/// `POST /auth/passkeys/register/finish` — the same user, with the new credential.
#[utoipa::path(post, path = "/auth/passkeys/register/finish", tag = "passkeys", request_body = RegistrationFinish, security(("bearer" = [])), responses((status = 201, body = PasskeyView), (status = 401, description = "Unknown, used or expired ceremony (`invalid_ceremony`), a credential that does not verify (`invalid_passkey`), or a missing or invalid access token", body = ErrorBody), (status = 403, description = "The sign-in or the password given at the start is too old (`reauthentication_required`)", body = ErrorBody), (status = 409, description = "Registered already", body = ErrorBody), (status = 422, description = "Not a credential, or a bad name", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn finish_registration(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<RegistrationFinish>,
) -> ApiResult<(StatusCode, Json<PasskeyView>)> {
    let passkey = state
        .auth
        .finish_passkey_registration(
            &principal,
            &body.ceremony,
            &body.credential.to_string(),
            &body.name,
            &client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(passkey)))
}

/// `POST /auth/passkeys/{id}/remove` — with the password: removes one of the caller's
/// passkeys and ends every other session of the caller.
#[utoipa::path(post, path = "/auth/passkeys/{id}/remove", tag = "passkeys", params(("id" = String, Path, description = "The passkey's id")), request_body = PasskeyRemoval, security(("bearer" = [])), responses((status = 200, body = Ended), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 404, description = "No such passkey of yours", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasskeyRemoval>,
) -> ApiResult<Json<Ended>> {
    let ended = state
        .auth
        .remove_passkey(&principal, &id, body.current_password, &client)
        .await?;
    Ok(Json(Ended {
        message: "passkey removed; your other sessions have been ended".into(),
        sessions_ended: ended,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRename {
    /// 1–64 printable characters (empty: "Passkey").
    pub name: String,
}

/// `POST /auth/passkeys/{id}/rename` — names one of the caller's passkeys anew.
#[utoipa::path(post, path = "/auth/passkeys/{id}/rename", tag = "passkeys", params(("id" = String, Path, description = "The passkey's id")), request_body = PasskeyRename, security(("bearer" = [])), responses((status = 200, description = "The passkey as it is now", body = PasskeyView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 404, description = "No such passkey of yours", body = ErrorBody), (status = 422, description = "A bad name", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasskeyRename>,
) -> ApiResult<Json<PasskeyView>> {
    let passkey = state
        .auth
        .rename_passkey(&principal, &id, &body.name, &client)
        .await?;
    Ok(Json(passkey))
}

/// `POST /auth/passkeys/sign-in/start` — anyone: options to sign in with a discoverable
/// passkey (no username). Rate-limited per address.
#[utoipa::path(post, path = "/auth/passkeys/sign-in/start", tag = "passkeys", responses((status = 200, body = CeremonyStarted), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn begin_sign_in(
    State(state): State<AppState>,
    Client(client): Client,
) -> ApiResult<Response> {
    let ceremony = state.auth.begin_passkey_sign_in(&client).await?;
    Ok(no_store(StatusCode::OK, CeremonyStarted::from(ceremony)))
}

/// `POST /auth/passkeys/sign-in/finish` — with the assertion: a token pair, as a password
/// sign-in gives (no second step: a passkey verifies its user).
#[utoipa::path(post, path = "/auth/passkeys/sign-in/finish", tag = "passkeys", request_body = SignInFinish, responses((status = 200, body = LoginResponse), (status = 401, description = "Unknown, used or expired ceremony (`invalid_ceremony`), or a passkey that is unknown or does not verify (`invalid_passkey`)", body = ErrorBody), (status = 403, description = "Account disabled", body = ErrorBody), (status = 422, description = "Not a credential", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn finish_sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignInFinish>,
) -> ApiResult<Response> {
    let issued = state
        .auth
        .finish_passkey_sign_in(&body.ceremony, &body.credential.to_string(), &client)
        .await?;
    Ok(no_store(
        StatusCode::OK,
        LoginResponse {
            tokens: TokenPair::from_issued(&issued),
            user: UserSummary::from(&issued.user),
        },
    ))
}

/// `POST /auth/reauthenticate/passkey/start` — any signed-in user with a passkey: options
/// naming the caller's own passkeys, to confirm it is them (an account without a password
/// has nothing else to type). Refused while sign-in is locked out.
#[utoipa::path(post, path = "/auth/reauthenticate/passkey/start", tag = "passkeys", security(("bearer" = [])), responses((status = 200, body = CeremonyStarted), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Sign-in locked out (`sign_in_locked`)", body = ErrorBody), (status = 404, description = "The account has no passkey", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn begin_reauthentication(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<Response> {
    let ceremony = state
        .auth
        .begin_reauthentication_with_passkey(&principal, &client)
        .await?;
    Ok(no_store(StatusCode::OK, CeremonyStarted::from(ceremony)))
}

/// `POST /auth/reauthenticate/passkey/finish` — the same user, with the assertion: the
/// session counts as freshly signed in for `GATEHOUSE_REAUTH_SECS`, as after
/// `POST /auth/reauthenticate`. A refused passkey counts toward the sign-in lockout.
#[utoipa::path(post, path = "/auth/reauthenticate/passkey/finish", tag = "passkeys", request_body = SignInFinish, security(("bearer" = [])), responses((status = 204, description = "Confirmed"), (status = 401, description = "Unknown, used or expired ceremony (`invalid_ceremony`), a passkey that is not the caller's or does not verify (`invalid_passkey`), or a missing or invalid access token", body = ErrorBody), (status = 422, description = "Not a credential", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn finish_reauthentication(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<SignInFinish>,
) -> ApiResult<StatusCode> {
    state
        .auth
        .reauthenticate_with_passkey(
            &principal,
            &body.ceremony,
            &body.credential.to_string(),
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/signup/passkey/start` — anyone: a username (and an address, optional
/// unless the server requires one) checked as `POST /auth/signup` checks them, and
/// options to create the new account's passkey. Counted by the sign-up limit.
#[utoipa::path(post, path = "/auth/signup/passkey/start", tag = "passkeys", request_body = SignupStart, responses((status = 200, body = CeremonyStarted), (status = 409, description = "Username taken", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn begin_signup(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignupStart>,
) -> ApiResult<Response> {
    let ceremony = state
        .auth
        .begin_passkey_signup(
            PasskeySignup {
                username: body.username,
                email: body.email,
            },
            &client,
        )
        .await?;
    Ok(no_store(StatusCode::OK, CeremonyStarted::from(ceremony)))
}

/// `POST /auth/signup/passkey/finish` — with the new credential: the account exists,
/// with this passkey and no password, and is signed in (a token pair, as a passkey
/// sign-in gives).
#[utoipa::path(post, path = "/auth/signup/passkey/finish", tag = "passkeys", request_body = RegistrationFinish, responses((status = 201, body = LoginResponse), (status = 401, description = "Unknown, used or expired ceremony (`invalid_ceremony`), or a credential that does not verify (`invalid_passkey`)", body = ErrorBody), (status = 409, description = "The username was taken meanwhile, or the passkey is registered already", body = ErrorBody), (status = 422, description = "Not a credential, or a bad name", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn finish_signup(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RegistrationFinish>,
) -> ApiResult<Response> {
    let issued = state
        .auth
        .finish_passkey_signup(
            &body.ceremony,
            &body.credential.to_string(),
            &body.name,
            &client,
        )
        .await?;
    Ok(no_store(
        StatusCode::CREATED,
        LoginResponse {
            tokens: TokenPair::from_issued(&issued),
            user: UserSummary::from(&issued.user),
        },
    ))
}
