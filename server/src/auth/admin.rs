//! The one role check, and what only admins may do. Every admin operation takes an
//! `AdminPrincipal`, and the only way to get one is `AdminPrincipal::try_from`, so no door
//! can reach an admin operation without the check, and no door writes it again.

use app::model::{AuditEventView, Role, UserView};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal, TokenProblem, audit::AuditActor,
    view_of,
};
use crate::{
    config::AdminSignIn,
    domain::{PageRequest, SignInMethod, Way},
    store::{AuditQuery, Page, StoreError, UserChange, UserQuery},
};

/// A caller proven to hold the admin role (the store's current role, not the token's).
#[derive(Clone, Debug)]
pub struct AdminPrincipal(Principal);

impl TryFrom<Principal> for AdminPrincipal {
    type Error = AuthError;

    fn try_from(principal: Principal) -> AuthResult<AdminPrincipal> {
        if principal.role == Role::Admin {
            Ok(AdminPrincipal(principal))
        } else {
            Err(AuthError::Forbidden("This needs the admin role"))
        }
    }
}

impl AdminPrincipal {
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl AuthService {
    /// Authenticates the caller and requires the admin role: what every admin route and
    /// admin server function starts with.
    /// Where the operator asked for it (`GATEHOUSE_ADMIN_SIGN_IN`), the session must also
    /// have signed in with a second step or a passkey: a stolen password alone then
    /// reaches an account, not the admin role.
    pub async fn authenticate_admin(
        &self,
        access_token: Option<&str>,
    ) -> AuthResult<AdminPrincipal> {
        let admin = AdminPrincipal::try_from(self.authenticate(access_token).await?)?;
        self.require_admin_sign_in(admin.principal()).await?;
        Ok(admin)
    }

    async fn require_admin_sign_in(&self, principal: &Principal) -> AuthResult<()> {
        let (strong_enough, needed): (fn(SignInMethod) -> bool, _) = match self.admin_sign_in {
            AdminSignIn::Any => return Ok(()),
            AdminSignIn::SecondStep => {
                (SignInMethod::is_multi_factor, "a second step or a passkey")
            }
            AdminSignIn::Passkey => (
                |method: SignInMethod| method.ways().contains(&Way::Passkey),
                "a passkey",
            ),
        };
        let method = self
            .store
            .session_authentication(principal.user_id(), principal.session_id(), self.now())
            .await?
            .ok_or(AuthError::InvalidToken(TokenProblem::SessionEnded))?
            .method;
        if strong_enough(method) {
            Ok(())
        } else {
            Err(AuthError::StrongerSignInRequired(needed))
        }
    }

    #[tracing::instrument(name = "list users", skip_all, fields(page = page.page()))]
    pub async fn list_users(
        &self,
        _admin: &AdminPrincipal,
        search: Option<String>,
        page: PageRequest,
    ) -> AuthResult<Page<UserView>> {
        let found = self
            .store
            .list_users(&UserQuery {
                search: search
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().to_owned()),
                offset: page.offset(),
                limit: page.per_page(),
            })
            .await?;
        let mut items = Vec::with_capacity(found.items.len());
        for user in &found.items {
            items.push(UserView {
                sign_in_locked: self.sign_in_locked(&user.username).await?,
                has_second_factor: self.store.second_factors(&user.id).await?.required()
                    || self.has_passkey(&user.id).await?,
                no_password: user.password_hash.is_none(),
                ..view_of(user)
            });
        }
        Ok(Page {
            items,
            total: found.total,
        })
    }

    /// Changes a user's role or disabled flag. Disabling ends all of that user's
    /// sessions; no change may leave the service without an active admin.
    #[tracing::instrument(name = "update user", skip_all, fields(%user_id, by = %admin.principal().user_id()))]
    pub async fn update_user(
        &self,
        admin: &AdminPrincipal,
        user_id: &str,
        change: UserChange,
        client: &ClientInfo,
    ) -> AuthResult<UserView> {
        let updated =
            self.store
                .update_user(user_id, &change)
                .await
                .map_err(|error| match error {
                    StoreError::NotFound => AuthError::NotFound("user"),
                    other => other.into(),
                })?;
        if change.disabled == Some(true) {
            self.store
                .revoke_user_sessions(&updated.id, None, self.now())
                .await?;
        }
        let detail = format!(
            "by {}: role={}, disabled={}",
            admin.principal().username,
            updated.role,
            updated.disabled
        );
        self.audit(
            "user_updated",
            AuditActor::User(&updated),
            client,
            Some(&detail),
        )
        .await;
        Ok(view_of(&updated))
    }

    /// Lifts a user's sign-in lockout and cumulative cap (too many failed sign-ins).
    #[tracing::instrument(name = "unlock sign-in", skip_all, fields(%user_id, by = %admin.principal().user_id()))]
    pub async fn unlock_sign_in(
        &self,
        admin: &AdminPrincipal,
        user_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(AuthError::NotFound("user"))?;
        self.clear_sign_in_failures(&user.username).await?;
        let detail = format!("by {}", admin.principal().username);
        self.audit(
            "sign_in_unlocked",
            AuditActor::User(&user),
            client,
            Some(&detail),
        )
        .await;
        Ok(())
    }

    #[tracing::instrument(name = "audit log", skip_all, fields(page = page.page()))]
    pub async fn audit_log(
        &self,
        _admin: &AdminPrincipal,
        kind: Option<String>,
        page: PageRequest,
    ) -> AuthResult<Page<AuditEventView>> {
        let found = self
            .store
            .list_audit(&AuditQuery {
                kind: kind.filter(|k| !k.trim().is_empty()),
                user_id: None,
                offset: page.offset(),
                limit: page.per_page(),
            })
            .await?;
        Ok(Page {
            items: found
                .items
                .into_iter()
                .map(|event| AuditEventView {
                    id: event.id,
                    at: event.at,
                    kind: event.kind,
                    user_id: event.user_id,
                    username: event.username,
                    ip: event.ip,
                    detail: event.detail,
                })
                .collect(),
            total: found.total,
        })
    }
}
