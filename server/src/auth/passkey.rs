//! Passkeys (WebAuthn, through webauthn-rs): a signed-in user registers one or more, and
//! "Sign in with a passkey" uses a discoverable credential — no username typed — to start
//! an ordinary session: the same tokens, audit events and lockout as a password sign-in.
//! A passkey proves possession and user verification at once, so it needs no second
//! step even on an account with an authenticator app.
//!
//! Each ceremony's server-side state is stored between its two halves: single use, for
//! five minutes, bound to the caller (the registering user; in a browser, also to an
//! HttpOnly cookie holding the ceremony's id). The relying party's id and origin come
//! from configuration, never from a request.

use app::model::PasskeyView;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, IssuedTokens, Principal, audit::AuditActor,
    notices::AccountChange, token::random_token, ways::password_usable,
};
use crate::{
    domain::{CEREMONY_PREFIX, SecondStep, SignInMethod, TicketHash},
    store::{
        CeremonyPurpose, NewCeremony, NewPasskey, PasskeyRecord, PasskeyRemoval, StoreError,
        UserRecord,
    },
};

const CEREMONY_TTL_SECS: i64 = 300;
const MAX_PASSKEYS: usize = 20;
const MAX_NAME_CHARS: usize = 64;

/// What the browser needs to run a ceremony, and the id of its server-side half.
pub struct Ceremony {
    /// `{"publicKey": …}` as `navigator.credentials.create/get` take it (in JSON form).
    pub options: serde_json::Value,
    pub id: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ceremony([redacted])")
    }
}

/// The relying party: `origin` is the public URL people open Gatehouse at. Browsers do
/// not accept an IP address as a relying-party id, so a loopback address is taken as
/// `localhost` (the quick start's `http://127.0.0.1:3000` has passkeys at
/// `http://localhost:3000`).
pub fn relying_party(origin: &str) -> Result<Webauthn, String> {
    let mut url = Url::parse(origin).map_err(|error| format!("{origin:?}: {error}"))?;
    if let Some(url::Host::Ipv4(ip)) = url.host()
        && ip.is_loopback()
    {
        url.set_host(Some("localhost"))
            .map_err(|error| error.to_string())?;
    }
    if matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback()) {
        url.set_host(Some("localhost"))
            .map_err(|error| error.to_string())?;
    }
    let rp_id = url
        .host_str()
        .ok_or_else(|| format!("{origin:?} has no host"))?
        .to_owned();
    WebauthnBuilder::new(&rp_id, &url)
        .and_then(|builder| builder.rp_name("Gatehouse").build())
        .map_err(|error| format!("{origin:?}: {error}"))
}

pub(super) fn unexpected(error: impl std::fmt::Display) -> AuthError {
    AuthError::Unexpected(error.to_string().into())
}

/// A passkey's name as its owner typed it: trimmed, 1–64 characters, no control ones.
pub(super) fn passkey_name(name: &str) -> AuthResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Ok("Passkey".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AuthError::Invalid(crate::domain::FieldError::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} printable characters"),
        )));
    }
    Ok(name.to_owned())
}

/// What a client sent as a credential, parsed: garbage is a 422, not a 500.
pub(super) fn parse_credential<T: serde::de::DeserializeOwned>(credential: &str) -> AuthResult<T> {
    serde_json::from_str(credential).map_err(|_| {
        AuthError::Invalid(crate::domain::FieldError::new(
            "credential",
            "is not a WebAuthn credential in JSON",
        ))
    })
}

impl AuthService {
    /// Whether the user has registered a passkey: the one answer for the code page's
    /// offer, the step-up ticket and the admin console.
    pub(super) async fn has_passkey(&self, user_id: &str) -> AuthResult<bool> {
        Ok(!self.store.passkeys_of(user_id).await?.is_empty())
    }

