//! Extractors: they turn a request into typed input or a proven caller, and every
//! rejection is an `ApiError`.

use std::net::SocketAddr;

use app::model::ErrorCode;
use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
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
        Ok(BearerToken(bearer_token(&parts.headers).map(str::to_owned)))
    }
}

/// The one Bearer parser (RFC 6750 over RFC 7235: the scheme is case-insensitive). A
/// request with two `Authorization` headers never gets here
/// (`security::refuse_ambiguous_credentials`). Borrowed from the request: every protected
/// request passes here, and the token is only looked up, never kept.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// A caller proven by a valid access token.
pub struct AuthUser(pub Principal);

// On the state itself, not `FromRef`: the check only reads the state, and `from_ref` would
// clone its three `Arc`s on every protected request (no speed difference was measurable;
// see issue 28's note).
impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers);
        Ok(AuthUser(state.auth.authenticate(token).await?))
    }
}

/// A caller proven by a valid access token who holds the admin role (the core's one
/// role check, `AuthService::authenticate_admin`).
pub struct RequireAdmin(pub AdminPrincipal);

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers);
        Ok(RequireAdmin(state.auth.authenticate_admin(token).await?))
    }
}

/// The caller's address and user agent.
pub struct Client(pub ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_authorization(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(value).unwrap(),
        );
        headers
    }

    #[test]
    fn the_bearer_parser_takes_a_visible_ascii_token_after_a_case_insensitive_scheme() {
        let token = |value: &[u8]| bearer_token(&with_authorization(value)).map(str::to_owned);
        assert_eq!(token(b"Bearer abc.def.ghi").as_deref(), Some("abc.def.ghi"));
        assert_eq!(
            token(b"bEaReR  abc.def.ghi ").as_deref(),
            Some("abc.def.ghi")
        );
        assert_eq!(
            token(b" Bearer\tx").as_deref(),
            None,
            "the scheme ends at a space"
        );
        assert_eq!(
            token(b"Bearer x\ty").as_deref(),
            Some("x\ty"),
            "a tab is a legal header byte"
        );
        assert_eq!(token(b"Basic abc"), None);
        assert_eq!(token(b"Bearer "), None);
        assert_eq!(token(b"Bearer    "), None);
        assert_eq!(token(b"Bearer"), None);
        // Bytes above 0x7F are legal in a header value (obs-text) but never in a token.
        assert_eq!(token(b"Bearer abc\xc3\xa9"), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
