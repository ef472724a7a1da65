//! Second factors: an authenticator app (TOTP, RFC 6238) with ten one-time recovery
//! codes (the second step of a sign-in that uses them is `step_up`). A code is accepted
//! for at most one time step, at most once (the store keeps the newest step used), with
//! one step of clock drift either way.

use app::model::{TotpSetupView, TotpState, TwoStepView};
use totp_rs::{Builder, Totp};

use super::{
    AuthError, AuthResult, AuthService, ClientInfo, Principal, admin::AdminPrincipal,
    audit::AuditActor, notices::AccountChange,
};
use crate::{
    domain::{OneTimeCode, RECOVERY_CODE_BYTES, RecoveryCode, RecoveryCodeHash},
    store::{NewTotp, StoreError, StoreResult, TotpRecord, UserRecord},
};

const RECOVERY_CODES: usize = 10;
/// 160 bits, as RFC 4226 recommends.
const TOTP_SECRET_BYTES: usize = 20;
/// What authenticator apps show beside the account name.
const TOTP_ISSUER: &str = "Gatehouse";

/// The RFC 6238 generator for a secret: SHA-1, six digits, 30-second steps, one step of
/// drift — what every authenticator app assumes.
fn totp_of(secret: Vec<u8>, username: &str) -> AuthResult<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(username)
        .with_issuer(Some(TOTP_ISSUER))
        .build()
        .map_err(|error| AuthError::Unexpected(error.to_string().into()))
}

/// The time step a code belongs to at `now` (±1 step), if any.
fn step_of(totp: &Totp, code: &str, now: i64) -> Option<i64> {
    let now = u64::try_from(now).ok()?;
    totp.check(code, now)
        .and_then(|step| i64::try_from(step).ok())
}

pub(super) fn random_bytes<const N: usize>() -> AuthResult<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| AuthError::Unexpected(error.to_string().into()))?;
    Ok(bytes)
}

/// Ten new recovery codes, as their owner types them.
fn new_recovery_codes() -> AuthResult<Vec<String>> {
    (0..RECOVERY_CODES)
        .map(|_| Ok(RecoveryCode::from_random(&random_bytes::<RECOVERY_CODE_BYTES>()?).display()))
        .collect()
}

/// What the store keeps of recovery codes: their hashes.
fn hashes_of(codes: &[String]) -> Vec<RecoveryCodeHash> {
    codes
        .iter()
        .filter_map(|code| match OneTimeCode::parse(code) {
            Ok(OneTimeCode::Recovery(hash)) => Some(hash),
            _ => None,
        })
        .collect()
}

impl AuthService {
    /// Recovery codes sealed for `user_id`, to show on the page.
    fn seal_codes(&self, user_id: &str, codes: &[String]) -> AuthResult<String> {
        Ok(self
            .factor_keys
            .seal(user_id, codes.join("\n").as_bytes())?)
    }

