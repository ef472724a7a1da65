//! Providers admins add, change, turn off and remove (console and REST), and which
//! providers are on offer at any moment: the file's (`GATEHOUSE_PROVIDERS`) and the
//! stored ones, remembered while the access memory's generation holds, so that every
//! instance follows a change within the revocation bound, as forward-auth rules do.
//!
//! A client secret is stored only sealed with the factor keys, bound to its provider's
//! id (a sealed secret copied onto another provider does not open); it never leaves the
//! server again.

use std::sync::Arc;

use app::model::{ProviderInput, ProviderView};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo,
    admin::AdminPrincipal,
    audit::AuditActor,
    upstream::{OfferedProviders, UpstreamProvider},
};
use crate::{
    config::{ProviderFields, ProviderKind, ProviderSettings, check_provider},
    domain::FieldError,
    store::{StoreError, StoredProvider},
};

fn secret_seal_context(id: &str) -> String {
    format!("provider client secret {id}")
}

fn fields_of(input: ProviderInput) -> ProviderFields {
    ProviderFields {
        id: input.id,
        name: input.name,
        kind: input.kind,
        issuer: input.issuer,
        api_url: input.api_url,
        client_id: input.client_id,
        client_secret: input.client_secret,
        sign_up: input.sign_up,
        trust_amr: input.trust_amr,
        link_verified_email: input.link_verified_email,
    }
}

impl AuthService {
    /// The providers on offer: the file's in its order, then the stored ones enabled,
    /// oldest first. Read from memory while the access memory's generation holds (every
    /// change to a stored provider moves the revocation log).
    pub(super) async fn offered_providers(&self) -> AuthResult<OfferedProviders> {
        let generation = self.access.memory_generation();
        let previous = match self.upstream.remembered.read() {
            Ok(remembered) => remembered.clone(),
            Err(_) => None,
        };
        if let (Some(generation), Some((read_in, offered))) = (generation, &previous)
            && *read_in == generation
        {
            return Ok(offered.clone());
        }
        let mut stored: Vec<StoredProvider> = self
            .store
            .stored_providers()
            .await?
            .into_iter()
            .filter(|provider| !provider.disabled && !self.is_file_provider(&provider.id))
            .collect();
        stored.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut offered = self.upstream.from_file.clone();
        for provider in stored {
            let Some(settings) = self.settings_of(&provider) else {
                continue;
            };
            // The same settings keep their discovery: a change elsewhere does not send
            // every provider's next sign-in back to its discovery document.
            let known = previous
                .iter()
                .flat_map(|(_, offered)| offered.iter())
                .find(|known| known.settings == settings)
                .cloned();
            offered.push(known.unwrap_or_else(|| Arc::new(UpstreamProvider::new(settings))));
        }
        let offered: OfferedProviders = offered.into();
        if let Some(generation) = generation
            && let Ok(mut remembered) = self.upstream.remembered.write()
        {
            *remembered = Some((generation, offered.clone()));
        }
        Ok(offered)
    }

    /// The provider `id`, if on offer.
    pub(super) async fn provider(&self, id: &str) -> AuthResult<Arc<UpstreamProvider>> {
        self.offered_providers()
            .await?
            .iter()
            .find(|provider| provider.settings.id == id)
            .cloned()
            .ok_or(AuthError::NotFound("provider"))
    }

    fn is_file_provider(&self, id: &str) -> bool {
        self.upstream
            .from_file
            .iter()
            .any(|provider| provider.settings.id == id)
    }

    /// A stored provider as the sign-in uses it; `None` (logged) when its secret does
    /// not open — the factor keys it was sealed with are gone — or it does not parse.
    fn settings_of(&self, provider: &StoredProvider) -> Option<ProviderSettings> {
        let client_secret = match &provider.sealed_client_secret {
            None => None,
            Some(sealed) => {
                let opened = self
                    .factor_keys
                    .open(&secret_seal_context(&provider.id), sealed)
                    .ok()
                    .and_then(|opened| String::from_utf8(opened.plaintext).ok());
                if opened.is_none() {
                    tracing::warn!(provider = %provider.id, "a stored provider's client secret does not open with the factor keys: not offered");
                    return None;
                }
                opened
            }
        };
        let Some(kind) = ProviderKind::parse(&provider.kind) else {
            tracing::warn!(provider = %provider.id, kind = %provider.kind, "a stored provider's kind is unknown: not offered");
            return None;
        };
        Some(settings_from(provider, kind, client_secret))
    }

