//! The `/auth` API (the SQLite ancestor's paths plus the rest a real service needs).
//! Each handler: the extractor proves the caller, one call into the core, a mapping.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use app::model::{AuditEventView, Role, SessionView, UserView};

use super::{
    error::ApiError,
    extract::{ApiJson, ApiQuery, AuthUser, BearerToken, Client, RequireAdmin},
};
use crate::{
    auth::{IssuedTokens, SignupRequest},
    state::AppState,
    store::{Page, UserChange},
};

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

impl From<SignupBody> for SignupRequest {
    fn from(body: SignupBody) -> Self {
        SignupRequest {
            username: body.username,
            password: body.password,
            email: body.email,
            role: body.role,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_expires_in: i64,
}

impl TokenPair {
    pub fn from_issued(issued: &IssuedTokens, now: i64) -> Self {
        TokenPair {
            access_token: issued.access_token.clone(),
            refresh_token: issued.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: issued.access_expires_at - now,
            refresh_expires_in: issued.refresh_expires_at - now,
        }
    }
}

#[derive(Serialize)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: UserSummary,
}

/// Token responses must never be cached by a browser or a proxy.
pub fn no_store(status: StatusCode, body: impl Serialize) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}

#[derive(Serialize)]
pub struct Message {
    pub message: String,
}

fn message(text: impl Into<String>) -> Json<Message> {
    Json(Message {
        message: text.into(),
    })
}

#[derive(Serialize)]
pub struct SignupResponse {
    pub message: String,
    pub user: UserView,
}

/// `POST /auth/signup` — anyone; `role` may only be `user`.
pub async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignupBody>,
) -> ApiResult<Response> {
    let user = state.auth.signup(body.into(), &client).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            message: format!("user {} created", user.username),
            user,
        }),
    )
        .into_response())
}

/// `POST /auth/login` — anyone.
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let issued = state
        .auth
        .login(&body.username, body.password, &client)
        .await?;
    Ok(no_store(
        StatusCode::OK,
        LoginResponse {
            tokens: TokenPair::from_issued(&issued, state.auth.now()),
            user: UserSummary::from(&issued.user),
        },
    ))
}

/// The refresh token from `Authorization: Bearer …` or from a `{"refresh_token"}` body.
async fn presented_refresh_token(
    bearer: Option<String>,
    request: axum::extract::Request,
) -> ApiResult<String> {
    if let Some(token) = bearer {
        return Ok(token);
    }
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|length| length != "0")
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return Err(crate::auth::AuthError::InvalidRefreshToken.into());
    }
    let ApiJson(body) =
        <ApiJson<RefreshBody> as axum::extract::FromRequest<()>>::from_request(request, &())
            .await?;
    body.refresh_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| crate::auth::AuthError::InvalidRefreshToken.into())
}

/// `POST /auth/refresh` — holder of a refresh token; returns a new pair.
pub async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    BearerToken(bearer): BearerToken,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let presented = presented_refresh_token(bearer, request).await?;
    let issued = state.auth.refresh(&presented, &client).await?;
    Ok(no_store(
        StatusCode::OK,
        LoginResponse {
            tokens: TokenPair::from_issued(&issued, state.auth.now()),
            user: UserSummary::from(&issued.user),
        },
    ))
}

/// `POST /auth/logout` — holder of an access token: ends the session and revokes the
/// token.
pub async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<Message>> {
    state.auth.logout(&principal, &client).await?;
    Ok(message("logged out"))
}

#[derive(Serialize)]
pub struct Ended {
    pub message: String,
    pub sessions_ended: u64,
}

/// `POST /auth/logout-all` — ends every session of the caller, this one included.
pub async fn logout_all(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<Ended>> {
    let ended = state.auth.logout_everywhere(&principal, &client).await?;
    Ok(Json(Ended {
        message: "logged out everywhere".into(),
        sessions_ended: ended,
    }))
}

#[derive(Serialize)]
pub struct Dashboard {
    pub message: String,
    pub logged_in_as: String,
    pub user: UserSummary,
}

/// `GET /auth/dashboard` — any signed-in user.
pub async fn dashboard(AuthUser(principal): AuthUser) -> Json<Dashboard> {
    Json(Dashboard {
        message: format!("Welcome to your dashboard, {}", principal.username),
        logged_in_as: principal.username.clone(),
        user: UserSummary {
            id: principal.user_id,
            username: principal.username,
            role: principal.role,
        },
    })
}

/// `GET /auth/me` — any signed-in user: the full account.
pub async fn me(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<UserView>> {
    Ok(Json(state.auth.me(&principal).await?))
}

#[derive(Serialize)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// `GET /auth/sessions` — the caller's live sessions.
pub async fn sessions(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<SessionList>> {
    Ok(Json(SessionList {
        sessions: state.auth.sessions(&principal).await?,
    }))
}

/// `DELETE /auth/sessions/{id}` — ends one of the caller's own sessions.
pub async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .auth
        .revoke_session(&principal, &session_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /auth/sessions` — ends every session of the caller but this one.
pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<Ended>> {
    let ended = state
        .auth
        .revoke_other_sessions(&principal, &client)
        .await?;
    Ok(Json(Ended {
        message: "other sessions ended".into(),
        sessions_ended: ended,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /auth/password` — any signed-in user, with the current password.
pub async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<PasswordChangeBody>,
) -> ApiResult<Json<Message>> {
    state
        .auth
        .change_password(
            &principal,
            body.current_password,
            body.new_password,
            &client,
        )
        .await?;
    Ok(message(
        "password changed; your other sessions have been ended",
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserListParams {
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default = "first_page")]
    pub page: u64,
    #[serde(default = "default_per_page")]
    pub per_page: u64,
}

fn first_page() -> u64 {
    1
}

fn default_per_page() -> u64 {
    20
}

#[derive(Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl<T> Paged<T> {
    fn new(found: Page<T>, page: u64, per_page: u64) -> Self {
        Paged {
            items: found.items,
            total: found.total,
            page: page.max(1),
            per_page: per_page.clamp(1, 100),
        }
    }
}

/// `GET /auth/admin/users` — admins only; paged, searchable by username.
pub async fn admin_list_users(
    State(state): State<AppState>,
    RequireAdmin(principal): RequireAdmin,
    ApiQuery(params): ApiQuery<UserListParams>,
) -> ApiResult<Json<Paged<UserView>>> {
    let found = state
        .auth
        .list_users(&principal, params.search, params.page, params.per_page)
        .await?;
    Ok(Json(Paged::new(found, params.page, params.per_page)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `PATCH /auth/admin/users/{id}` — admins only: role and disabled flag.
pub async fn admin_update_user(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(principal): RequireAdmin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<UserChangeBody>,
) -> ApiResult<Json<UserView>> {
    let change = UserChange {
        role: body.role,
        disabled: body.disabled,
    };
    Ok(Json(
        state
            .auth
            .update_user(&principal, &user_id, change, &client)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default = "first_page")]
    pub page: u64,
    #[serde(default = "default_per_page")]
    pub per_page: u64,
}

/// `GET /auth/admin/audit` — admins only: the login log and security events, newest
/// first.
pub async fn admin_audit(
    State(state): State<AppState>,
    RequireAdmin(principal): RequireAdmin,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<Paged<AuditEventView>>> {
    let found = state
        .auth
        .audit_log(&principal, params.kind, params.page, params.per_page)
        .await?;
    Ok(Json(Paged::new(found, params.page, params.per_page)))
}
