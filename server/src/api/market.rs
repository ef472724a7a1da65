//! `/market/api`: the MongoDB ancestor's paths, answering as its document says.
//! Same core, same rules; only the shapes of the answers differ.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

use app::model::{ErrorBody, UserView};

use super::{
    answers::{ApiResult, Message, SecondFactorRequired, TokenPair, UserJson, no_store},
    auth::{LoginBody, SignupBody, SignupResponse},
    extract::{ApiJson, AuthUser, BearerToken, Client},
};
use crate::{
    auth::{AuthError, SignIn},
    state::AppState,
};

/// `POST /market/api/register` — anyone.
#[utoipa::path(post, path = "/market/api/register", tag = "market", request_body = SignupBody, responses((status = 201, body = SignupResponse), (status = 403, description = "Tried to sign up as admin", body = ErrorBody), (status = 409, description = "Username taken", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password checks queued (see Retry-After)", body = ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignupBody>,
) -> ApiResult<Response> {
    let user = state.auth.signup(body.into(), &client).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            message: "User registered successfully".into(),
            user,
        }),
    )
        .into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MarketLogin {
    message: &'static str,
    #[serde(flatten)]
    tokens: TokenPair,
}

/// `POST /market/api/login` — anyone. An account with a second factor gets the same
/// `mfa_required` answer as `POST /auth/login`.
#[utoipa::path(post, path = "/market/api/login", tag = "market", request_body = LoginBody, responses((status = 200, body = MarketLogin), (status = 401, description = "Wrong username or password", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password checks queued (see Retry-After)", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    match state
        .auth
        .login(&body.username, body.password, &client)
        .await?
    {
        SignIn::Tokens(issued) => Ok(no_store(
            StatusCode::OK,
            MarketLogin {
                message: "Login successful",
                tokens: TokenPair::from_issued(&issued),
            },
        )),
        SignIn::SecondFactor(step_up) => Ok(no_store(
            StatusCode::OK,
            SecondFactorRequired::of(&step_up, state.auth.now()),
        )),
    }
}

/// `POST /market/api/refresh` — `Authorization: Bearer <refresh token>`; rotates it.
#[utoipa::path(post, path = "/market/api/refresh", tag = "market", security(("bearer" = [])), responses((status = 200, description = "Send the REFRESH token as Bearer", body = TokenPair), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    BearerToken(bearer): BearerToken,
) -> ApiResult<Response> {
    let presented = bearer.ok_or(AuthError::InvalidRefreshToken)?;
    let issued = state.auth.refresh(&presented, &client).await?;
    Ok(no_store(StatusCode::OK, TokenPair::from_issued(&issued)))
}

/// `POST /market/api/logout` — `Authorization: Bearer <refresh token>`: that session ends.
#[utoipa::path(post, path = "/market/api/logout", tag = "market", security(("bearer" = [])), responses((status = 200, description = "Send the REFRESH token as Bearer; its session ends", body = Message), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    BearerToken(bearer): BearerToken,
) -> ApiResult<Json<Message>> {
    let presented = bearer.ok_or(AuthError::InvalidRefreshToken)?;
    state.auth.logout_with_refresh(&presented, &client).await?;
    Ok(Json(Message {
        message: "Refresh token revoked; logged out".into(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Protected {
    message: String,
    logged_in_as: String,
}

/// `GET /market/api/protected` — any signed-in user.
#[utoipa::path(get, path = "/market/api/protected", tag = "market", security(("bearer" = [])), responses((status = 200, body = Protected), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn protected(AuthUser(principal): AuthUser) -> Json<Protected> {
    Json(Protected {
        message: "This is a protected endpoint".into(),
        logged_in_as: principal.username,
    })
}

/// `GET /market/api/profile` — any signed-in user.
#[utoipa::path(get, path = "/market/api/profile", tag = "market", security(("bearer" = [])), responses((status = 200, body = UserView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn profile(AuthUser(principal): AuthUser) -> UserJson<UserView> {
    UserJson(principal.view())
}
