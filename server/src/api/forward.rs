//! The forward-auth door: reverse proxies ask here whether to let a request through to
//! an app behind them (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`),
//! and admins keep the rules. The decision is the core's (`AuthService::forward_check`).

use app::model::{ErrorBody, ErrorCode, ForwardRuleInput, ForwardRuleView};
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};

use super::{
    answers::ApiResult,
    error::ApiError,
    extract::{ApiJson, Client, RequireAdmin, bearer_token},
};
use crate::{
    auth::{ForwardIdentity, ForwardVerdict},
    domain::forward::OriginalRequest,
    state::AppState,
};

const REMOTE_USER: HeaderName = HeaderName::from_static("remote-user");
const REMOTE_NAME: HeaderName = HeaderName::from_static("remote-name");
const REMOTE_EMAIL: HeaderName = HeaderName::from_static("remote-email");
const REMOTE_GROUPS: HeaderName = HeaderName::from_static("remote-groups");

/// How a proxy wants to be told "sign in first".
#[derive(Clone, Copy, PartialEq, Eq)]
enum Convention {
    /// nginx: 401 (its `error_page 401` sends the browser on, to the URL in `Location`);
    /// anything but 2xx, 401 and 403 would be a 500 to the visitor, so a request it
    /// cannot describe is a 403.
    AuthRequest,
    /// Caddy and Traefik: the 302 itself, which they hand to the browser.
    Redirect,
}

/// `GET /auth/forward/auth-request` — for nginx `auth_request`: 200 with the identity
/// headers, 401 (with `Location`: the sign-in page) or 403.
#[utoipa::path(get, path = "/auth/forward/auth-request", tag = "forward-auth", params(("X-Original-URL" = String, Header, description = "The URL the browser asked for (or X-Forwarded-Proto, -Host and -Uri)")), responses((status = 200, description = "Let it through; Remote-User, Remote-Name, Remote-Email, Remote-Groups say who"), (status = 401, description = "Not signed in: Location is the sign-in page", body = ErrorBody), (status = 403, description = "Signed in and not allowed there, or the original request is malformed", body = ErrorBody)))]
pub async fn auth_request(State(state): State<AppState>, parts: Parts) -> Response {
    answer(&state, &parts, Convention::AuthRequest).await
}

/// `GET /auth/forward/redirect` — for Caddy `forward_auth` and Traefik `ForwardAuth`:
/// 200 with the identity headers, 302 to the sign-in page, or 403.
#[utoipa::path(get, path = "/auth/forward/redirect", tag = "forward-auth", params(("X-Forwarded-Uri" = String, Header, description = "The path and query asked for, with X-Forwarded-Proto and -Host (or X-Original-URL)")), responses((status = 200, description = "Let it through; Remote-User, Remote-Name, Remote-Email, Remote-Groups say who"), (status = 302, description = "Not signed in: to the sign-in page"), (status = 400, description = "The original request is malformed or missing", body = ErrorBody), (status = 403, description = "Signed in and not allowed there", body = ErrorBody)))]
pub async fn redirect(State(state): State<AppState>, parts: Parts) -> Response {
    answer(&state, &parts, Convention::Redirect).await
}

async fn answer(state: &AppState, parts: &Parts, convention: Convention) -> Response {
    let original = match original_request(&parts.headers) {
        Ok(original) => original,
        Err(message) => {
            let code = match convention {
                Convention::AuthRequest => ErrorCode::Forbidden,
                Convention::Redirect => ErrorCode::BadRequest,
            };
            return ApiError::new(code, message).into_response();
        }
    };
    // The browser's cookie first: an `Authorization` header the proxy passes on may be
    // meant for the app behind it.
    let config = &state.config;
    let cookie = app::ssr::presented_access(
        parts,
        config.https,
        config.forward.return_hosts.domain.is_some(),
    );
    let token = cookie.as_deref().or_else(|| bearer_token(&parts.headers));
    let verdict = match state.auth.forward_check(token, &original).await {
        Ok(verdict) => verdict,
        Err(error) => return ApiError::from(error).into_response(),
    };
    match verdict {
        ForwardVerdict::Allow(identity) => allowed(&identity),
        ForwardVerdict::SignIn { second_factor } => {
            let to = state.auth.sign_in_url(&original.url, second_factor);
            let Ok(location) = HeaderValue::from_str(&to) else {
                return ApiError::new(
                    ErrorCode::BadRequest,
                    "the original URL cannot be sent back",
                )
                .into_response();
            };
            let status = match convention {
                Convention::AuthRequest => StatusCode::UNAUTHORIZED,
                Convention::Redirect => StatusCode::FOUND,
            };
            let mut response = if convention == Convention::AuthRequest {
                ApiError::new(ErrorCode::MissingToken, "Sign in first.").into_response()
            } else {
                status.into_response()
            };
            *response.status_mut() = status;
            response.headers_mut().insert(header::LOCATION, location);
            response
        }
        ForwardVerdict::Forbid => {
            ApiError::new(ErrorCode::Forbidden, "Your account may not open this page.")
                .into_response()
        }
    }
}

