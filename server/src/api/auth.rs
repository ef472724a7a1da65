//! The `/auth` API (the SQLite ancestor's paths plus the rest a real service needs).
//! Each handler: the extractor proves the caller, one call into the core, a mapping.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use app::model::{AuditEventView, ErrorBody, Role, SessionView, SignInWaysView, UserView};

use super::{
    answers::{
        ApiResult, Ended, LoginAnswer, LoginResponse, Message, TokenPair, UserJson, UserSummary,
        message, no_store,
    },
    extract::{ApiJson, ApiQuery, AuthUser, BearerToken, Client, RequireAdmin},
};
use crate::{
    auth::{AuthError, SignupRequest},
    domain::{PageRequest, WaysOff},
    state::AppState,
    store::{Page, UserChange},
};

#[derive(Deserialize, utoipa::ToSchema)]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    pub message: String,
    pub user: UserView,
}

/// `POST /auth/signup` — anyone; `role` may only be `user`.
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupBody, responses((status = 201, description = "Created", body = SignupResponse), (status = 403, description = "Tried to sign up as admin", body = ErrorBody), (status = 409, description = "Username taken", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password checks queued (see Retry-After)", body = ErrorBody)))]
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

/// `POST /auth/login` — anyone. An account with a second factor answers
/// `{"mfa_required": true, "ticket", …}` instead of tokens: complete it at
/// `POST /auth/login/second-factor`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody, responses((status = 200, description = "A token pair, or the need for a second step", body = LoginAnswer), (status = 401, description = "Wrong username or password", body = ErrorBody), (status = 403, description = "Account disabled", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password checks queued (see Retry-After)", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let sign_in = state
        .auth
        .login(&body.username, body.password, &client)
        .await?;
    Ok(no_store(
        StatusCode::OK,
        LoginAnswer::of(&sign_in, state.auth.now()),
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
        return Err(AuthError::InvalidRefreshToken.into());
    }
    let ApiJson(body) =
        <ApiJson<RefreshBody> as axum::extract::FromRequest<()>>::from_request(request, &())
            .await?;
    body.refresh_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| AuthError::InvalidRefreshToken.into())
}

/// `POST /auth/refresh` — holder of a refresh token; returns a new pair.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body(content = Option<RefreshBody>, description = "Or send the refresh token as `Authorization: Bearer`"), security((), ("bearer" = [])), responses((status = 200, description = "A new pair; the presented refresh token is dead", body = LoginResponse), (status = 401, description = "Invalid, expired or reused refresh token (reuse revokes the session)", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
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
            tokens: TokenPair::from_issued(&issued),
            user: UserSummary::from(&issued.user),
        },
    ))
}

/// `POST /auth/logout` — holder of an access token: ends the session and revokes the
/// token.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])), responses((status = 200, body = Message), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<Message>> {
    state.auth.logout(&principal, &client).await?;
    Ok(message("logged out"))
}

/// `POST /auth/logout-all` — ends every session of the caller, this one included.
#[utoipa::path(post, path = "/auth/logout-all", tag = "sessions", security(("bearer" = [])), responses((status = 200, body = Ended), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub message: String,
    pub logged_in_as: String,
    pub user: UserSummary,
}

/// `GET /auth/dashboard` — any signed-in user.
#[utoipa::path(get, path = "/auth/dashboard", tag = "auth", security(("bearer" = [])), responses((status = 200, body = Dashboard), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn dashboard(AuthUser(principal): AuthUser) -> UserJson<Dashboard> {
    UserJson(Dashboard {
        // One exact allocation, where `format!` runs the formatting machinery.
        message: ["Welcome to your dashboard, ", principal.username.as_str()].concat(),
        logged_in_as: principal.username.clone(),
        user: UserSummary {
            id: principal.user_id().to_owned(),
            username: principal.username,
            role: principal.role,
        },
    })
}

/// `GET /auth/me` — any signed-in user: the full account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])), responses((status = 200, body = UserView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn me(AuthUser(principal): AuthUser) -> UserJson<UserView> {
    UserJson(principal.view())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// `GET /auth/sessions` — the caller's live sessions.
#[utoipa::path(get, path = "/auth/sessions", tag = "sessions", security(("bearer" = [])), responses((status = 200, body = SessionList), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<SessionList>> {
    Ok(Json(SessionList {
        sessions: state.auth.sessions(&principal).await?,
    }))
}

/// `DELETE /auth/sessions/{id}` — ends one of the caller's own sessions.
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "sessions", params(("id" = String, Path, description = "Session id")), security(("bearer" = [])), responses((status = 204, description = "Ended"), (status = 404, description = "No such session of yours", body = ErrorBody), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
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
#[utoipa::path(delete, path = "/auth/sessions", tag = "sessions", security(("bearer" = [])), responses((status = 200, body = Ended), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeBody {
    /// Left out (or empty) by an account without a password, which sets its first one
    /// after a recent sign-in instead.
    #[serde(default)]
    pub current_password: String,
    pub new_password: String,
}

/// `POST /auth/password` — any signed-in user, with the current password; an account
/// without one sets its first password within `GATEHOUSE_REAUTH_SECS` of signing in.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = PasswordChangeBody, security(("bearer" = [])), responses((status = 200, body = Message), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "No password yet and the sign-in is too old (`reauthentication_required`)", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password checks queued (see Retry-After)", body = ErrorBody)))]
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

