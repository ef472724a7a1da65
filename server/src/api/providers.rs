//! The admins' door to the providers people sign in with: `/auth/admin/providers`. The
//! rules (the one check of a provider's fields, the sealed secret, what may change while
//! accounts are linked) are the core's (`auth/provider_admin.rs`); the file's providers
//! are listed here and changed only in the file.

use app::model::{ErrorBody, ProviderInput, ProviderStateChange, ProviderView};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};

use super::{
    answers::ApiResult,
    extract::{ApiJson, Client, RequireAdmin},
};
use crate::state::AppState;

/// `GET /auth/admin/providers` — admins only: every provider, the file's first (never a
/// client secret: `has_client_secret` says whether there is one).
#[utoipa::path(get, path = "/auth/admin/providers", tag = "admin", security(("bearer" = [])), responses((status = 200, body = Vec<ProviderView>), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn list_providers(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
) -> ApiResult<Json<Vec<ProviderView>>> {
    Ok(Json(state.auth.list_providers(&admin).await?))
}

/// `POST /auth/admin/providers` — admins only: adds a provider (audited); every instance
/// offers it within the revocation bound. Its client secret is sealed at rest.
#[utoipa::path(post, path = "/auth/admin/providers", tag = "admin", request_body = ProviderInput, security(("bearer" = [])), responses((status = 201, body = ProviderView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "A provider with that id exists (`provider_exists`)", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn add_provider(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    ApiJson(body): ApiJson<ProviderInput>,
) -> ApiResult<(StatusCode, Json<ProviderView>)> {
    let provider = state.auth.add_provider(&admin, body, &client).await?;
    Ok((StatusCode::CREATED, Json(provider)))
}

/// `PUT /auth/admin/providers/{id}` — admins only: replaces a provider's settings
/// (audited). `client_secret` left out keeps the stored one; `""` removes it. The kind
/// and issuer cannot change while accounts are linked at it (`provider_in_use`).
#[utoipa::path(put, path = "/auth/admin/providers/{id}", tag = "admin", params(("id" = String, Path, description = "Provider id")), request_body = ProviderInput, security(("bearer" = [])), responses((status = 200, body = ProviderView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin, or a provider of the providers file", body = ErrorBody), (status = 404, description = "No such provider", body = ErrorBody), (status = 409, description = "Accounts are linked at it: its kind and issuer stay (`provider_in_use`)", body = ErrorBody), (status = 422, description = "Invalid fields", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn change_provider(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProviderInput>,
) -> ApiResult<Json<ProviderView>> {
    Ok(Json(
        state
            .auth
            .change_provider(&admin, &id, body, &client)
            .await?,
    ))
}

/// `PATCH /auth/admin/providers/{id}` — admins only: `{"disabled": true}` turns a
/// provider off (offered nowhere, signing nobody in, its links kept); `false` turns it
/// on again. Audited.
#[utoipa::path(patch, path = "/auth/admin/providers/{id}", tag = "admin", params(("id" = String, Path, description = "Provider id")), request_body = ProviderStateChange, security(("bearer" = [])), responses((status = 200, body = ProviderView), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin, or a provider of the providers file", body = ErrorBody), (status = 404, description = "No such provider", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn change_provider_state(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProviderStateChange>,
) -> ApiResult<Json<ProviderView>> {
    Ok(Json(
        state
            .auth
            .set_provider_disabled(&admin, &id, body.disabled, &client)
            .await?,
    ))
}

/// `DELETE /auth/admin/providers/{id}` — admins only: removes a provider and every
/// account link at it (audited): one added later under the same id starts with none.
#[utoipa::path(delete, path = "/auth/admin/providers/{id}", tag = "admin", params(("id" = String, Path, description = "Provider id")), security(("bearer" = [])), responses((status = 204, description = "Removed"), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "Not an admin, or a provider of the providers file", body = ErrorBody), (status = 404, description = "No such provider", body = ErrorBody)))]
pub async fn remove_provider(
    State(state): State<AppState>,
    Client(client): Client,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.auth.remove_provider(&admin, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
