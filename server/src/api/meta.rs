//! Endpoints for operators and other services: health, readiness, the public keys.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use subtle::ConstantTimeEq;

use app::model::{ErrorBody, ErrorCode};

use super::{error::ApiError, extract::bearer_token};
use crate::{metrics::Metrics, state::AppState};

/// `GET /healthz` — the process is up (never touches the store).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Up")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz` — the store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready"), (status = 503, description = "The store is unreachable")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.auth.ready().await {
        Ok(()) => Json(json!({ "status": "ready", "store": "ok" })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "store": "unreachable" })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics` — counters in Prometheus' text format. With `GATEHOUSE_METRICS_TOKEN`
/// set, only for `Authorization: Bearer <that token>`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "OpenMetrics text format", content_type = "application/openmetrics-text"), (status = 401, description = "GATEHOUSE_METRICS_TOKEN is set and was not presented")))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.config.metrics_token {
        let presented = bearer_token(&headers).unwrap_or_default();
        // `subtle` compares in time that depends on the lengths only.
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return ApiError::new(
                ErrorCode::InvalidToken,
                "the metrics token is missing or wrong",
            )
            .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, Metrics::CONTENT_TYPE)],
        state.auth.metrics().render(),
    )
        .into_response()
}

/// `GET /.well-known/jwks.json` — public keys that verify our access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", responses((status = 200, description = "A JSON Web Key Set (empty when signing with HS256)"), (status = 503, description = "The store has not been reachable since the server started", body = ErrorBody)))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.auth.jwks().await {
        Ok(jwks) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(jwks)).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