    fn open_codes(&self, user_id: &str, sealed: &str) -> AuthResult<Vec<String>> {
        let codes = self.factor_keys.open(user_id, sealed)?.plaintext;
        Ok(String::from_utf8(codes)
            .map_err(|error| AuthError::Unexpected(error.into()))?
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// Whether `code` is good for `user` now, spending it if so.
    pub(super) async fn accepts(
        &self,
        user: &UserRecord,
        code: &OneTimeCode,
        now: i64,
    ) -> AuthResult<bool> {
        match code {
            OneTimeCode::Recovery(hash) => Ok(self.store.use_recovery_code(&user.id, hash).await?),
            OneTimeCode::Totp(digits) => {
                let factors = self.store.second_factors(&user.id).await?;
                let Some(totp) = factors.totp.filter(|totp| totp.confirmed_at.is_some()) else {
                    return Ok(false);
                };
                let opened = self.factor_keys.open(&user.id, &totp.sealed_secret)?;
                let generator = totp_of(opened.plaintext.clone(), &user.username)?;
                let Some(step) = step_of(&generator, digits, now) else {
                    return Ok(false);
                };
                let resealed = if opened.stale {
                    Some(self.factor_keys.seal(&user.id, &opened.plaintext)?)
                } else {
                    None
                };
                Ok(self
                    .store
                    .use_totp_step(&user.id, step, resealed.as_deref())
                    .await?)
            }
        }
    }

    pub async fn two_step(&self, principal: &Principal) -> AuthResult<TwoStepView> {
        let factors = self.store.second_factors(principal.user_id()).await?;
        let totp = match &factors.totp {
            None => TotpState::Off,
            Some(TotpRecord {
                confirmed_at: None, ..
            }) => TotpState::Pending,
            Some(_) => TotpState::On,
        };
        Ok(TwoStepView {
            totp,
            recovery_codes_left: factors.recovery_codes_left,
        })
    }

    /// Starts setting up an authenticator app (again, if an earlier set-up was never
    /// confirmed): a new secret and ten recovery codes, shown until confirmed. Like every
    /// step of the set-up, it needs a recent sign-in or the current password.
    #[tracing::instrument(name = "begin totp", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn begin_totp(
        &self,
        principal: &Principal,
        current_password: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<TotpSetupView> {
        self.require_recent_sign_in(principal, current_password, client)
            .await?;
        let secret = random_bytes::<TOTP_SECRET_BYTES>()?;
        let codes = new_recovery_codes()?;
        let user_id = principal.user_id();
        self.store
            .begin_totp(NewTotp {
                user_id: user_id.to_owned(),
                sealed_secret: self.factor_keys.seal(user_id, &secret)?,
                sealed_recovery_codes: self.seal_codes(user_id, &codes)?,
                created_at: self.now(),
            })
            .await?;
        self.audit(
            "totp_setup_started",
            AuditActor::Principal(principal),
            client,
            None,
        )
        .await;
        setup_view(secret.to_vec(), codes, &principal.username)
    }

    /// The set-up in progress, to show again (a reload of the page); `None` when none is.
    pub async fn pending_totp(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<Option<TotpSetupView>> {
        self.require_recent_sign_in(principal, None, client).await?;
        let factors = self.store.second_factors(principal.user_id()).await?;
        let Some(TotpRecord {
            sealed_secret,
            sealed_recovery_codes: Some(sealed_codes),
            confirmed_at: None,
            ..
        }) = factors.totp
        else {
            return Ok(None);
        };
        let user_id = principal.user_id();
        let secret = self.factor_keys.open(user_id, &sealed_secret)?.plaintext;
        let codes = self.open_codes(user_id, &sealed_codes)?;
        setup_view(secret, codes, &principal.username).map(Some)
    }

    /// Turns the factor on with the first code the app shows; from then on every
    /// sign-in asks for a code. The recovery codes shown during set-up become the only
    /// ones, kept as hashes.
    #[tracing::instrument(name = "confirm totp", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        current_password: Option<String>,
        client: &ClientInfo,
    ) -> AuthResult<()> {
        let digits = OneTimeCode::parse_totp(code)?;
        self.require_recent_sign_in(principal, current_password, client)
            .await?;
        let now = self.now();
        let factors = self.store.second_factors(principal.user_id()).await?;
        let pending = match factors.totp {
            Some(TotpRecord {
                confirmed_at: Some(_),
                ..
            }) => return Err(AuthError::SecondFactorExists),
            Some(TotpRecord {
                sealed_secret,
                sealed_recovery_codes: Some(sealed_codes),
                confirmed_at: None,
                ..
            }) => (sealed_secret, sealed_codes),
            _ => return Err(AuthError::NotFound("authenticator set-up in progress")),
        };
        let user_id = principal.user_id();
        let secret = self.factor_keys.open(user_id, &pending.0)?.plaintext;
        let attempt = self
            .reserve_attempt(self.login_keys(&principal.username, client), now)
            .await?;
        let Some(step) = step_of(&totp_of(secret, &principal.username)?, &digits, now) else {
            return Err(AuthError::InvalidCode);
        };
        self.attempt_was_right(attempt).await?;
        let hashes = hashes_of(&self.open_codes(user_id, &pending.1)?);
        if !self.store.confirm_totp(user_id, step, &hashes, now).await? {
            return Err(AuthError::NotFound("authenticator set-up in progress"));
        }
        self.audit(
            "totp_enabled",
            AuditActor::Principal(principal),
            client,
            None,
        )
        .await;
        if let Ok(user) = self.current_user(principal).await {
            self.tell_owner(&user, AccountChange::AuthenticatorAdded, client, None);
        }
        Ok(())
    }

    /// Ten new recovery codes for a confirmed authenticator app, replacing every earlier
    /// one at once (a list lost, used up or seen by someone else). Like the set-up, it
    /// needs a recent sign-in or the current password. With `keep_to_show`, a sealed copy
    /// stays for the page until its owner says they are saved: a form sent without
    /// JavaScript gets a redirect, not the codes. Over REST the answer is the only copy.
    #[tracing::instrument(name = "regenerate recovery codes", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        current_password: Option<String>,
        client: &ClientInfo,
        keep_to_show: bool,
    ) -> AuthResult<Vec<String>> {
        self.require_recent_sign_in(principal, current_password, client)
            .await?;
        let user_id = principal.user_id();
        let codes = new_recovery_codes()?;
        let sealed = if keep_to_show {
            Some(self.seal_codes(user_id, &codes)?)
        } else {
            None
        };
        if !self
            .store
            .replace_recovery_codes(user_id, &hashes_of(&codes), sealed.as_deref())
            .await?
        {
            return Err(AuthError::NotFound("authenticator app"));
        }
        self.audit(
            "recovery_codes_regenerated",
            AuditActor::Principal(principal),
            client,
            None,
        )
        .await;
        if let Ok(user) = self.current_user(principal).await {
            self.tell_owner(&user, AccountChange::RecoveryCodesReplaced, client, None);
        }
        Ok(codes)
    }

    /// New recovery codes kept to show, until their owner says they are saved; like the
    /// secret of a set-up, only to a recent sign-in. `None` when there are none.
    pub async fn shown_recovery_codes(
        &self,
        principal: &Principal,
        client: &ClientInfo,
    ) -> AuthResult<Option<Vec<String>>> {
        let factors = self.store.second_factors(principal.user_id()).await?;
        let Some(TotpRecord {
            sealed_recovery_codes: Some(sealed_codes),
            confirmed_at: Some(_),
            ..
        }) = factors.totp
        else {
            return Ok(None);
        };
        self.require_recent_sign_in(principal, None, client).await?;
        self.open_codes(principal.user_id(), &sealed_codes)
            .map(Some)
    }

    /// The owner saved the new recovery codes: they are not shown again.
    pub async fn forget_shown_recovery_codes(&self, principal: &Principal) -> AuthResult<()> {
        if self
            .store
            .forget_shown_recovery_codes(principal.user_id())
            .await?
        {
            Ok(())
        } else {
            Err(AuthError::NotFound("new recovery codes"))
        }
    }

    /// Turns two-step sign-in off: needs the password (counted like a sign-in), removes
    /// the app and every recovery code, and ends every other session of the user.
    #[tracing::instrument(name = "remove second factors", skip_all, fields(user_id = %principal.user_id()))]
    pub async fn remove_second_factors(
        &self,
        principal: &Principal,
        current_password: String,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let user = self
            .confirm_current_password(principal, current_password, client)
            .await?;
        if !self.store.remove_second_factors(&user.id).await? {
            return Err(AuthError::NotFound("second factor"));
        }
        let ended = self
            .store
            .revoke_user_sessions(&user.id, Some(principal.session_id()), self.now())
            .await?;
        self.audit(
            "second_factors_removed",
            AuditActor::User(&user),
            client,
            None,
        )
        .await;
        self.tell_owner(&user, AccountChange::SecondStepRemoved, client, None);
        Ok(ended)
    }

    /// The authenticator app, its recovery codes and every passkey; false when there
    /// were none.
    pub(super) async fn remove_every_factor(&self, user_id: &str) -> StoreResult<bool> {
        let totp = self.store.remove_second_factors(user_id).await?;
        let passkeys = self.store.remove_passkeys(user_id, None).await?;
        Ok(totp || passkeys > 0)
    }

    /// An admin's reset for a user who lost their app, codes or passkeys: the app, the
    /// recovery codes and every passkey go, and so does every session of that user
    /// (whoever holds one may be the reason for it).
    #[tracing::instrument(name = "reset second factors", skip_all, fields(%user_id, by = %admin.principal().user_id()))]
    pub async fn reset_second_factors(
        &self,
        admin: &AdminPrincipal,
        user_id: &str,
        client: &ClientInfo,
    ) -> AuthResult<u64> {
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(AuthError::NotFound("user"))?;
        let removed = match self.remove_every_factor(&user.id).await {
            Err(StoreError::NotFound) => return Err(AuthError::NotFound("user")),
            outcome => outcome?,
        };
        if !removed {
            return Err(AuthError::NotFound("second factor"));
        }
        let ended = self
            .store
            .revoke_user_sessions(&user.id, None, self.now())
            .await?;
        let detail = format!("by {}", admin.principal().username);
        self.audit(
            "second_factors_reset",
            AuditActor::User(&user),
            client,
            Some(&detail),
        )
        .await;
        self.tell_owner(&user, AccountChange::SecondStepResetByAdmin, client, None);
        Ok(ended)
    }
}

fn setup_view(
    secret: Vec<u8>,
    recovery_codes: Vec<String>,
    username: &str,
) -> AuthResult<TotpSetupView> {
    let totp = totp_of(secret, username)?;
    let otpauth_uri = totp
        .to_url()
        .map_err(|error| AuthError::Unexpected(error.to_string().into()))?;
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map_err(|error| AuthError::Unexpected(error.to_string().into()))?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // Inline in HTML: the XML declaration has no place there.
    let qr_svg = match qr_svg.find("<svg") {
        Some(start) => qr_svg[start..].to_owned(),
        None => qr_svg,
    };
    Ok(TotpSetupView {
        secret: totp.secret().to_base32(),
        otpauth_uri,
        qr_svg,
        recovery_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 20] = *b"12345678901234567890";

    fn code_at(time: i64) -> String {
        totp_of(SECRET.to_vec(), "ada")
            .unwrap()
            .generate(time as u64)
            .to_string()
    }

    #[test]
    fn the_rfc_6238_test_vector_holds() {
        // RFC 6238 appendix B, SHA-1, T = 59: 94287082 — the six-digit code is its tail.
        assert_eq!(code_at(59), "287082");
    }

    #[test]
    fn a_code_is_good_for_its_step_and_one_step_either_side_only() {
        let totp = totp_of(SECRET.to_vec(), "ada").unwrap();
        let now = 1_800_000_015;
        let step = now / 30;
        let code = code_at(now);
        assert_eq!(step_of(&totp, &code, now), Some(step));
        assert_eq!(step_of(&totp, &code, now + 30), Some(step));
        assert_eq!(step_of(&totp, &code, now - 30), Some(step));
        assert_eq!(step_of(&totp, &code, now + 60), None);
        assert_eq!(step_of(&totp, &code, now - 60), None);
        assert_eq!(
            step_of(&totp, "000000", now).filter(|_| code != "000000"),
            None
        );
    }

    #[test]
    fn the_setup_shows_a_scannable_uri_an_inline_svg_and_the_codes() {
        let view = setup_view(SECRET.to_vec(), vec!["aaaa-bbbb-cccc-dddd".into()], "ada").unwrap();
        assert!(
            view.otpauth_uri
                .starts_with("otpauth://totp/Gatehouse:ada?")
        );
        assert!(
            view.otpauth_uri
                .contains(&format!("secret={}", view.secret))
        );
        assert!(view.qr_svg.starts_with("<svg"));
        assert!(!view.qr_svg.contains("<script"));
        assert_eq!(view.recovery_codes.len(), 1);
    }
}