    fn seal_client_secret(&self, id: &str, secret: Option<&str>) -> AuthResult<Option<String>> {
        secret
            .map(|secret| {
                self.factor_keys
                    .seal(&secret_seal_context(id), secret.as_bytes())
                    .map_err(|error| AuthError::Unexpected(error.into()))
            })
            .transpose()
    }

    async fn view_of_provider(
        &self,
        settings: &ProviderSettings,
        stored: Option<&StoredProvider>,
    ) -> AuthResult<ProviderView> {
        Ok(ProviderView {
            id: settings.id.clone(),
            kind: settings.kind.as_str().to_owned(),
            name: settings.name.clone(),
            issuer: settings.issuer.clone(),
            api_url: settings.api_url.clone(),
            client_id: settings.client_id.clone(),
            has_client_secret: match stored {
                Some(stored) => stored.sealed_client_secret.is_some(),
                None => settings.client_secret.is_some(),
            },
            sign_up: settings.sign_up,
            trust_amr: settings.trust_amr,
            link_verified_email: settings.link_verified_email,
            disabled: stored.is_some_and(|stored| stored.disabled),
            source: if stored.is_some() { "admin" } else { "file" }.to_owned(),
            callback_url: self.upstream.callback_url(&settings.id),
            linked_accounts: self.store.identity_count_at(&settings.id).await?,
            created_at: stored.map(|stored| stored.created_at),
            updated_at: stored.map(|stored| stored.updated_at),
        })
    }

    /// A stored provider's view, its secret left out of the settings it is made from
    /// (nothing here needs it open).
    async fn view_of_stored(&self, stored: &StoredProvider) -> AuthResult<ProviderView> {
        let kind = ProviderKind::parse(&stored.kind).unwrap_or(ProviderKind::Oidc);
        self.view_of_provider(&settings_from(stored, kind, None), Some(stored))
            .await
    }

    /// Every provider: the file's first (read-only here), then those added here,
    /// oldest first, with those turned off.
    pub async fn list_providers(&self, _admin: &AdminPrincipal) -> AuthResult<Vec<ProviderView>> {
        let mut views = Vec::new();
        for provider in &self.upstream.from_file {
            views.push(self.view_of_provider(&provider.settings, None).await?);
        }
        let mut stored = self.store.stored_providers().await?;
        stored.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        for provider in stored
            .iter()
            .filter(|provider| !self.is_file_provider(&provider.id))
        {
            views.push(self.view_of_stored(provider).await?);
        }
        Ok(views)
    }

    async fn stored_provider(&self, id: &str) -> AuthResult<StoredProvider> {
        if self.is_file_provider(id) {
            return Err(AuthError::Forbidden(
                "This provider is configured in the providers file (GATEHOUSE_PROVIDERS): change it there",
            ));
        }
        self.store
            .stored_providers()
            .await?
            .into_iter()
            .find(|provider| provider.id == id)
            .ok_or(AuthError::NotFound("provider"))
    }

