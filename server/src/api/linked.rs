//! Accounts at other providers linked to the caller's, over REST: list them, unlink one.
//! Linking itself is a browser's round trip through the provider (it ends only for the
//! account still signed in in that browser), so it starts on `/account`, not here.

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};

use app::model::{ErrorBody, LinkedAccountView};

use super::{
    answers::{ApiResult, Message, message},
    extract::{ApiJson, AuthUser, Client},
};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkedAccounts {
    pub linked: Vec<LinkedAccountView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unlinking {
    /// The provider's id, as the list gives it.
    pub provider: String,
    /// The account's subject at that provider, as the list gives it.
    pub subject: String,
    /// Left out (or empty) by an account without a password: a recent sign-in instead.
    #[serde(default)]
    pub current_password: String,
}

/// `GET /auth/linked-accounts` — the caller's accounts at other providers, each of
/// which signs in here.
#[utoipa::path(get, path = "/auth/linked-accounts", tag = "auth", security(("bearer" = [])), responses((status = 200, body = LinkedAccounts), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> ApiResult<Json<LinkedAccounts>> {
    let view = state.auth.linked_accounts(&principal).await?;
    Ok(Json(LinkedAccounts {
        linked: view.linked,
    }))
}

/// `POST /auth/linked-accounts/unlink` — with the password (or a recent sign-in): that
/// provider account no longer signs in here. The account's last way in stays.
#[utoipa::path(post, path = "/auth/linked-accounts/unlink", tag = "auth", request_body = Unlinking, security(("bearer" = [])), responses((status = 200, body = Message), (status = 401, description = "Missing, invalid, expired or revoked access token", body = ErrorBody), (status = 403, description = "No password came and the sign-in is too old (`reauthentication_required`)", body = ErrorBody), (status = 404, description = "No such linked account of yours", body = ErrorBody), (status = 409, description = "It is the account's last way in (`last_factor`)", body = ErrorBody), (status = 422, description = "Wrong password", body = ErrorBody), (status = 429, description = "Throttled (see Retry-After)", body = ErrorBody), (status = 400, description = "Malformed JSON", body = ErrorBody)))]
pub async fn unlink(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<Unlinking>,
) -> ApiResult<Json<Message>> {
    state
        .auth
        .unlink_identity(
            &principal,
            &body.provider,
            &body.subject,
            body.current_password,
            &client,
        )
        .await?;
    Ok(message("unlinked: that account no longer signs in here"))
}
