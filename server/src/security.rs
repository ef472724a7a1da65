//! Security headers on every response.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use app::model::ErrorCode;

use crate::{api::error::ApiError, server_fns::SERVER_FUNCTION_PREFIX};

/// Server-rendered pages set their own policy naming the response's nonce (see `app`);
/// this one is for HTML that did not (static files), and allows no script at all.
/// API responses get a policy that allows nothing.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'none'; img-src 'self' data:; \
    style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
/// Swagger UI's bundle builds its styles at run time.
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
    style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Clone, Copy)]
pub struct SecurityHeaders {
    pub https: bool,
}

pub async fn add_security_headers(
    State(settings): State<SecurityHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let is_docs = request.uri().path().starts_with("/docs");
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let policy = match (is_docs, is_html) {
        (true, _) => DOCS_POLICY,
        (false, true) => PAGE_POLICY,
        (false, false) => API_POLICY,
    };
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Other sites learn nothing; this site's own plain forms (no JavaScript) rely on
    // the Referer to come back to the page they were posted from.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if settings.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// Server functions are the browser's door and authenticate by cookie, so a page on
/// another site must not be able to post to them (CSRF, including login CSRF). Beside
/// the SameSite cookies, every state-changing request to them must come from this
/// origin: `Sec-Fetch-Site: same-origin`, or failing that an `Origin` naming this host.
/// The REST API reads no cookies (Bearer only) and is not affected.
pub async fn refuse_cross_site_writes(request: Request, next: Next) -> Response {
    let is_server_function = request.uri().path().starts_with(SERVER_FUNCTION_PREFIX);
    let changes_state = !request.method().is_safe();
    if is_server_function && changes_state && !comes_from_this_origin(request.headers()) {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return ApiError::new(ErrorCode::Csrf, "this request did not come from this site")
            .into_response();
    }
    next.run(request).await
}

/// Two `Authorization` headers on one request are refused on every route, both doors: a
/// proxy that checked one and a server that read the other would disagree about who is
/// calling.
pub async fn refuse_ambiguous_credentials(request: Request, next: Next) -> Response {
    if request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return ApiError::new(
            ErrorCode::BadRequest,
            "send one Authorization header, not several",
        )
        .into_response();
    }
    next.run(request).await
}

fn comes_from_this_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn same_origin_fetch_metadata_is_accepted() {
        assert!(comes_from_this_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused_even_with_a_matching_origin() {
        assert!(!comes_from_this_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://gate.example"),
            ("host", "gate.example"),
        ])));
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_name_this_host() {
        assert!(comes_from_this_origin(&headers(&[
            ("origin", "http://gate.example:3000"),
            ("host", "gate.example:3000"),
        ])));
        assert!(!comes_from_this_origin(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "gate.example:3000"),
        ])));
        assert!(!comes_from_this_origin(&headers(&[(
            "host",
            "gate.example"
        )])));
    }
}
