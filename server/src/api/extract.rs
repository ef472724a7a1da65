//! Extractors: they turn a request into typed input or a proven caller, and every
//! rejection is an `ApiError`.

use std::net::SocketAddr;

use app::model::ErrorCode;
use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request},
    http::{HeaderMap, header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::{
    auth::{AdminPrincipal, ClientInfo, Principal},
    config::Config,
    state::AppState,
};

/// `axum::Json` whose rejections are `ApiError`s.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A JSON body that may be left out, for routes whose every field is optional: no
/// `Content-Type` and an empty body is `None`; anything else is read as `ApiJson`.
pub struct OptionalApiJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.headers().contains_key(header::CONTENT_TYPE) {
            let ApiJson(body) = ApiJson::<T>::from_request(request, state).await?;
            return Ok(OptionalApiJson(Some(body)));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorCode::BodyTooLarge, rejection.body_text())
                } else {
                    ApiError::new(ErrorCode::BadRequest, "The request body could not be read.")
                }
            })?;
        if body.is_empty() {
            Ok(OptionalApiJson(None))
        } else {
            Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "A body needs `Content-Type: application/json`.",
            ))
        }
    }
}

/// `axum::extract::Query` whose rejections are `ApiError`s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The token of an `Authorization: Bearer …` header, if there is one.
pub struct BearerToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(BearerToken(bearer_token(&parts.headers)))
    }
}

/// The one Bearer parser (RFC 6750 over RFC 7235: the scheme is case-insensitive). A
/// request with two `Authorization` headers never gets here
/// (`security::refuse_ambiguous_credentials`).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

/// A caller proven by a valid access token.
pub struct AuthUser(pub Principal);

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = bearer_token(&parts.headers);
        Ok(AuthUser(state.auth.authenticate(token.as_deref()).await?))
    }
}

/// A caller proven by a valid access token who holds the admin role (the core's one
/// role check, `AuthService::authenticate_admin`).
pub struct RequireAdmin(pub AdminPrincipal);

impl<S> FromRequestParts<S> for RequireAdmin
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers);
        let state = AppState::from_ref(state);
        Ok(RequireAdmin(
            state.auth.authenticate_admin(token.as_deref()).await?,
        ))
    }
}

/// The caller's address and user agent.
pub struct Client(pub ClientInfo);

impl<S> FromRequestParts<S> for Client
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(Client(client_info(parts, &state.config)))
    }
}

/// Where a request came from, and the device cookie it presents (which authenticates
/// nothing: it only keys the sign-in lockout).
pub fn client_info(parts: &Parts, config: &Config) -> ClientInfo {
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| {
            config
                .trusted_proxies
                .client_address(addr.ip(), &parts.headers)
        });
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    ClientInfo::new(client, user_agent)
        .with_device(app::ssr::presented_device(parts, config.https).as_deref())
}
