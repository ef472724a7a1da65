//! Who a request is: the check behind every protected route and server function.

use std::sync::Arc;

use app::model::{Role, UserView};

use crate::store::UserFacts;

use super::{AuthError, AuthResult, AuthService, TokenProblem, token::AccessClaims};

/// Who is calling, proven by a verified, unrevoked access token.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Shared with the verified-token cache: every protected request makes a
    /// `Principal`, and copying its ids out of the claims cost three allocations there.
    claims: Arc<AccessClaims>,
    pub username: String,
    /// The role the store holds now, not the one written in the token.
    pub role: Role,
    pub token_expires_at: i64,
    /// The session signed in with a second factor or a passkey.
    pub second_factor: bool,
    /// The rest of what `/auth/me` shows, read with the access check.
    pub user: UserFacts,
}

impl Principal {
    pub fn user_id(&self) -> &str {
        &self.claims.sub
    }

    pub fn session_id(&self) -> &str {
        &self.claims.sid
    }

    /// The id of the access token presented.
    pub fn jti(&self) -> &str {
        &self.claims.jti
    }

    /// The caller's account as the access check found it: enabled (a disabled account
    /// fails the check), within the revocation bound of the store.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.user_id().to_owned(),
            username: self.username.clone(),
            email: self.user.email.clone(),
            email_verified: self.user.email_verified,
            role: self.role,
            disabled: false,
            created_at: self.user.created_at,
            sign_in_locked: false,
            has_second_factor: false,
            no_password: false,
        }
    }
}

impl AuthService {
    /// Signature, algorithm, type, issuer, time, then one store lookup for revocation,
    /// session and user state.
    pub async fn authenticate(&self, access_token: Option<&str>) -> AuthResult<Principal> {
        let outcome = self.check_access_token(access_token).await;
        self.metrics.token_check(outcome.is_ok());
        outcome
    }

    async fn check_access_token(&self, access_token: Option<&str>) -> AuthResult<Principal> {
        let token = access_token.ok_or(AuthError::InvalidToken(TokenProblem::Missing))?;
        let now = self.now();
        let claims = self
            .keys()
            .await?
            .signer
            .verify(token, now)
            .map_err(|problem| AuthError::InvalidToken(TokenProblem::Rejected(problem)))?;
        self.principal_of(claims, now).await
    }

    /// A token issued to an OpenID Connect client, and its claims (audience, scope).
    pub(super) async fn check_client_token(
        &self,
        access_token: Option<&str>,
    ) -> AuthResult<(Principal, Arc<AccessClaims>)> {
        let token = access_token.ok_or(AuthError::InvalidToken(TokenProblem::Missing))?;
        let now = self.now();
        let claims = self
            .keys()
            .await?
            .signer
            .verify_for_client(token, now)
            .map_err(|problem| AuthError::InvalidToken(TokenProblem::Rejected(problem)))?;
        let principal = self.principal_of(claims.clone(), now).await?;
        Ok((principal, claims))
    }

    /// The store's one lookup behind every token check: revocation, session and user.
    async fn principal_of(&self, claims: Arc<AccessClaims>, now: i64) -> AuthResult<Principal> {
        let (jti, session_id, user_id) = (&claims.jti, &claims.sid, &claims.sub);
        let remembered = self.access.remembered_status(jti, session_id, user_id, now);
        let status = match remembered {
            Some(status) => status,
            None => self
                .access
                .access_status(jti, session_id, user_id, now)
                .await?
                .ok_or(AuthError::InvalidToken(TokenProblem::UserInactive))?,
        };
        if status.jti_revoked {
            return Err(AuthError::InvalidToken(TokenProblem::Revoked));
        }
        if !status.session_active {
            return Err(AuthError::InvalidToken(TokenProblem::SessionEnded));
        }
        if status.user_disabled {
            return Err(AuthError::InvalidToken(TokenProblem::UserInactive));
        }
        Ok(Principal {
            token_expires_at: claims.exp,
            claims,
            username: status.username,
            role: status.role,
            second_factor: status.session_second_factor,
            user: status.user,
        })
    }
}