/// `GET /auth/ways` — any signed-in user: which ways in the account allows (`on`) and
/// has what it needs for (`ready`).
#[utoipa::path(get, path = "/auth/ways", tag = "auth", security(("bearer" = [])), responses((status = 200, body = SignInWaysView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn sign_in_ways(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<SignInWaysView>> {
    Ok(Json(state.auth.sign_in_ways(&principal).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInWaysBody {
    pub password: bool,
    pub passkey: bool,
    pub email_code: bool,
    /// Left out (or empty) by an account without a password: a recent sign-in instead.
    #[serde(default)]
    pub current_password: String,
}

/// `PUT /auth/ways` — any signed-in user, with the current password: turns ways in on or
/// off. A way turned off is refused (403 `way_off`) even with a right proof, and ends the
/// other sessions; at least one way the account can use stays on (409 `last_factor`).
#[utoipa::path(put, path = "/auth/ways", tag = "auth", request_body = SignInWaysBody, security(("bearer" = [])), responses((status = 200, body = SignInWaysView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "No password and the sign-in is too old (`reauthentication_required`)", body = ErrorBody), (status = 409, description = "No way the account can use would stay on (`last_factor`)", body = ErrorBody), (status = 422, description = "Invalid fields (or a wrong current password)", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn set_sign_in_ways(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<SignInWaysBody>,
) -> ApiResult<Json<SignInWaysView>> {
    let off = WaysOff {
        password: !body.password,
        passkey: !body.passkey,
        email_code: !body.email_code,
    };
    Ok(Json(
        state
            .auth
            .set_sign_in_ways(&principal, off, body.current_password, &client)
            .await?,
    ))
}

/// The current password, for the steps that hand out a way in (a passkey, an
/// authenticator app) when the sign-in is older than `GATEHOUSE_REAUTH_SECS`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrentPasswordBody {
    #[serde(default)]
    pub current_password: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthenticateBody {
    pub current_password: String,
}

/// `POST /auth/reauthenticate` — any signed-in user, with the current password: the
/// session counts as freshly signed in for `GATEHOUSE_REAUTH_SECS` (adding a passkey or
/// an authenticator app needs that, or the password in the request). A wrong password
/// counts toward the sign-in lockout.
#[utoipa::path(post, path = "/auth/reauthenticate", tag = "auth", request_body = ReauthenticateBody, security(("bearer" = [])), responses((status = 204, description = "Confirmed"), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 503, description = "Busy: too many password checks queued (see Retry-After)", body = ErrorBody)))]
pub async fn reauthenticate(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<ReauthenticateBody>,
) -> ApiResult<StatusCode> {
    state
        .auth
        .reauthenticate(&principal, body.current_password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl<T> Paged<T> {
    fn new(found: Page<T>, request: PageRequest) -> Self {
        Paged {
            items: found.items,
            total: found.total,
            page: request.page(),
            per_page: request.per_page(),
        }
    }
}

/// `GET /auth/admin/users` — admins only; paged, searchable by username.
#[utoipa::path(get, path = "/auth/admin/users", tag = "admin", params(UserListParams), security(("bearer" = [])), responses((status = 200, body = Paged<UserView>), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 422, description = "Invalid query (a page past 1,000,000)", body = ErrorBody)))]
pub async fn admin_list_users(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ApiQuery(params): ApiQuery<UserListParams>,
) -> ApiResult<Json<Paged<UserView>>> {
    let page = PageRequest::parse(params.page, params.per_page).map_err(AuthError::from)?;
    let found = state.auth.list_users(&admin, params.search, page).await?;
    Ok(Json(Paged::new(found, page)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `PATCH /auth/admin/users/{id}` — admins only: role and disabled flag.
#[utoipa::path(patch, path = "/auth/admin/users/{id}", tag = "admin", params(("id" = String, Path, description = "User id")), request_body = UserChangeBody, security(("bearer" = [])), responses((status = 200, body = UserView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "No active admin would remain", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody), (status = 413, description = "Body over 16 KiB", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody)))]
pub async fn admin_update_user(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
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
            .update_user(&admin, &user_id, change, &client)
            .await?,
    ))
}

/// `DELETE /auth/admin/users/{id}/sign-in-lock` — admins only: lifts the lockout and the
/// cumulative cap that failed sign-ins put on an account (audited).
#[utoipa::path(delete, path = "/auth/admin/users/{id}/sign-in-lock", tag = "admin", params(("id" = String, Path, description = "User id")), security(("bearer" = [])), responses((status = 200, body = Message), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn admin_unlock_sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Message>> {
    state.auth.unlock_sign_in(&admin, &user_id, &client).await?;
    Ok(message("sign-in is unlocked for this account"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
#[utoipa::path(get, path = "/auth/admin/audit", tag = "admin", params(AuditParams), security(("bearer" = [])), responses((status = 200, body = Paged<AuditEventView>), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 422, description = "Invalid query (a page past 1,000,000)", body = ErrorBody)))]
pub async fn admin_audit(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> ApiResult<Json<Paged<AuditEventView>>> {
    let page = PageRequest::parse(params.page, params.per_page).map_err(AuthError::from)?;
    let found = state.auth.audit_log(&admin, params.kind, page).await?;
    Ok(Json(Paged::new(found, page)))
}
