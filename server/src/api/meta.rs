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
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz` — the store answers.
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
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.auth.jwks().clone()),
    )
        .into_response()
}
