//! Endpoints for operators and other services: health, readiness, the public keys.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::state::AppState;

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

/// `GET /.well-known/jwks.json` — public keys that verify our access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", responses((status = 200, description = "A JSON Web Key Set (empty when signing with HS256)")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.auth.jwks().clone()),
    )
        .into_response()
}
