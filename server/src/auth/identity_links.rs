//! Linking an account at another provider to one's own, and unlinking it, on
//! `/account`. A link is only ever made by the owner's own action while signed in here
//! (or, where the admin allowed it, by an address both sides verified: see
//! `upstream.rs`): an address alone never joins two accounts.

use app::model::{LinkedAccountView, LinkedAccountsView, ProviderButton};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal,
    audit::AuditActor,
    notices::AccountChange,
    passkey::has_verified_address,
    upstream::{ProviderRedirect, UpstreamProvider, UpstreamProviders, Vouched},
    ways::password_usable,
};
use crate::store::{IdentityUnlinking, LinkedIdentity, StoreError};

impl AuthService {
    /// The caller's linked accounts, and the providers a link can be made with.
    pub async fn linked_accounts(&self, principal: &Principal) -> AuthResult<LinkedAccountsView> {
        let user = self.current_user(principal).await?;
        let offered = self.offered_providers().await?;
        let linked = self
            .store
            .identities_of(&user.id)
            .await?
            .into_iter()
            .map(|identity| LinkedAccountView {
                provider_name: offered
                    .iter()
                    .find(|provider| provider.settings.id == identity.provider)
                    .map(|provider| provider.settings.name.clone())
                    .unwrap_or_else(|| identity.provider.clone()),
                provider: identity.provider,
                subject: identity.subject,
                email: identity.email,
                linked_at: identity.linked_at,
                last_used_at: identity.last_used_at,
            })
            .collect();
        let providers = offered
            .iter()
            .map(|provider| ProviderButton {
                id: provider.settings.id.clone(),
                name: provider.settings.name.clone(),
            })
            .collect();
        let link_origins = offered
            .iter()
            .flat_map(|provider| UpstreamProviders::authorization_origins(provider))
            .collect();
        Ok(LinkedAccountsView {
            linked,
            providers,
            has_password: user.password_hash.is_some(),
            link_origins,
        })
    }

    /// Starts linking an account at provider `id` to the caller's: a way in is added,
    /// so it needs the password (or, without one, a recent sign-in), like a passkey.
    #[tracing::instrument(name = "begin provider link", skip_all, fields(provider = id, user_id = %principal.user_id()))]
    pub async fn begin_provider_link(
        &self,
        principal: &Principal,
        id: &str,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<ProviderRedirect> {
        self.provider(id).await?;
        self.require_recent_sign_in(principal, Some(current_password), client)
            .await?;
        self.begin_provider_flow(
            id,
            Some("/account".into()),
            Some(principal.user_id().to_owned()),
            client,
        )
        .await
    }

    /// The provider vouched for someone and the flow was a link asked for by `user_id`:
    /// linked, when that user is still the one signed in in this browser and the
    /// provider's account is not another's.
    pub(super) async fn link_vouched(
        &self,
        provider: &UpstreamProvider,
        user_id: &str,
        vouched: &Vouched,
        signed_in_as: Option<&Principal>,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let id = provider.settings.id.as_str();
        let name = provider.settings.name.clone();
        let refuse = |reason: &'static str| async move {
            self.audit(
                "provider_link_failed",
                AuditActor::Nobody,
                client,
                Some(&format!("{id}: {reason}")),
            )
            .await;
        };
        if signed_in_as.is_none_or(|principal| principal.user_id() != user_id) {
            refuse("the account that asked is no longer signed in here").await;
            return Err(AuthError::ProviderFlowInvalid(name));
        }
        let user = match self.store.user_by_id(user_id).await? {
            Some(user) if !user.disabled => user,
            _ => {
                refuse("the account that asked is gone or disabled").await;
                return Err(AuthError::ProviderFlowInvalid(name));
            }
        };
        let linked = self
            .store
            .link_identity(LinkedIdentity {
                provider: id.to_owned(),
                subject: vouched.subject.clone(),
                user_id: user.id.clone(),
                email: vouched.email.clone(),
                linked_at: self.now(),
                last_used_at: None,
            })
            .await;
        match linked {
            Ok(()) => {}
            Err(StoreError::Conflict("identity")) => {
                let owner = self.store.linked_identity(id, &vouched.subject).await?;
                // Linked already, to this account (another tab, or a second click).
                if owner.is_some_and(|owner| owner.user_id == user.id) {
                    return Ok(());
                }
                refuse("that account there is linked to another account here").await;
                return Err(AuthError::IdentityTaken(name));
            }
            Err(other) => return Err(other.into()),
        }
        self.audit("identity_linked", AuditActor::User(&user), client, Some(id))
            .await;
        self.tell_owner(&user, AccountChange::IdentityLinked, client, None);
        Ok(())
    }

    /// Unlinks one of the caller's linked accounts. Needs the password (or a recent
    /// sign-in) as every change to the ways in does, and keeps the account's last way
    /// in (`last_factor`).
    #[tracing::instrument(name = "unlink provider", skip_all, fields(provider, user_id = %principal.user_id()))]
    pub async fn unlink_identity(
        &self,
        principal: &Principal,
        provider: &str,
        subject: &str,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let user = self
            .confirm_current_password(principal, current_password, client)
            .await?;
        let another_way_in = password_usable(&user)
            || has_verified_address(&user)
            || self.passkey_usable(&user).await?;
        // Without another way in, one identity through a provider still offered stays.
        let keep_one_of = if another_way_in {
            None
        } else {
            Some(self.offered_provider_ids().await?)
        };
        let unlinked = self
            .store
            .unlink_identity(&user.id, provider, subject, keep_one_of.as_deref())
            .await?;
        match unlinked {
            IdentityUnlinking::Unlinked => {}
            IdentityUnlinking::NotLinked => return Err(AuthError::NotFound("linked account")),
            IdentityUnlinking::KeptAsLast => return Err(AuthError::LastFactor),
        }
        self.audit(
            "identity_unlinked",
            AuditActor::User(&user),
            client,
            Some(provider),
        )
        .await;
        self.tell_owner(&user, AccountChange::IdentityUnlinked, client, None);
        Ok(())
    }

    /// The account signs in through a provider still on offer.
    pub(super) async fn provider_usable(&self, user_id: &str) -> AuthResult<bool> {
        let offered = self.offered_provider_ids().await?;
        Ok(self
            .store
            .identities_of(user_id)
            .await?
            .iter()
            .any(|identity| offered.contains(&identity.provider)))
    }

    /// What makes a linked identity a way in: its provider is among these. The unlink
    /// rule (in the store, atomically) and the ways-in checks both take this one list.
    async fn offered_provider_ids(&self) -> AuthResult<Vec<String>> {
        Ok(self
            .offered_providers()
            .await?
            .iter()
            .map(|provider| provider.settings.id.clone())
            .collect())
    }
}
