//! The ways an account signs in, as its owner chose them on `/account`: a password, a
//! passkey, a code by email (and, not turned off here but unlinked, another provider). A way turned off is refused at the one place every sign-in
//! ends (`admit`, and before a second step is asked for), after its proof was checked, so
//! the refusal tells nothing to someone guessing.

use app::model::{SignInWaysView, WayView};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal, audit::AuditActor,
    notices::AccountChange,
};
use crate::{
    domain::{Way, WaysOff},
    store::UserRecord,
};

/// What the account has for each way, whatever its owner allows.
struct Readiness {
    password: bool,
    passkey: bool,
    email_code: bool,
    /// An account at a configured provider is linked: not a way the owner turns off
    /// here (unlinking it is), but a way in all the same.
    provider: bool,
}

impl Readiness {
    async fn of(service: &AuthService, user: &UserRecord) -> AuthResult<Readiness> {
        Ok(Readiness {
            password: user.password_hash.is_some(),
            passkey: service.has_passkey(&user.id).await?,
            email_code: user.email.is_some() && user.email_verified,
            provider: service.provider_usable(&user.id).await?,
        })
    }

    fn view(&self, off: WaysOff) -> SignInWaysView {
        SignInWaysView {
            password: WayView {
                on: !off.password,
                ready: self.password,
            },
            passkey: WayView {
                on: !off.passkey,
                ready: self.passkey,
            },
            email_code: WayView {
                on: !off.email_code,
                ready: self.email_code,
            },
        }
    }

    /// Some way the owner allows and the account has.
    fn any_usable(&self, off: WaysOff) -> bool {
        (self.password && !off.password)
            || (self.passkey && !off.passkey)
            || (self.email_code && !off.email_code)
            || self.provider
    }
}

impl AuthService {
    pub async fn sign_in_ways(&self, principal: &Principal) -> AuthResult<SignInWaysView> {
        let user = self.current_user(principal).await?;
        let ready = Readiness::of(self, &user).await?;
        Ok(ready.view(user.ways_off))
    }

    /// Turns ways on and off for the caller's account. Needs the current password (or,
    /// for an account without one, a recent sign-in), as every change to how the account
    /// is entered does; refuses (`last_factor`) to leave no way the account can use. A
    /// way turned off also ends the caller's other sessions: someone who turns the
    /// password off because it leaked wants the sessions it opened gone.
    #[tracing::instrument(name = "set sign-in ways", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn set_sign_in_ways(
        &self,
        principal: &Principal,
        off: WaysOff,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<SignInWaysView> {
        let user = self
            .confirm_current_password(principal, current_password, client)
            .await?;
        let ready = Readiness::of(self, &user).await?;
        if off == user.ways_off {
            return Ok(ready.view(off));
        }
        if !ready.any_usable(off) {
            return Err(AuthError::LastFactor);
        }
        let newly_off = Way::ALL
            .into_iter()
            .any(|way| off.is_off(way) && !user.ways_off.is_off(way));
        let user = self.store.set_ways_off(&user.id, off).await?;
        if newly_off {
            self.store
                .revoke_user_sessions(&user.id, Some(principal.session_id()), self.now())
                .await?;
        }
        let detail = match off.stored() {
            none if none.is_empty() => "off: none".to_owned(),
            names => format!("off: {names}"),
        };
        self.audit(
            "sign_in_ways_changed",
            AuditActor::User(&user),
            client,
            Some(&detail),
        )
        .await;
        self.tell_owner(&user, AccountChange::WaysChanged, client, None);
        Ok(ready.view(off))
    }

    /// A passkey the owner may sign in with: one registered, and passkeys not turned off.
    pub(super) async fn passkey_usable(&self, user: &UserRecord) -> AuthResult<bool> {
        Ok(!user.ways_off.passkey && self.has_passkey(&user.id).await?)
    }

    /// Refuses a right proof of a way the owner turned off (audited).
    pub(super) async fn refuse_if_off(
        &self,
        user: &UserRecord,
        ways: &[Way],
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let Some(way) = ways.iter().copied().find(|way| user.ways_off.is_off(*way)) else {
            return Ok(());
        };
        self.audit(
            "login_refused_way_off",
            AuditActor::User(user),
            client,
            Some(way.name()),
        )
        .await;
        Err(AuthError::WayOff(way))
    }
}

/// A password the owner may sign in with: set and not turned off.
pub(super) fn password_usable(user: &UserRecord) -> bool {
    user.password_hash.is_some() && !user.ways_off.password
}
