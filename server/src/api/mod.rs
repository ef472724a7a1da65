//! The REST API: routes of both ancestors plus account, session and admin endpoints.

pub mod error;
pub mod extract;
mod market;
mod meta;
pub mod routes;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, patch, post},
};

use crate::state::AppState;
use error::ApiError;

/// Auth payloads are tiny; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    let auth = Router::new()
        .route("/signup", post(routes::signup))
        .route("/login", post(routes::login))
        .route("/refresh", post(routes::refresh))
        .route("/logout", post(routes::logout))
        .route("/logout-all", post(routes::logout_all))
        .route("/dashboard", get(routes::dashboard))
        .route("/me", get(routes::me))
        .route(
            "/sessions",
            get(routes::sessions).delete(routes::revoke_other_sessions),
        )
        .route(
            "/sessions/{id}",
            axum::routing::delete(routes::revoke_session),
        )
        .route("/password", post(routes::change_password))
        .route("/admin/users", get(routes::admin_list_users))
        .route("/admin/users/{id}", patch(routes::admin_update_user))
        .route("/admin/audit", get(routes::admin_audit));

    let market = Router::new()
        .route("/register", post(market::register))
        .route("/login", post(market::login))
        .route("/refresh", post(market::refresh))
        .route("/logout", post(market::logout))
        .route("/protected", get(market::protected))
        .route("/profile", get(market::profile));

    let api = Router::new()
        .nest("/auth", auth)
        .nest("/market/api", market)
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));

    Router::new()
        .merge(api)
        // Unknown paths under the API prefixes answer in JSON, not with the web 404 page.
        .route("/auth/{*rest}", axum::routing::any(not_found))
        .route("/market/api/{*rest}", axum::routing::any(not_found))
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/.well-known/jwks.json", get(meta::jwks))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}
