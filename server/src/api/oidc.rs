//! The OpenID Connect door: discovery, the token endpoint, UserInfo, and the admins'
//! client registry. The authorization endpoint is a page (`/oauth2/authorize`, in
//! `app`), since it signs people in and asks for their consent. Every decision is the
//! core's (`auth::oidc`); errors here are RFC 6749's `{"error", "error_description"}`,
//! which relying-party libraries parse, except on the admin routes (Gatehouse's own).

use app::model::{
    AppView, ClientCreated, ClientInput, ClientStateChange, ClientView, ErrorBody, KeysRotated,
};
use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};

use super::{
    answers::{ApiResult, UserJson},
    extract::{ApiJson, AuthUser, Client, RequireAdmin, bearer_token},
};
use crate::{
    auth::oidc::{BasicCredentials, OAuthError, TokenRequest},
    state::AppState,
};

/// `GET /.well-known/openid-configuration` — OpenID Connect Discovery 1.0.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "openid-connect", responses((status = 200, description = "The provider's metadata: issuer (GATEHOUSE_PUBLIC_URL), endpoints, what is supported")))]
pub async fn discovery(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.auth.discovery()),
    )
        .into_response()
}

/// `POST /oauth2/token` — the token endpoint (RFC 6749 §3.2): a form, the client
/// authenticated by `client_secret_basic`, `client_secret_post`, or (public clients,
/// with PKCE) its `client_id` alone.
#[utoipa::path(post, path = "/oauth2/token", tag = "openid-connect", request_body(content_type = "application/x-www-form-urlencoded", description = "grant_type=authorization_code, code, redirect_uri, code_verifier; client_id and client_secret unless sent as Basic"), responses((status = 200, description = "access_token, token_type, expires_in, id_token, scope"), (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type"), (status = 401, description = "invalid_client")))]
pub async fn token(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Response {
    let outcome = async {
        let form = token_form(&headers, &body)?;
        let basic = basic_credentials(&headers)?;
        state.auth.exchange(form, basic, &client).await
    }
    .await;
    match outcome {
        Ok(tokens) => (no_store(), Json(tokens)).into_response(),
        Err(error) => oauth_error(error, headers.contains_key(header::AUTHORIZATION)),
    }
}

/// `POST /oauth2/revoke` — token revocation (RFC 7009): an app's refresh token (its
/// session ends) or access token; 200 whether or not the token was known.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "openid-connect", request_body(content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint; the client's credentials as at the token endpoint"), responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 400, description = "invalid_request"), (status = 401, description = "invalid_client")))]
pub async fn revoke(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Response {
    let outcome = async {
        let form = token_form(&headers, &body)?;
        let basic = basic_credentials(&headers)?;
        state.auth.revoke_token(form, basic, &client).await
    }
    .await;
    match outcome {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(error) => oauth_error(error, headers.contains_key(header::AUTHORIZATION)),
    }
}

/// `POST /oauth2/introspect` — token introspection (RFC 7662), for a confidential
/// client about its own tokens: `{"active": false}` for anything else.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "openid-connect", request_body(content_type = "application/x-www-form-urlencoded", description = "token; the client's credentials"), responses((status = 200, description = "active, and for an active token: sub, client_id, scope, exp…"), (status = 401, description = "invalid_client")))]
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Response {
    let outcome = async {
        let form = token_form(&headers, &body)?;
        let basic = basic_credentials(&headers)?;
        state.auth.introspect(form, basic).await
    }
    .await;
    match outcome {
        Ok(answer) => (no_store(), Json(answer)).into_response(),
        Err(error) => oauth_error(error, headers.contains_key(header::AUTHORIZATION)),
    }
}

/// `GET /oauth2/userinfo` — OpenID Connect Core §5.3, with a client's access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "openid-connect", security(("bearer" = [])), responses((status = 200, description = "sub, and the claims the token's scopes allow"), (status = 401, description = "invalid_token (WWW-Authenticate says so)")))]
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer_userinfo(&state, bearer_token(&headers)).await
}

/// `POST /oauth2/userinfo` — the same, the token in the header or as `access_token` in a
/// form body (RFC 6750 §2.2).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "openid-connect", request_body(content_type = "application/x-www-form-urlencoded", description = "access_token, unless sent as a Bearer header"), security(("bearer" = [])), responses((status = 200, description = "sub, and the claims the token's scopes allow"), (status = 400, description = "invalid_request: the token sent twice"), (status = 401, description = "invalid_token (WWW-Authenticate says so)")))]
pub async fn userinfo_by_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    OAuthBody(body): OAuthBody,
) -> Response {
    let in_header = bearer_token(&headers);
    let in_body = if is_form(&headers) {
        match single_values(&body) {
            Ok(values) => values
                .into_iter()
                .find(|(name, _)| name == "access_token")
                .map(|(_, value)| value),
            Err(error) => return oauth_error(error, false),
        }
    } else {
        None
    };
    let token = match (in_header, in_body.as_deref()) {
        (Some(_), Some(_)) => {
            return oauth_error(
                OAuthError {
                    status: 400,
                    error: "invalid_request",
                    description: "Send the access token once.".into(),
                },
                false,
            );
        }
        (header, body) => header.or(body),
    };
    answer_userinfo(&state, token).await
}