    pub(super) async fn open_ceremony(
        &self,
        purpose: CeremonyPurpose,
        user_id: Option<String>,
        state: String,
        options: serde_json::Value,
    ) -> AuthResult<Ceremony> {
        let id = random_token(CEREMONY_PREFIX)?;
        let now = self.now();
        self.store
            .create_ceremony(NewCeremony {
                hash: TicketHash::of_issued(&id),
                user_id,
                purpose,
                state,
                created_at: now,
                expires_at: now + CEREMONY_TTL_SECS,
            })
            .await?;
        Ok(Ceremony {
            options,
            id,
            expires_in: CEREMONY_TTL_SECS,
        })
    }

    pub(super) async fn close_ceremony(
        &self,
        id: &str,
        purpose: CeremonyPurpose,
    ) -> AuthResult<crate::store::CeremonyRecord> {
        let hash =
            TicketHash::of_presented_with(CEREMONY_PREFIX, id).ok_or(AuthError::InvalidCeremony)?;
        self.store
            .take_ceremony(&hash, purpose, self.now())
            .await?
            .ok_or(AuthError::InvalidCeremony)
    }

    /// Starts registering a passkey for the caller; the caller's passkeys are excluded,
    /// and the authenticator is asked for a discoverable credential with user
    /// verification. A passkey is a new way in: it needs a recent sign-in or the current
    /// password, at the start and again at the finish.
    #[tracing::instrument(name = "begin passkey registration", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn begin_passkey_registration(
        &self,
        principal: &Principal,
        current_password: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<Ceremony> {
        self.require_recent_sign_in(principal, current_password, client)
            .await?;
        let user_handle = Uuid::parse_str(principal.user_id()).map_err(unexpected)?;
        let existing = self.store.passkeys_of(principal.user_id()).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(AuthError::Forbidden("An account has at most 20 passkeys"));
        }
        let exclude = existing
            .iter()
            .filter_map(|record| serde_json::from_str::<Passkey>(&record.passkey).ok())
            .map(|passkey| passkey.cred_id().clone())
            .collect::<Vec<_>>();
        let (challenge, state) = self
            .webauthn
            .start_passkey_registration(
                user_handle,
                &principal.username,
                &principal.username,
                Some(exclude),
            )
            .map_err(unexpected)?;
        let mut options = serde_json::to_value(&challenge).map_err(unexpected)?;
        // Sign-in without a username needs the credential on the authenticator.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
        let state = serde_json::to_string(&state).map_err(unexpected)?;
        self.open_ceremony(
            CeremonyPurpose::Register,
            Some(principal.user_id().to_owned()),
            state,
            options,
        )
        .await
    }

    #[tracing::instrument(name = "finish passkey registration", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        ceremony_id: &str,
        credential: &str,
        name: &str,
        client: &ClientInfo,
    ) -> AuthResult<PasskeyView> {
        let name = passkey_name(name)?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        self.require_recent_sign_in(principal, None, client).await?;
        let ceremony = self
            .close_ceremony(ceremony_id, CeremonyPurpose::Register)
            .await?;
        if ceremony.user_id.as_deref() != Some(principal.user_id()) {
            return Err(AuthError::InvalidCeremony);
        }
        let state: PasskeyRegistration =
            serde_json::from_str(&ceremony.state).map_err(unexpected)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|error| {
                tracing::info!(%error, "passkey registration refused");
                AuthError::InvalidPasskey
            })?;
        let credential_bytes: &[u8] = passkey.cred_id().as_ref();
        let credential_id = URL_SAFE_NO_PAD.encode(credential_bytes);
        let now = self.now();
        self.store
            .add_passkey(NewPasskey {
                credential_id: credential_id.clone(),
                user_id: principal.user_id().to_owned(),
                name: name.clone(),
                passkey: serde_json::to_string(&passkey).map_err(unexpected)?,
                created_at: now,
            })
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => AuthError::PasskeyExists,
                other => other.into(),
            })?;
        self.audit(
            "passkey_added",
            AuditActor::Principal(principal),
            client,
            Some(&name),
        )
        .await;
        if let Ok(user) = self.current_user(principal).await {
            self.tell_owner(&user, AccountChange::PasskeyAdded, client, None);
        }
        Ok(PasskeyView {
            id: credential_id,
            name,
            created_at: now,
            last_used_at: None,
        })
    }

    /// Starts a sign-in with a discoverable passkey: anyone may, so it is rate-limited
    /// per address (each start stores a ceremony).
    pub async fn begin_passkey_sign_in(&self, client: &ClientInfo) -> AuthResult<Ceremony> {
        self.ceremony_limiter
            .hit(&client.throttle_key(), self.now())
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let (challenge, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(unexpected)?;
        let mut options = serde_json::to_value(&challenge).map_err(unexpected)?;
        // A button starts this one: the modal prompt, not conditional (autofill) mediation.
        if let Some(options) = options.as_object_mut() {
            options.remove("mediation");
        }
        let state = serde_json::to_string(&state).map_err(unexpected)?;
        self.open_ceremony(CeremonyPurpose::SignIn, None, state, options)
            .await
    }

    #[tracing::instrument(name = "passkey sign-in", skip_all, fields(user_id))]
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony_id: &str,
        credential: &str,
        client: &ClientInfo,
    ) -> AuthResult<IssuedTokens> {
        let credential: PublicKeyCredential = parse_credential(credential)?;
        let ceremony = self
            .close_ceremony(ceremony_id, CeremonyPurpose::SignIn)
            .await?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(&ceremony.state).map_err(unexpected)?;
        let (user_handle, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(|_| AuthError::InvalidPasskey)?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential_id);
        let now = self.now();
        let Some(record) = self.store.passkey_by_credential(&credential_id).await? else {
            self.audit(
                "passkey_failed",
                AuditActor::Nobody,
                client,
                Some("unknown passkey"),
            )
            .await;
            return Err(AuthError::InvalidPasskey);
        };
        // The user handle the authenticator returns must be the one it was registered
        // under: a credential id alone is not who someone is.
        if record.user_id != user_handle.to_string() {
            return Err(AuthError::InvalidPasskey);
        }
        let user = self
            .store
            .user_by_id(&record.user_id)
            .await?
            .ok_or(AuthError::InvalidPasskey)?;
        tracing::Span::current().record("user_id", user.id.as_str());
        let attempt = self
            .reserve_attempt(self.login_keys(&user.username, client), now)
            .await?;
        let mut passkey: Passkey = serde_json::from_str(&record.passkey).map_err(unexpected)?;
        let verified =
            self.webauthn
                .finish_discoverable_authentication_v2(&credential, state, &passkey);
        let result = match verified {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(%error, "passkey assertion refused");
                self.audit("passkey_failed", AuditActor::User(&user), client, None)
                    .await;
                return Err(AuthError::InvalidPasskey);
            }
        };
        passkey.update_credential(&result);
        self.store
            .record_passkey_use(
                &credential_id,
                &serde_json::to_string(&passkey).map_err(unexpected)?,
                now,
            )
            .await?;
        self.admit(&user, attempt, client, now, SignInMethod::Passkey)
            .await
    }

    /// Whether the second step of this ticket's sign-in can be a passkey (the code page
    /// offers one only then). A dead or unknown ticket offers none.
    pub async fn step_up_offers_passkey(&self, ticket: &str) -> AuthResult<bool> {
        let user = match self.step_up_in_progress(ticket).await {
            Ok((_, user)) => user,
            Err(AuthError::InvalidStepUp) => return Ok(false),
            Err(error) => return Err(error),
        };
        self.has_passkey(&user.id).await
    }

    /// A passkey as the second step of a password sign-in: its options name the
    /// account's own passkeys only.
    pub async fn begin_step_up_passkey(
        &self,
        ticket: &str,
        client: &ClientInfo,
    ) -> AuthResult<Ceremony> {
        let (_, user) = self.step_up_in_progress(ticket).await?;
        self.refuse_while_locked_out(&self.login_keys(&user.username, client))
            .await?;
        self.own_passkey_challenge(&user.id, CeremonyPurpose::StepUp)
            .await
    }

    /// A ceremony whose options name `user_id`'s own passkeys only, bound to that user:
    /// for proving again who an already known user is.
    pub(super) async fn own_passkey_challenge(
        &self,
        user_id: &str,
        purpose: CeremonyPurpose,
    ) -> AuthResult<Ceremony> {
        let passkeys = self
            .store
            .passkeys_of(user_id)
            .await?
            .iter()
            .filter_map(|record| serde_json::from_str::<Passkey>(&record.passkey).ok())
            .collect::<Vec<_>>();
        if passkeys.is_empty() {
            return Err(AuthError::NotFound("passkey"));
        }
        let (challenge, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(unexpected)?;
        let options = serde_json::to_value(&challenge).map_err(unexpected)?;
        let state = serde_json::to_string(&state).map_err(unexpected)?;
        self.open_ceremony(purpose, Some(user_id.to_owned()), state, options)
            .await
    }

    /// Checks an assertion against the ceremony `own_passkey_challenge` opened for
    /// `user`, and records the passkey's use. A refused assertion is audited as
    /// `failure_event`.
    pub(super) async fn verify_own_passkey(
        &self,
        user: &UserRecord,
        ceremony: crate::store::CeremonyRecord,
        credential: &PublicKeyCredential,
        client: &ClientInfo,
        failure_event: &'static str,
    ) -> AuthResult<()> {
        if ceremony.user_id.as_deref() != Some(user.id.as_str()) {
            return Err(AuthError::InvalidCeremony);
        }
        let state: PasskeyAuthentication =
            serde_json::from_str(&ceremony.state).map_err(unexpected)?;
        let result = match self
            .webauthn
            .finish_passkey_authentication(credential, &state)
        {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(%error, "passkey assertion refused");
                self.audit(
                    failure_event,
                    AuditActor::User(user),
                    client,
                    Some("passkey"),
                )
                .await;
                return Err(AuthError::InvalidPasskey);
            }
        };
        let credential_bytes: &[u8] = result.cred_id().as_ref();
        let credential_id = URL_SAFE_NO_PAD.encode(credential_bytes);
        // Removed while its ceremony was open, the passkey proves nothing any more.
        let Some(record) = self
            .store
            .passkey_by_credential(&credential_id)
            .await?
            .filter(|record| record.user_id == user.id)
        else {
            return Err(AuthError::InvalidPasskey);
        };
        let mut passkey: Passkey = serde_json::from_str(&record.passkey).map_err(unexpected)?;
        passkey.update_credential(&result);
        self.store
            .record_passkey_use(
                &credential_id,
                &serde_json::to_string(&passkey).map_err(unexpected)?,
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// Completes a password sign-in with one of the account's passkeys. A refused
    /// assertion counts like a wrong code.
    #[tracing::instrument(name = "complete sign-in with a passkey", skip_all)]
    pub async fn complete_sign_in_with_passkey(
        &self,
        ticket: &str,
        ceremony_id: &str,
        credential: &str,
        client: &ClientInfo,
    ) -> AuthResult<IssuedTokens> {
        let credential: PublicKeyCredential = parse_credential(credential)?;
        let (hash, user, attempt) = self.guess_at_step_up(ticket, client).await?;
        let ceremony = self
            .close_ceremony(ceremony_id, CeremonyPurpose::StepUp)
            .await?;
        self.verify_own_passkey(&user, ceremony, &credential, client, "second_factor_failed")
            .await?;
        self.finish_step_up(&hash, &user, attempt, client, SecondStep::Passkey)
            .await
    }

    pub async fn passkeys(&self, principal: &Principal) -> AuthResult<Vec<PasskeyView>> {
        Ok(self
            .store
            .passkeys_of(principal.user_id())
            .await?
            .into_iter()
            .map(view_of)
            .collect())
    }

    /// Names one of the caller's passkeys anew (the name only tells the owner's passkeys
    /// apart, so the access token is enough).
    #[tracing::instrument(name = "rename passkey", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn rename_passkey(
        &self,
        principal: &Principal,
        credential_id: &str,
        name: &str,
        client: &ClientInfo,
    ) -> AuthResult<PasskeyView> {
        let name = passkey_name(name)?;
        if !self
            .store
            .rename_passkey(principal.user_id(), credential_id, &name)
            .await?
        {
            return Err(AuthError::NotFound("passkey"));
        }
        self.audit(
            "passkey_renamed",
            AuditActor::Principal(principal),
            client,
            Some(&name),
        )
        .await;
        // Removed since (another tab): the rename was stored, but there is no passkey to
        // show, which is what the caller would see next anyway.
        self.store
            .passkey_by_credential(credential_id)
            .await?
            .filter(|record| record.user_id == principal.user_id())
            .map(view_of)
            .ok_or(AuthError::NotFound("passkey"))
    }

    /// Removes one of the caller's passkeys: needs the password (counted like a sign-in;
    /// an account without one, a recent sign-in) and ends every other session of the
    /// user. An account's last way in stays: with no password and no verified address,
    /// its last passkey is not removed (`last_factor`).
    #[tracing::instrument(name = "remove passkey", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn remove_passkey(
        &self,
        principal: &Principal,
        credential_id: &str,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let user = self
            .confirm_current_password(principal, current_password, client)
            .await?;
        let has_another_way_in = password_usable(&user)
            || has_verified_address(&user)
            || self.provider_usable(&user.id).await?;
        let removal = if has_another_way_in {
            match self
                .store
                .remove_passkeys(&user.id, Some(credential_id))
                .await?
            {
                0 => PasskeyRemoval::NoSuchPasskey,
                _ => PasskeyRemoval::Removed,
            }
        } else {
            self.store
                .remove_passkey_unless_last(&user.id, credential_id)
                .await?
        };
        match removal {
            PasskeyRemoval::Removed => {}
            PasskeyRemoval::NoSuchPasskey => return Err(AuthError::NotFound("passkey")),
            PasskeyRemoval::KeptAsLast => return Err(AuthError::LastFactor),
        }
        let ended = self
            .store
            .revoke_user_sessions(&user.id, Some(principal.session_id()), self.now())
            .await?;
        self.audit("passkey_removed", AuditActor::User(&user), client, None)
            .await;
        self.tell_owner(&user, AccountChange::PasskeyRemoved, client, None);
        Ok(ended)
    }
}

