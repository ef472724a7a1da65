//! What the operator's CLI does. It runs beside a server that may be using the same
//! store, so it gets only an `OperatorStore`: it can add, never revoke.

use app::model::{ClientCreated, ClientInput, Role, UserView};

use super::{
    AuthResult,
    password::{HashParams, PasswordHasherPool},
    service::{new_id, view_of},
};
use crate::{
    domain::{Password, Username},
    store::{NewAuditEvent, NewUser, OperatorStore},
};

/// `gatehouse admin create`: the operator is trusted, so this may add any admin.
pub async fn create_admin(
    store: &dyn OperatorStore,
    hash_params: HashParams,
    username: &str,
    password: String,
    now: i64,
) -> AuthResult<UserView> {
    let username = Username::parse(username)?;
    let password = Password::parse_new(password, "password")?;
    let hasher = PasswordHasherPool::new(hash_params, 1, 1)?;
    let user = store
        .add_user(NewUser {
            id: new_id(),
            username: username.as_str().to_owned(),
            username_key: username.key().to_owned(),
            email: None,
            password_hash: Some(hasher.hash(&password).await?),
            role: Role::Admin,
            created_at: now,
        })
        .await?;
    let event = NewAuditEvent {
        at: now,
        kind: "admin_created",
        user_id: Some(user.id.clone()),
        username: Some(user.username.clone()),
        ip: None,
        user_agent: None,
        detail: Some("cli".to_owned()),
    };
    // As in the service: the account exists; a lost audit write is logged, not fatal.
    if let Err(error) = store.add_audit_event(event).await {
        tracing::error!(
            error = &error as &dyn std::error::Error,
            "could not write an audit event"
        );
    }
    Ok(view_of(&user))
}

/// `gatehouse clients add`: registers an OpenID Connect client, as an admin would.
pub async fn register_client(
    store: &dyn OperatorStore,
    input: ClientInput,
    now: i64,
) -> AuthResult<ClientCreated> {
    let (stored, created) = super::oidc::new_client(input, now)?;
    store.add_client(stored).await?;
    let event = NewAuditEvent {
        at: now,
        kind: "oidc_client_registered",
        user_id: None,
        username: None,
        ip: None,
        user_agent: None,
        detail: Some(format!(
            "{} {} (cli)",
            created.client.client_id, created.client.name
        )),
    };
    if let Err(error) = store.add_audit_event(event).await {
        tracing::error!(
            error = &error as &dyn std::error::Error,
            "could not write an audit event"
        );
    }
    Ok(created)
}

/// `gatehouse keys rotate`: new signing keys, as an admin's rotation makes them.
pub async fn rotate_signing_keys(
    store: &dyn OperatorStore,
    factor_keys: &super::sealing::FactorKeys,
    signing: &crate::config::SigningConfig,
    now: i64,
) -> AuthResult<app::model::KeysRotated> {
    let rotated =
        super::key_ring::rotate_keys(|key| store.add_signing_key(key), factor_keys, signing, now)
            .await?;
    let event = NewAuditEvent {
        at: now,
        kind: "signing_keys_rotated",
        user_id: None,
        username: None,
        ip: None,
        user_agent: None,
        detail: Some(format!("{} (cli)", rotated.kids.join(" "))),
    };
    if let Err(error) = store.add_audit_event(event).await {
        tracing::error!(
            error = &error as &dyn std::error::Error,
            "could not write an audit event"
        );
    }
    Ok(rotated)
}
