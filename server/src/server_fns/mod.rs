//! The server-function door into the auth core: `app` declares `AuthBackend`, this
//! implements it over the same `AuthService` the REST handlers call. Errors are described
//! by the REST layer's one mapping, so both doors speak the same codes and messages.

mod web_backend;

pub use web_backend::WebBackend;

use app::{error::AppError, model::ErrorCode};
use axum::{
    body::Body,
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    api::{MAX_BODY_BYTES, error::ApiError},
    auth::{AuthError, Ceremony},
};

/// Where the server functions are mounted (Leptos's default prefix).
pub const SERVER_FUNCTION_PREFIX: &str = "/api/";

/// An error body is a few hundred bytes; anything longer is not one of ours.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A page that redirects answers 302, whoever asks. Leptos gives a redirect from a page
/// the server-function shape (200, a `Location` and its own marker header) unless the
/// request accepts HTML, which a `curl` or a monitor does not send: they got an empty 200.
pub async fn pages_redirect_with_a_redirect(request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(SERVER_FUNCTION_PREFIX) {
        return next.run(request).await;
    }
    let mut response = next.run(request).await;
    let marker = leptos::server_fn::redirect::REDIRECT_HEADER;
    if response.headers().contains_key(header::LOCATION)
        && response.headers_mut().remove(marker).is_some()
    {
        *response.status_mut() = StatusCode::FOUND;
    }
    response
}

/// The server-function door answers every mistake with a 4xx and the REST error body.
/// Leptos answers an error raised before a function's body runs (arguments that do not
/// parse, a body over the limit) with a 500 whose body is our `AppError`; this puts that
/// error's own status on the response. A body declared over `MAX_BODY_BYTES` is refused
/// before anything reads it (one streamed without a length fails to parse: a 422).
pub async fn answer_mistakes_with_their_status(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(SERVER_FUNCTION_PREFIX) {
        return next.run(request).await;
    }
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("the body is over {} KiB", MAX_BODY_BYTES / 1024),
        )
        .into_response();
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY_BYTES).await else {
        return ApiError::internal().into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes)
        && let Ok(status) = StatusCode::from_u16(error.status())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Unknown server functions answer in JSON, not with the web app's 404 page.
pub async fn unknown_server_function() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such server function")
}

/// A ceremony as the browser door hands it on: options (JSON), id, lifetime.
pub(super) fn ceremony_parts(ceremony: Ceremony) -> (String, String, i64) {
    (
        ceremony.options.to_string(),
        ceremony.id,
        ceremony.expires_in,
    )
}

/// The REST door's description of a core error, as a server function answers it.
pub(super) fn app_error(error: AuthError) -> AppError {
    let described = ApiError::from(error);
    AppError {
        code: described.code(),
        message: described.message().to_owned(),
        field: described.field().map(str::to_owned),
    }
}