/// A verified address is a way in of its own: a code by email, or a reset link that sets
/// a password.
pub(super) fn has_verified_address(user: &UserRecord) -> bool {
    user.email.is_some() && user.email_verified
}

/// What the owner sees of a stored passkey.
fn view_of(record: PasskeyRecord) -> PasskeyView {
    PasskeyView {
        id: record.credential_id,
        name: record.name,
        created_at: record.created_at,
        last_used_at: record.last_used_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_comes_from_the_public_url_and_loopback_is_localhost() {
        assert!(relying_party("https://auth.example.org").is_ok());
        assert!(relying_party("http://127.0.0.1:3000").is_ok());
        assert!(relying_party("not a url").is_err());
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential() {
        let webauthn = relying_party("https://auth.example.org").unwrap();
        let (challenge, _) = webauthn
            .start_passkey_registration(Uuid::now_v7(), "ada", "ada", None)
            .unwrap();
        let options = serde_json::to_value(&challenge).unwrap();
        assert_eq!(options["publicKey"]["rp"]["id"], "auth.example.org");
        assert!(options["publicKey"]["authenticatorSelection"].is_object());
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(passkey_name("  laptop ").unwrap(), "laptop");
        assert_eq!(passkey_name("").unwrap(), "Passkey");
        assert!(passkey_name(&"x".repeat(65)).is_err());
        assert!(passkey_name("a\u{0}b").is_err());
    }
}