fn allowed(identity: &ForwardIdentity) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    // Usernames may hold any letter: sent as UTF-8 bytes, which header values allow.
    if let Ok(user) = HeaderValue::from_bytes(identity.username.as_bytes()) {
        headers.insert(REMOTE_USER, user.clone());
        headers.insert(REMOTE_NAME, user);
    }
    // Sent even when empty: a proxy that copies only the headers it is given would
    // otherwise pass on one the visitor wrote.
    let email = identity.email.as_deref().unwrap_or_default();
    headers.insert(
        REMOTE_EMAIL,
        HeaderValue::from_str(email).unwrap_or(HeaderValue::from_static("")),
    );
    if let Ok(groups) = HeaderValue::from_str(&identity.groups) {
        headers.insert(REMOTE_GROUPS, groups);
    }
    response
}

/// The request the proxy asks about: `X-Original-URL` (nginx), else the three
/// `X-Forwarded-*` parts (Caddy, Traefik). Each header must be there once.
fn original_request(headers: &HeaderMap) -> Result<OriginalRequest, String> {
    let single = |name: &str| -> Result<Option<&str>, String> {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(format!("{name} is sent more than once"));
        }
        first
            .to_str()
            .map(Some)
            .map_err(|_| format!("{name} is not visible ASCII"))
    };
    let describe =
        |error: crate::domain::FieldError| format!("the original request {}", error.message);
    if let Some(url) = single("x-original-url")? {
        return OriginalRequest::parse(url).map_err(describe);
    }
    match (
        single("x-forwarded-proto")?,
        single("x-forwarded-host")?,
        single("x-forwarded-uri")?,
    ) {
        (Some(proto), Some(host), Some(uri)) => {
            OriginalRequest::from_parts(proto, host, uri).map_err(describe)
        }
        _ => Err(
            "this endpoint is for a reverse proxy: send X-Original-URL, or \
                  X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri"
                .to_owned(),
        ),
    }
}

/// `GET /auth/admin/forward-rules` — admins only: every forward-auth rule.
#[utoipa::path(get, path = "/auth/admin/forward-rules", tag = "admin", security(("bearer" = [])), responses((status = 200, body = Vec<ForwardRuleView>), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn list_rules(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
) -> ApiResult<Json<Vec<ForwardRuleView>>> {
    Ok(Json(state.auth.list_forward_rules(&admin).await?))
}

/// `POST /auth/admin/forward-rules` — admins only: adds a rule (audited); every instance
/// applies it within the revocation bound.
#[utoipa::path(post, path = "/auth/admin/forward-rules", tag = "admin", request_body = ForwardRuleInput, security(("bearer" = [])), responses((status = 201, body = ForwardRuleView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "A rule for that host and path exists (`rule_exists`)", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn add_rule(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    ApiJson(body): ApiJson<ForwardRuleInput>,
) -> ApiResult<(StatusCode, Json<ForwardRuleView>)> {
    let rule = state.auth.add_forward_rule(&admin, &body, &client).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// `PUT /auth/admin/forward-rules/{id}` — admins only: replaces a rule (audited).
#[utoipa::path(put, path = "/auth/admin/forward-rules/{id}", tag = "admin", params(("id" = String, Path, description = "Rule id")), request_body = ForwardRuleInput, security(("bearer" = [])), responses((status = 200, body = ForwardRuleView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such rule", body = ErrorBody), (status = 409, description = "Another rule has that host and path", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody)))]
pub async fn change_rule(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ForwardRuleInput>,
) -> ApiResult<Json<ForwardRuleView>> {
    Ok(Json(
        state
            .auth
            .change_forward_rule(&admin, &id, &body, &client)
            .await?,
    ))
}

/// `DELETE /auth/admin/forward-rules/{id}` — admins only: removes a rule (audited).
#[utoipa::path(delete, path = "/auth/admin/forward-rules/{id}", tag = "admin", params(("id" = String, Path, description = "Rule id")), security(("bearer" = [])), responses((status = 204, description = "Removed"), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such rule", body = ErrorBody)))]
pub async fn remove_rule(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.auth.remove_forward_rule(&admin, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