    /// Adds a provider (audited); every instance offers it within the revocation bound.
    #[tracing::instrument(name = "add provider", skip_all, fields(by = %admin.principal().user_id()))]
    pub async fn add_provider(
        &self,
        admin: &AdminPrincipal,
        input: ProviderInput,
        client: &ClientInfo,
    ) -> AuthResult<ProviderView> {
        let settings = check_provider(fields_of(input))?;
        if self.is_file_provider(&settings.id) {
            return Err(AuthError::ProviderExists);
        }
        let now = self.now();
        let stored = StoredProvider {
            id: settings.id.clone(),
            kind: settings.kind.as_str().to_owned(),
            name: settings.name.clone(),
            issuer: settings.issuer.clone(),
            api_url: settings.api_url.clone(),
            client_id: settings.client_id.clone(),
            sealed_client_secret: self
                .seal_client_secret(&settings.id, settings.client_secret.as_deref())?,
            sign_up: settings.sign_up,
            trust_amr: settings.trust_amr,
            link_verified_email: settings.link_verified_email,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        self.store
            .add_provider(stored.clone())
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => AuthError::ProviderExists,
                other => other.into(),
            })?;
        self.audit(
            "provider_added",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&format!(
                "{} ({}, {})",
                stored.id, stored.kind, stored.issuer
            )),
        )
        .await;
        self.view_of_stored(&stored).await
    }

    /// Replaces a provider's settings (audited). The client secret left out is kept; an
    /// empty one removes it. Its kind and issuer stay while accounts are linked at it:
    /// the subjects of another issuer would sign in to them.
    #[tracing::instrument(name = "change provider", skip_all, fields(%id, by = %admin.principal().user_id()))]
    pub async fn change_provider(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        mut input: ProviderInput,
        client: &ClientInfo,
    ) -> AuthResult<ProviderView> {
        let existing = self.stored_provider(id).await?;
        if !input.id.trim().is_empty() && input.id.trim() != id {
            return Err(FieldError::new("id", "cannot change: add another provider").into());
        }
        input.id = id.to_owned();
        let keep_secret = input.client_secret.is_none();
        let settings = check_provider(fields_of(input))?;
        let moved = settings.kind.as_str() != existing.kind
            || settings.issuer != existing.issuer
            || settings.api_url != existing.api_url;
        if moved && self.store.identity_count_at(id).await? > 0 {
            return Err(AuthError::ProviderInUse);
        }
        let changed = StoredProvider {
            kind: settings.kind.as_str().to_owned(),
            name: settings.name.clone(),
            issuer: settings.issuer.clone(),
            api_url: settings.api_url.clone(),
            client_id: settings.client_id.clone(),
            sealed_client_secret: if keep_secret {
                existing.sealed_client_secret.clone()
            } else {
                self.seal_client_secret(id, settings.client_secret.as_deref())?
            },
            sign_up: settings.sign_up,
            trust_amr: settings.trust_amr,
            link_verified_email: settings.link_verified_email,
            updated_at: self.now(),
            ..existing
        };
        self.store.replace_provider(changed.clone()).await?;
        self.audit(
            "provider_changed",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&format!(
                "{} ({}, {}){}",
                changed.id,
                changed.kind,
                changed.issuer,
                if keep_secret {
                    ""
                } else {
                    ", new client secret"
                }
            )),
        )
        .await;
        self.view_of_stored(&changed).await
    }

    /// Turns a provider off (offered nowhere, signing nobody in, its links kept) or on
    /// again (audited).
    #[tracing::instrument(name = "turn provider off or on", skip_all, fields(%id, disabled, by = %admin.principal().user_id()))]
    pub async fn set_provider_disabled(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        disabled: bool,
        client: &ClientInfo,
    ) -> AuthResult<ProviderView> {
        let existing = self.stored_provider(id).await?;
        let changed = StoredProvider {
            disabled,
            updated_at: self.now(),
            ..existing
        };
        self.store.replace_provider(changed.clone()).await?;
        self.audit(
            if disabled {
                "provider_disabled"
            } else {
                "provider_enabled"
            },
            AuditActor::Principal(admin.principal()),
            client,
            Some(id),
        )
        .await;
        self.view_of_stored(&changed).await
    }

    /// Removes a provider and the links at it (audited with how many went): a provider
    /// added later under the same id starts with no accounts.
    #[tracing::instrument(name = "remove provider", skip_all, fields(%id, by = %admin.principal().user_id()))]
    pub async fn remove_provider(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        self.stored_provider(id).await?;
        let unlinked = self
            .store
            .remove_provider(id)
            .await?
            .ok_or(AuthError::NotFound("provider"))?;
        self.audit(
            "provider_removed",
            AuditActor::Principal(admin.principal()),
            client,
            Some(&format!("{id}: {unlinked} linked accounts unlinked")),
        )
        .await;
        Ok(())
    }
}

/// A stored provider's settings, with its kind parsed and its secret (if opened).
fn settings_from(
    stored: &StoredProvider,
    kind: ProviderKind,
    client_secret: Option<String>,
) -> ProviderSettings {
    ProviderSettings {
        id: stored.id.clone(),
        name: stored.name.clone(),
        kind,
        issuer: stored.issuer.clone(),
        api_url: stored.api_url.clone(),
        client_id: stored.client_id.clone(),
        client_secret,
        sign_up: stored.sign_up,
        trust_amr: stored.trust_amr,
        link_verified_email: stored.link_verified_email,
    }
}