async fn answer_userinfo(state: &AppState, token: Option<&str>) -> Response {
    match state.auth.userinfo(token).await {
        Ok(claims) => (no_store(), UserJson(claims)).into_response(),
        Err(error) => oauth_error(error.into(), true),
    }
}

/// `GET /auth/apps` — the apps you allowed to sign you in (OpenID Connect clients).
#[utoipa::path(get, path = "/auth/apps", tag = "openid-connect", security(("bearer" = [])), responses((status = 200, body = Vec<AppView>), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn apps(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<Vec<AppView>>> {
    Ok(Json(state.auth.apps_of(&principal).await?))
}

/// `DELETE /auth/apps/{client_id}` — takes back what you allowed an app: its sessions
/// end, and its next sign-in asks again (audited).
#[utoipa::path(delete, path = "/auth/apps/{client_id}", tag = "openid-connect", params(("client_id" = String, Path, description = "The app's client_id")), security(("bearer" = [])), responses((status = 204, description = "Forgotten"), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 404, description = "You never allowed that app", body = ErrorBody)))]
pub async fn forget_app(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .auth
        .forget_app(&principal, &client_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /auth/admin/clients` — admins only: every registered OpenID Connect client.
#[utoipa::path(get, path = "/auth/admin/clients", tag = "admin", security(("bearer" = [])), responses((status = 200, body = Vec<ClientView>), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn list_clients(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
) -> ApiResult<Json<Vec<ClientView>>> {
    Ok(Json(state.auth.list_clients(&admin).await?))
}

/// `POST /auth/admin/clients` — admins only: registers an app (audited). The secret of
/// a confidential client is in this answer and nowhere else, ever.
#[utoipa::path(post, path = "/auth/admin/clients", tag = "admin", request_body = ClientInput, security(("bearer" = [])), responses((status = 201, body = ClientCreated), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn register_client(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    ApiJson(body): ApiJson<ClientInput>,
) -> ApiResult<(StatusCode, Json<ClientCreated>)> {
    let created = state.auth.register_client(&admin, body, &client).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PUT /auth/admin/clients/{id}` — admins only: replaces an app's registration (name,
/// URIs, grants, pre-consent; not whether it is public) (audited).
#[utoipa::path(put, path = "/auth/admin/clients/{id}", tag = "admin", params(("id" = String, Path, description = "client_id")), request_body = ClientInput, security(("bearer" = [])), responses((status = 200, body = ClientView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such client", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn update_client(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClientInput>,
) -> ApiResult<Json<ClientView>> {
    Ok(Json(
        state.auth.update_client(&admin, &id, body, &client).await?,
    ))
}

/// `PATCH /auth/admin/clients/{id}` — admins only: `{"disabled": true}` stops an app
/// (its users' sessions through it end on every instance within the revocation bound),
/// `false` lets it start again (audited).
#[utoipa::path(patch, path = "/auth/admin/clients/{id}", tag = "admin", params(("id" = String, Path, description = "client_id")), request_body = ClientStateChange, security(("bearer" = [])), responses((status = 200, body = ClientView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such client", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn change_client_state(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClientStateChange>,
) -> ApiResult<Json<ClientView>> {
    Ok(Json(
        state
            .auth
            .set_client_disabled(&admin, &id, body.disabled, &client)
            .await?,
    ))
}

