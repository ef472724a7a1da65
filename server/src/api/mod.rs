//! The REST API: routes of both ancestors plus account, session and admin endpoints.
//! Routes are registered through `utoipa_axum`, so the OpenAPI document is generated from
//! the very definitions that serve requests.

pub mod answers;
pub mod auth;
pub mod email_code;
pub mod error;
pub mod extract;
pub mod forward;
pub mod linked;
mod market;
mod meta;
pub mod oidc;
pub mod passkeys;
pub mod providers;
pub mod recovery;
pub mod two_step;

use axum::{Router, extract::DefaultBodyLimit, response::IntoResponse, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;
use error::ApiError;

/// Auth payloads are tiny; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse",
        description = "Self-hosted authentication: sign-up, login, rotating refresh tokens, \
            revocation, sessions and roles. Errors are always \
            `{\"error\": {\"code\", \"message\"}}`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "The /auth API"),
        (name = "sessions", description = "Your signed-in devices"),
        (name = "recovery", description = "Email verification and password reset by mailed links"),
        (name = "two-step", description = "Second factors: an authenticator app (TOTP) and recovery codes"),
        (name = "passkeys", description = "Passkeys (WebAuthn): register them, sign in with one"),
        (name = "forward-auth", description = "The gate reverse proxies ask before letting a request through to an app"),
        (name = "openid-connect", description = "Gatehouse as the OpenID Connect provider of other apps"),
        (name = "admin", description = "Admins only"),
        (name = "market", description = "The /market/api paths of the MongoDB ancestor"),
        (name = "operations", description = "Health and public keys"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token, or the opaque refresh token where noted")
                    .build(),
            ),
        );
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    let auth_api = OpenApiRouter::new()
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::dashboard))
        .routes(routes!(auth::me))
        .routes(routes!(auth::sessions, auth::revoke_other_sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::sign_in_ways, auth::set_sign_in_ways))
        .routes(routes!(auth::reauthenticate))
        .routes(routes!(email_code::start))
        .routes(routes!(email_code::finish))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(recovery::change_email))
        .routes(routes!(recovery::request_verification))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(two_step::complete_sign_in))
        .routes(routes!(two_step::begin_passkey_step))
        .routes(routes!(two_step::complete_with_passkey))
        .routes(routes!(two_step::status))
        .routes(routes!(two_step::begin_totp, two_step::pending_totp))
        .routes(routes!(two_step::confirm_totp))
        .routes(routes!(two_step::regenerate_recovery_codes))
        .routes(routes!(two_step::remove))
        .routes(routes!(two_step::admin_reset))
        .routes(routes!(linked::list))
        .routes(routes!(linked::unlink))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::begin_registration))
        .routes(routes!(passkeys::finish_registration))
        .routes(routes!(passkeys::rename))
        .routes(routes!(passkeys::remove))
        .routes(routes!(passkeys::begin_sign_in))
        .routes(routes!(passkeys::finish_sign_in))
        .routes(routes!(passkeys::begin_signup))
        .routes(routes!(passkeys::finish_signup))
        .routes(routes!(passkeys::begin_reauthentication))
        .routes(routes!(passkeys::finish_reauthentication))
        .routes(routes!(auth::admin_list_users))
        .routes(routes!(auth::admin_update_user))
        .routes(routes!(auth::admin_unlock_sign_in))
        .routes(routes!(auth::admin_audit))
        .routes(routes!(forward::auth_request))
        .routes(routes!(forward::redirect))
        .routes(routes!(forward::list_rules, forward::add_rule))
        .routes(routes!(forward::change_rule, forward::remove_rule))
        .routes(routes!(providers::list_providers, providers::add_provider))
        .routes(routes!(
            providers::change_provider,
            providers::change_provider_state,
            providers::remove_provider
        ))
        .routes(routes!(oidc::list_clients, oidc::register_client))
        .routes(routes!(
            oidc::update_client,
            oidc::change_client_state,
            oidc::remove_client
        ))
        .routes(routes!(oidc::rotate_client_secret))
        .routes(routes!(oidc::rotate_keys))
        .routes(routes!(oidc::apps))
        .routes(routes!(oidc::forget_app));

    let market = OpenApiRouter::new()
        .routes(routes!(market::register))
        .routes(routes!(market::login))
        .routes(routes!(market::refresh))
        .routes(routes!(market::logout))
        .routes(routes!(market::protected))
        .routes(routes!(market::profile));

    // Merged with their full paths, not nested under a prefix: a nested route rewrites
    // every request's URI and adds a boxed layer of its own (15 allocations a request,
    // measured with a uprobe on malloc), which the bare routes did not pay.
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth_api)
        .merge(market)
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::jwks))
        .routes(routes!(oidc::discovery))
        .routes(routes!(oidc::token))
        .routes(routes!(oidc::revoke))
        .routes(routes!(oidc::introspect))
        .routes(routes!(oidc::userinfo, oidc::userinfo_by_post))
        .routes(routes!(meta::metrics))
}

/// The generated OpenAPI document (also served at `/api-docs/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().into_openapi()
}

pub fn router() -> Router<AppState> {
    let (api, openapi) = api_router().split_for_parts();
    let api = api
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    // Kept as the JSON it is served as: the document itself is over a megabyte of small
    // allocations, which the route's handler would hold (and axum clone) for good.
    let spec = openapi.to_json().ok().map(axum::body::Bytes::from);
    drop(openapi);
    Router::new()
        .merge(api)
        // Unknown paths under the API prefixes answer in JSON, not with the web 404 page.
        .route("/auth/{*rest}", axum::routing::any(not_found))
        .route("/market/api/{*rest}", axum::routing::any(not_found))
        .route(
            OPENAPI_PATH,
            get(move || async move {
                match spec {
                    Some(json) => (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        json,
                    )
                        .into_response(),
                    None => ApiError::internal().into_response(),
                }
            }),
        )
        // Swagger UI's assets are compiled into the binary (the `vendored` feature): no CDN.
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from(OPENAPI_PATH)))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}