/// `POST /auth/admin/clients/{id}/secret` — admins only: a new secret, shown this once;
/// the old one stops working at once (audited).
#[utoipa::path(post, path = "/auth/admin/clients/{id}/secret", tag = "admin", params(("id" = String, Path, description = "client_id")), security(("bearer" = [])), responses((status = 200, body = ClientCreated), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such client", body = ErrorBody), (status = 422, description = "A public client has no secret", body = ErrorBody)))]
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<ClientCreated>> {
    Ok(Json(
        state
            .auth
            .rotate_client_secret(&admin, &id, &client)
            .await?,
    ))
}

/// `DELETE /auth/admin/clients/{id}` — admins only: removes an app (audited).
#[utoipa::path(delete, path = "/auth/admin/clients/{id}", tag = "admin", params(("id" = String, Path, description = "client_id")), security(("bearer" = [])), responses((status = 204, description = "Removed"), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such client", body = ErrorBody)))]
pub async fn remove_client(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.auth.remove_client(&admin, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/admin/keys/rotate` — admins only: a new signing key for access tokens
/// (EdDSA) and for ID tokens (RS256), signing from now on here and, within the
/// revocation bound, on every instance; the keys before them stay in the JWKS until every
/// token they signed has expired (audited).
#[utoipa::path(post, path = "/auth/admin/keys/rotate", tag = "admin", security(("bearer" = [])), responses((status = 200, body = KeysRotated), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn rotate_keys(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
) -> ApiResult<Json<KeysRotated>> {
    Ok(Json(state.auth.rotate_signing_keys(&admin, &client).await?))
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// The body of an OAuth endpoint's request. One that cannot be read (over the API's
/// 16 KiB, or cut short) is refused as these endpoints refuse everything, with
/// RFC 6749's `{"error", "error_description"}` that relying-party libraries parse, not
/// with axum's plain-text rejection.
pub struct OAuthBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for OAuthBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        Bytes::from_request(request, state)
            .await
            .map(OAuthBody)
            .map_err(|rejection| {
                let status = rejection.status();
                let description = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!("The body is over {} bytes.", super::MAX_BODY_BYTES)
                } else {
                    "The body could not be read.".to_owned()
                };
                oauth_error(
                    OAuthError {
                        status: status.as_u16(),
                        error: "invalid_request",
                        description,
                    },
                    false,
                )
            })
    }
}

fn oauth_error(error: OAuthError, challenge: bool) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::json!({
        "error": error.error,
        "error_description": error.description,
    });
    let mut response = (status, no_store(), Json(body)).into_response();
    // RFC 6749 §5.2 / RFC 6750 §3: a 401 names the scheme the caller should use.
    if status == StatusCode::UNAUTHORIZED && challenge {
        let scheme = if error.error == "invalid_client" {
            "Basic realm=\"gatehouse\"".to_owned()
        } else {
            format!("Bearer error=\"{}\"", error.error)
        };
        if let Ok(value) = HeaderValue::from_str(&scheme) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A form body's fields, each at most once (RFC 6749 §3.2: parameters sent twice are an
/// error).
fn single_values(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if seen.iter().any(|(known, _)| *known == name) {
            return Err(OAuthError {
                status: 400,
                error: "invalid_request",
                description: format!("{name} is sent twice."),
            });
        }
        seen.push((name.into_owned(), value.into_owned()));
    }
    Ok(seen)
}

fn token_form(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError {
            status: 400,
            error: "invalid_request",
            description: "Send the token request as application/x-www-form-urlencoded.".into(),
        });
    }
    let mut form = TokenRequest::default();
    for (name, value) in single_values(body)? {
        let value = Some(value).filter(|value| !value.is_empty());
        match name.as_str() {
            "grant_type" => form.grant_type = value,
            "code" => form.code = value,
            "redirect_uri" => form.redirect_uri = value,
            "code_verifier" => form.code_verifier = value,
            "client_id" => form.client_id = value,
            "client_secret" => form.client_secret = value,
            "refresh_token" => form.refresh_token = value,
            "token" => form.token = value,
            // Other parameters (scope, resource, …) are not used by these grants.
            _ => {}
        }
    }
    Ok(form)
}

/// `Authorization: Basic` with the client's id and secret, each form-urlencoded first
/// (RFC 6749 §2.3.1). Another scheme there is no client authentication.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError {
        status: 401,
        error: "invalid_client",
        description: "The Basic credentials are malformed.".into(),
    };
    let value = value.to_str().map_err(|_| malformed())?.trim();
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| malformed())
    };
    Ok(Some(BasicCredentials {
        client_id: unescape(id)?,
        client_secret: unescape(secret)?,
    }))
}
